"""Parsed VOC ground truth kept on disk between ``workbench eval`` runs.

``eval`` reads every XML of the project (and every image header, to leave out what the decoder
refuses) on every run, although the ground truth rarely changes between runs. This cache keeps
what :meth:`workbench.core.project.Project.load` returned for each file:

* **Key**, per image: the XML's path, size and ``st_mtime_ns`` and the image's path, size and
  ``st_mtime_ns`` (the image header decides the size check and the "decoder refuses" verdict).
  Any of them changing re-reads that one file; the others stay cached. A file rewritten with
  the same size within the same mtime tick is not noticed — the documented limit, as for
  ``make`` and ``rsync``'s quick check; ``--no-cache`` reads everything. As git does for
  "racily clean" files, a file modified less than :data:`RACY_NS` before it was read is not
  kept (it could change again within the same mtime tick): it is read again next time.
* **Place**: ``$XDG_CACHE_HOME/workbench/gt`` (``~/.cache/workbench/gt``), one file per
  project named by the SHA-256 of its folders (images, annotations, root, layout, display
  names); the folders are stored inside too and compared: a cache is never used for another
  folder. ``$WORKBENCH_GT_CACHE`` = ``0`` turns the cache off, another value names its folder.
* **Format**: :mod:`marshal` of plain tuples (no pickle: nothing in the file can run code),
  with :data:`VERSION`. A file that cannot be read, of another version or for other folders
  is logged and rebuilt — never trusted. Written atomically (:mod:`workbench.core.atomic`),
  only when something changed; it holds the files of the last run only (no unbounded growth).
* Cached annotations carry no ``raw`` XML (evaluation never writes files back).
* Only VOC projects are cached; other formats are read as before.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import time
from pathlib import Path
from typing import Any

from workbench.core.annotation import Annotation, ImageSize, Problem, VocObject

log = logging.getLogger(__name__)

#: Bump when :meth:`Project.load`'s output for the same files changes, or the layout below.
VERSION = 1
_MAGIC = "workbench-gt-cache"
#: Files (XML or image) modified this recently before being read are not cached.
RACY_NS = 2_000_000_000

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


def _stat(path: Any) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


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
    objects = tuple(VocObject(name, box, difficult, truncated, pose, extra, score, model_made)
                    for name, box, difficult, truncated, pose, extra, score, model_made in objs)
    return Annotation(filename, None if size is None else ImageSize(*size), objects, verified,
                      folder, path, database, segmented), problems


class GroundTruthCache:
    """``load(entry)`` as :meth:`Project.load` (``check_image=True``), through the cache file
    of ``project``; :meth:`save` writes it back when something changed."""

    def __init__(self, project: Any, root: str | os.PathLike[str] | None = None) -> None:
        self.project = project
        self.identity = (_MAGIC, VERSION, str(project.images_dir), str(project.annotations_dir),
                         str(project.root), str(project.layout), str(project.format))
        digest = hashlib.sha256(repr(self.identity).encode("utf-8", "surrogateescape"))
        self.path = Path(root if root is not None else default_cache_dir()) / (
            digest.hexdigest()[:32] + ".gt")
        self.hits = 0
        self.misses = 0
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
            if (not isinstance(doc, tuple) or len(doc) != 2 or doc[0] != self.identity
                    or not isinstance(doc[1], dict)):
                raise ValueError("another version or another folder")
            return doc[1]
        except (ValueError, EOFError, TypeError) as exc:
            log.info("ground-truth cache %s ignored (%s); rebuilding it", self.path, exc)
            return {}

    def load(self, entry: Any) -> Loaded:
        if self.project.format != "voc" or not entry.has_xml:
            return self.project.load(entry)
        xml = os.fspath(entry.xml_path)
        key = (_stat(xml), _stat(entry.image_path))
        old = self._old.get(xml)
        if old is not None and old[0] == key and key[0] is not None:
            try:
                loaded = _decode(old[1])
            except (TypeError, ValueError) as exc:
                log.info("ground-truth cache entry for %s ignored (%s)", xml, exc)
            else:
                self.hits += 1
                self._new[xml] = old
                return loaded
        self.misses += 1
        loaded = self.project.load(entry)
        xml_key, image_key = key
        if xml_key is not None and max(xml_key[1], image_key[1] if image_key else 0) \
                < self._recent:
            self._new[xml] = (key, _encode(loaded))
        return loaded

    def save(self) -> None:
        """Write the entries of this run (atomically) when any differs from the file's."""
        if not self.misses and len(self._new) == len(self._old):
            return
        from workbench.core.atomic import atomic_write_bytes

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path, marshal.dumps((self.identity, self._new)))
        except OSError as exc:
            log.warning("cannot write the ground-truth cache %s: %s", self.path, exc)
