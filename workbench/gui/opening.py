"""Opening a folder without blocking the window: the folder is scanned on a worker thread
(:class:`~workbench.gui.jobs.JobRunner`, key ``"open-project"``), the window says so meanwhile,
and the project is swapped in on the GUI thread when the scan is done (issue 14).

Every way of opening a folder goes through :meth:`ProjectOpener.open` — start-up
(:func:`workbench.gui.app.build_window`), File → Open Folder, Open Recent, the welcome page's
list and drag-and-drop:

* **Busy state.** While a scan runs the status bar's position label says ``Opening <folder>…``
  (with the number of entries when known), the window shows the busy cursor and
  ``window.opening`` is not None (:func:`workbench.gui.app.wait_until_open` waits on it). The
  current project stays usable meanwhile.
* **Latest request wins.** A new open cancels the previous one (its scan stops at its next
  check, :class:`~workbench.core.project.OpenCancelled`; its result is never shown).
* **Errors** (a folder that is gone, unreadable, an unknown format) are reported once through
  :func:`~workbench.gui.jobs.job_errors` (the status bar) and the window keeps what it showed.
* **First paint first.** ``preview=True`` (start-up, nothing open yet) paints the image the
  project will show first — decoded by Qt's own reader, so that no Pillow / NumPy import is
  needed before the first paint — and ``after_paint=True`` starts the scan once the window
  has painted (a worker holding the GIL delayed the paint). When the project is open the image
  is shown again through the canvas's loader (:func:`workbench.gui.images.load_image`: the
  one decoder's pixels), like every image after it; the preview is never edited, saved or
  used for detection.

Nothing in a job function touches Qt (see :mod:`workbench.gui.jobs`).
"""

from __future__ import annotations

import heapq
import logging
import os
import re
import time
from itertools import compress
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal

from workbench.core.fsnames import readable
from workbench.gui.jobs import Job, JobContext, JobRunner

log = logging.getLogger(__name__)

#: The key of the open job (latest request wins).
OPEN_KEY = "open-project"
#: Image name endings the preview looks for (the project's own list is
#: ``workbench.core.imageinfo.IMAGE_EXTENSIONS``; checked equal by a test).
PREVIEW_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
#: Sub-folders holding the images of the layouts Project.open recognises (VOC root,
#: ``images/`` + ``annotations/``), looked at when the folder itself holds no image.
IMAGE_SUBFOLDERS = ("JPEGImages", "images")
#: A preview larger than this (pixels) is decoded at a reduced size (Qt's JPEG reader does it
#: at 1/2, 1/4, 1/8 scale); the full image comes from the project's decoder.
PREVIEW_MAX_PIXELS = 16_000_000


def _warm_imports() -> None:
    """Modules the window needs right after the scan (the XML reader, the canvas's image
    loading): imported on the worker so the GUI thread does not pay for them when the project
    is shown. Not the decoder (Pillow, NumPy: ~0.14 s): a plain JPEG is shown without it
    (:func:`workbench.gui.images.read_plain_jpeg`); the state scan imports it on a worker
    before it reads the first file (:class:`~workbench.gui.panels.files.StateScanner`)."""
    import workbench.core.image_limits  # noqa: F401
    import workbench.core.voc  # noqa: F401  (lxml)
    import workbench.gui.canvas.bigimage  # noqa: F401
    import workbench.gui.outside_edits  # noqa: F401  (the window's watcher, made when shown)


def _natural_key(text: str) -> tuple:
    """= :func:`workbench.core.project_scan.natural_key` (a test checks; that module imports
    the format readers, not needed before the first paint)."""
    parts = _DIGITS.split(text.lower())
    parts[1::2] = map(int, parts[1::2])
    return tuple(parts)


_DIGITS = re.compile(r"(\d+)")
#: every ASCII digit -> NUL: the translated names compare as their leading texts do
_TO_NUL = str.maketrans(dict.fromkeys("0123456789", "\0"))
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")  # a digit \d takes that int() reads, not 0-9


def _is_image(low: str) -> bool:
    """``low`` (a lower-case name) is an image name as Project.rescan takes them: an image
    ending after a non-empty stem (hidden names included)."""
    dot = low.rfind(".")
    return dot > 0 and low[dot:] in PREVIEW_EXTENSIONS


def _any_name(_low: str) -> bool:
    return True


def first_image(names: list[str], *, images_only: bool = True) -> str | None:
    """``min(images, key=natural_key)`` of ``names`` (the first of equal keys; None without an
    image; ``images_only=False``: of every name) without a key per name — 10^5 names: ~0.2 s
    with per-name work, ~0.03 s so (issue 14: this runs before the first paint).

    The leading text (before the first digit) of the first name is the leading text of the
    smallest name once every digit is NUL (a shorter leading text then compares smaller, as
    in the natural key); its first number is the least of the digit runs after that text
    (one regular expression pass over the joined names); the full key is computed only for
    the names with that text and number. Names holding a newline or a non-ASCII digit take
    the plain way."""
    ok = _is_image if images_only else _any_name
    n = len(names)
    if not n:
        return None
    low = "\n".join(names).lower()  # (lower() keeps the newlines: line i is names[i])
    if low.count("\n") != n - 1 or (not low.isascii() and _OTHER_DIGIT.search(low)):
        return _first_plain(names, ok)
    lines = low.translate(_TO_NUL).split("\n")
    smallest = min(lines)
    if not ok(smallest):  # (digits and extensions share no character: still a name's end)
        smallest = next((s for s in heapq.nsmallest(64, lines) if ok(s)), "")
        if not smallest:
            return _first_plain(names, ok)
    text, digit, _ = smallest.partition("\0")
    if not digit:  # no number: its key (name,) is the least
        return names[lines.index(smallest)]
    low = "\n" + low  # a literal "\n<text>" is searched for quickly (``^`` tries every place)
    head = "\n" + re.escape(text)
    runs = re.findall(head + r"(\d+)", low)
    shortest = min(map(len, runs))
    if re.search(head + "0", low) is None:  # no leading zeros: fewer digits, smaller number
        least = int(min(compress(runs, map(shortest.__eq__, map(len, runs)))))
    else:
        least = min(map(int, runs))
    best: tuple[tuple, int] | None = None
    row, at = -1, 0
    for match in re.finditer(head + (f"0*{least}" if least else "0+") + r"(?!\d)", low):
        row += low.count("\n", at, match.start() + 1)
        at = match.start() + 1
        if ok(names[row].lower()):
            key = (_natural_key(names[row]), row)
            if best is None or key < best:
                best = key
    return names[best[1]] if best is not None else _first_plain(names, ok)


def _first_plain(names: list[str], ok) -> str | None:  # noqa: ANN001
    found = [name for name in names if ok(name.lower())]
    return min(found, key=_natural_key) if found else None


def first_in_natural_order(names: list[str]) -> str:
    """``min(names, key=natural_key)`` (see :func:`first_image`)."""
    first = first_image(names, images_only=False)
    if first is None:
        raise ValueError("first_in_natural_order() of no names")
    return first


def list_names(folder: Path) -> list[str] | None:
    """The names in ``folder`` (None when it cannot be listed)."""
    try:
        return os.listdir(folder)
    except OSError:
        return None


def preview_image(folder: Path, settings=None, names: list[str] | None = None) -> Path | None:  # noqa: ANN001
    """The image the project of ``folder`` will most likely show first: the last image seen
    there (settings), else the first image of the folder in natural order, else of its
    ``JPEGImages/`` or ``images/`` sub-folder. None when there is none."""
    folder = Path(folder)
    if settings is not None:
        try:
            last = settings.last_image(folder.expanduser().resolve())
        except OSError:
            last = None
        if last and os.path.isfile(last):
            return Path(last)
    names = list_names(folder) if names is None else names
    if not names:
        return None
    first = first_image(names)
    if first is not None:
        return folder / first
    for sub in IMAGE_SUBFOLDERS:
        if sub in names:
            first = first_image(list_names(folder / sub) or [])
            if first is not None:
                return folder / sub / first
    return None


def read_preview(path: Path):  # noqa: ANN201 - QImage (null when Qt cannot read it)
    """``path`` decoded by Qt's image reader (EXIF orientation applied), reduced when it is
    very large."""
    from PySide6.QtGui import QImageReader

    reader = QImageReader(os.fspath(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and size.width() * size.height() > PREVIEW_MAX_PIXELS:
        scale = (PREVIEW_MAX_PIXELS / (size.width() * size.height())) ** 0.5
        reader.setScaledSize(size * scale)
    return reader.read()


class ProjectOpener(QObject):
    """The window's folder opening (see the module doc). ``opened(images_dir)`` after the
    project has been shown; ``refused(images_dir, message)`` when it could not be opened."""

    opened = Signal(object)
    refused = Signal(object, str)

    def __init__(self, window) -> None:  # noqa: ANN001 - MainWindow
        super().__init__(window)
        self.w = window
        self.runner = JobRunner(self)
        self._job: Job | None = None
        self._pending: tuple[Path, Path | None] | None = None  # waiting for the first paint
        self._hooks: list[QObject] = []
        self._busy_cursor = False
        self.scan_seconds: float | None = None
        #: ``(path, QImage)`` of a start-up preview that is what the canvas's loader gives
        #: (:func:`workbench.gui.images.read_plain_jpeg`); taken by the project when it opens
        self.preview: tuple[Path, object] | None = None
        window.opening = None

    # -- public ---------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._job is not None or self._pending is not None

    def open(self, images_dir: Path, annotations_dir: Path | None = None, *,
             preview: bool = False, after_paint: bool = False) -> bool:
        """Start opening ``images_dir``; False when the user kept the current image (unsaved
        edits they did not want to leave). ``preview``: paint the folder's first image now
        (start-up); ``after_paint``: start the scan after the window's next paint."""
        if not self.w.saver.leave_document(self.w.document):
            return False
        self.cancel()
        images_dir = Path(images_dir)
        annotations_dir = Path(annotations_dir) if annotations_dir else None
        count = ""
        if preview:  # (listing 10^5 names takes 30-90 ms: only for the start-up preview, and
            # only when the folder's last image is not known)
            path = preview_image(images_dir, self.w.settings, [])
            names = None
            if path is None:
                names = list_names(images_dir)
                path = preview_image(images_dir, None, names)
            if path is not None:
                self._show_preview(path)
            if names is not None and len(names) > 1000:
                count = f"{len(names):,} files in "
        self._set_busy(True, f"Opening {count}{readable(images_dir)}…")
        self._pending = (images_dir, annotations_dir)
        self.w.opening = self.start
        if after_paint:
            self._start_after_paint()
        else:
            self.start()
        return True

    def start(self) -> None:
        """Start the scan now (if it is waiting for the first paint)."""
        if self._pending is None:
            return
        images_dir, annotations_dir = self._pending
        self._pending = None
        self._drop_hooks()
        started = time.perf_counter()

        def scan(ctx: JobContext) -> tuple[object, list[str], list[str]]:
            from workbench.gui import project_ops as ops
            from workbench.gui.navigation import display_names
            from workbench.gui.panels.files import lower_all

            project = ops.open_project(images_dir, annotations_dir, stop=ctx.stop.is_set)
            for i, entry in enumerate(project.entries):
                # pathlib keeps a path's string once made: the window reads 10^5 of them on
                # the GUI thread when the project is shown
                os.fspath(entry.image_path)
                os.fspath(entry.xml_path)
                if not i % 8192:
                    ctx.check()
            ctx.check()
            names = display_names(project.images_dir, project.entries)  # the file dock's
            ctx.check()
            _warm_imports()
            return project, names, lower_all(names)  # (the filter's lower-case names)

        job = self.runner.submit(scan, key=OPEN_KEY, name=f"Opening {readable(images_dir)}")
        self._job = job
        job.finished.connect(lambda result, j=job: self._on_scanned(
            j, images_dir, annotations_dir, result, started))
        job.failed.connect(lambda message, j=job: self._on_failed(j, images_dir, message))

    def cancel(self) -> None:
        """Forget the open under way (its scan stops; nothing is shown)."""
        self._pending = None
        self._drop_hooks()
        if self._job is not None:
            self._job.cancel()
            self._job = None
        self._set_busy(False)
        self.w.opening = None

    def shutdown(self, timeout_ms: int = 3000) -> bool:
        self.cancel()
        return self.runner.shutdown(timeout_ms)

    # -- internals ------------------------------------------------------------------------
    def _on_scanned(self, job: Job, images_dir: Path, annotations_dir: Path | None,
                    result: tuple[object, list[str], list[str]], started: float) -> None:
        if job is not self._job:
            return
        project, names, lower = result
        self._job = None
        self.w.opening = None
        self._set_busy(False)
        n = len(getattr(project, "entries", ()))
        #: seconds the last scan took on the worker thread (benches)
        self.scan_seconds = job.seconds
        log.info("%s: %d images scanned in %.2f s (worker thread)", images_dir, n,
                 time.perf_counter() - started)
        if self.w.open_project(images_dir, annotations_dir, project=project, names=names,
                               lower=lower):
            self.opened.emit(images_dir)

    def _on_failed(self, job: Job, images_dir: Path, message: str) -> None:
        if job is not self._job:
            return
        self._job = None
        self.w.opening = None
        self._set_busy(False)
        log.error("cannot open %s: %s", images_dir, message)
        if self.w.project is None:  # a start-up preview: nothing is open after all
            self.w.canvas.canvas_scene().set_image(None)
            self.w.stack.setCurrentWidget(self.w.welcome)
        self.refused.emit(images_dir, message)

    def _set_busy(self, busy: bool, text: str = "") -> None:
        w = self.w
        if busy:
            if not self._busy_cursor:
                w.setCursor(Qt.CursorShape.BusyCursor)
                self._busy_cursor = True
            self._label_before = w.position_label.text()
            w.position_label.setText(text)
            if w.project is None:  # the file dock says so too (its list fills when open)
                w.files.counter.setText("Reading the folder…")
            return
        if self._busy_cursor:
            w.unsetCursor()
            self._busy_cursor = False
            if w.project is not None and w.position_label.text().startswith("Opening "):
                w.position_label.setText(getattr(self, "_label_before", ""))
            elif w.project is None:
                w.position_label.setText("No folder open")
                w.files.counter.setText("No folder open")

    def _show_preview(self, path: Path) -> None:
        from workbench.gui.images import read_plain_jpeg

        # a plain JPEG is read as the canvas's loader reads it: the project shows it again
        # from the window's image cache (:attr:`preview`) instead of decoding it twice
        image = read_plain_jpeg(path)
        self.preview = (Path(os.path.abspath(path)), image) if image is not None else None
        if image is None:
            image = read_preview(path)
        if image.isNull():
            return
        w = self.w
        w.canvas.canvas_scene().set_image(image)
        w.stack.setCurrentWidget(w.canvas)
        w.canvas.fit()

    def _start_after_paint(self) -> None:
        opener = self

        class _FirstPaint(QObject):
            def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
                if event.type() == QEvent.Type.Paint:
                    QTimer.singleShot(0, opener.start)
                return False

        hook = _FirstPaint(self)
        self._hooks.append(hook)
        self.w.canvas.viewport().installEventFilter(hook)
        if self.w.welcome_if_built() is not None:  # (not built: the canvas is shown)
            self.w.welcome.installEventFilter(hook)
        # a window never shown, or painted elsewhere
        QTimer.singleShot(10_000, self.start)

    def _drop_hooks(self) -> None:
        for hook in self._hooks:
            self.w.canvas.viewport().removeEventFilter(hook)
            if self.w.welcome_if_built() is not None:
                self.w.welcome.removeEventFilter(hook)
            hook.deleteLater()
        self._hooks.clear()
