"""Application start-up: the QApplication, the theme, which project to open, the window.

Nothing here imports torch: the window is up and usable before any detector code loads (panels
that need torch import it when they are first used).
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

log = logging.getLogger(__name__)

#: Size of ``--screenshot`` renders (the README screenshot).
SCREENSHOT_SIZE = (1440, 900)


def initial_project(images_dir: Path | None = None, annotations_dir: Path | None = None,
                    settings=None, *, sample: bool = False,  # noqa: ANN001
                    ) -> tuple[Path, Path | None] | None:
    """Decide what the window opens at start-up.

    The folder given on the command line wins; otherwise the last project if its folder still
    exists; otherwise, with ``sample`` (a real start, not a test), the generated sample project
    in the user's data folder (:mod:`workbench.gui.first_run`, made on first use); otherwise
    None (the window shows what to do).
    """
    if images_dir is not None:
        return Path(images_dir), Path(annotations_dir) if annotations_dir else None
    if settings is not None:
        last = settings.last_project()
        if last is not None and last[0].is_dir():
            return last
    if sample:
        from workbench.gui.first_run import sample_project

        try:
            return sample_project(), None
        except OSError as exc:
            log.error("cannot create the sample project: %s", exc)
    return None


def create_app(argv: list[str] | None = None):  # noqa: ANN201 (QApplication)
    """The QApplication (created once), with name, icon and theme."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else [sys.argv[0]])
        app.setOrganizationName("DetectionWorkbench")
        app.setApplicationName("workbench")
        app.setApplicationDisplayName("Detection Workbench")
        app.setDesktopFileName("io.github.detection_workbench.workbench")  # = .desktop file id
        from workbench.gui import assets
        from workbench.gui.theme import apply_theme

        app.setWindowIcon(assets.app_icon())
        apply_theme(app)
        from workbench.gui import gc_thread

        gc_thread.install(app)  # Python's garbage collected on the GUI thread only
    return app


def build_window(images_dir: Path | None = None, annotations_dir: Path | None = None,
                 settings=None, *, sample: bool = False,  # noqa: ANN001
                 lazy: bool = False):  # noqa: ANN201 (MainWindow)
    """The main window with the initial project open (or the empty state); ``sample``: see
    :func:`initial_project` (the sample project also shows the "first five minutes" hint).

    ``lazy`` (``run_gui``: a real start) paints first: the folder's first image is shown at
    once (Qt's reader, no Pillow / NumPy decode before the first paint) and the folder is
    scanned on a worker thread after that paint (:mod:`workbench.gui.opening`;
    ``window.opening`` is not None until the project is open — :func:`wait_until_open`). A
    folder of more than :data:`BACKGROUND_OPEN_ENTRIES` entries opens that way anyway; smaller
    ones open before this returns unless ``lazy``."""
    create_app()
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    settings = settings or Settings()
    start = initial_project(images_dir, annotations_dir, settings, sample=sample)
    # a folder to open: the welcome page is built only if it is shown (start-up, issue 14)
    window = MainWindow(settings, welcome=start is None)
    if start is None:
        end_startup()
        return window
    if lazy or _is_big(start[0]):
        # the hint once this open has ended (not later ones) if it opened the sample project;
        # first_run is imported then, not before the first paint (start-up, issue 14)
        opener = window.opener

        def ended() -> None:
            opener.opened.disconnect(on_opened)
            opener.refused.disconnect(on_refused)
            end_startup()

        def on_opened(folder: object) -> None:
            ended()
            if not _may_be_sample(start[0]):  # (first_run not imported: start-up, issue 14)
                return
            from workbench.gui.first_run import is_sample_project, show_hint

            if is_sample_project(start[0]) and is_sample_project(Path(str(folder))):
                show_hint(window)

        def on_refused(_folder: object, _message: str) -> None:
            ended()

        opener.opened.connect(on_opened)
        opener.refused.connect(on_refused)
        window.opener.open(*start, preview=True, after_paint=True)
    elif window.open_project(*start):
        from workbench.gui.first_run import is_sample_project, show_hint

        if is_sample_project(start[0]):
            show_hint(window)
    end_startup()
    return window


def end_startup() -> None:
    """The start is over: :func:`workbench.gui.pyside_startup.end_startup` (what it compiled
    anew is cached for the next start)."""
    from workbench.gui.pyside_startup import end_startup as end

    end()


#: = :data:`workbench.gui.first_run.SAMPLE_DIR_NAME` (a test checks; that module is imported
#: only for a folder that may be the sample project)
SAMPLE_DIR_NAME = "sample-project"


def _may_be_sample(folder: Path) -> bool:
    """False when ``folder`` cannot be the sample project or its ``images`` folder (what
    :func:`~workbench.gui.first_run.is_sample_project` compares: the resolved path)."""
    try:
        name = Path(folder).expanduser().resolve().name
    except (OSError, RuntimeError):
        return True
    return name in (SAMPLE_DIR_NAME, "images")


#: A folder holding more entries than this opens on a worker thread at start-up, its first
#: image painted first (issue 14: 10^5 images took seconds before anything was shown).
BACKGROUND_OPEN_ENTRIES = 5000


def _is_big(folder: Path) -> bool:
    try:
        with os.scandir(folder) as listing:
            for i, _entry in enumerate(listing):
                if i >= BACKGROUND_OPEN_ENTRIES:
                    return True
    except OSError:
        return False
    return False


def wait_until_open(window, timeout_s: float = 600.0) -> None:  # noqa: ANN001
    """Run the event loop until a folder opening in the background is open (tests, benches,
    screenshots)."""
    import time

    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    start = getattr(window, "opening", None)
    if start is not None:
        start()  # without waiting for a first paint
    while getattr(window, "opening", None) is not None and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.005)
    QApplication.processEvents()


def render_screenshot(window, path: Path, size: tuple[int, int] = SCREENSHOT_SIZE) -> Path:  # noqa: ANN001
    """Render the whole window at ``size`` (after the file states are scanned) to a PNG."""
    from PySide6.QtWidgets import QApplication

    wait_until_open(window)
    window.resize(*size)
    window.show()
    for _ in range(3):
        QApplication.processEvents()
    window.scanner.run_to_end()
    window.files.refresh_counts()
    if window.document is not None and window.document.annotation.objects:
        window.canvas.select(0)  # show the selection handles in the picture
    window.canvas.fit()
    QApplication.processEvents()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    return path


def enable_crash_traces() -> bool:
    """Have a crash inside a C library (Qt, torch, a decoder) print every thread's Python stack
    to standard error (:mod:`faulthandler`), so that a report of it says where the program
    was. The same as ``PYTHONFAULTHANDLER=1``; without a usable standard error (a windowed
    bundle) it logs why and does nothing. True when the handler is on."""
    if faulthandler.is_enabled():
        return True
    try:
        faulthandler.enable(all_threads=True)
    except (AttributeError, OSError, RuntimeError, ValueError) as exc:  # no stderr fd
        log.info("crash traces off: standard error cannot take them (%s)", exc)
        return False
    return True


def run_gui(images_dir: str | Path | None = None, annotations_dir: str | Path | None = None,
            screenshot: str | Path | None = None) -> int:
    """Open the window (``workbench`` / ``workbench gui``); with ``screenshot``, render the
    window to that PNG and exit 0 instead of running the event loop."""
    temp_settings = None
    if screenshot is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        if "WORKBENCH_SETTINGS" not in os.environ:  # a clean, reproducible layout
            temp_settings = tempfile.NamedTemporaryFile(suffix=".ini", delete=False)  # noqa: SIM115
            temp_settings.close()
            os.environ["WORKBENCH_SETTINGS"] = temp_settings.name
    enable_crash_traces()
    app = create_app()
    window = build_window(Path(images_dir) if images_dir else None,
                          Path(annotations_dir) if annotations_dir else None, sample=True,
                          lazy=screenshot is None)
    if screenshot is not None:
        out = render_screenshot(window, Path(screenshot))
        window.close()
        if temp_settings is not None:
            os.environ.pop("WORKBENCH_SETTINGS", None)
            Path(temp_settings.name).unlink(missing_ok=True)
        print(f"wrote {out}")
        return 0
    window.show()
    # torch and the engine are imported in the background once the user pauses; a panel that
    # needs them earlier says "Loading models…" until then (workbench.gui.jobs.ModelLoader)
    from workbench.gui.jobs import model_loader

    model_loader().start_when_idle(window=window)
    finish(int(app.exec()))  # (ends the process)


def finish(code: int) -> NoReturn:
    """After the event loop of ``run_gui``: end the process with ``code`` without the
    interpreter's teardown (:func:`exit_now`).

    The window has closed: files and settings are written, background jobs stopped (see
    MainWindow.closeEvent). What remains is the interpreter's teardown — every module and Qt
    object freed one by one, in no order Qt expects — which after a labeling session took
    ~70 ms of CPU (start-up bench, issue 14), crashed (SIGSEGV) in about one quit out of three
    with the raccoon project open, and after a training run (torch, torchvision, a model, maybe
    a CUDA context) kept the process alive 1-2 s on an idle machine and 5-10 s on a busy one.
    While this program owns the clipboard or the selection, the application object is shut
    down first (without torch): Qt hands their contents to the system in its destructor (a
    text copied from the window stays pasteable after it has gone)."""
    if "torch" not in sys.modules:
        from PySide6.QtGui import QGuiApplication

        app = QGuiApplication.instance()
        clipboard = app.clipboard() if isinstance(app, QGuiApplication) else None
        if clipboard is not None and (clipboard.ownsClipboard() or clipboard.ownsSelection()):
            app.shutdown()  # type: ignore[union-attr]
    exit_now(code)


def exit_now(code: int) -> NoReturn:
    """End the process at once with ``code``, after flushing logs and the standard streams
    (no interpreter teardown: call it only when everything is saved)."""
    end_startup()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or detached
            pass
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """``workbench-gui [IMAGES_DIR] [--annotations DIR]`` (the desktop launcher's command)."""
    parser = argparse.ArgumentParser(prog="workbench-gui", description="Detection Workbench")
    parser.add_argument("images_dir", nargs="?", help="folder of images to open")
    parser.add_argument("--annotations", help="folder of the VOC XML files (default: beside "
                        "the images)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run_gui(args.images_dir, args.annotations)


if __name__ == "__main__":
    sys.exit(main())
