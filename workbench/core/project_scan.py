"""Walking a project folder: the scan helpers of :class:`workbench.core.project.Project`.

``natural_key`` (``img2`` before ``img10``), ``_walk`` (``os.scandir`` without a stat per file),
format detection on open (``_detect``), symlink-loop checks, and ``_Names`` (folder, stem and
name of scanned paths from their strings). Split out of ``project.py``; nothing here reads or
writes an annotation.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.atomic import TEMP_NAME
from workbench.core.formats import FormatGuess, detect_format, list_folder
from workbench.core.formats.detect import CLASS_FILES, detect_json_file
from workbench.core.formats.listing import Listing
from workbench.core.formats.yolo import ultralytics_root
from workbench.core.imageinfo import IMAGE_EXTENSIONS

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple:
    """Sort key putting ``img2`` before ``img10`` (case-insensitive)."""
    parts = _DIGITS.split(text.lower())  # digit runs at the odd places (lower() keeps them)
    parts[1::2] = map(int, parts[1::2])
    return tuple(parts)


def natural_text_key(text: str) -> str:
    """:func:`natural_key` as one string that sorts the same way (equal exactly when those
    keys are equal, so a stable sort keeps the same order): each text part followed by
    ``\x00`` (below any character of a file name), each digit run as its value's digit count
    (one character) and digits. Sorting 10^5 names compares strings in C instead of mixed
    tuples (whose first parts, ``""`` for ``000123.jpg``, always tie)."""
    parts = _DIGITS.split(text.lower())
    if len(parts) == 3:  # one digit run: the usual file name
        d = parts[1]
        d = (d.lstrip("0") or "0") if d.isascii() else str(int(d))
        return f"{parts[0]}\x00{chr(1 + len(d))}{d}{parts[2]}\x00"
    digits = [str(int(p)) for p in parts[1::2]]
    parts[1::2] = [chr(1 + len(d)) + d for d in digits]
    parts[0::2] = [p + "\x00" for p in parts[0::2]]
    return "".join(parts)


def _walk(folder: str | os.PathLike[str]) -> Iterable[tuple[str, list[tuple[str, bool]]]]:
    """``(folder, [(file name, is a symlink)])`` for ``folder`` and its sub-folders, top-down,
    hidden sub-folders skipped, folders and files in natural order: what ``os.walk`` gives
    (symlinked folders listed as folders, not entered; unreadable folders skipped), from
    ``os.scandir`` entries so that no file is stat'ed (the symlink flag comes with the
    listing; at 10^5 files ``os.path.islink`` per file was a tenth of the scan)."""
    top = os.fspath(folder)
    try:
        listing = os.scandir(top)
    except OSError:
        return
    files: list[tuple[str, bool]] = []
    dirs: list[os.DirEntry[str]] = []
    with listing:
        for entry in listing:
            try:
                is_dir = entry.is_dir()
            except OSError:  # a symlink loop: a file to os.walk too
                is_dir = False
            if not is_dir:
                files.append((entry.name, entry.is_symlink()))
            elif not entry.name.startswith("."):
                dirs.append(entry)
    files.sort(key=lambda f: natural_text_key(f[0]))
    yield top, files
    dirs.sort(key=lambda d: natural_text_key(d.name))
    for d in dirs:
        if not d.is_symlink():
            yield from _walk(d.path)


@dataclass
class _FolderScan:
    """One walk of a folder (:func:`_scan_folder`): the format detection's listing and what
    :meth:`Project.rescan <workbench.core.project.Project.rescan>` collects for a VOC project
    whose XML lie beside its images there (the same Path objects), so that opening such a
    folder walks it once (issue 14: the walk, the sort and a Path per file were done twice)."""

    root: str
    listing: Listing
    images: list[Path] = field(default_factory=list)
    image_strs: list[str] = field(default_factory=list)  # os.fspath of each image
    xmls: list[Path] = field(default_factory=list)
    xml_strs: list[str] = field(default_factory=list)  # os.fspath of each XML
    temps: list[Path] = field(default_factory=list)
    links: tuple[list[Path], list[Path]] = field(default_factory=lambda: ([], []))  # symlinks

    def subtree(self, folder: str | os.PathLike[str]) -> _FolderScan | None:
        """What a walk of ``folder`` would have collected (:attr:`images`, :attr:`xmls`,
        :attr:`temps`, :attr:`links`; not the listing), taken from this walk of a folder above
        it — a VOC root's ``JPEGImages`` and ``Annotations``, a dataset's ``images`` and
        ``annotations`` — or None when this walk did not enter it: not under :attr:`root`, or
        a hidden or symlinked folder on the way (:func:`_walk` skips those; a walk started at
        the folder itself follows a symlinked top)."""
        top = os.fspath(folder)
        if top == self.root:
            return self
        head = os.path.join(self.root, "")
        if not top.startswith(head):
            return None
        at = self.root
        for part in top[len(head):].split(os.sep):
            at = os.path.join(at, part)
            if not part or part.startswith(".") or os.path.islink(at) or not os.path.isdir(at):
                return None
        inside = os.path.join(top, "")
        keep = [i for i, text in enumerate(self.image_strs) if text.startswith(inside)]
        keep_xml = [i for i, text in enumerate(self.xml_strs) if text.startswith(inside)]
        out = _FolderScan(top, self.listing)
        out.images = [self.images[i] for i in keep]
        out.image_strs = [self.image_strs[i] for i in keep]
        out.xmls = [self.xmls[i] for i in keep_xml]
        out.xml_strs = [self.xml_strs[i] for i in keep_xml]
        out.temps = [t for t in self.temps if os.fspath(t).startswith(inside)]
        out.links = tuple([p for p in paths if os.fspath(p).startswith(inside)]  # type: ignore
                          for paths in self.links)
        return out


_KINDS = {".xml": "xml", ".txt": "txt", ".json": "json", ".yaml": "yaml", ".yml": "yaml",
          ".names": "txt"}


def _scan_folder(root: Path, check: Callable[[], None] | None = None) -> _FolderScan:
    """Walk ``root`` once (:func:`_walk`): ``listing`` is what
    :func:`workbench.core.formats.list_folder` gives (a test checks), the other fields what
    ``Project.rescan`` takes from a flat VOC folder (its rules: an image has a non-empty stem;
    XML by name ending; stale-temp names). ``check`` is called for every folder and every
    4,096 files (it raises to stop)."""
    listing = Listing(root)
    out = _FolderScan(os.fspath(root), listing)
    kinds = {ext: getattr(listing, name) for ext, name in _KINDS.items()}
    images, image_strs, xmls, temps = out.images, out.image_strs, out.xmls, out.temps
    for folder, files in _walk(root):
        if check is not None:
            check()
        child = _child(Path(folder))
        head = os.path.join(folder, "")
        for i, (f, link) in enumerate(files):
            if check is not None and not i & 4095:
                check()
            dot = f.rfind(".")
            if dot < 0:
                continue  # (neither listed nor taken by the scan)
            ext = f[dot:].lower()
            path = None
            bucket = listing.images if ext in IMAGE_EXTENSIONS else kinds.get(ext)
            if bucket is not None:
                bucket.append(path := child(f))
            if 0 < dot < len(f) - 1 and ext in IMAGE_EXTENSIONS:
                images.append(path := path or child(f))
                image_strs.append(head + f)
                if link:
                    out.links[0].append(path)
            elif f.lower().endswith(".xml"):
                xmls.append(path := path or child(f))
                out.xml_strs.append(head + f)
                if link:
                    out.links[1].append(path)
            elif f.startswith(".") and TEMP_NAME.match(f):
                temps.append(path or child(f))
    return out


def _child(folder: Path):  # noqa: ANN202 - Callable[[str], Path]
    """``lambda name: folder / name`` for plain file names, without parsing ``name`` again
    (pathlib's own child constructor where it has one: ~2x faster than ``/``)."""
    return getattr(folder, "_make_child_relpath", folder.joinpath)


def _resolve_folder(folder: str | os.PathLike[str]) -> Path:
    try:
        return Path(folder).expanduser().resolve()
    except (RuntimeError, OSError) as exc:  # "Symlink loop from ..." (Python < 3.13)
        raise FileNotFoundError(f"{folder}: cannot be opened ({exc})") from exc


def _is_symlink_loop(path: Path) -> bool:
    """True for a symlink whose target chain comes back to itself (``os.stat`` → ELOOP)."""
    if not path.is_symlink():
        return False
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def _holds_xml(folder: Path) -> bool:
    """Whether :func:`list_folder` would list an XML file under ``folder`` (its walk,
    ``os.walk``: hidden folders skipped, symlinked folders not entered, unreadable ones
    skipped), stopping at the first one found (a folder of 10^5 XML: one directory block)."""
    stack = [os.fspath(folder)]
    while stack:
        try:
            listing = os.scandir(stack.pop())
        except OSError:
            continue
        with listing:
            for entry in listing:
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                if not is_dir:
                    name = entry.name
                    dot = name.rfind(".")
                    if dot >= 0 and name[dot:].lower() == ".xml":
                        return True
                elif not entry.name.startswith(".") and not entry.is_symlink():
                    stack.append(entry.path)
    return False


def _detect(images: Path, annotations_dir: str | os.PathLike[str] | None,
            check: Callable[[], None] | None = None,
            ) -> tuple[str, FormatGuess | None, Path, str | os.PathLike[str] | None,
                       _FolderScan | None]:
    """``(format, guess, root to open, annotations, walk)`` for :meth:`Project.open`
    without ``format`` (the walk made while detecting, :func:`_scan_folder`, so the scan
    walks the folder once). An explicit annotations folder holding XML (or nothing else)
    stays VOC; opening the ``images/`` folder of an Ultralytics dataset opens its parent.
    ``check``: see :func:`_scan_folder`."""
    if annotations_dir is not None:
        ann = _resolve_folder(annotations_dir)
        if ann == images:
            annotations_dir = None
        elif ann.is_file():
            return detect_json_file(ann) or "voc", None, images, ann, None
        elif ann.is_dir():
            if _holds_xml(ann):  # the usual case: no full listing (it sorted every name)
                return "voc", None, images, annotations_dir, None
            found = list_folder(ann)
            txt = [t for t in found.txt if t.name.lower() not in CLASS_FILES]
            if found.xml or not (txt or found.json):
                return "voc", None, images, annotations_dir, None
            if txt:
                return "yolo", None, images, ann, None
            kinds = [k for k in map(detect_json_file, found.json[:3]) if k]
            return (kinds[0] if kinds else "voc"), None, images, ann, None
        else:
            return "voc", None, images, annotations_dir, None
    root = images
    if images.name == "images" and (images.parent / "labels").is_dir():
        root = images.parent
    scan = _scan_folder(root, check)
    guess = detect_format(root, scan.listing)
    if root != images and guess.format == "voc":
        root = images
        scan = _scan_folder(root, check)
        guess = detect_format(root, scan.listing)
    anchor = ultralytics_root(images)
    if guess.format == "voc" and not guess.evidence and scan.listing.images \
            and anchor is not None \
            and (anchor / "labels" / images.relative_to(anchor / "images")).is_dir():
        return "yolo", guess, images, None, scan  # images/train opened by itself
    return guess.format, guess, root, None, scan


def _rel_dir(path: Path, base: Path) -> str:
    return path.parent.relative_to(base).as_posix()


def _stem(name: str) -> str:
    """``Path(name).stem`` of a plain file name."""
    i = name.rfind(".")
    return name[:i] if 0 < i < len(name) - 1 else name


class _Names:
    """``(folder relative to base, stem, name)`` of scanned paths, from their strings: the
    scan of 10^5 files asked pathlib for ``parent.relative_to(base)``, ``stem`` and ``name``
    of each (each a new Path); the lexical result is the same on POSIX strings. Each path is
    asked once (a cache by path string cost more than it saved: issue 14)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.head = os.fspath(base).rstrip("/") + "/"

    def __call__(self, path: Path | str) -> tuple[str, str, str]:
        text = path if isinstance(path, str) else os.fspath(path)
        folder, _, name = text.rpartition("/")
        if os.name == "posix" and name and (folder + "/").startswith(self.head):
            return folder[len(self.head):] or ".", _stem(name), name
        as_path = Path(text)
        return _rel_dir(as_path, self.base), as_path.stem, as_path.name

    def many(self, texts: Iterable[str]) -> list[tuple[str, str, str]]:
        """``[self(text) for text in texts]`` for path strings, without a call per path."""
        head = self.head
        n = len(head)
        out: list[tuple[str, str, str]] = []
        append = out.append
        posix = os.name == "posix"
        for text in texts:
            folder, _, name = text.rpartition("/")
            # (folder + "/").startswith(head), without making that string
            if posix and name and len(folder) >= n - 1 and text.startswith(head):
                dot = name.rfind(".")
                append((folder[n:] or ".", name[:dot] if 0 < dot < len(name) - 1 else name,
                        name))
            else:
                append(self(text))
        return out
