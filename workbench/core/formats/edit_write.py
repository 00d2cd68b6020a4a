"""What every in-place writer shares: matching edited boxes to the records they came from,
telling once what a format cannot hold, and re-writing JSON in the file's own style.

Editing in place (``yolo_write``, ``coco_write``, ``createml_write``, ``labelme_write``) works
the same way for every format: the file is read again at save time, the records the reader
turns into boxes are keyed by ``(class name, box)``, and the edited annotation's objects are
aligned to them with :func:`align` (a longest-common-subsequence alignment, the one
``difflib`` uses). A record whose key is unchanged is written back untouched (its text, its
extra fields, its id); a record paired with a changed object has only the box / class
replaced; records of deleted boxes are dropped; new boxes become new records. Records the
reader does not turn into boxes (polygons, keypoints, unreadable lines) are never touched.

API
---
``box_key(name, box, *extra) -> tuple`` — the matching key (coordinates rounded to 1e-4 px, so the
    same file read twice always matches; an edit moves a box by at least a pixel fraction
    the user can see).
``loaded_box(box, size) -> Box | None`` — a stored box as the readers load it (edge snap).
``align(old_keys, new_keys) -> list[tuple[int | None, int | None]]``
    Pairs ``(old index, new index)`` in order: both set → the same record (unchanged when the
    keys are equal, else edited); ``(i, None)`` → record ``i`` deleted; ``(None, j)`` → object
    ``j`` is new.
``lost_fields(objects, verified, *, holds) -> list[str]`` — what the objects carry that a
    format cannot hold (``difficult``, ``truncated``, ``pose``, model suggestions, verified).
``tell_once(project, fmt, lost, file) -> list[Problem]`` — one warning per project and kind
    of loss (the first time it would be lost), none after; also queued on the project.
``take_warnings(project) -> list[Problem]`` — the queued warnings (the GUI shows them after a
    save: the registered writers return only the annotation, like ``Project.save``).
``JsonStyle.of(text)`` / ``style.dumps(doc)`` — indentation, separators, ASCII escaping and
    the final newline of the file being rewritten, so a rewrite changes only what changed.
``SplicedDump(style).dumps(doc)`` — the same text as ``style.dumps(doc)``, re-encoding only the
    records of the big lists that changed since the last call (``forget(records)``).
``load_json_cached(path) -> (doc, style)`` / ``remember_json(path, doc, style)`` — a parsed
    document cached by path, size and mtime (a 100 MB COCO file is parsed once per session,
    not once per saved box); :func:`forget_json` drops it after a failed write.
"""

from __future__ import annotations

import difflib
import json
import os
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.annotation import ImageSize, Problem, VocObject
from workbench.core.boxes import Box
from workbench.core.formats.model import NotWritableError, check_box

__all__ = ["box_key", "loaded_box", "align", "lost_fields", "tell_once", "take_warnings",
           "JsonStyle", "SplicedDump", "load_json_cached", "remember_json", "forget_json", "number"]


def box_key(name: str, box: Box, *extra: Hashable) -> tuple:
    """``(name, rounded box, *extra)``; ``extra``: the flags a format holds (COCO: difficult)."""
    return (name, *(round(float(v), 4) for v in box), *extra)


def loaded_box(box: Box, size: ImageSize | tuple[int, int] | None) -> Box | None:
    """``box`` as the readers load it (:func:`model.check_box`, no clamping: a box a hair
    outside the image snapped to its edge), or None when they do not load it (NaN …)."""
    return check_box(box, size, "", False)[0]


def align(old_keys: Sequence[Hashable],
          new_keys: Sequence[Hashable]) -> list[tuple[int | None, int | None]]:
    """Align records to edited objects (see the module doc)."""
    matcher = difflib.SequenceMatcher(None, list(old_keys), list(new_keys), autojunk=False)
    pairs: list[tuple[int | None, int | None]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pairs.extend(zip(range(i1, i2), range(j1, j2)))
            continue
        n = min(i2 - i1, j2 - j1)  # a replaced run: edit records in place, keeping their ids
        pairs.extend(zip(range(i1, i1 + n), range(j1, j1 + n)))
        pairs.extend((i, None) for i in range(i1 + n, i2))
        pairs.extend((None, j) for j in range(j1 + n, j2))
    return pairs


def merge_box_records(records: list, objects: Sequence[VocObject],
                      size: ImageSize | tuple[int, int] | None, *,
                      box_of: Callable[[Any], Box | None], label_of: Callable[[Any], str],
                      update: Callable[[Any, VocObject], None],
                      new: Callable[[VocObject], Any]) -> bool:
    """Make the box records of ``records`` (a JSON list, edited in place) equal ``objects``.

    A record is a box when ``box_of`` gives one the readers load (:func:`loaded_box`); other
    records (labelme polygons, CreateML extras) stay where they are. Box records are aligned
    with the objects (:func:`align`): an equal one is untouched, an edited one is changed in
    place by ``update`` (keeping its other keys), a deleted one is dropped, and ``new(object)``
    records are inserted after the box record they follow (before the first box record when
    they lead). Returns whether anything changed.
    """
    slots: list[int] = []
    old_keys = []
    for pos, record in enumerate(records):
        box = box_of(record)
        box = loaded_box(box, size) if box is not None else None
        if box is None:
            continue
        slots.append(pos)
        old_keys.append(box_key(label_of(record), box))
    new_keys = [box_key(o.name, o.box) for o in objects]
    removed: set[int] = set()
    after: dict[int, list[Any]] = {}
    head: list[Any] = []
    last = None
    changed = False
    for oi, nj in align(old_keys, new_keys):
        if oi is not None:
            last = slots[oi]
            if nj is None:
                removed.add(last)
                changed = True
            elif old_keys[oi] != new_keys[nj]:
                update(records[last], objects[nj])
                changed = True
            continue
        assert nj is not None  # align() never pairs None with None
        (head if last is None else after.setdefault(last, [])).append(new(objects[nj]))
        changed = True
    if removed or after or head:
        rebuilt: list[Any] = []
        first = slots[0] if slots else len(records)
        for pos, record in enumerate(records):
            if pos == first:
                rebuilt.extend(head)
            if pos not in removed:
                rebuilt.append(record)
            rebuilt.extend(after.get(pos, []))
        if first == len(records):
            rebuilt.extend(head)
        records[:] = rebuilt
    return changed


#: Human names of what a format may be unable to hold.
_LOSS_TEXT = {
    "difficult": "the 'difficult' flag",
    "truncated": "the 'truncated' flag",
    "pose": "the pose",
    "model_made": "the 'model suggestion, not reviewed' mark",
    "score": "detector scores",
    "verified": "the image's 'verified' mark",
}


def lost_fields(objects: Sequence[VocObject], verified: bool = False, *,
                holds: frozenset[str] = frozenset()) -> list[str]:
    """What ``objects`` (and the image's ``verified`` mark) carry that the format cannot hold."""
    found: set[str] = set()
    for o in objects:
        if o.difficult:
            found.add("difficult")
        if o.truncated:
            found.add("truncated")
        if o.pose and o.pose != "Unspecified":
            found.add("pose")
        if o.model_made:
            found.add("model_made")
        if o.score is not None:
            found.add("score")
    if verified:
        found.add("verified")
    return [k for k in _LOSS_TEXT if k in found and k not in holds]


_told_lock = threading.Lock()


def tell_once(project: object, fmt: str, lost: Sequence[str], file: str) -> list[Problem]:
    """One warning for the kinds in ``lost`` not yet told for ``project`` (then remembered).

    The warning is also queued on the project for :func:`take_warnings` (the writers return
    only the annotation, as ``Project.save`` does; the GUI collects the queue after a save).
    """
    if not lost:
        return []
    with _told_lock:
        told: set[str] = project.__dict__.setdefault("_formats_told_lost", set())
        new = [k for k in lost if k not in told]
        told.update(new)
        if not new:
            return []
        what = ", ".join(_LOSS_TEXT[k] for k in new)
        problem = Problem(file, None, "warning",
                          f"{fmt} labels cannot hold {what}; saved without it (said once). "
                          "Import the dataset to VOC (File → Import dataset…) to keep it.")
        project.__dict__.setdefault("_formats_pending_warnings", []).append(problem)
    return [problem]


def take_warnings(project: object) -> list[Problem]:
    """The warnings the writers queued on ``project`` since the last call (then cleared)."""
    with _told_lock:
        pending = project.__dict__.get("_formats_pending_warnings") or []
        project.__dict__["_formats_pending_warnings"] = []
    return list(pending)


def number(value: float) -> int | float:
    """A coordinate as JSON writes it: an int when integral (``12`` not ``12.0``)."""
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


@dataclass(frozen=True)
class JsonStyle:
    indent: int | str | None = None
    separators: tuple[str, str] = (",", ":")
    ensure_ascii: bool = False
    newline: bool = False

    @classmethod
    def of(cls, text: str) -> JsonStyle:
        body = text.lstrip("\ufeff")
        indent: int | str | None = None
        lines = body.splitlines()
        if len(lines) > 1:
            second = lines[1]
            lead = second[: len(second) - len(second.lstrip(" \t"))]
            indent = lead if "\t" in lead else len(lead)
        colon = body.find('":')
        item_sep = "," if indent is not None else (
            ", " if ", " in body[:4096] and ",\"" not in body[:4096] else ",")
        key_sep = ": " if colon >= 0 and body[colon + 2: colon + 3] == " " else ":"
        ascii_only = body.isascii() and "\\u" in body
        return cls(indent, (item_sep, key_sep), ascii_only, body.endswith("\n"))

    def dumps(self, doc: Any) -> str:
        text = json.dumps(doc, indent=self.indent, separators=self.separators,
                          ensure_ascii=self.ensure_ascii)
        return text + "\n" if self.newline else text


class SplicedDump:
    """``style.dumps(doc)`` for a large JSON object whose big top-level lists (COCO's
    ``images`` and ``annotations``) hold many small records: each record's text is kept
    (by identity) and only records that are new or :meth:`forget`-ten are encoded again, so
    re-saving a 100,000-annotation file after one edit joins cached strings instead of
    encoding every number again. The result is byte-identical to ``style.dumps(doc)``."""

    _MARK = "\x00spliced\x00"

    def __init__(self, style: JsonStyle, keys: Sequence[str] = ("images", "annotations")) -> None:
        self.style = style
        self.keys = tuple(keys)
        self._texts: dict[int, tuple[Any, str]] = {}

    def forget(self, records: Any) -> None:
        for r in records:
            self._texts.pop(id(r), None)

    def _encode(self, value: Any, pad: str) -> str:
        s = self.style
        text = json.dumps(value, indent=s.indent, separators=s.separators,
                          ensure_ascii=s.ensure_ascii)
        if pad:
            text = text.replace("\n", "\n" + pad)
        # the record is kept with its text: while cached its id() cannot be reused
        self._texts[id(value)] = (value, text)
        return text

    def dumps(self, doc: Any) -> str:
        s = self.style
        keys = [k for k in self.keys if isinstance(doc, dict) and isinstance(doc.get(k), list)
                and doc[k]]
        if not keys:
            return s.dumps(doc)
        shell = {k: ([f"{self._MARK}{k}"] if k in keys else v) for k, v in doc.items()}
        text = s.dumps(shell)
        indent = " " * s.indent if isinstance(s.indent, int) else (s.indent or "")
        pad = indent * 2
        sep = s.separators[0] + ("\n" + pad if s.indent is not None else "")
        get, encode = self._texts.get, self._encode
        for k in keys:
            parts = [hit[1] if (hit := get(id(v))) is not None else encode(v, pad)
                     for v in doc[k]]
            marker = json.dumps(f"{self._MARK}{k}", ensure_ascii=s.ensure_ascii)
            if text.count(marker) != 1:  # the marker text appears elsewhere: do it plainly
                self._texts = {}
                return s.dumps(doc)
            text = text.replace(marker, sep.join(parts), 1)
        if len(self._texts) > 2 * sum(len(doc[k]) for k in keys) + 1000:
            live = {id(v) for k in keys for v in doc[k]}  # drop records deleted since
            self._texts = {i: t for i, t in self._texts.items() if i in live}
        return text


_cache: dict[Path, tuple[tuple[int, int], Any, JsonStyle]] = {}
_cache_lock = threading.Lock()
_CACHE_MAX = 4


def _signature(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def shown_name(project: object, path: Path) -> str:
    """``path`` as the project names files in messages (the path itself without a project)."""
    display = getattr(project, "display_name", None)
    return display(path) if display is not None else str(path)


def load_json_to_edit(project: object, json_path: Path, kind: type,
                      what: str) -> tuple[Any, JsonStyle, str]:
    """``(doc, style, shown name)`` of the JSON file a writer edits; :class:`NotWritableError`
    naming the file when it is not valid JSON or its top level is not a ``kind`` (``what``:
    "a COCO object", "a CreateML list" …) — the file is then left as it is."""
    shown = shown_name(project, json_path)
    try:
        doc, style = load_json_cached(json_path)
    except ValueError as exc:
        raise NotWritableError(f"{shown}: not valid JSON, not saved: {exc}") from exc
    if not isinstance(doc, kind):
        raise NotWritableError(f"{shown}: not {what}, not saved")
    return doc, style, shown


def load_json_cached(path: Path) -> tuple[Any, JsonStyle]:
    """``(parsed document, its JsonStyle)`` of ``path``; re-parsed only when the file changed.

    The caller may modify the document in place before writing it and calling
    :func:`remember_json`; on failure it must call :func:`forget_json`.
    Raises OSError / ValueError (``json.JSONDecodeError``) like ``json.loads``.
    """
    path = Path(path)
    sig = _signature(path)
    with _cache_lock:
        hit = _cache.get(path)
        if hit is not None and hit[0] == sig:
            return hit[1], hit[2]
    text = path.read_bytes().decode("utf-8-sig")
    doc = json.loads(text)
    style = JsonStyle.of(text)
    remember_json(path, doc, style)
    return doc, style


def remember_json(path: Path, doc: Any, style: JsonStyle) -> None:
    path = Path(path)
    with _cache_lock:
        if len(_cache) >= _CACHE_MAX and path not in _cache:
            _cache.pop(next(iter(_cache)))
        _cache[path] = (_signature(path), doc, style)


def forget_json(path: Path) -> None:
    with _cache_lock:
        _cache.pop(Path(path), None)
