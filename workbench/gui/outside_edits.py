"""Files changed from outside while the window is open: noticed, reloaded, never overwritten.

Another tool, a ``git pull`` or the CLI's pre-labeling may rewrite an annotation file the window
has open. The promise (issue 12; "What we promise about your files" in docs/labeling.md):

* Every document remembers the file it was read from or last wrote (:class:`DiskStamp`:
  ``mtime_ns`` + size, plus a content hash). Before every write the file is compared with that
  stamp (:func:`check_before_write`); when its content changed and the new content differs
  from what the document was based on, the write is refused with :class:`OutsideChange` — the
  save controller then asks *keep mine / take theirs / show both*. Autosave never overwrites:
  it asks once per outside change and otherwise leaves the file alone.
* A document without unsaved edits whose file changed is reloaded silently (and
  :class:`~workbench.gui.hub.AnnotationsWritten` is published so the file list and panels
  follow); one with unsaved edits is marked and the question comes at its next save.
* :class:`OutsideEditWatcher` watches, while a project is open, the annotation folder(s)
  (directories, not 100k files: inotify's per-user limit is a few thousand watches) and the
  current document's own file (a folder watch does not report a file rewritten in place). On a
  change, open documents are compared by stamp (a ``stat`` each) and the changed folder is diffed
  against a snapshot on a worker thread; changed files are published as
  ``AnnotationsWritten(paths, source="outside")``. Showing an image again also checks its file,
  so the document cache never shows stale content (even where no watcher works: NFS, SMB).

The content hash settles "ambiguous" stamps: equal ``mtime_ns``/size from a stamp taken within
:data:`RACY_NS` of the file's mtime (a second write in the same clock tick keeps both) is
confirmed by hashing, and a changed stamp with an equal hash (``touch``, an identical rewrite) is
not a change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer
from PySide6.QtWidgets import QMessageBox, QWidget

from workbench.core.annotation import Annotation
from workbench.core.boxes import edges_to_voc
from workbench.core.wording import count

if TYPE_CHECKING:
    from workbench.gui.documents import ImageDocument

log = logging.getLogger(__name__)

#: A stamp whose file mtime is this close to when the stamp was taken is "racy": a second write
#: within the file system's timestamp granularity could keep mtime and size (git's racy-git).
RACY_NS = 2_000_000_000
#: Folders watched at most (a flat project with thousands of sub-folders watches the current
#: document's folder only).
MAX_WATCHED_DIRS = 256
#: Files re-read at once after a folder changed; more are left to the file dock's scanner.
MAX_ROWS_AT_ONCE = 500


# -- stamps (no Qt) -----------------------------------------------------------------------------
@dataclass(frozen=True)
class DiskStamp:
    """What a file was when a document read or wrote it. ``exists`` False: there was none."""

    exists: bool
    mtime_ns: int = 0
    size: int = 0
    digest: bytes = b""
    taken_ns: int = dataclasses.field(default=0, compare=False)  # when the stamp was taken

    @property
    def racy(self) -> bool:
        return self.exists and self.taken_ns - self.mtime_ns < RACY_NS


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def stamp(path: str | os.PathLike[str], data: bytes | None = None) -> DiskStamp:
    """The file's stamp now (content hashed; ``data``: the bytes just written there, which
    saves reading a big file back — used only when the size agrees)."""
    for _attempt in range(3):
        try:
            before = os.stat(path)
            if data is not None and len(data) != before.st_size:
                data = None
            content = data if data is not None else Path(path).read_bytes()
            after = os.stat(path)
        except FileNotFoundError:
            return DiskStamp(False, taken_ns=time.time_ns())
        except OSError as exc:  # unreadable: compare by stat only
            log.warning("cannot stamp %s: %s", path, exc)
            return DiskStamp(True, -1, -1, b"", time.time_ns())
        if (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size):
            return DiskStamp(True, after.st_mtime_ns, after.st_size, _digest(content),
                             time.time_ns())
        data = None  # written while we read it: again
    return DiskStamp(True, -1, -1, b"", time.time_ns())  # never equal to anything


def same_content(old: DiskStamp | None, path: str | os.PathLike[str]) -> tuple[bool, DiskStamp]:
    """``(unchanged, current stamp)``: whether the file still holds what ``old`` recorded.
    A plain ``stat`` when the stamp is clear; the content hash when it is ambiguous."""
    if old is None:
        current = stamp(path)
        return False, current
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if not old.exists:
            return True, old
        return False, DiskStamp(False, taken_ns=time.time_ns())
    except OSError:
        return True, old  # cannot tell (permissions): not a change we can act on
    if not old.exists:
        return False, stamp(path)
    if (st.st_mtime_ns, st.st_size) == (old.mtime_ns, old.size) and not old.racy:
        return True, old
    current = stamp(path)
    return bool(old.digest) and current.digest == old.digest, current


def _snapped(annotation: Annotation | None) -> tuple:
    """What a user would call the content: boxes as the integers saved, names, flags."""
    if annotation is None:
        return ((), False)
    return (tuple(dataclasses.replace(o, box=tuple(float(v) for v in edges_to_voc(o.box)))
                  for o in annotation.objects), bool(annotation.verified))


def same_annotation(a: Annotation | None, b: Annotation | None) -> bool:
    return _snapped(a) == _snapped(b)


class OutsideChange(OSError):
    """The file changed on disk since the document read or wrote it (not written)."""

    def __init__(self, path: Path, current: DiskStamp) -> None:
        super().__init__(f"{Path(path).name} was changed by another program since it was "
                         "opened; not overwritten")
        self.path = Path(path)
        self.current = current


def outside_change(doc: ImageDocument) -> DiskStamp | None:
    """The file's new stamp when it changed outside the window since ``doc`` read or wrote it,
    with content other than what the document was based on; None when not. A harmless change
    (touched, identical rewrite, our own write of another image into a shared file) updates
    ``doc.disk`` quietly."""
    unchanged, current = same_content(doc.disk, doc.xml_path)
    if unchanged:
        if current is not doc.disk:
            doc.disk = current
        return None
    if not current.exists and not (doc.disk and doc.disk.exists):
        return None
    theirs = read_theirs(doc)
    unreadable = theirs is None or bool(getattr(theirs[1], "read_failed", False))
    if not unreadable and same_annotation(theirs[0], doc.base):
        doc.disk = current  # same boxes, other bytes (a rename we made, a reformat)
        return None
    return current


def read_theirs(doc: ImageDocument) -> tuple[Annotation | None, Any] | None:
    """The file's annotation as it is now (and the loader's full result), or None when it
    cannot be read at all."""
    reread = getattr(doc, "reread", None)
    try:
        if reread is not None:
            loaded = reread()
            return loaded.annotation, loaded
        from workbench.core.voc import read_annotation

        if not doc.xml_path.exists():
            return None, None
        annotation, _problems = read_annotation(doc.xml_path)
        return annotation, None
    except Exception:  # noqa: BLE001 - an unreadable file is compared as "different"
        log.exception("cannot read %s", doc.xml_path)
        return None


def check_before_write(doc: ImageDocument) -> None:
    """Raise :class:`OutsideChange` when writing ``doc`` would replace an outside change the
    user has not chosen to overwrite (``doc.overwrite_stamp``)."""
    current = outside_change(doc)
    if current is None:
        return
    allowed = getattr(doc, "overwrite_stamp", None)
    if allowed is not None and allowed.exists == current.exists and (
            (allowed.mtime_ns, allowed.size, allowed.digest)
            == (current.mtime_ns, current.size, current.digest)):
        return
    raise OutsideChange(doc.xml_path, current)


def remember_written(doc: ImageDocument) -> None:
    """After ``doc`` wrote its file: what is on disk now is the document's base."""
    raw = getattr(doc.annotation, "raw", None)  # the bytes written (VOC: the whole file)
    doc.disk = stamp(doc.xml_path, raw if isinstance(raw, bytes) else None)
    doc.base = doc.annotation
    doc.overwrite_stamp = None
    doc.conflict = None


def merged_with_theirs(mine: Annotation, theirs: Annotation | None) -> Annotation:
    """Mine plus their boxes that mine lacks, as model-made suggestions (shown dashed, listed
    as suggestions until a person accepts or edits them) — "show both"."""
    if theirs is None:
        return mine
    have = {(_snapped_object(o)) for o in mine.objects}
    extra = tuple(dataclasses.replace(o, model_made=True) for o in theirs.objects
                  if _snapped_object(o) not in have)
    return dataclasses.replace(mine, objects=mine.objects + extra) if extra else mine


def _snapped_object(o: Any) -> tuple:
    return (o.name, tuple(edges_to_voc(o.box)))


# -- the question -------------------------------------------------------------------------------
KEEP, THEIRS, BOTH, CANCEL = "keep", "theirs", "both", "cancel"
#: Button texts of the conflict question (tests click them by text).
BUTTONS = {KEEP: "Keep mine", THEIRS: "Take theirs", BOTH: "Show both", CANCEL: "Not now"}


def ask_conflict(parent: QWidget | None, name: str, mine: int, theirs: int | None) -> str:
    """Both the window and another program changed ``name``: keep mine (overwrite theirs), take
    theirs (drop my unsaved edits), show both (their boxes added to mine as suggestions, saved
    once reviewed), or not now (nothing written; asked again at the next Ctrl+S)."""
    box = QMessageBox(parent)
    box.setObjectName("outside-edit-conflict")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Changed on disk")
    their = "could not be read" if theirs is None else f"has {count(theirs, 'box')}"
    box.setText(f"{name} was changed by another program while you edited it.")
    box.setInformativeText(
        f"Your version has {count(mine, 'box')} and unsaved edits; the file on disk {their}."
        "\n\n"
        "Keep mine: overwrite the file with your version.\n"
        "Take theirs: drop your unsaved edits and show the file.\n"
        "Show both: keep your boxes and add theirs as suggestions to review.")
    buttons = {}
    for key, role in ((KEEP, QMessageBox.ButtonRole.DestructiveRole),
                      (THEIRS, QMessageBox.ButtonRole.AcceptRole),
                      (BOTH, QMessageBox.ButtonRole.ActionRole),
                      (CANCEL, QMessageBox.ButtonRole.RejectRole)):
        button = box.addButton(BUTTONS[key], role)
        button.setObjectName(f"conflict-{key}")
        buttons[button] = key
    box.setDefaultButton(next(b for b, k in buttons.items() if k == CANCEL))
    box.exec()
    return buttons.get(box.clickedButton(), CANCEL)


# -- the watcher --------------------------------------------------------------------------------
def _qt_path(path: str) -> bool:
    """Qt holds only valid Unicode: a non-UTF-8 file name (surrogate-escaped bytes) cannot be
    watched (it is still compared on save and when shown again)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _snapshot(folder: str) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    try:
        with os.scandir(folder) as it:
            for entry in it:
                try:
                    if entry.is_file():
                        st = entry.stat()
                        out[entry.path] = (st.st_mtime_ns, st.st_size)
                except OSError:
                    continue
    except OSError:
        pass
    return out


class OutsideEditWatcher(QObject):
    """Watches the open project's annotation folders and the current document's file (see the
    module doc); ``window`` is the labeling window."""

    #: Quiet time after the last change before looking (a ``git pull`` changes many files).
    DEBOUNCE_MS = 150
    #: A folder changing all the time (a pre-labeling run writing into it) is diffed at most
    #: once per this many ms, one diff at a time (a 100k-file folder takes a second to list).
    RESCAN_GAP_MS = 1000

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.w = window
        self.fs = QFileSystemWatcher(self)
        self.fs.fileChanged.connect(self._on_file_changed)
        self.fs.directoryChanged.connect(self._on_dir_changed)
        self._timer = QTimer(self, singleShot=True, interval=self.DEBOUNCE_MS)
        self._timer.timeout.connect(self.check_now)
        self._changed_dirs: set[str] = set()
        self._dirs: list[str] = []
        self._file: str | None = None
        self._snapshots: dict[str, dict[str, tuple[int, int]]] = {}
        self._diffing: set[str] = set()   # folders with a diff under way
        self._again: set[str] = set()     # … that changed again meanwhile
        from workbench.gui.workers.tasks import TaskRunner

        self._runner = TaskRunner(self)
        self._generation = 0

    # -- what is watched --------------------------------------------------------------------
    def watch_project(self, entries: Sequence[Any], extra_dirs: Iterable[Path] = ()) -> None:
        """Watch the folders holding the project's annotation files (``entries``: the project's
        entries, read for their ``xml_path`` on a worker thread with the folders' snapshots, so
        a big project does not delay the first paint; ``extra_dirs`` are watched at once)."""
        self.stop()
        first = [str(d) for d in extra_dirs if os.path.isdir(d)]
        self._add_dirs(first)
        generation = self._generation

        def job(ctx: Any) -> dict[str, dict[str, tuple[int, int]]]:
            dirs = dict.fromkeys(first)
            for i, entry in enumerate(entries):
                if i % 4096 == 0:
                    ctx.check()
                dirs[os.path.dirname(os.fspath(entry.xml_path))] = None
                if len(dirs) > MAX_WATCHED_DIRS:
                    log.info("%d+ annotation folders: watching %s and the current document's "
                             "folder only", MAX_WATCHED_DIRS, first)
                    dirs = dict.fromkeys(first)
                    break
            out = {}
            for folder in dirs:
                ctx.check()
                if os.path.isdir(folder):
                    out[folder] = _snapshot(folder)
            return out

        task = self._runner.submit(job, key="watch")
        task.finished.connect(lambda snaps, g=generation: self._on_snapshots(g, snaps))

    def _add_dirs(self, dirs: Iterable[str]) -> None:
        new = [d for d in dirs if d not in self._dirs and _qt_path(d)]
        if new:
            self.fs.addPaths(new)
            self._dirs.extend(new)

    def _on_snapshots(self, generation: int, snapshots: dict) -> None:
        if generation != self._generation:
            return
        self._add_dirs(snapshots)
        for folder, snap in snapshots.items():
            self._snapshots.setdefault(folder, snap)

    def watch_document(self, doc: ImageDocument | None) -> None:
        """Also watch the current document's own file (and its folder when not watched)."""
        if self._file is not None:
            self.fs.removePath(self._file)
            self._file = None
        if doc is None:
            return
        path = str(doc.xml_path)
        if os.path.exists(path) and _qt_path(path):
            self.fs.addPath(path)
            self._file = path
        folder = str(doc.xml_path.parent)
        if folder not in self._dirs and os.path.isdir(folder) and \
                len(self._dirs) < MAX_WATCHED_DIRS + 2:
            self._add_dirs([folder])

    def stop(self) -> None:
        self._generation += 1
        self._timer.stop()
        self._runner.cancel_all()
        paths = self.fs.files() + self.fs.directories()
        if paths:
            self.fs.removePaths(paths)
        self._dirs, self._file = [], None
        self._snapshots.clear()
        self._changed_dirs.clear()
        self._diffing.clear()
        self._again.clear()

    def watched(self) -> list[str]:
        return self.fs.files() + self.fs.directories()

    # -- noticing ---------------------------------------------------------------------------
    def _on_file_changed(self, path: str) -> None:
        # An atomic replace leaves the watch on the old inode: watch the path again.
        if path == self._file:
            self.fs.removePath(path)
            if os.path.exists(path):
                self.fs.addPath(path)
            else:
                self._file = None
        self._changed_dirs.add(str(Path(path).parent))
        self._timer.start()

    def _mouse_busy(self) -> bool:
        """A drag on the canvas is under way: a reload now would pull the box from under it."""
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QApplication

        return QApplication.mouseButtons() != Qt.MouseButton.NoButton

    def _on_dir_changed(self, path: str) -> None:
        self._changed_dirs.add(path)
        if self._file is not None and str(Path(self._file).parent) == path \
                and self._file not in self.fs.files() and os.path.exists(self._file):
            self.fs.addPath(self._file)
        elif self._file is None and self.w.document is not None \
                and str(self.w.document.xml_path.parent) == path:
            self.watch_document(self.w.document)  # the file appeared
        self._timer.start()

    def check_now(self) -> None:
        """Compare every open document with its file (a stat each), then diff the changed
        folders against their snapshots in the background."""
        self._timer.stop()
        self._timer.setInterval(self.DEBOUNCE_MS)
        if self._mouse_busy():
            self._timer.start()  # after the drag
            return
        self.w.check_open_documents()
        dirs, self._changed_dirs = self._changed_dirs, set()
        generation = self._generation
        for folder in dirs:
            before = self._snapshots.get(folder)
            if before is None:
                continue  # not snapshotted (yet): open documents were checked above
            if folder in self._diffing:
                self._again.add(folder)
                continue
            self._diffing.add(folder)
            task = self._runner.submit(lambda _ctx, f=folder: _snapshot(f), key=("diff", folder))
            task.finished.connect(lambda snap, f=folder, b=before, g=generation:
                                  self._on_rescanned(g, f, b, snap))

    def _on_rescanned(self, generation: int, folder: str, before: dict, after: dict) -> None:
        if generation != self._generation:
            return
        self._diffing.discard(folder)
        if folder in self._again:
            self._again.discard(folder)
            self._changed_dirs.add(folder)
            # The gap also replaces a debounce started by a change seen during the listing:
            # otherwise a busy folder is listed again right away, back to back.
            self._timer.start(self.RESCAN_GAP_MS)
        self._snapshots[folder] = after
        changed = [Path(p) for p, s in after.items() if before.get(p) != s]
        changed += [Path(p) for p in before if p not in after]
        if changed:
            self.w.files_changed_outside(changed)
