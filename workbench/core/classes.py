"""Class lists: ``predefined_classes.txt`` / ``classes.txt`` merged with the names in the XMLs.

API
---
``CLASS_FILE_NAMES = ("predefined_classes.txt", "classes.txt")`` — searched in that order.
``read_class_file(path) -> list[str]``: one name per line; surrounding whitespace, blank lines
    and repeats dropped, a BOM tolerated. Raises :class:`ClassFileError` naming the file.
``write_class_file(path, names) -> None``: atomic, one name per line.
``find_class_file(folders) -> Path | None``: the first ``CLASS_FILE_NAMES`` file in ``folders``.
``merge_classes(predefined, found) -> list[str]``: the stable project order — the predefined
    names in file order, then every other name found in the annotations, sorted (so the order
    does not depend on which file was read first, and adding images never reorders ids).
``class_ids(names) -> dict[str, int]``: ``name -> 1..K`` (0 is background for torchvision).
``rename_in_list(names, old, new) -> list[str]``: ``old`` replaced in place; when ``new`` is
    already present the two merge (``new`` keeps its earlier position).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from workbench.core.atomic import atomic_write_text

CLASS_FILE_NAMES: tuple[str, ...] = ("predefined_classes.txt", "classes.txt")


class ClassFileError(ValueError):
    """A class list file cannot be read; the message names it."""


def _unique(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for n in names:
        if n and n not in seen:
            seen.add(n)
            out.append(n)
    return out


def read_class_file(path: str | os.PathLike[str]) -> list[str]:
    """Class names from a one-name-per-line file (see module doc)."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ClassFileError(f"{p}: cannot read class list ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ClassFileError(f"{p}: class list is not UTF-8 text ({exc.reason})") from exc
    return _unique(line.strip() for line in text.splitlines())


def write_class_file(path: str | os.PathLike[str], names: Sequence[str]) -> None:
    """Write ``names`` one per line (atomic)."""
    atomic_write_text(path, "".join(f"{n}\n" for n in _unique(names)))


def find_class_file(folders: Iterable[str | os.PathLike[str] | None]) -> Path | None:
    """First existing ``predefined_classes.txt`` / ``classes.txt`` in ``folders``."""
    for folder in folders:
        if folder is None:
            continue
        for name in CLASS_FILE_NAMES:
            candidate = Path(folder) / name
            if candidate.is_file():
                return candidate
    return None


def merge_classes(predefined: Iterable[str], found: Iterable[str]) -> list[str]:
    """Predefined names first (file order), then the other found names sorted."""
    first = _unique(predefined)
    known = set(first)
    return first + sorted({n for n in found if n and n not in known})


def class_ids(names: Sequence[str]) -> dict[str, int]:
    """``name -> id`` with ids ``1..K`` in list order (0 is the background class)."""
    return {name: i + 1 for i, name in enumerate(_unique(names))}


def rename_in_list(names: Sequence[str], old: str, new: str) -> list[str]:
    """``names`` with ``old`` renamed to ``new`` (merging when ``new`` already exists)."""
    return _unique(new if n == old else n for n in names)
