"""File names derived from data (class names, image ids) that never leave their folder.

A class name comes from an XML file or a checkpoint someone else wrote; an image id comes from a
file name. Either can be ``a/../../../escaped``, ``..``, ``CON`` or hold a newline or NUL. Every
output path the program builds from such a name goes through this module, so a name can never
write outside the folder it was meant for.

API
---
``unsafe_reason(name) -> str | None``
    Why ``name`` is not a safe single file-name component on any platform we ship to (POSIX,
    Windows, macOS), or None when it is: empty, ``.``/``..``, a path separator (``/`` or
    ``\\``), NUL or another control character, a Windows-forbidden character (``<>:"|?*``),
    a trailing dot or space, a Windows reserved device name (``CON``, ``nul.txt``, ``COM1`` …),
    or longer than :data:`MAX_NAME_BYTES` UTF-8 bytes.
``escape_name(name) -> str`` / ``unescape_name(text) -> str``
    Reversible percent-escaping (``%XX`` of the UTF-8 bytes) of exactly the characters that make
    a name unsafe, plus ``%`` itself: ``unescape_name(escape_name(n)) == n`` for every string,
    and a name that is already safe and holds no ``%`` is returned unchanged
    (``escape_name("cat") == "cat"``, ``escape_name("a/../b") == "a%2F..%2Fb"``).
``escape_id(image_id) -> str`` / ``unescape_id(token) -> str``
    An image id as one token of a VOC split file (``ImageSets/Main/*.txt``): whitespace,
    control characters, ``%`` and undecodable file-name bytes percent-escaped, reversibly.
``safe_child(root, name, *, escape=False, portable=True) -> Path``
    ``root / name`` when ``name`` is a safe component; otherwise :class:`UnsafeNameError`
    naming it and the reason (or, with ``escape=True``, ``root / escape_name(name)``). The
    result is checked to lie directly inside ``root`` either way. ``portable=False`` is for
    names taken from this file system (image stems): only separators, ``.``/``..``, NUL and
    emptiness are refused.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["UnsafeNameError", "unsafe_reason", "is_safe_name", "escape_name", "unescape_name",
           "escape_id", "unescape_id", "safe_child", "MAX_NAME_BYTES"]

#: Most file systems cap a name at 255 bytes; keep room for a prefix/suffix we add.
MAX_NAME_BYTES = 200

_FORBIDDEN = set('/\\<>:"|?*')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
             *(f"LPT{i}" for i in range(1, 10))}
_ESCAPE_RE = re.compile(r"%([0-9A-Fa-f]{2})")


class UnsafeNameError(ValueError):
    """A name taken from data cannot be used as a file name; the message names it and why."""


def _is_control(ch: str) -> bool:
    return ord(ch) < 0x20 or ord(ch) == 0x7F


def unsafe_reason(name: str, *, portable: bool = True) -> str | None:
    """Why ``name`` is not a safe file-name component, or None (see the module doc).

    ``portable=False`` checks only what could leave the folder or cannot be a name here at
    all (empty, ``.``/``..``, a separator of this platform or ``/``, NUL): for names that come
    from this file system already (an image's stem), which are legal here by construction.
    """
    if not name:
        return "is empty"
    if name in (".", ".."):
        return f"is {name!r}, which names a folder, not a file"
    separators = {"/", "\\"} if portable else {"/", os.sep, os.altsep or "/"}
    if any(ch in separators for ch in name):
        return "contains a path separator (/ or \\)"
    if "\x00" in name:
        return "contains a NUL character"
    if not portable:
        return None
    if any(_is_control(ch) for ch in name):
        return "contains a control character (newline, tab …)"
    bad = sorted({ch for ch in name if ch in _FORBIDDEN})
    if bad:
        return f"contains {' '.join(bad)}, not allowed in Windows file names"
    if name[-1] in (". "):
        return "ends with a dot or space (Windows drops it)"
    if name.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        return f"is a reserved device name on Windows ({name.split('.', 1)[0]})"
    try:
        size = len(name.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return "holds characters that cannot be encoded as a file name"
    if size > MAX_NAME_BYTES:
        return f"is {size} bytes long (more than {MAX_NAME_BYTES})"
    return None


def is_safe_name(name: str, *, portable: bool = True) -> bool:
    return unsafe_reason(name, portable=portable) is None


def _pct(ch: str) -> str:
    # a lone surrogate U+DC80..U+DCFF is a non-UTF-8 byte of a file name (os.fsdecode's
    # surrogateescape): escape that byte itself, so unescaping gives the same name back
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogateescape"))


def escape_name(name: str) -> str:
    """Percent-escape what makes ``name`` unsafe, and ``%`` (reversible; see module doc)."""
    if is_safe_name(name) and "%" not in name:
        return name
    out = []
    for ch in name:
        out.append(_pct(ch) if ch == "%" or ch in _FORBIDDEN or _is_control(ch) else ch)
    text = "".join(out)
    if not text:
        return "%"  # unescapes to "" (see unescape_name)
    if set(text) == {"."}:  # "." / ".." / "...": escape every dot
        text = "%2E" * len(text)
    if text[-1] in ". ":
        text = text[:-1] + _pct(text[-1])
    if text.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        text = _pct(text[0]) + text[1:]
    return text


def unescape_name(text: str) -> str:
    """Inverse of :func:`escape_name`."""
    if text == "%":
        return ""
    if "%" not in text:
        return text
    data = bytearray()
    pos = 0
    for m in _ESCAPE_RE.finditer(text):
        data += text[pos:m.start()].encode("utf-8", "surrogateescape")
        data.append(int(m.group(1), 16))
        pos = m.end()
    data += text[pos:].encode("utf-8", "surrogateescape")
    return data.decode("utf-8", "surrogateescape")


def _needs_escape_in_id(ch: str) -> bool:
    return ch == "%" or ch.isspace() or _is_control(ch) or "\udc80" <= ch <= "\udcff"


def escape_id(image_id: str) -> str:
    """An image id as one whitespace-free token of a split file (``ImageSets/Main/*.txt``).

    VOC's split files hold one id per line and readers keep the first token of a line, so
    whitespace, control characters, ``%`` and the undecodable bytes of a non-UTF-8 file name
    are percent-escaped (``"my photo"`` → ``"my%20photo"``); ids without them — every VOC id —
    are written unchanged. :func:`unescape_id` is the exact inverse.
    """
    if not any(_needs_escape_in_id(ch) for ch in image_id):
        return image_id
    return "".join(_pct(ch) if _needs_escape_in_id(ch) else ch for ch in image_id)


def unescape_id(token: str) -> str:
    """Inverse of :func:`escape_id` (a token without ``%XX`` is returned as it is)."""
    return unescape_name(token) if token != "%" else token


def safe_child(root: str | os.PathLike[str], name: str, *, escape: bool = False,
               portable: bool = True) -> Path:
    """``root / name``, refused or escaped when ``name`` is unsafe (see the module doc)."""
    root = Path(root)
    if escape:
        component = escape_name(name)
        if len(component.encode("utf-8", "surrogateescape")) > 255:
            raise UnsafeNameError(f"{name[:40]!r}…: too long for a file name once escaped")
    else:
        reason = unsafe_reason(name, portable=portable)
        if reason is not None:
            raise UnsafeNameError(f"{name!r} cannot be used as a file name: it {reason}")
        component = name
    path = root / component
    # Belt and braces: whatever the checks above missed, the result is a direct child.
    if path.parent != root or path.name != component:
        raise UnsafeNameError(f"{name!r} cannot be used as a file name inside {root}")
    return path
