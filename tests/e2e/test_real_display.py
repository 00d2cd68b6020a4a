"""The real app on a real X server: Xvfb, Qt's xcb platform plugin, real key input.

Every other test runs Qt offscreen, which needs none of the X libraries a user's desktop needs
(``libxcb-cursor0``, ``libxcb-icccm4``, ``libxcb-keysyms1``, ...). This one starts ``python -m
workbench gui FOLDER`` in a subprocess on its own Xvfb with ``QT_QPA_PLATFORM=xcb``, finds the
window with xdotool, reads the X server's framebuffer with ``xwd`` and looks at the picture, then
presses ``D`` (next image) through XTEST and checks that the title and the picture change. A
missing xcb library makes the app abort ("Could not load the Qt platform plugin "xcb"") and this
test fail with the app's stderr.

``make test`` installs Xvfb, xdotool and xwd (``packaging/ensure_qt_syslibs.py --for-tests``);
run alone, the test is skipped only when those programs are not installed.
"""

from __future__ import annotations

import os
import select
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SCREEN = (1600, 1000)  # larger than the window's first-start size (1440x900): margins stay black
WINDOW = (1440, 900)
TOOLS = ("Xvfb", "xdotool", "xwd")

pytestmark = pytest.mark.timeout(240)
needs_x = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/xcb is Linux-only"),
    pytest.mark.skipif(
        any(shutil.which(t) is None for t in TOOLS),
        reason="Xvfb/xdotool/xwd are not installed and this machine could not install them "
        "(make test does with apt-get on Debian/Ubuntu: packaging/ensure_qt_syslibs.py "
        "--for-tests; elsewhere it prints the packages)"),
]


def with_x(test):  # noqa: ANN001,ANN201
    for mark in needs_x:
        test = mark(test)
    return test


class AppDidNotStart(AssertionError):
    """The app exited or showed no window; the message holds its stderr."""


# --- the X server --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def xserver():
    """A fresh Xvfb on a free display number (``-displayfd``), black root window; yields ':N'."""
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
         "-nolisten", "tcp", "-br", "-noreset"],
        pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write)
    number = b""
    deadline = time.monotonic() + 30
    while not number.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([read], [], [], 0.5)
        if ready:
            chunk = os.read(read, 16)
            if not chunk:
                break
            number += chunk
    os.close(read)
    if not number.strip():
        proc.kill()
        pytest.fail("Xvfb did not start: " + proc.communicate()[1].decode(errors="replace"))
    yield f":{number.decode().strip()}"
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def x(display: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), env=dict(os.environ, DISPLAY=display), capture_output=True,
                          text=True, check=check, timeout=30)


def screenshot(display: str) -> np.ndarray:
    """The whole screen as H x W x 3 uint8, read from the X server with ``xwd -root``."""
    data = subprocess.run(["xwd", "-root", "-silent", "-display", display], capture_output=True,
                          check=True, timeout=30).stdout
    (header_size, _version, fmt, _depth, width, height, _xoff, byte_order, _unit, _bit_order,
     _pad, bpp, bytes_per_line, visual_class, red_mask, green_mask, blue_mask, _bits, _entries,
     ncolors) = struct.unpack(">20I", data[:80])
    # Xvfb's 24-bit screen: 32 bits per pixel, or 24 (packed, rows still padded to
    # bytes_per_line) once a client has changed the pixmap formats in use.
    pixel_bytes = bpp // 8
    assert fmt == 2 and pixel_bytes in (3, 4), f"unexpected XWD image: {fmt=}, {pixel_bytes=}"
    assert (red_mask, green_mask, blue_mask) == (0xFF0000, 0xFF00, 0xFF), "not a 24-bit visual"
    start = header_size + 12 * ncolors
    raw = data[start:start + height * bytes_per_line]
    if pixel_bytes == 4:
        mode = "BGRX" if byte_order == 0 else "XRGB"
    else:
        mode = "BGR" if byte_order == 0 else "RGB"
    rgb = np.asarray(Image.frombuffer("RGB", (width, height), raw, "raw", mode,
                                      bytes_per_line, 1))
    if visual_class == 5 and ncolors == 256:  # DirectColor: each channel goes through the map
        cmap = np.frombuffer(data[header_size:start], dtype=">u4, >u2, >u2, >u2, u1, u1")
        lut = np.stack([cmap["f1"], cmap["f2"], cmap["f3"]], axis=-1) >> 8
        rgb = np.stack([lut[rgb[..., c], c] for c in range(3)], axis=-1).astype(np.uint8)
    return rgb


# --- the app -------------------------------------------------------------------------------------

def make_images(folder: Path) -> None:
    """Two photos-like images the eye (and the test) can tell apart: red with a box, blue."""
    folder.mkdir()
    red = Image.new("RGB", (640, 480), (220, 30, 30))
    red.paste((250, 250, 250), (200, 150, 440, 330))
    red.save(folder / "alpha.jpg", quality=95)
    Image.new("RGB", (640, 480), (30, 60, 220)).save(folder / "bravo.jpg", quality=95)
    (folder / "alpha.xml").write_text(
        "<annotation><folder>images</folder><filename>alpha.jpg</filename>"
        "<size><width>640</width><height>480</height><depth>3</depth></size>"
        "<object><name>card</name><pose>Unspecified</pose><truncated>0</truncated>"
        "<difficult>0</difficult><bndbox><xmin>200</xmin><ymin>150</ymin><xmax>440</xmax>"
        "<ymax>330</ymax></bndbox></object></annotation>")


def app_env(tmp: Path, display: str) -> dict[str, str]:
    """The user's environment on a fresh account: own HOME/XDG dirs and settings, xcb only."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("QT_", "XDG_", "WAYLAND_")) and k not in ("DISPLAY", "HOME")}
    home = tmp / "home"
    runtime = tmp / "runtime"
    for d in (home, runtime):
        d.mkdir(exist_ok=True)
    runtime.chmod(0o700)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local/share"), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_RUNTIME_DIR=str(runtime), WORKBENCH_SETTINGS=str(tmp / "settings.ini"),
               DISPLAY=display, QT_QPA_PLATFORM="xcb", OMP_NUM_THREADS="1")
    return env


class App:
    """``python -m workbench gui FOLDER`` in a subprocess; stdout/stderr kept in files."""

    def __init__(self, tmp: Path, display: str, folder: Path, env: dict[str, str] | None = None):
        self.display = display
        self.log = tmp / "app-stderr.txt"
        self._err = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workbench", "gui", str(folder)],
            env=env or app_env(tmp, display), stdout=self._err, stderr=subprocess.STDOUT,
            cwd=tmp)

    def output(self) -> str:
        if not self._err.closed:
            self._err.flush()
        return self.log.read_text(errors="replace")

    def fail(self, what: str) -> AppDidNotStart:
        code = self.proc.poll()
        status = "still running" if code is None else f"exit status {code}"
        return AppDidNotStart(f"{what} ({status}); the app's stderr:\n{self.output()[-4000:]}"
                              + missing_xcb_libraries())

    def window(self, title_part: str, timeout: float = 90) -> tuple[str, str]:
        """(window id, title) of the visible window whose title contains ``title_part``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise self.fail("the app exited before its window appeared")
            found = x(self.display, "xdotool", "search", "--onlyvisible", "--name",
                      title_part, check=False).stdout.split()
            if found:
                wid = found[0]
                return wid, x(self.display, "xdotool", "getwindowname", wid).stdout.strip()
            time.sleep(0.25)
        raise self.fail(f"no window titled '*{title_part}*' within {timeout:.0f} s")

    def settled(self, timeout: float = 30) -> np.ndarray:
        """The screen once two screenshots 0.5 s apart are identical (painting has finished)."""
        deadline = time.monotonic() + timeout
        last = screenshot(self.display)
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if self.proc.poll() is not None:
                raise self.fail("the app exited")
            shot = screenshot(self.display)
            if np.array_equal(shot, last):
                return shot
            last = shot
        return last

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._err.close()


def missing_xcb_libraries() -> str:
    """``ldd``'s "not found" lines for PySide6's xcb plugin, for the failure message."""
    import PySide6

    qt = Path(PySide6.__file__).parent / "Qt"
    files = [qt / "plugins" / "platforms" / "libqxcb.so", *sorted((qt / "lib").glob("libQt6XcbQpa.so*"))[:1]]
    out = subprocess.run(["ldd", *map(str, files)], capture_output=True, text=True).stdout
    missing = sorted({line.split()[0] for line in out.splitlines() if "not found" in line})
    if not missing:
        return ""
    return ("\nldd: the xcb plugin's libraries not found: " + ", ".join(missing)
            + "\n(make test installs them: packaging/ensure_qt_syslibs.py --for-tests)")


def window_or_fail(app: App, title_part: str, timeout: float = 90, why: str = "",
                   ) -> tuple[str, str]:
    """:meth:`App.window`, or a test failure that shows the app's stderr (no traceback)."""
    try:
        return app.window(title_part, timeout)
    except AppDidNotStart as exc:
        message = why + str(exc)
    pytest.fail(message, pytrace=False)


def geometry(display: str, wid: str) -> tuple[int, int, int, int]:
    """(x, y, width, height) of a window, from ``xdotool getwindowgeometry --shell``."""
    out = x(display, "xdotool", "getwindowgeometry", "--shell", wid).stdout
    values = dict(line.split("=", 1) for line in out.split())
    return int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])


def fraction(region: np.ndarray, low: tuple[int, int, int], high: tuple[int, int, int]) -> float:
    """Share of ``region``'s pixels whose RGB lies in [low, high]."""
    inside = np.all((region >= np.array(low)) & (region <= np.array(high)), axis=-1)
    return float(inside.mean())


RED = ((170, 0, 0), (255, 80, 80))
BLUE = ((0, 20, 170), (80, 110, 255))
GREEN = ((40, 180, 40), (150, 255, 150))  # the first class's colour (box outline and label)


# --- the tests -----------------------------------------------------------------------------------

@with_x
def test_app_window_on_xvfb_with_xcb(tmp_path, xserver):
    images = tmp_path / "images"
    make_images(images)
    app = App(tmp_path, xserver, images)
    try:
        wid, title = window_or_fail(app, "alpha.jpg")
        assert title.endswith("Detection Workbench"), title
        first = app.settled()
        Image.fromarray(first).save(tmp_path / "xvfb-xcb.png")

        # The picture: the screen's size; the window where Qt put it; the rest black (-br).
        assert first.shape == (SCREEN[1], SCREEN[0], 3)
        wx, wy, ww, wh = geometry(xserver, wid)
        assert (ww, wh) == WINDOW, f"window geometry {ww}x{wh}+{wx}+{wy}"
        assert wx >= 0 and wy >= 0 and wx + ww <= SCREEN[0] and wy + wh <= SCREEN[1]
        win = first[wy:wy + wh, wx:wx + ww]
        outside = first.copy()
        outside[wy:wy + wh, wx:wx + ww] = 0
        assert not outside.any(), "pixels drawn outside the window's rectangle"
        colours = len(np.unique(win.reshape(-1, 3), axis=0))
        assert colours > 200, f"the window looks blank: {colours} distinct colours"
        assert win.std() > 20, f"the window looks uniform (std {win.std():.1f})"
        # Menu bar + toolbar along the top: text and icons, not one flat colour.
        top = win[:80]
        assert len(np.unique(top.reshape(-1, 3), axis=0)) > 20, "no menu bar/toolbar drawn"
        assert top.std() > 10
        # The open image (red with a white card) is on the canvas, not only in a file list.
        assert fraction(win, *RED) > 0.05, "the red image is not on the canvas"
        assert fraction(win, *BLUE) < 0.01
        assert fraction(win, *GREEN) > 0.001, "the box from alpha.xml is not drawn"

        # Real input through the X server (XTEST): D = next image.
        x(xserver, "xdotool", "windowfocus", "--sync", wid)
        x(xserver, "xdotool", "key", "--clearmodifiers", "d")
        _, title2 = window_or_fail(app, "bravo.jpg", 30, "pressing D did not open the next image: ")
        assert title2.startswith("bravo.jpg"), title2
        second = app.settled()
        Image.fromarray(second).save(tmp_path / "xvfb-xcb-next.png")
        win2 = second[wy:wy + wh, wx:wx + ww]
        assert fraction(win2, *BLUE) > 0.05, "the blue image is not on the canvas after D"
        assert fraction(win2, *RED) < 0.01
        changed = np.any(first != second, axis=-1).mean()
        assert changed > 0.05, f"only {changed:.1%} of the screen changed after D"
        assert app.proc.poll() is None, app.fail("the app exited after the key press")
    finally:
        app.close()
    for bad in ("Could not load the Qt platform plugin", "Traceback"):
        assert bad not in app.output(), app.output()[-4000:]


@with_x
def test_missing_xcb_library_fails_with_qts_message(tmp_path, xserver):
    """The harness above turns a missing xcb library into a failure that shows Qt's message:
    a copy of the xcb plugin whose NEEDED entry names a library that does not exist."""
    import PySide6

    qt = Path(PySide6.__file__).parent / "Qt"
    plugin = (qt / "plugins" / "platforms" / "libqxcb.so").read_bytes()
    needed = b"libxcb-icccm.so.4\0"
    assert needed in plugin
    platforms = tmp_path / "plugins" / "platforms"
    platforms.mkdir(parents=True)
    (platforms / "libqxcb.so").write_bytes(plugin.replace(needed, b"libxcb-icccm.so.9\0"))
    images = tmp_path / "images"
    make_images(images)
    env = app_env(tmp_path, xserver)
    # QT_PLUGIN_PATH comes before PySide6's own plugins (the first "xcb" found is the one
    # loaded); the copy's $ORIGIN RUNPATH points nowhere, hence LD_LIBRARY_PATH.
    env.update(QT_PLUGIN_PATH=str(platforms.parent), LD_LIBRARY_PATH=str(qt / "lib"))
    app = App(tmp_path, xserver, images, env=env)
    try:
        with pytest.raises(AppDidNotStart) as err:
            app.window("alpha.jpg", timeout=90)
    finally:
        app.close()
    message = str(err.value)
    assert "exited" in message
    assert 'Could not load the Qt platform plugin "xcb"' in message, message


# --- the set-up script (packaging/ensure_qt_syslibs.py) ------------------------------------------

def setup_script():  # noqa: ANN201 (the module)
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "packaging" / "ensure_qt_syslibs.py"
    spec = importlib.util.spec_from_file_location("ensure_qt_syslibs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_setup_checks_the_platform_the_user_will_use():
    platforms = setup_script().session_platforms
    assert platforms({}) == ["offscreen"]
    assert platforms({"DISPLAY": ":0"}) == ["xcb"]
    assert platforms({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}) == ["wayland", "xcb"]
    assert platforms({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}) == ["offscreen"]
    assert platforms({"QT_QPA_PLATFORM": "wayland;xcb"}) == ["wayland", "xcb"]
    assert platforms({"QT_QPA_PLATFORM": "xcb:nomitshm"}) == ["xcb"]


def test_setup_names_the_packages_of_every_xcb_plugin_library():
    """Every library the xcb and wayland plugins link (installed or not) maps to a Debian
    package in the table; unknown names follow Debian's rule."""
    import PySide6

    m = setup_script()
    qt = Path(PySide6.__file__).parent / "Qt"
    out = subprocess.run(["ldd", *map(str, m.plugin_files(qt, "xcb") + m.plugin_files(
        qt, "wayland"))], capture_output=True, text=True).stdout
    sonames = {line.split()[0] for line in out.splitlines()
               if "=>" in line and ("xcb" in line or "wayland" in line or "xkb" in line)
               and "Qt6" not in line}
    assert "libxcb-cursor.so.0" in sonames and "libxcb-icccm.so.4" in sonames
    assert sonames <= set(m.LIBRARIES), sonames - set(m.LIBRARIES)
    assert m.debian_package("libxcb-cursor.so.0") == "libxcb-cursor0"
    assert m.debian_package("libxcb-xinput.so.0") == "libxcb-xinput0"
    assert m.debian_package("libfoo2.so.1") == "libfoo2-1"


def test_setup_without_apt_says_what_to_install(monkeypatch, capsys):
    m = setup_script()
    monkeypatch.setattr(m, "ldd_missing", lambda files: {
        "libxcb-cursor.so.0", "libxcb-icccm.so.4"} if "libqxcb.so" in str(files) else set())
    monkeypatch.setattr(m.shutil, "which", lambda name: None)  # no apt-get, no Xvfb
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert m.main([]) == 1
    err = capsys.readouterr().err
    assert "missing: libxcb-cursor.so.0, libxcb-icccm.so.4" in err
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4" in err
    assert "sudo dnf install xcb-util-cursor xcb-util-wm" in err
    assert "sudo pacman -S --needed xcb-util-cursor xcb-util-wm" in err
    # make test on such a machine: the offscreen suite can run; the X test says why it cannot.
    assert m.main(["--for-tests"]) == 0
    err = capsys.readouterr().err
    assert "xorg-x11-server-Xvfb" in err and "xorg-server-xvfb" in err
