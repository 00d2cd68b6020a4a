"""The fast path of the VOC reader: files in LabelImg's own layout, read with two regexes.

Almost every VOC file is written by LabelImg, by this program (the same layout) or by tools
that copy it. For those, building an lxml tree and walking it element by element costs ~10x
more than the values are worth. :func:`read_plain` matches the whole file against that
layout — ``<annotation [verified="…"]>`` with ``folder``, ``filename``, ``path``,
``source/database``, ``size/width,height,depth``, ``segmented`` (each optional, in this order)
and then ``<object [model_made="…"]>`` elements holding ``name``, optional ``pose``,
``truncated``, ``difficult``, a ``bndbox`` with ``xmin ymin xmax ymax`` and an optional
``score`` — where every value is plain character data (no ``<``, ``>`` or ``&``: no
entities, references, comments, CDATA, processing instructions or nested markup) and only
whitespace lies between elements. Such a file has, by construction, nothing the full reader
would warn about structurally (no misplaced, repeated, misspelt or namespaced element, no
markup inside a value, no DOCTYPE or entity); its values are read exactly as
:func:`workbench.core.voc_xml.read_object` / ``read_meta`` / ``read_size`` read them, and each
object's ``raw`` is the bytes lxml's ``tostring`` gives for it (line ends normalised to
``\\n``, non-ASCII as decimal character references). Anything else — another layout, an
unknown element, a flag or number those readers would warn about — returns ``None`` and the
full reader (:func:`workbench.core.voc.parse_annotation`) handles the file, with every check
and message. The size limit and the DOCTYPE/ENTITY refusal are the full reader's: such files
never match.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from workbench.core.annotation import ImageSize, VocObject

# Plain character data (XML Chars): also not U+FFFE / U+FFFF, which read_plain refuses in the
# whole text before matching (a class of Latin-1 characters only compiles in half the time:
# the patterns are compiled in every process that reads a VOC file)
_T = r"[^<>&\x00-\x08\x0b\x0c\x0e-\x1f]*"
_WS = r"[ \t\n]*"
_ATTR_VALUE = r"[A-Za-z0-9_.-]*"


def _simple(tag: str, group: str) -> str:
    return f"<{tag}>(?P<{group}>{_T})</{tag}>{_WS}"


def _optional(tag: str) -> str:
    """An optional element whose group holds ``<tag>`` and its text: ``findall`` gives ``""``
    for a group that did not take part, and this tells an absent element from an empty one.
    Written ``(?:X|)``, not ``(?:X)?``: the same matches in the same order of trial, and
    ``re`` runs a branch for ~10% less of ``findall``'s time than an optional group."""
    return f"(?:(?P<{tag}><{tag}>{_T})</{tag}>{_WS}|)"


# One object and the whitespace after it. Read with ``findall`` (tuples, no match objects):
# the objects must tile the region between the head and ``</annotation>``, which the summed
# lengths of ``raw`` and ``ws`` prove (non-overlapping matches that cover every character).
_OBJECT = re.compile(
    f"(?P<raw><object(?: model_made=\"(?P<mm>{_ATTR_VALUE})\"|)>{_WS}"
    + _simple("name", "name")
    + f"(?P<flags>(?:<pose>{_T}</pose>{_WS}|)(?:<truncated>{_T}</truncated>{_WS}|)"
    + f"(?:<difficult>{_T}</difficult>{_WS}|))"
    + f"<bndbox>{_WS}" + _simple("xmin", "xmin") + _simple("ymin", "ymin")
    + _simple("xmax", "xmax") + _simple("ymax", "ymax") + f"</bndbox>{_WS}"
    + _optional("score") + f"</object>{_WS})"
)
# The flags of an object (``flags`` above), element by element (when not memoised).
_FLAGS = re.compile(_optional("pose") + _optional("truncated") + _optional("difficult"))

# Everything before the first object (``match``: the head; the rest of the file must be the
# objects and ``</annotation>``, checked without scanning it twice).
_HEAD = re.compile(
    _WS + r"(?:<\?xml version=([\"'])1\.0\1(?: encoding=([\"'])(?:utf-8|UTF-8)\2)?\?>)?" + _WS
    + f"<annotation(?: verified=\"(?P<verified>{_ATTR_VALUE})\")?>{_WS}"
    + f"(?:{_simple('folder', 'folder')})?"
    + f"(?:{_simple('filename', 'filename')})?"
    + f"(?:{_simple('path', 'path')})?"
    + f"(?:<source>{_WS}{_simple('database', 'database')}</source>{_WS})?"
    + f"(?P<size><size>{_WS}" + _simple("width", "width") + _simple("height", "height")
    + _simple("depth", "depth") + f"</size>{_WS})?"
    + f"(?:{_simple('segmented', 'segmented')})?"
)
_END = "</annotation>"
_TRUE = {"1", "yes", "true"}
_FALSE = {"0", "no", "false", ""}
_UTF8_BOM = b"\xef\xbb\xbf"
# ``findall``'s flag groups (tag and text; "" when absent) → value, for the usual values;
# others go through _flag
_GROUP_FLAGS = {tag: {"": False, f"<{tag}>0": False, f"<{tag}>1": True}
                for tag in ("difficult", "truncated")}


class Plain(NamedTuple):
    """What the full reader's ``read_meta``, ``read_size`` and ``read_object`` give (a named
    tuple: made for every file read, at a fraction of a frozen dataclass's cost)."""

    meta: dict
    size: ImageSize | None
    size_message: str | None
    objects: list[VocObject]
    #: With ``read_plain(…, encode=True)``: each object's fields but ``raw`` as a tuple, in
    #: field order (what :mod:`workbench.core.gt_cache` keeps), else None.
    encoded: list[tuple] | None = None
    #: Whether a ``<size>`` was given and every object is named and its box lies inside it
    #: (:func:`workbench.core.voc._all_clean` of that size: nothing for the checks to say).
    inside: bool = False


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _flag(text: str | None) -> bool | None:
    """``read_object``'s flag value; None where it would warn (the full reader then runs)."""
    if text is None:
        return False
    low = text.strip().lower()
    if low in _TRUE or low in _FALSE:
        return low in _TRUE
    value = _number(text)
    return None if value is None else value != 0


def _strip(value: str | None) -> str | None:
    return None if value is None else value.strip()


#: An object's ``flags`` text (its pose, truncated and difficult elements and the whitespace
#: after each) → ``(pose, truncated, difficult)`` of :func:`_object_flags`, None where the
#: full reader must run (bounded: cleared when full).
_FLAG_MEMO: dict[str, tuple[str, bool, bool] | None] = {}
_FLAG_MEMO_SIZE = 4096


def _object_flags(pose: str, truncated: str, difficult: str) -> tuple[str, bool, bool] | None:
    """An object's pose, truncated and difficult values from its ``findall`` groups (tag and
    text, ``""`` when absent); None for an empty element (lxml writes it back as ``<tag/>``,
    so ``raw`` would differ) or a flag value the full reader warns about."""
    if pose == "<pose>" or truncated == "<truncated>" or difficult == "<difficult>":
        return None
    hard = _GROUP_FLAGS["difficult"].get(difficult)
    hard = _flag(difficult[11:]) if hard is None else hard
    cut = _GROUP_FLAGS["truncated"].get(truncated)
    cut = _flag(truncated[11:]) if cut is None else cut
    if hard is None or cut is None:
        return None
    return (pose[6:].strip() if pose else "Unspecified"), cut, hard


#: ``<size>``'s three texts → its :class:`ImageSize` (frozen: one instance may be shared).
_SIZE_MEMO: dict[tuple[str, str, str], ImageSize] = {}


def _size(width: str, height: str, depth: str) -> ImageSize | None:
    """``read_size``'s value of ``<size>``; None where it words a message."""
    w, h = _number(width), _number(height)
    d = _number(depth)
    if w is None or h is None or w <= 0 or h <= 0:
        return None
    return ImageSize(int(round(w)), int(round(h)), int(d) if d and d > 0 else 3)


def read_plain(data: bytes, keep_raw: bool = True, encode: bool = False) -> Plain | None:
    """The annotation of a file in LabelImg's layout, or None (see the module doc). Without
    ``keep_raw`` each object's ``raw`` is None (readers that never write the file back);
    ``encode``: :attr:`Plain.encoded` too."""
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\r" in text:  # XML line-end normalisation, as the parser applies it
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    ascii_only = text.isascii()
    if not ascii_only and ("\ufffe" in text or "\uffff" in text):
        return None  # not XML characters anywhere (values would not match _T): full reader
    head = _HEAD.match(text)
    if head is None:
        return None
    tail = text.rstrip(" \t\n")
    start, stop = head.end(), len(tail) - len(_END)
    if stop < start or not tail.endswith(_END):
        return None
    (_, _, verified, folder, filename, path, database, size_group, width, height, depth,
     segmented) = head.groups()
    size: ImageSize | None = None
    size_message: str | None = "has no <size>"
    if size_group is not None:
        size = _SIZE_MEMO.get((width, height, depth))  # (one size for most of a dataset)
        if size is None:
            size = _size(width, height, depth)
            if size is None:
                return None  # the full reader words that message
            if len(_SIZE_MEMO) >= _FLAG_MEMO_SIZE:
                _SIZE_MEMO.clear()
            _SIZE_MEMO[(width, height, depth)] = size
        size_message = None
    database = _strip(database)
    meta = {  # (str.strip inline: _strip's call per value was a tenth of a small file)
        "filename": "" if filename is None else filename.strip(),
        "folder": "" if folder is None else folder.strip(),
        "path": "" if path is None else path.strip(),
        "database": "Unknown" if database is None else database,
        "segmented": segmented.strip() or "0" if segmented is not None else "0",
        "verified": (verified or "").strip().lower() in _TRUE,
    }
    objects: list[VocObject] = []
    encoded: list[tuple] | None = [] if encode else None
    if stop == start:
        return Plain(meta, size, size_message, objects, encoded, size is not None)
    inside = size is not None
    w, h = (size.width, size.height) if size is not None else (0, 0)
    new, covered, memo, model_true = object.__new__, 0, _FLAG_MEMO, _TRUE
    # (the region between the head and </annotation>, without copying it: no anchors or
    # look-arounds in the pattern, so positions act as a slice would)
    for raw, mm, name, flag_text, x1, y1, x2, y2, score_text in _OBJECT.findall(text, start,
                                                                                stop):
        covered += len(raw)  # (with the whitespace after </object>)
        try:
            flags = memo[flag_text]  # a file's objects mostly repeat one pose and flag pair
        except KeyError:
            groups = _FLAGS.fullmatch(flag_text).groups("")  # type: ignore[union-attr]
            flags = _object_flags(*groups)
            if len(memo) >= _FLAG_MEMO_SIZE:
                memo.clear()
            memo[flag_text] = flags
        if flags is None:
            return None  # an empty element or a flag the full reader words
        if not name:
            return None  # an empty <name/>: lxml writes it back as <name/> (raw differs)
        try:  # float() strips the same whitespace str.strip() does
            x1, y1, x2, y2 = float(x1), float(y1), float(x2), float(y2)
        except ValueError:
            return None  # unreadable <bndbox>: the full reader reports it
        total = x1 + y1 + x2 + y2
        if total - total != 0.0:
            return None  # inf or nan among them (or a finite sum past a double: full reader)
        score = None
        if score_text:
            score = _number(score_text[7:])
            if score is None or score_text == "<score>":
                return None  # an empty <score/> or one the full reader warns about
        obj = new(VocObject)  # the frozen dataclass's __init__ costs more than the parse
        fields = obj.__dict__
        fields["name"] = name = name.strip()
        fields["box"] = box = (x1 - 1.0, y1 - 1.0, x2, y2)  # voc_to_edges
        fields["difficult"] = flags[2]
        fields["truncated"] = flags[1]
        fields["pose"] = flags[0]
        fields["extra"] = ()
        fields["score"] = score
        fields["model_made"] = made = bool(mm) and mm.lower() in model_true
        if encoded is not None:
            encoded.append((name, box, flags[2], flags[1], flags[0], (), score, made))
        if inside and not (name and 0.0 <= box[0] < x2 <= w and 0.0 <= box[1] < y2 <= h):
            inside = False
        if keep_raw:
            raw = raw.rstrip(" \t\n")
            fields["raw"] = (raw.encode("ascii") if ascii_only
                             else raw.encode("ascii", "xmlcharrefreplace"))
        else:
            fields["raw"] = None
        objects.append(obj)
    if covered != stop - start:
        return None  # something between or around the objects: not this layout
    return Plain(meta, size, size_message, objects, encoded, inside)
