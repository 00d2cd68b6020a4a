"""Parsed VOC ground truth kept on disk between ``workbench eval`` runs.

``eval`` reads every XML of the project (and every image header, to leave out what the decoder
refuses) on every run, although the ground truth rarely changes between runs. This cache keeps
what :meth:`workbench.core.project.Project.load` returned for each file:

* **Key**, per image: the XML's path, size, ``st_mtime_ns``, ``st_ctime_ns`` and inode, and
  the same of its image (the image header decides the size check and the "decoder refuses"
  verdict). Any of them changing re-reads that one file; the others stay cached. Writing a
  file sets its ctime to the present (``utime`` can set an mtime back, not a ctime), and a
  file replaced by a rename has another inode. As git does for "racily clean" files, a file
  modified less than :data:`RACY_NS` before it was read is not kept (it could change again
  within the same mtime tick): it is read again next time. ``--no-cache``
  reads everything.
* **Tree snapshot** (:class:`TreeSnapshot`, ``eval --results`` with ``--annotations``): the
  project's annotated entries with the state of both folder trees, referring to the cache
  file's parsed entries (by its path and a random token written with it: the parsed data is
  not stored twice; a cache file written again since makes the snapshot unused); when
  nothing under the trees changed the project is not even opened (no listing, matching or
  per-file look-up). A cold run takes the files' states from their ``fstat`` as read (the
  cache keys) instead of stat'ing them again.
* **Place**: ``$XDG_CACHE_HOME/workbench/gt`` (``~/.cache/workbench/gt``), one file per
  project named by the SHA-256 of its folders (images, annotations, root, layout, display
  names); the folders are stored inside too and compared: a cache is never used for another
  folder. ``$WORKBENCH_GT_CACHE`` = ``0`` turns the cache off, another value names its folder.
* **Format**: :mod:`marshal` (format 2) of plain tuples (no pickle: nothing in the file can
  run code), with :data:`VERSION`. A file that cannot be read, of another version or for other folders
  is logged and rebuilt — never trusted. Written atomically (:mod:`workbench.core.atomic`),
  only when something changed; it holds the files of the last run only (no unbounded growth).
* Cached annotations carry no ``raw`` XML (evaluation never writes files back).
* **Cold reading** (a file not in the cache): a file :func:`workbench.core.voc.read_clean`
  reads without a single problem (LabelImg's layout, its image a plain JPEG of the
  ``<size>`` given, every box inside) is read once with ``os`` calls, its key taken from
  ``fstat`` of the files as read (the same numbers ``stat`` gives); any other goes through
  :meth:`Project.load` as before, with every message. ``workbench eval`` pauses the garbage
  collector while the ground truth is read and kept (no reference cycles are made).
* Only VOC projects are cached; other formats are read as before.
"""

from __future__ import annotations

import dataclasses
import logging
import marshal
import os
import time
from pathlib import Path
from typing import Any

from workbench.core.annotation import Annotation, ImageSize, Problem, VocObject
from workbench.core.voc import read_clean_encoded

try:  # (the built-in SHA-256: hashlib loads OpenSSL, ~4 ms of every eval)
    from _sha256 import sha256  # type: ignore[import-not-found]
except ImportError:  # (other Pythons: 3.12 calls it _sha2)
    from hashlib import sha256

log = logging.getLogger(__name__)

#: Bump when :meth:`Project.load`'s output for the same files changes, or the layout below.
VERSION = 3
_MAGIC = "workbench-gt-cache"
#: Files (XML or image) modified this recently before being read are not cached.
RACY_NS = 2_000_000_000

#: marshal's format 2 (no shared references): versions 3 and 4 record every object written
#: that has more than one reference (a freshly read ground truth's names and boxes, shared by
#: the annotations) in a table, which made writing ~1.5-2x slower; the file is ~25% larger.
_MARSHAL_VERSION = 2

Loaded = tuple[Annotation | None, list[Problem]]


def cache_enabled(no_cache: bool = False) -> bool:
    """False with ``--no-cache`` or ``WORKBENCH_GT_CACHE=0``."""
    return not no_cache and os.environ.get("WORKBENCH_GT_CACHE", "").strip() != "0"


def default_cache_dir() -> Path:
    """``$WORKBENCH_GT_CACHE`` (a folder) if set, else ``$XDG_CACHE_HOME/workbench/gt``."""
    env = os.environ.get("WORKBENCH_GT_CACHE", "").strip()
    if env and env not in ("0", "1"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "workbench" / "gt"


def _stat(path: Any) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def _encode(loaded: Loaded) -> tuple:
    ann, problems = loaded
    probs = tuple((p.file, p.object, p.severity, p.message) for p in problems)
    if ann is None:
        return None, probs
    size = None if ann.size is None else (ann.size.width, ann.size.height, ann.size.depth)
    objs = tuple((o.name, tuple(o.box), o.difficult, o.truncated, o.pose, o.extra, o.score,
                  o.model_made) for o in ann.objects)
    return (ann.filename, size, objs, ann.verified, ann.folder, ann.path, ann.database,
            ann.segmented), probs


def _decode(value: tuple) -> Loaded:
    enc, probs = value
    problems = [Problem(*p) for p in probs]
    if enc is None:
        return None, problems
    filename, size, objs, verified, folder, path, database, segmented = enc
    # The frozen dataclasses' __init__ (object.__setattr__ per field) cost more than the rest
    # of a warm run's ground truth: their __dict__ is filled directly, as voc_plain does
    # (one store per field: ~2x faster than the __init__ or a dict.update of a zip).
    new, objects = object.__new__, []
    for name, box, difficult, truncated, pose, extra, score, model_made in objs:
        obj = new(VocObject)
        fields = obj.__dict__
        fields["name"] = name
        fields["box"] = box
        fields["difficult"] = difficult
        fields["truncated"] = truncated
        fields["pose"] = pose
        fields["extra"] = extra
        fields["score"] = score
        fields["model_made"] = model_made
        fields["raw"] = None
        objects.append(obj)
    ann = new(Annotation)
    ann.__dict__.update(filename=filename, size=None if size is None else ImageSize(*size),
                        objects=tuple(objects), verified=verified, folder=folder, path=path,
                        database=database, segmented=segmented, raw=None)
    return ann, problems


# _decode fills every field of these two frozen dataclasses by name: a field added to them
# must be added there (and to _encode and voc_plain.read_plain's encoded tuples), or cached
# annotations would lack it.
assert [f.name for f in dataclasses.fields(VocObject)] == [
    "name", "box", "difficult", "truncated", "pose", "extra", "score", "model_made", "raw"]
assert [f.name for f in dataclasses.fields(Annotation)] == [
    "filename", "size", "objects", "verified", "folder", "path", "database", "segmented", "raw"]


def _read_clean(xml: str, image: str) -> tuple[Annotation, tuple, tuple, tuple] | None:
    """``(annotation, encoded, xml key, image key)`` of a file :meth:`Project.load` reads
    without a problem (:func:`workbench.core.voc.read_clean`: the keys, :func:`_stat`'s, from
    ``fstat`` of the files as read), else None (then it is read the usual way). The
    annotation carries no ``raw``, as a cached one."""
    clean = read_clean_encoded(xml, image, keep_raw=False)
    if clean is None:
        return None
    ann, st, ist, objects = clean
    size = ann.size
    encoded = ((ann.filename, (size.width, size.height, size.depth),  # type: ignore[union-attr]
                tuple(objects),  # type: ignore[arg-type]  # (encode=True: the objects' tuples)
                ann.verified, ann.folder, ann.path, ann.database, ann.segmented), ())
    return (ann, encoded, (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino),
            (ist.st_size, ist.st_mtime_ns, ist.st_ctime_ns, ist.st_ino))  # type: ignore[union-attr]


class GroundTruthCache:
    """``load(entry)`` as :meth:`Project.load` (``check_image=True``), through the cache file
    of ``project``; :meth:`save` writes it back when something changed."""

    def __init__(self, project: Any, root: str | os.PathLike[str] | None = None) -> None:
        self.project = project
        self.identity = (_MAGIC, VERSION, str(project.images_dir), str(project.annotations_dir),
                         str(project.root), str(project.layout), str(project.format))
        digest = sha256(repr(self.identity).encode("utf-8", "surrogateescape"))
        self.path = Path(root if root is not None else default_cache_dir()) / (
            digest.hexdigest()[:32] + ".gt")
        self.hits = 0
        self.misses = 0
        #: The token of the file as read, then as written (:meth:`save`); None: none there.
        self.token: str | None = None
        self._old: dict[str, tuple] = self._read()
        self._new: dict[str, tuple] = {}
        self._recent = time.time_ns() - RACY_NS

    def _read(self) -> dict[str, tuple]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.info("ground-truth cache %s not readable (%s); reading the XML", self.path, exc)
            return {}
        try:
            doc = marshal.loads(data)
            if (not isinstance(doc, tuple) or len(doc) != 3 or doc[0] != self.identity
                    or not isinstance(doc[1], dict) or not isinstance(doc[2], str)):
                raise ValueError("another version or another folder")
            self.token = doc[2]
            return doc[1]
        except (ValueError, EOFError, TypeError) as exc:
            log.info("ground-truth cache %s ignored (%s); rebuilding it", self.path, exc)
            return {}

    def load(self, entry: Any) -> Loaded:
        if self.project.format != "voc" or not entry.has_xml:
            return self.project.load(entry)
        xml = os.fspath(entry.xml_path)
        old = self._old.get(xml)
        if old is not None:
            key = (_stat(xml), _stat(entry.image_path))
            if old[0] == key and key[0] is not None:
                try:
                    loaded = _decode(old[1])
                except (TypeError, ValueError) as exc:
                    log.info("ground-truth cache entry for %s ignored (%s)", xml, exc)
                else:
                    self.hits += 1
                    self._new[xml] = old
                    return loaded
        clean = _read_clean(xml, os.fspath(entry.image_path))
        if clean is not None:  # (a cold run: almost every file)
            self.misses += 1
            ann, encoded, xml_stat, image_stat = clean
            if max(xml_stat[1], image_stat[1]) < self._recent:
                self._new[xml] = ((xml_stat, image_stat), encoded)
            return ann, []
        return self._load_usual(entry, xml, key if old is not None else None)

    def _load_usual(self, entry: Any, xml: str, key: tuple | None) -> Loaded:
        """A file :func:`_read_clean` does not read: ``Project.load`` with every message,
        kept under ``key`` (``(xml stat, image stat)`` before reading; None: taken now)."""
        if key is None:
            key = (_stat(xml), _stat(entry.image_path))
        self.misses += 1
        loaded = self.project.load(entry)
        xml_key, image_key = key
        if xml_key is not None and max(xml_key[1], image_key[1] if image_key else 0) \
                < self._recent:
            self._new[xml] = (key, _encode(loaded))
        return loaded

    def ground_truth(self) -> dict[str, Annotation]:
        """:func:`workbench.core.results.project_ground_truth` of the project through
        :meth:`load`: the same dict, the same warnings and errors. While every file reads
        without a problem (and image ids differ) the dict is filled here directly, without
        that function's per-file verdict (:mod:`workbench.core.usable`: nothing to leave
        out); from the first file with anything to say on, that function does the whole
        project, given the files read so far (each file is read once, in the same order).
        A file not in the cache file is read here as :meth:`load` reads it, inline (a cold
        run: one loop step per file)."""
        ground_truth: dict[str, Annotation] = {}
        # What was read before handing over, in order: (entry, annotation) of a clean file,
        # (entry, (annotation, problems)) of another
        done: list[tuple[Any, Any]] = []
        project, load = self.project, self.load
        old, new, recent = self._old, self._new, self._recent
        voc, fspath, read = project.format == "voc", os.fspath, read_clean_encoded
        for entry in project.entries:
            if not entry.has_xml:
                continue
            xml = fspath(entry.xml_path) if voc else ""
            if voc and xml not in old:
                clean = read(xml, fspath(entry.image_path), keep_raw=False)
                if clean is None:
                    loaded = self._load_usual(entry, xml, None)
                else:  # as load() keeps it (_read_clean), inline
                    self.misses += 1
                    ann, st, ist, objects = clean
                    if st.st_mtime_ns < recent and ist.st_mtime_ns < recent:  # type: ignore[union-attr]
                        size = ann.size
                        new[xml] = (
                            ((st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino),
                             (ist.st_size, ist.st_mtime_ns,  # type: ignore[union-attr]
                              ist.st_ctime_ns, ist.st_ino)),  # type: ignore[union-attr]
                            ((ann.filename,
                              (size.width, size.height, size.depth),  # type: ignore[union-attr]
                              tuple(objects),  # type: ignore[arg-type]
                              ann.verified, ann.folder, ann.path,
                              ann.database, ann.segmented), ()))
                    done.append((entry, ann))
                    image_id = entry.image_id or Path(entry.image_path).stem
                    if image_id in ground_truth:
                        break
                    ground_truth[image_id] = ann
                    continue
            else:
                loaded = load(entry)
            done.append((entry, loaded))
            annotation, problems = loaded
            image_id = entry.image_id or Path(entry.image_path).stem
            if annotation is None or problems or image_id in ground_truth:
                break
            ground_truth[image_id] = annotation
        else:
            return ground_truth
        from workbench.core.results import project_ground_truth

        kept = {id(entry): value for entry, value in done}

        def again(entry: Any) -> Loaded:
            value = kept.pop(id(entry), None)
            if value is None:
                return load(entry)
            return value if isinstance(value, tuple) else (value, [])

        return project_ground_truth(self.project, load=again)

    def save(self) -> None:
        """Write the entries of this run (atomically) when any differs from the file's, with a
        new :attr:`token` (what a :class:`TreeSnapshot` refers to; None when not written)."""
        if not self.misses and len(self._new) == len(self._old):
            return
        from workbench.core.atomic import atomic_write_bytes

        token = os.urandom(12).hex()
        self.token = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path, marshal.dumps((self.identity, self._new, token),
                                                        _MARSHAL_VERSION))
        except OSError as exc:
            log.warning("cannot write the ground-truth cache %s: %s", self.path, exc)
        else:
            self.token = token


# --------------------------------------------------------------------------- tree snapshot

#: The snapshot file's magic; its version is :data:`VERSION` (the per-file entries' encoding).
_SNAP_MAGIC = "workbench-gt-snapshot"


class SnapshotEntry:
    """What :func:`workbench.core.results.project_ground_truth` reads of a project entry, and
    the cached ``Project.load`` result of its XML (encoded as in the cache file)."""

    __slots__ = ("image_path", "xml_path", "image_id", "encoded")
    has_xml = True

    def __init__(self, image_path: str, xml_path: str, image_id: str, encoded: tuple) -> None:
        self.image_path, self.xml_path = image_path, xml_path
        self.image_id, self.encoded = image_id, encoded


class SnapshotProject:
    """The entries of a VOC project as a :class:`TreeSnapshot` kept them: enough for
    ``project_ground_truth(project, load=project.load)`` (not a :class:`Project`)."""

    format = "voc"

    def __init__(self, entries: list[SnapshotEntry]) -> None:
        self.entries = entries

    @staticmethod
    def load(entry: SnapshotEntry) -> Loaded:
        return _decode(entry.encoded)


def tree_state(tops: list[str], skip: str | None = None) -> tuple[dict[str, tuple], int]:
    """``({path: (size, mtime_ns, ctime_ns, inode)}, newest mtime or ctime)`` of the folders
    ``tops`` and everything under them (symlinks followed, each folder once; the folder
    ``skip`` — the cache's own — and what is under it left out; a broken link is ``None``).
    Any file written, added, removed, renamed or replaced changes it: a folder's mtime changes
    with its listing, a file's size/mtime/ctime/inode with its content. Raises ``OSError``
    when a top folder cannot be listed."""
    return _tree_files(*_tree_listing(tops, skip), {})


def _tree_listing(tops: list[str], skip: str | None
                  ) -> tuple[dict[str, tuple | None], list[str], int]:
    """:func:`tree_state`'s first half: each folder's state (taken before it is listed), the
    paths of the files (not stat'ed: a listing's file-or-folder flags come with it; a link is
    followed), the newest folder time."""
    state: dict[str, tuple | None] = {}
    files: list[str] = []
    seen: set[tuple[int, int]] = set()
    newest = 0
    stack = list(tops)
    while stack:
        top = stack.pop()
        st = os.stat(top)
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        state[top] = (-1, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        newest = max(newest, st.st_mtime_ns, st.st_ctime_ns)
        with os.scandir(top) as listing:
            for item in listing:
                try:
                    folder = item.is_dir()  # (follows a link, as stat)
                except OSError:
                    folder = False  # (a link loop: stat fails below, None as before)
                if not folder:
                    files.append(item.path)
                elif skip is None or os.path.realpath(item.path) != skip:
                    stack.append(item.path)
    return state, files, newest


def _tree_files(state: dict[str, tuple | None], files: list[str], newest: int,
                known: dict[str, tuple]) -> tuple[dict[str, tuple], int]:
    """:func:`tree_state`'s second half: each file's state — from ``known`` (its ``fstat``
    as it was read after the listing: what ``stat`` gives while it is unchanged, and any
    later change shows in the next scan), else ``stat`` now."""
    stat_path = os.stat
    for path in files:
        key = known.get(path)
        if key is None:
            try:
                st = stat_path(path)
            except OSError:
                state[path] = None
                continue
            key = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        state[path] = key
        if key[1] > newest or key[2] > newest:
            newest = max(newest, key[1], key[2])
    return state, newest  # type: ignore[return-value]


class TreeSnapshot:
    """The whole ground truth of a VOC project with an annotations folder, kept with the state
    of its two folder trees (:func:`tree_state`): when nothing under them changed — no file
    added, removed, renamed or written, no folder listing changed — ``workbench eval`` takes
    the entries and their parsed annotations from here without opening the project (no
    listing, no matching, no per-entry look-up); anything changed (or unreadable) and the
    project is opened and read through :class:`GroundTruthCache` as before, then the snapshot
    written anew. Only for ``--annotations DIR`` with the VOC format (given or detected):
    without it, opening a project looks beyond the two folders (parent, ``labels/``, …).
    Folders and files modified within :data:`RACY_NS` of the scan are not trusted (the
    snapshot is not written). File: ``<sha256 of the two real paths>.snap`` beside the cache
    files, :mod:`marshal`, written atomically."""

    def __init__(self, images: str | os.PathLike[str], annotations: str | os.PathLike[str] | None,
                 label_format: str | None, root: str | os.PathLike[str] | None = None) -> None:
        self.enabled = annotations is not None and label_format in (None, "voc")
        folder = Path(root if root is not None else default_cache_dir())
        self.skip = os.path.realpath(folder)
        tops = [] if annotations is None else [
            os.path.realpath(os.path.expanduser(os.fspath(p))) for p in (images, annotations)]
        self.identity = (_SNAP_MAGIC, VERSION, *tops, label_format)
        digest = sha256(repr(self.identity).encode("utf-8", "surrogateescape"))
        self.path = folder / (digest.hexdigest()[:32] + ".snap")
        self.tops = tops
        self.state: dict[str, tuple] | None = None
        self.newest = 0
        #: The listing of the trees (:func:`_tree_listing`) whose files are not stat'ed yet:
        #: a cold run's, completed by :meth:`save` with the stats of the files read.
        self._listing: tuple[dict[str, tuple | None], list[str], int] | None = None
        self.started = time.time_ns()

    def scan(self) -> bool:
        """Record the trees' state now (before the project is read); False when unreadable."""
        if not self._list():
            return False
        self._stat_files({})
        return True

    def _list(self) -> bool:
        """List the trees now (:func:`_tree_listing`: before the project is read)."""
        self.state, self._listing = None, None
        if not self.enabled:
            return False
        try:
            self._listing = _tree_listing(self.tops, self.skip)
        except OSError as exc:
            log.info("ground-truth snapshot: cannot list %s (%s)", self.tops, exc)
        return self._listing is not None

    def _stat_files(self, known: dict[str, tuple]) -> None:
        if self._listing is not None:
            self.state, self.newest = _tree_files(*self._listing, known)
            self._listing = None

    def load(self) -> SnapshotProject | None:
        """The kept entries when the trees are as they were when they were kept (lists the
        trees; their files are stat'ed here only when there is a snapshot to compare with,
        else by :meth:`save`, with the stats of the files read)."""
        if not self._list():
            return None
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.info("ground-truth snapshot %s not readable (%s)", self.path, exc)
            return None
        try:
            doc = marshal.loads(data)
            if not isinstance(doc, tuple) or len(doc) != 5 or doc[0] != self.identity:
                raise ValueError("another version or other folders")
            self._stat_files({})
            if doc[1] != self.state:
                return None  # something changed: open the project
            _, _, cache_path, token, rows = doc
            entries = self._cached(cache_path, token)
            if entries is None:
                return None
            return SnapshotProject([SnapshotEntry(image, xml, image_id, entries[xml][1])
                                    for image, xml, image_id in rows])
        except (ValueError, EOFError, TypeError, KeyError, IndexError) as exc:
            log.info("ground-truth snapshot %s ignored (%s)", self.path, exc)
            return None

    def _cached(self, cache_path: str, token: str) -> dict[str, tuple] | None:
        """The entries of the :class:`GroundTruthCache` file the snapshot was written with
        (its parsed annotations are kept there, not twice), None when that file is gone or
        was written again since (another token)."""
        try:
            data = Path(cache_path).read_bytes()
        except OSError as exc:
            log.info("ground-truth snapshot: cache %s not readable (%s)", cache_path, exc)
            return None
        doc = marshal.loads(data)
        if (not isinstance(doc, tuple) or len(doc) != 3 or doc[0][:2] != (_MAGIC, VERSION)
                or not isinstance(doc[1], dict) or doc[2] != token):
            log.info("ground-truth snapshot: cache %s written again since; reading the "
                     "project", cache_path)
            return None
        return doc[1]

    def save(self, project: Any, store: GroundTruthCache) -> None:
        """Keep ``project``'s annotated entries, referring to what ``store`` read for each in
        its file (call after ``store.save()``); not when the trees were not scanned, changed
        too recently, an entry is not in ``store`` or its file was not written."""
        if (self.state is None and self._listing is None) or store.token is None:
            return
        rows = []
        known: dict[str, tuple] = {}  # the files' stats as read (cache keys), by path
        for entry in project.entries:
            if not entry.has_xml:
                continue
            xml = os.fspath(entry.xml_path)
            kept = store._new.get(xml)
            if kept is None:
                return  # read too soon after a change (not cached): not kept either
            image = os.fspath(entry.image_path)
            rows.append((image, xml, entry.image_id))
            xml_key, image_key = kept[0]
            known[xml] = xml_key
            if image_key is not None:
                known[image] = image_key
        self._stat_files(known)
        if self.state is None or self.newest >= self.started - RACY_NS:
            return
        from workbench.core.atomic import atomic_write_bytes

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path, marshal.dumps(
                (self.identity, self.state, os.fspath(store.path), store.token, rows),
                _MARSHAL_VERSION))
        except OSError as exc:
            log.warning("cannot write the ground-truth snapshot %s: %s", self.path, exc)
