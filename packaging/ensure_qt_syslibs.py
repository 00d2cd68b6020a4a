#!/usr/bin/env python3
"""Make sure Qt (PySide6) can start on the platform this user will actually use.

Usage (run with the virtual environment's python, which has PySide6)::

    python packaging/ensure_qt_syslibs.py [--for-tests] [--check] [--platform NAME[;NAME]]

Which platform: ``QT_QPA_PLATFORM`` if set, else the session's (``WAYLAND_DISPLAY`` -> wayland,
with xcb as Qt's fallback; ``DISPLAY`` -> xcb; neither -> offscreen). ``--for-tests`` adds
offscreen and xcb (``make test`` runs one test on a real X server) and the X tools that test
uses: Xvfb, xdotool, xwd.

How: ``ldd`` on PySide6's platform plugin (``libqxcb.so`` with ``libQt6XcbQpa.so``,
``libqwayland.so``, ``libqoffscreen.so``) lists every shared library the loader cannot find;
then a QApplication is started on each platform that can start here (offscreen always, xcb when
``DISPLAY`` is set, wayland when ``WAYLAND_DISPLAY`` is set). On Debian/Ubuntu what is missing
is installed with apt-get (sudo when not root); elsewhere the exact packages to install (Fedora,
Arch) are printed and the exit status is 1. About 0.3 s when everything is present.

Exit status: 0 ready (or not Linux: the macOS/Windows wheels carry what Qt needs), 1 something
is missing and was not (or could not be) installed, 2 PySide6 is not installed in this python.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# Shared library (soname) -> package that provides it: Debian/Ubuntu, Fedora, Arch.
LIBRARIES: dict[str, tuple[str, str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil",
                                "xcb-util-renderutil"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11"),
    "libXau.so.6": ("libxau6", "libXau", "libxau"),
    "libXdmcp.so.6": ("libxdmcp6", "libXdmcp", "libxdmcp"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client", "wayland"),
    "libwayland-cursor.so.0": ("libwayland-cursor0", "libwayland-cursor", "wayland"),
    "libwayland-egl.so.1": ("libwayland-egl1", "libwayland-egl", "wayland"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx", "libglvnd"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl", "libglvnd"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype", "freetype2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "dbus"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
    "libgobject-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
}

# What a QApplication needs beyond linked libraries (fonts), when the probe fails with every
# library found: the set the offscreen check has always installed.
BASE_PACKAGES = ("libegl1", "libgl1", "libopengl0", "libxkbcommon0", "libxkbcommon-x11-0",
                 "libfontconfig1", "libfreetype6", "libdbus-1-3", "libglib2.0-0",
                 "fonts-dejavu-core")
FONTS = ("fonts-dejavu-core", "dejavu-sans-fonts", "ttf-dejavu")

# Programs the real-display test runs: executable -> (Debian, Fedora, Arch) package.
TEST_TOOLS: dict[str, tuple[str, str, str]] = {
    "Xvfb": ("xvfb", "xorg-x11-server-Xvfb", "xorg-server-xvfb"),
    "xdotool": ("xdotool", "xdotool", "xdotool"),
    "xwd": ("x11-apps", "xwd", "xorg-xwd"),
}

# What Qt says when the libraries loaded but the display (X server, compositor) is not there.
NO_DISPLAY = ("could not connect to display", "Failed to create wl_display")

PROBE = """
import sys
from PySide6.QtWidgets import QApplication
from PySide6.QtGui import QFontDatabase
app = QApplication([])
if not QFontDatabase.families():
    sys.exit("no fonts")
print(app.platformName())
"""


def say(msg: str) -> None:
    print(f"qt-syslibs: {msg}", file=sys.stderr, flush=True)


def session_platforms(env: dict[str, str]) -> list[str]:
    """The platform plugins Qt will try for this user, in order."""
    qpa = env.get("QT_QPA_PLATFORM", "").strip()
    if qpa:  # "xcb", "wayland;xcb", "xcb:option=value"
        return [p.split(":")[0].strip() for p in qpa.split(";") if p.split(":")[0].strip()]
    if env.get("WAYLAND_DISPLAY"):
        return ["wayland", "xcb"]
    if env.get("DISPLAY"):
        return ["xcb"]
    return ["offscreen"]


def plugin_files(qt: Path, platform: str) -> list[Path]:
    """The platform plugin (and the library holding its code) for ``ldd``."""
    plugins = qt / "plugins" / "platforms"
    if platform.startswith("wayland"):
        files = sorted(plugins.glob("libqwayland*.so"))
    else:
        files = [plugins / f"libq{platform}.so"]
    if platform == "xcb":
        files += sorted((qt / "lib").glob("libQt6XcbQpa.so*"))[:1]
    return [f for f in files if f.exists()]


def ldd_missing(files: list[Path]) -> set[str]:
    """Sonames the dynamic loader cannot find for ``files`` (all their dependencies)."""
    if not files or shutil.which("ldd") is None:
        return set()
    out = subprocess.run(["ldd", *map(str, files)], capture_output=True, text=True).stdout
    return set(re.findall(r"^\s*(\S+)\s+=>\s+not found", out, re.MULTILINE))


def can_start(platform: str, env: dict[str, str]) -> bool:
    """Whether a display for ``platform`` is there to start a QApplication on."""
    if platform == "xcb":
        return bool(env.get("DISPLAY"))
    if platform.startswith("wayland"):
        return bool(env.get("WAYLAND_DISPLAY"))
    return platform in ("offscreen", "minimal")


def probe(python: str, platform: str, env: dict[str, str]) -> tuple[bool, str]:
    """Start a QApplication on ``platform``; (ok, what Qt said)."""
    run_env = dict(env, QT_QPA_PLATFORM=platform)
    try:
        done = subprocess.run([python, "-c", PROBE], env=run_env, capture_output=True, text=True,
                              timeout=60)
    except subprocess.TimeoutExpired:
        return False, f"QApplication on {platform} did not start within 60 s"
    return done.returncode == 0, (done.stderr or done.stdout).strip()


def debian_package(soname: str) -> str:
    """The Debian package for a soname: the table, else Debian's naming rule (libfoo.so.N ->
    libfooN, libfoo2.so.N -> libfoo2-N)."""
    if soname in LIBRARIES:
        return LIBRARIES[soname][0]
    m = re.match(r"^(lib.+?)\.so\.(\d+)", soname)
    if not m:
        return soname
    name, major = m.group(1).lower(), m.group(2)
    return f"{name}-{major}" if name[-1].isdigit() else f"{name}{major}"


def other_systems(sonames: set[str], tools: set[str], fonts: bool) -> str:
    """The exact install commands for Fedora and Arch."""
    fedora, arch = set(), set()
    for so in sorted(sonames):
        pkgs = LIBRARIES.get(so)
        fedora.add(pkgs[1] if pkgs else f"'{so}()(64bit)'")  # dnf resolves sonames itself
        arch.add(pkgs[2] if pkgs else f"$(pacman -Fq {so} | head -1)")
    for tool in sorted(tools):
        fedora.add(TEST_TOOLS[tool][1])
        arch.add(TEST_TOOLS[tool][2])
    if fonts:
        fedora.add(FONTS[1])
        arch.add(FONTS[2])
    return (f"  Fedora/RHEL:  sudo dnf install {' '.join(sorted(fedora))}\n"
            f"  Arch:         sudo pacman -S --needed {' '.join(sorted(arch))}")


class Check:
    """One look at this machine: missing libraries per platform, failed starts, missing tools."""

    def __init__(self, python: str, qt: Path, platforms: list[str], tools: list[str],
                 env: dict[str, str]) -> None:
        self.missing: dict[str, set[str]] = {}
        self.failed: dict[str, str] = {}
        self.no_display: dict[str, str] = {}
        self.unknown: list[str] = []  # no such plugin (a typo in QT_QPA_PLATFORM?)
        for platform in platforms:
            files = plugin_files(qt, platform)
            if not files:
                self.unknown.append(platform)
                continue
            missing = ldd_missing(files)
            if missing:
                self.missing[platform] = missing
            elif can_start(platform, env):
                ok, said = probe(python, platform, env)
                if not ok:
                    if platform != "offscreen" and any(
                            m in said for m in NO_DISPLAY):
                        self.no_display[platform] = said
                    else:
                        self.failed[platform] = said
        self.tools = {t for t in tools if shutil.which(t) is None}
        self.plugins = qt / "plugins" / "platforms"

    @property
    def sonames(self) -> set[str]:
        return set().union(*self.missing.values()) if self.missing else set()

    @property
    def ok(self) -> bool:
        return not (self.missing or self.failed or self.tools or self.unknown)

    def report(self) -> None:
        for platform, sonames in self.missing.items():
            say(f"Qt's '{platform}' platform plugin cannot load; missing: "
                f"{', '.join(sorted(sonames))}")
        for platform, said in self.failed.items():
            said = " / ".join(line.strip() for line in said.splitlines()[-3:] if line.strip())
            say(f"a QApplication on '{platform}' does not start: {said}")
        for platform in self.unknown:
            say(f"PySide6 has no '{platform}' platform plugin (QT_QPA_PLATFORM?); it has: "
                + ", ".join(sorted(p.name[4:-3] for p in self.plugins.glob("libq*.so"))))
        if self.tools:
            say(f"programs the real-display test needs are missing: {', '.join(sorted(self.tools))}")

    def note_no_display(self) -> None:
        for platform, said in self.no_display.items():
            line = next((x for x in said.splitlines() if any(m in x for m in NO_DISPLAY)), "?")
            say(f"the libraries for '{platform}' are all here, but Qt cannot reach the display: "
                + line.strip())

    def blocks(self, platforms: list[str]) -> bool:
        """Whether anything needed by ``platforms`` (not only by the X test) is missing."""
        return any(p in self.missing or p in self.failed for p in platforms)

    def debian_packages(self) -> list[str]:
        pkgs = {debian_package(so) for so in self.sonames}
        pkgs |= {TEST_TOOLS[t][0] for t in self.tools}
        if self.failed:
            pkgs |= set(BASE_PACKAGES)
        elif not has_fonts():  # a bare system: Qt would start, but draw no text
            pkgs.add(FONTS[0])
        return sorted(pkgs)


def has_fonts() -> bool:
    """Whether any font file is in the usual fontconfig folders."""
    dirs = [Path("/usr/share/fonts"), Path("/usr/local/share/fonts"),
            Path.home() / ".local/share/fonts", Path.home() / ".fonts"]
    for d in dirs:
        if d.is_dir():
            for f in d.rglob("*"):
                if f.suffix.lower() in (".ttf", ".otf", ".ttc", ".pcf", ".gz", ".pfb"):
                    return True
    return False


def apt_install(packages: list[str]) -> bool:
    """``apt-get install`` (sudo when not root); the package lists are refreshed only when the
    first try fails (fresh containers have none; stale ones 404)."""
    sudo: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            say("not root and no sudo: cannot run apt-get")
            return False
        sudo = ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = [*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends",
               "-o", "DPkg::Lock::Timeout=300", *packages]
    say("installing: " + " ".join(packages))
    lists = Path("/var/lib/apt/lists")
    if any(lists.glob("*_Packages*")) and subprocess.run(
            install, env=env, stdout=sys.stderr).returncode == 0:
        return True
    say("refreshing the package lists (apt-get update)")
    subprocess.run([*sudo, "apt-get", "update", "-q", "-o", "DPkg::Lock::Timeout=300"], env=env,
                   stdout=sys.stderr)
    return subprocess.run(install, env=env, stdout=sys.stderr).returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--for-tests", action="store_true",
                        help="also offscreen + xcb and the Xvfb test's tools (make test)")
    parser.add_argument("--check", action="store_true", help="report only; install nothing")
    parser.add_argument("--platform", help="the platform(s) to check instead of the session's "
                        "(as QT_QPA_PLATFORM: 'xcb', 'wayland;xcb')")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        return 0  # the macOS and Windows wheels carry everything Qt needs
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        say(f"PySide6 is not installed for {sys.executable}")
        return 2
    qt = Path(list(spec.submodule_search_locations)[0]) / "Qt"
    env = dict(os.environ)
    platforms = session_platforms(
        dict(env, QT_QPA_PLATFORM=args.platform) if args.platform else env)
    tools: list[str] = []
    session = platforms  # what must work; --for-tests adds what only the tests need
    if args.for_tests:
        session = ["offscreen"]  # the test suite runs offscreen
        platforms = list(dict.fromkeys([*platforms, "offscreen", "xcb"]))
        tools = list(TEST_TOOLS)
    check = Check(sys.executable, qt, platforms, tools, env)
    if check.ok:
        check.note_no_display()
        return 0
    check.report()
    if check.unknown:
        return 1
    packages = check.debian_packages()
    fonts = bool(check.failed)
    can_install = shutil.which("apt-get") is not None and (
        os.geteuid() == 0 or shutil.which("sudo") is not None)
    if args.check or not can_install:
        say("install these, then run this again:\n"
            f"  Debian/Ubuntu: sudo apt-get install {' '.join(packages)}\n"
            + other_systems(check.sonames, check.tools, fonts))
        if not args.check and args.for_tests and not check.blocks(session):
            say("(this machine cannot install them itself: the tests run, the one on a real X "
                "server is skipped or fails)")
            return 0
        return 1
    if not apt_install(packages):
        say("apt-get could not install: " + " ".join(packages))
        return 1
    check = Check(sys.executable, qt, platforms, tools, env)
    if not check.ok and check.failed and not set(BASE_PACKAGES) <= set(packages):
        # every library is found now, yet Qt does not start: the base set (EGL, fonts, ...)
        check.report()
        if apt_install(list(BASE_PACKAGES)):
            check = Check(sys.executable, qt, platforms, tools, env)
    if not check.ok:
        check.report()
        say("Qt still cannot start; try: QT_QPA_PLATFORM=" + platforms[0]
            + f" {sys.executable} -c 'from PySide6.QtWidgets import QApplication; QApplication([])'")
        return 1
    check.note_no_display()
    say("Qt's libraries are all here for " + ", ".join(platforms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
