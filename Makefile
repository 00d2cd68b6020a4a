# Two commands do all set-up on a fresh machine:  `make run`  and  `make test`.
# Both create .venv when missing and (re)install only when pyproject.toml changed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ARCH := $(shell uname -m)
# On x86_64 the development/CI machines hold torch 2.14.1 / torchvision 0.29.1 on disk.
CONSTRAINTS := $(if $(filter x86_64,$(ARCH)),-c requirements/constraints-x86_64.txt,)
PIP_INSTALL := $(PY) -m pip install --disable-pip-version-check $(CONSTRAINTS)

.PHONY: run test test-fast bench lint clean qt-syslibs qt-syslibs-test

run: $(VENV)/.installed-run qt-syslibs
	$(VENV)/bin/workbench $(ARGS)

test: $(VENV)/.installed-test qt-syslibs-test
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q $(PYTEST_ARGS)

# Skip the few real-training tests marked slow.
test-fast: $(VENV)/.installed-test qt-syslibs-test
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

# Layer contracts (import-linter), ruff and mypy; configured in pyproject.toml. CI runs it.
lint: $(VENV)/.installed-test
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check workbench tests bench
	$(VENV)/bin/mypy

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml requirements/constraints-x86_64.txt | $(PY)
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml requirements/constraints-x86_64.txt | $(PY)
	$(PIP_INSTALL) -e '.[test]'
	touch $@ $(VENV)/.installed-run

# Qt needs system libraries that a bare Debian lacks: EGL, xkbcommon, fontconfig, fonts, and on a
# real display the xcb (X11) or wayland families. Checked on every run (~0.3 s) for the platform
# this session uses (QT_QPA_PLATFORM, else WAYLAND_DISPLAY/DISPLAY, else offscreen); installed
# with apt-get only when missing (elsewhere: the exact packages are printed). The tests also need
# xcb + Xvfb/xdotool/xwd: one test starts the app on a real X server.
qt-syslibs: | $(PY)
	@sh packaging/ensure-qt-syslibs.sh $(PY)

qt-syslibs-test: | $(PY)
	@sh packaging/ensure-qt-syslibs.sh $(PY) --for-tests

clean:
	rm -rf $(VENV) build dist *.egg-info
