"""Packaging and desktop integration: the .desktop launcher, AppStream metadata, the per-user
installer script and the PyInstaller spec (checked without running PyInstaller: too slow)."""

from __future__ import annotations

import ast
import configparser
import importlib.util
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
from lxml import etree

import workbench
from workbench.cli import COMMAND_MODULES, build_parser

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "io.github.detection_workbench.workbench"
DESKTOP = ROOT / "resources" / f"{APP_ID}.desktop"
METAINFO = ROOT / "resources" / f"{APP_ID}.metainfo.xml"
APP_ICON = ROOT / "workbench" / "resources" / "icons" / "app.svg"
INSTALL = ROOT / "packaging" / "install-desktop.sh"
BUILD = ROOT / "packaging" / "build.sh"
SPEC = ROOT / "packaging" / "workbench.spec"
ENTRY = ROOT / "packaging" / "workbench_main.py"
MAIN_CATEGORIES = {"AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics",
                   "Network", "Office", "Science", "Settings", "System", "Utility"}
SVG_NS = "{http://www.w3.org/2000/svg}"


def _desktop_entry(path: Path = DESKTOP) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    assert parser.sections()[0] == "Desktop Entry"
    return dict(parser["Desktop Entry"])


def _exec_argv(value: str) -> list[str]:
    """Split an Exec value as a launcher does (Desktop Entry spec, "The Exec key")."""
    unescaped, i = [], 0
    while i < len(value):  # string-level escapes first
        if value[i] == "\\" and i + 1 < len(value):
            unescaped.append({"s": " ", "n": "\n", "t": "\t", "r": "\r"}.get(value[i + 1], value[i + 1]))
            i += 2
        else:
            unescaped.append(value[i])
            i += 1
    text, argv, word, quoted, i = "".join(unescaped), [], [], False, 0
    while i < len(text):
        c = text[i]
        if quoted and c == "\\" and i + 1 < len(text) and text[i + 1] in '"`$\\':
            word.append(text[i + 1])
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == " " and not quoted:
            if word:
                argv.append("".join(word))
            word = []
        else:
            word.append(c)
        i += 1
    assert not quoted, f"unbalanced quotes in Exec={value!r}"
    if word:
        argv.append("".join(word))
    return [a.replace("%%", "%") for a in argv]


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# .desktop file
# ---------------------------------------------------------------------------------------------
def test_desktop_file_has_the_required_keys() -> None:
    entry = _desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Detection Workbench"
    assert entry["Icon"] == APP_ID
    assert entry["Terminal"] == "false"
    assert entry["Exec"] == "workbench gui %f"
    assert entry["TryExec"] == "workbench"
    categories = [c for c in entry["Categories"].split(";") if c]
    assert entry["Categories"].endswith(";")
    assert {"Graphics", "Science"} & set(categories)
    assert len(MAIN_CATEGORIES & set(categories)) == 1, "one main category: listed once in menus"
    assert entry["MimeType"] == "inode/directory;"  # "Open with" on folders
    assert entry["StartupWMClass"] == "workbench"  # Qt's WM_CLASS class = applicationName


def test_desktop_exec_names_a_real_entry_point() -> None:
    argv = _exec_argv(_desktop_entry()["Exec"])
    assert argv == ["workbench", "gui", "%f"]
    scripts = _pyproject()["project"]["scripts"]
    assert scripts[argv[0]] == "workbench.cli:main"
    assert "gui" in COMMAND_MODULES
    args = build_parser().parse_args([argv[1], str(ROOT)])
    assert args.command == "gui" and args.images_dir == ROOT
    assert args.func is importlib.import_module("workbench.cli.gui").run


def test_desktop_icon_is_the_packaged_app_svg() -> None:
    assert _desktop_entry()["Icon"] == APP_ID
    root = etree.parse(str(APP_ICON)).getroot()
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("viewBox") is not None  # scales to every launcher size
    package_data = _pyproject()["tool"]["setuptools"]["package-data"]["workbench"]
    assert "resources/**/*" in package_data  # ships in wheels and the bundle


def test_app_tells_qt_its_desktop_file_name() -> None:
    code = ("from workbench.gui.app import create_app; app = create_app(); "
            "print(app.desktopFileName()); print(app.applicationName())")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=120, check=True).stdout.split()
    assert out == [APP_ID, _desktop_entry()["StartupWMClass"]]


# ---------------------------------------------------------------------------------------------
# AppStream metainfo
# ---------------------------------------------------------------------------------------------
def test_metainfo_matches_the_desktop_file() -> None:
    root = etree.parse(str(METAINFO)).getroot()  # well-formed, or this raises
    entry = _desktop_entry()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID == DESKTOP.stem
    launchable = root.find("launchable")
    assert launchable.get("type") == "desktop-id" and launchable.text == DESKTOP.name
    assert root.findtext("name") == entry["Name"]
    summary = root.findtext("summary")
    assert 10 < len(summary) <= 80 and not summary.endswith(".")
    assert len(root.findall("description/p")) >= 1
    assert len(root.findall("description/ul/li")) >= 3
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.findtext("project_license") == _pyproject()["project"]["license"]["text"]
    assert _exec_argv(entry["Exec"])[0] in [b.text for b in root.findall("provides/binary")]
    assert [c.text for c in root.findall("categories/category")] == \
        [c for c in entry["Categories"].split(";") if c]
    assert root.find("releases/release").get("version") == workbench.__version__
    assert root.find("content_rating").get("type") == "oars-1.1"


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate not installed (Debian: desktop-file-utils)")
def test_desktop_file_validate_is_clean() -> None:
    result = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True,
                            text=True, timeout=60)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.skipif(shutil.which("appstreamcli") is None,
                    reason="appstreamcli not installed (Debian: appstream)")
def test_appstreamcli_validate_pedantic_is_clean() -> None:
    result = subprocess.run(["appstreamcli", "validate", "--no-net", "--pedantic", str(METAINFO)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "E:" not in result.stdout and "W:" not in result.stdout, result.stdout
    version = subprocess.run(["appstreamcli", "--version"], capture_output=True, text=True,
                             timeout=60).stdout
    if "0.16." in version:  # the Debian 12 release it was checked with: not even a pedantic note
        assert "I:" not in result.stdout and "P:" not in result.stdout, result.stdout


# ---------------------------------------------------------------------------------------------
# install-desktop.sh
# ---------------------------------------------------------------------------------------------
def _run_install(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env["HOME"] = str(home)
    return subprocess.run(["sh", str(INSTALL), *args], capture_output=True, text=True, env=env,
                          timeout=60)


def _fake_workbench(folder: Path) -> Path:
    folder.mkdir(parents=True)
    exe = folder / "workbench"
    exe.write_text("#!/bin/sh\necho workbench 0.1.0\n")
    exe.chmod(0o755)
    return exe


def test_install_desktop_writes_and_uninstall_removes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    exe = _fake_workbench(tmp_path / "app")
    result = _run_install(home, "--exec", str(exe))
    assert result.returncode == 0, result.stderr
    share = home / ".local" / "share"
    desktop = share / "applications" / f"{APP_ID}.desktop"
    icon = share / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    metainfo = share / "metainfo" / f"{APP_ID}.metainfo.xml"
    entry = _desktop_entry(desktop)
    assert entry["Exec"] == f"{exe} gui %f"
    assert entry["TryExec"] == str(exe)
    assert {k: v for k, v in entry.items() if k not in ("Exec", "TryExec")} == \
        {k: v for k, v in _desktop_entry().items() if k not in ("Exec", "TryExec")}
    assert icon.read_bytes() == APP_ICON.read_bytes()
    assert metainfo.read_bytes() == METAINFO.read_bytes()
    assert oct(desktop.stat().st_mode & 0o777) == "0o644"
    assert not list(desktop.parent.glob("*.tmp.*"))

    result = _run_install(home, "--uninstall")
    assert result.returncode == 0, result.stderr
    assert not desktop.exists() and not icon.exists() and not metainfo.exists()
    assert result.stdout.count("removed ") == 3
    again = _run_install(home, "--uninstall")  # nothing left: still fine, says nothing
    assert again.returncode == 0 and "removed" not in again.stdout


def test_install_desktop_quotes_an_awkward_path(tmp_path: Path) -> None:
    exe = _fake_workbench(tmp_path / 'my apps' / 'v1 "new" $HOME 100%')
    home = tmp_path / "home"
    result = _run_install(home, f"--exec={exe}")
    assert result.returncode == 0, result.stderr
    entry = _desktop_entry(home / ".local/share/applications" / f"{APP_ID}.desktop")
    assert entry["Exec"].startswith('"') and "%%" in entry["Exec"]
    assert _exec_argv(entry["Exec"]) == [str(exe), "gui", "%f"]
    if shutil.which("desktop-file-validate"):
        assert "warning" not in result.stderr


def test_install_desktop_refuses_a_missing_executable(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "workbench"
    result = _run_install(tmp_path / "home", "--exec", str(missing))
    assert result.returncode == 1
    assert f"{missing} is not an executable file" in result.stderr
    assert not (tmp_path / "home" / ".local/share/applications").exists()
    assert _run_install(tmp_path / "home", "--bogus").returncode == 2


# ---------------------------------------------------------------------------------------------
# PyInstaller spec, entry script, build script
# ---------------------------------------------------------------------------------------------
def test_entry_script_runs_workbench_cli_main() -> None:
    tree = ast.parse(ENTRY.read_text(encoding="utf-8"))
    imports = [(n.module, [a.name for a in n.names]) for n in ast.walk(tree)
               if isinstance(n, ast.ImportFrom)]
    assert ("workbench.cli", ["main"]) in imports
    assert _pyproject()["project"]["scripts"]["workbench"] == "workbench.cli:main"
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert {"multiprocessing.freeze_support", "sys.exit", "main"} <= calls
    result = subprocess.run([sys.executable, str(ENTRY), "--version"], capture_output=True,
                            text=True, cwd=ROOT, timeout=60)
    assert (result.returncode, result.stdout.strip()) == (0, f"workbench {workbench.__version__}")


class _Recorder:
    """Stands in for PyInstaller's Analysis/PYZ/EXE/COLLECT: keeps what the spec passes."""

    calls: dict[str, tuple[tuple, dict]] = {}

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __call__(self, *args, **kwargs):  # noqa: ANN002,ANN003,ANN204
        _Recorder.calls[self.kind] = (args, kwargs)
        scripts = list(args[0]) if self.kind == "Analysis" else []
        return types.SimpleNamespace(binaries=[], pure=[],  # analysed TOC: none here
                                     scripts=scripts, datas=[])


def _exec_spec(monkeypatch: pytest.MonkeyPatch, flavor: str) -> dict:
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = lambda package: sorted(  # what PyInstaller's helper returns
        name for name in _walk(package))
    hooks.get_package_paths = lambda package: (  # (site-packages, package folder)
        str(Path(importlib.import_module(package).__file__).parents[1]),
        str(Path(importlib.import_module(package).__file__).parent))
    for name in ("PyInstaller", "PyInstaller.utils"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
    monkeypatch.setenv("WORKBENCH_BUNDLE_FLAVOR", flavor)
    monkeypatch.setattr(sys, "path", list(sys.path))
    _Recorder.calls = {}
    namespace = {"SPECPATH": str(SPEC.parent), "__file__": str(SPEC),
                 **{k: _Recorder(k) for k in ("Analysis", "PYZ", "EXE", "COLLECT")}}
    exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)  # noqa: S102
    return namespace


def _walk(package: str) -> list[str]:
    import pkgutil

    module = importlib.import_module(package)
    return [package] + [m.name for m in pkgutil.walk_packages(module.__path__, package + ".")]


def test_spec_is_valid_python_naming_the_entry_script(monkeypatch: pytest.MonkeyPatch) -> None:
    ast.parse(SPEC.read_text(encoding="utf-8"))
    _exec_spec(monkeypatch, "full")
    args, kwargs = _Recorder.calls["Analysis"]
    assert [Path(p) for p in args[0]] == [ENTRY]
    assert kwargs["pathex"] == [str(ROOT)]
    torchvision_libs = [Path(src).name for src, dest in kwargs["binaries"] if dest == "torchvision"]
    if sys.platform.startswith("linux"):  # the extension torchvision loads with load_library
        assert any(name.startswith("_C") for name in torchvision_libs), torchvision_libs
    assert (str(ROOT / "workbench" / "resources"), "workbench/resources") in kwargs["datas"]
    hidden = set(kwargs["hiddenimports"])
    assert {f"workbench.cli.{m}" for m in COMMAND_MODULES} <= hidden  # importlib-loaded
    assert {"workbench.gui.panels.training", "workbench.engine.demo_model"} <= hidden
    site = Path(importlib.import_module("torch").__file__).parents[1]
    for builtins in site.glob("nvidia/*/lib/libnvrtc-builtins*.so*"):  # dlopen()ed by NVRTC
        assert (str(builtins), str(builtins.parent.relative_to(site))) in kwargs["binaries"]
    assert "triton" in kwargs["excludes"] and "torch" not in kwargs["excludes"]
    assert kwargs["runtime_hooks"] == []
    assert _Recorder.calls["EXE"][1]["name"] == "workbench"
    assert _Recorder.calls["EXE"][1]["console"] is True
    assert _Recorder.calls["COLLECT"][1]["name"] == "workbench"


def test_spec_cpu_flavour_keeps_only_load_time_cuda_libraries(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    namespace = _exec_spec(monkeypatch, "cpu")
    kwargs = _Recorder.calls["Analysis"][1]
    assert kwargs["runtime_hooks"] == [str(ROOT / "packaging" / "rthook_cpu.py")]
    elf_needed = namespace["needed_closure"].__globals__
    root = Path(os.path.realpath(sys.executable))
    try:
        first = elf_needed["needed"](root)[0]  # e.g. libc.so.6 or libpython3.x.so
    except (elf_needed["NotElfError"], IndexError):
        pytest.skip("the Python executable is not a dynamically linked ELF file")
    lib = tmp_path / "site-packages" / "nvidia" / "cu13" / "lib"
    lib.mkdir(parents=True)
    torch_lib = tmp_path / "site-packages" / "torch" / "lib"
    torch_lib.mkdir(parents=True)
    for name in (first, "libcudnn_engines_precompiled.so.9"):
        shutil.copy(root, lib / name)
    shutil.copy(root, torch_lib / "libtorch_cuda_linalg.so")
    binaries = [("python3", str(root), "BINARY"),
                (f"nvidia/cu13/lib/{first}", str(lib / first), "BINARY"),
                ("nvidia/cu13/lib/libcudnn_engines_precompiled.so.9",
                 str(lib / "libcudnn_engines_precompiled.so.9"), "BINARY"),
                ("nvidia/cu13/lib/libcudnn_engines_precompiled.so",
                 "libcudnn_engines_precompiled.so.9", "SYMLINK"),
                ("torch/lib/libtorch_cuda_linalg.so", str(torch_lib / "libtorch_cuda_linalg.so"),
                 "BINARY")]
    kept = namespace["_cpu_only"](binaries)
    assert [dest for dest, _, _ in kept] == ["python3", f"nvidia/cu13/lib/{first}"]


def test_cpu_runtime_hook_hides_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    spec = importlib.util.spec_from_file_location("rthook_cpu", ROOT / "packaging" / "rthook_cpu.py")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert os.environ["CUDA_VISIBLE_DEVICES"] == ""


def test_elf_needed_reads_a_real_library_and_refuses_other_files(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("elf_needed", ROOT / "packaging" / "elf_needed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lxml_ext = Path(etree.__file__)  # a compiled extension: needs at least the C library
    names = module.needed(lxml_ext)
    if sys.platform.startswith("linux"):
        assert any(n.startswith(("libc.so", "libc.musl")) for n in names), names
        if shutil.which("readelf"):
            out = subprocess.run(["readelf", "-d", str(lxml_ext)], capture_output=True,
                                 text=True, timeout=60).stdout
            assert names == [line.split("[", 1)[1].rstrip("]") for line in out.splitlines()
                             if "(NEEDED)" in line]
    text = tmp_path / "notes.txt"
    text.write_text("not a library")
    with pytest.raises(module.NotElfError, match="notes.txt: not an ELF file"):
        module.needed(text)


def test_build_script_parses_and_checks_its_options() -> None:
    assert subprocess.run(["sh", "-n", str(BUILD)], timeout=60).returncode == 0
    help_text = subprocess.run(["sh", str(BUILD), "--help"], capture_output=True, text=True,
                               timeout=60)
    assert help_text.returncode == 0 and "--flavor cpu" in help_text.stdout
    bad = subprocess.run(["sh", str(BUILD), "--flavor", "gpu"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "full or cpu" in bad.stderr
    assert _pyproject()["project"]["optional-dependencies"]["package"] == ["pyinstaller>=6.5,<7"]
