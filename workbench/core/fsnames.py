"""File names that are not UTF-8 (issue 12): any byte string the file system allows.

On POSIX a file name is bytes. Python gives a name that is not valid UTF-8 (``latin\\xe9.jpg``
from an old Windows/Samba share) as a ``str`` holding lone surrogates (``'latin\\udce9.jpg'``,
PEP 383 surrogate escape); ``os.fsencode`` gives the same bytes back, so a ``Path`` built from
it opens the file. Such a ``str`` cannot leave Python as text: UTF-8 encoding, XML, Qt
strings and JSON readers refuse or mangle lone surrogates. So:

* **I/O** always uses the real ``Path`` (never a displayed name).
* **Text** meant for people or for other tools — a label, a window title, a message, VOC's
  ``<filename>``/``<path>``/``<folder>`` — uses :func:`readable`: each undecodable byte written
  as ``\\xNN`` (``latin\\xe9.jpg``), Python's ``backslashreplace``. It is plain, valid Unicode.
* Comparing such text with a name on disk: :func:`same_name`.
* Text files that list names for this program (split files) keep the bytes: write them with
  ``errors="surrogateescape"`` or percent-escape them (:func:`workbench.core.safepath.escape_id`).
"""

from __future__ import annotations

import os
import re

__all__ = ["readable", "has_undecodable", "same_name"]

_SURROGATE = re.compile("[\udc80-\udcff]")
_ANY_SURROGATE = re.compile("[\ud800-\udfff]")


def has_undecodable(text: str) -> bool:
    """True when ``text`` holds a lone surrogate (an undecodable file-name byte)."""
    return _ANY_SURROGATE.search(text) is not None


def readable(text: str | os.PathLike[str]) -> str:
    """``text`` with each undecodable file-name byte as ``\\xNN`` (valid Unicode, safe for Qt,
    XML and JSON); unchanged when it has none. Other lone surrogates (not from a file name)
    become U+FFFD."""
    text = os.fspath(text)
    if _ANY_SURROGATE.search(text) is None:
        return text
    text = _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)
    return _ANY_SURROGATE.sub("\ufffd", text)


def same_name(text: str, name: str) -> bool:
    """Whether ``text`` (e.g. an XML ``<filename>``) names the file called ``name`` on disk:
    equal, or equal to its :func:`readable` form."""
    return text == name or text == readable(name)
