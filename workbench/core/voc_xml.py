"""Low-level VOC XML pieces shared by the reader (:mod:`workbench.core.voc`) and the writer
(:mod:`workbench.core.voc_write`): the error types, the hardened lxml parser, and readers of
single elements. Use :mod:`workbench.core.voc` for the public API.

The parser never resolves entities, never touches the network, never loads a DTD and keeps
libxml2's size limits (``huge_tree=False``). Any DOCTYPE or ENTITY declaration is refused
before parsing (and, for encodings the byte scan cannot see, after it) with
:class:`HostileXmlError`; files over :data:`MAX_XML_BYTES` are refused unread.
"""

from __future__ import annotations

import math
import os
import re
import stat
from typing import TYPE_CHECKING

from workbench.core.annotation import ImageSize, VocObject
from workbench.core.boxes import voc_to_edges

if TYPE_CHECKING:
    from lxml import etree
else:  # (imported at its first use: files the plain-layout reader reads never need it)
    from workbench.core.lazy_lxml import etree

#: Larger files are refused unread. 32 MiB holds ~140,000 objects in LabelImg's layout (a
#: 100,000-object file is ~22 MB): what this program writes it must be able to read again
#: (issue 12; lxml parses such a file without ``huge_tree``, in about a second).
MAX_XML_BYTES = 32 * 1024 * 1024

_HOSTILE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_UTF8_BOM = b"\xef\xbb\xbf"
COORDS = ("xmin", "ymin", "xmax", "ymax")
ROOT_ORDER = ("folder", "filename", "path", "source", "size", "segmented", "object")
OBJ_ORDER = ("name", "pose", "truncated", "difficult", "bndbox", "score")
_TRUE = {"1", "yes", "true"}
_FALSE = {"0", "no", "false", ""}


class VocError(ValueError):
    """A VOC file cannot be used; ``path`` names it and the message says why."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class HostileXmlError(VocError):
    """The file holds a DOCTYPE/entity declaration or is too large: refused, never parsed."""


class VocReadError(VocError):
    """The file is unreadable, not well-formed XML, or not a VOC annotation."""


# --------------------------------------------------------------------------- parsing


def parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_blank_text=False,
    )


def _clean_prolog(data: bytes) -> bytes:
    """Drop a UTF-8 BOM and whitespace before the first ``<`` (both trip the XML prolog)."""
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM):]
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with BOM: let libxml2 decode it
        return data
    return data.lstrip(b" \t\r\n")


def parse_root(data: bytes, name: str) -> etree._Element:
    if len(data) > MAX_XML_BYTES:
        raise HostileXmlError(name, f"file is {len(data)} bytes, over the {MAX_XML_BYTES} limit")
    if _HOSTILE.search(data):
        raise HostileXmlError(name, "DOCTYPE/ENTITY declarations are not allowed in annotations")
    try:
        root = etree.fromstring(_clean_prolog(data), parser())
    except etree.XMLSyntaxError as exc:
        detail = re.sub(r"\s*\(<string>, line \d+\)$", "", str(exc))
        raise VocReadError(name, f"not well-formed XML ({detail})") from exc
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise HostileXmlError(name, "DOCTYPE declarations are not allowed in annotations")
    if next(root.iter(etree.Entity), None) is not None:
        raise HostileXmlError(name, "entity references are not allowed in annotations")
    return root


def child_text(el: etree._Element, tag: str) -> str | None:
    """The text of the first child ``tag``; comments, processing instructions and elements
    inside the value are skipped and the text around them joined (``1<!--c-->0`` → ``"10"``,
    as an XML processor reads character data; :func:`structure_problems` reports it)."""
    child = el.find(tag)
    if child is None:
        return None
    if len(child) == 0:
        return (child.text or "").strip()
    return ((child.text or "") + "".join(c.tail or "" for c in child)).strip()


# --------------------------------------------------------------------------- structure checks
# Object-like content the reader does not use is reported, never silently skipped (issue 12):
# an <object> that is not a direct child of <annotation> (inside <objects>, inside another
# object, namespaced, or spelt <Object>), a second <name>/<bndbox>/<xmin>/<size>/..., a known
# tag in another letter case or namespace, and markup inside a value.

_SIZE_TAGS = ("width", "height", "depth")
_ROOT_VALUES = ("folder", "filename", "path", "segmented")


def where(el: etree._Element) -> str:
    """``<tag> at /annotation/objects/object[2] (line 7)`` for messages."""
    tag = etree.QName(el).localname if isinstance(el.tag, str) else "?"
    if el.prefix:
        tag = f"{el.prefix}:{tag}"
    elif isinstance(el.tag, str) and el.tag.startswith("{"):
        tag = f"{tag} xmlns={etree.QName(el).namespace!r}"
    line = f" (line {el.sourceline})" if el.sourceline else ""
    return f"<{tag}> at {el.getroottree().getpath(el)}{line}"


def _scan_children(el: etree._Element, known: frozenset[str], values: frozenset[str],
                   lower: dict[str, str]) -> list[str]:
    """One pass over ``el``'s children: a second occurrence of a known child, a known child in
    another case/namespace, markup inside the (first) value of a child in ``values``."""
    msgs: list[str] = []
    seen: set[str] = set()
    for c in el:
        tag = c.tag
        if tag in known:
            if tag in seen:
                if tag != "object":
                    msgs.append(f"{where(c)} is a second <{tag}>; it is ignored (only the "
                                "first is read)")
                continue
            seen.add(tag)
            if tag in values and len(c):
                msgs.append(f"{where(c)} holds a comment, processing instruction or element "
                            f"inside its value; read as {child_text(el, tag)!r}")
            continue
        if not isinstance(tag, str):
            continue
        local = tag.rpartition("}")[2].lower()
        if local in lower:
            msgs.append(f"{where(c)} is not read: the reader expects <{lower[local]}> (tags are "
                        "case-sensitive and carry no namespace)")
    return msgs


def _schema(tags: tuple[str, ...]) -> tuple[frozenset[str], dict[str, str]]:
    return frozenset(tags), {t.lower(): t for t in tags if t != "object"}


_ROOT_KNOWN, _ROOT_LOWER = _schema(ROOT_ORDER)
_OBJ_KNOWN, _OBJ_LOWER = _schema(OBJ_ORDER)
_OBJ_VALUES = frozenset(("name", "pose", "truncated", "difficult", "score"))
_BND_KNOWN, _BND_LOWER = _schema(COORDS)
_SIZE_KNOWN, _SIZE_LOWER = _schema(_SIZE_TAGS)


def object_structure_problems(el: etree._Element) -> list[str]:
    """What a direct ``<object>`` holds that the reader does not use (see above)."""
    msgs = _scan_children(el, _OBJ_KNOWN, _OBJ_VALUES, _OBJ_LOWER)
    bnd = el.find("bndbox")
    if bnd is not None:
        msgs += _scan_children(bnd, _BND_KNOWN, _BND_KNOWN, _BND_LOWER)
    return msgs


def structure_problems(root: etree._Element) -> list[str]:
    """File-level unused content: misplaced/misspelt objects anywhere, a second <size>,
    <filename> …, markup inside <size>/<filename> values. Per-object checks:
    :func:`object_structure_problems`."""
    msgs = _scan_children(root, _ROOT_KNOWN, frozenset(_ROOT_VALUES), _ROOT_LOWER)
    size = root.find("size")
    if size is not None:
        msgs += _scan_children(size, _SIZE_KNOWN, _SIZE_KNOWN, _SIZE_LOWER)
    for el in root.iter(etree.Element):  # linear; (an XPath "//" here was quadratic)
        tag = el.tag
        if tag[-6:].lower() != "object" or tag.rpartition("}")[2].lower() != "object":
            continue
        parent = el.getparent()
        if tag == "object" and parent is root:
            continue
        inside = "" if parent is root else f" inside <{etree.QName(parent).localname}>"
        msgs.append(f"{where(el)}{inside} is not read: only <object> elements directly inside "
                    "<annotation> are objects")
    return msgs


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _flag(el: etree._Element, tag: str, msgs: list[tuple[str, str]]) -> bool:
    text = child_text(el, tag)
    if text is None:
        return False
    low = text.lower()
    if low in _TRUE or low in _FALSE:
        return low in _TRUE
    value = _number(text)
    if value is None:
        msgs.append(("warning", f"<{tag}> value {text!r} is not 0/1; read as 0"))
        return False
    return value != 0


def read_object(el: etree._Element) -> tuple[VocObject | None, str, list[tuple[str, str]]]:
    """One ``<object>`` → (object or None when it has no usable box, name, messages)."""
    msgs: list[tuple[str, str]] = [("warning", m) for m in object_structure_problems(el)]
    name = child_text(el, "name") or ""
    bnd = el.find("bndbox")
    if bnd is None:
        return None, name, [("warning", "has no <bndbox>; kept in the file but not loaded"),
                            *msgs]
    values = [_number(child_text(bnd, c)) for c in COORDS]
    if any(v is None for v in values):
        bad = ", ".join(f"{c}={child_text(bnd, c)!r}" for c, v in zip(COORDS, values) if v is None)
        return None, name, [("error", f"unreadable <bndbox> ({bad}); kept in the file but not "
                            "loaded"), *msgs]
    box = voc_to_edges(*values)  # type: ignore[arg-type]
    difficult = _flag(el, "difficult", msgs)
    truncated = _flag(el, "truncated", msgs)
    pose = child_text(el, "pose")
    score_text = child_text(el, "score")
    score = _number(score_text)
    if score_text is not None and score is None:
        msgs.append(("warning", f"<score> value {score_text!r} is not a number; ignored"))
    extra = tuple(
        (str(c.tag), (c.text or "").strip())
        for c in el
        if isinstance(c.tag, str) and c.tag not in OBJ_ORDER and len(c) == 0
    )
    obj = VocObject(
        name=name, box=box, difficult=difficult, truncated=truncated,
        pose="Unspecified" if pose is None else pose, extra=extra, score=score,
        model_made=(el.get("model_made") or "").strip().lower() in _TRUE,
        raw=etree.tostring(el, with_tail=False),
    )
    return obj, name, msgs


def read_size(root: etree._Element) -> tuple[ImageSize | None, str | None]:
    size_el = root.find("size")
    if size_el is None:
        return None, "has no <size>"
    w, h = _number(child_text(size_el, "width")), _number(child_text(size_el, "height"))
    d = _number(child_text(size_el, "depth"))
    if w is None or h is None or w <= 0 or h <= 0:
        return None, (f"<size> {child_text(size_el, 'width')!r}x{child_text(size_el, 'height')!r} "
                      "is not a valid image size")
    return ImageSize(int(round(w)), int(round(h)), int(d) if d and d > 0 else 3), None


def read_meta(root: etree._Element) -> dict:
    source = root.find("source")
    database = child_text(source, "database") if source is not None else None
    return {
        "filename": child_text(root, "filename") or "",
        "folder": child_text(root, "folder") or "",
        "path": child_text(root, "path") or "",
        "database": "Unknown" if database is None else database,
        "segmented": child_text(root, "segmented") or "0",
        "verified": (root.get("verified") or "").strip().lower() in _TRUE,
    }



def read_bytes(path: str | os.PathLike[str], name: str) -> bytes:
    """The bytes of an annotation file (at most :data:`MAX_XML_BYTES`, else
    :class:`HostileXmlError`); :class:`VocReadError` when it cannot be read. Plain ``os``
    calls, no file object: for a 2 kB file the buffered reader's set-up cost more than the
    read (open, fstat, one read for a regular file; its short read is the end)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise VocReadError(name, f"cannot read ({exc.strerror or exc})") from exc
    try:
        st = os.fstat(fd)
        size = st.st_size
        # Ask for the size the file says it has (plus one, to see growth), and only read on
        # towards the limit when it holds more: read(MAX + 1) would allocate 32 MiB first.
        want = size + 1 if 0 < size <= MAX_XML_BYTES else MAX_XML_BYTES + 1
        parts: list[bytes] = []
        got = 0
        regular = stat.S_ISREG(st.st_mode)
        while got < want:
            part = os.read(fd, want - got)
            if not part:
                break
            parts.append(part)
            got += len(part)
            if got == size + 1 and want == size + 1:  # it grew since fstat: read on
                want = MAX_XML_BYTES + 1
            elif regular and got < want:
                break  # a regular file's short read is its end
    except OSError as exc:
        raise VocReadError(name, f"cannot read ({exc.strerror or exc})") from exc
    finally:
        os.close(fd)
    data = parts[0] if len(parts) == 1 else b"".join(parts)
    if len(data) > MAX_XML_BYTES:
        raise HostileXmlError(name, f"file is over the {MAX_XML_BYTES} byte limit")
    return data

