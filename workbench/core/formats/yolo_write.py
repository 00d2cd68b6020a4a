"""Saving boxes edited on a YOLO project back to its label files, losslessly.

API
---
``yolo_label_text(old, objects, names, width, height, *, named=True) -> (text, names)``
    The new text of one label file. ``old`` is the file's current text (None when it does
    not exist yet); ``objects`` the edited boxes (pixel-edge ``xyxy``); ``names`` the class
    names ``{id: name}``. Which lines are boxes is decided by the reader's own parser
    (:func:`workbench.core.formats.yolo.parse_lines`), so what the window showed is what is
    matched. Lines whose box is unchanged keep their exact text (number format, polygon
    points, line ending); lines the reader does not load (comments, malformed lines) stay
    where they were; edited boxes are rewritten in place; deleted boxes' lines go; new boxes
    follow the box before them, as ``id cx cy w h`` with 6 decimals (LabelImg's and
    Ultralytics' format). A class not in ``names`` gets the next id (``max + 1``); existing
    ids are never renumbered. Returns the new text and the (possibly grown) names.
``add_names_to_classes_txt(text, new) -> str`` / ``add_names_to_yaml(text, names, new) -> str``
    The names file with ``new`` classes appended, everything else byte-identical
    (``data.yaml``: flow list, block list or ``id: name`` mapping; ``nc`` updated).
``save_yolo(project, entry, annotation) -> Annotation``
    The writer registered in :data:`workbench.core.formats.WRITERS` for ``"yolo"``: writes
    ``entry.source.path`` (the label file) and, when classes were added, the names file
    (the reader's pick: ``data.yaml`` … or ``classes.txt``) and every other names file
    listing the same classes, together and atomically
    (:func:`workbench.core.atomic.atomic_write_many`). Nothing is written when the bytes
    would not change (the file's mtime stays). What YOLO cannot hold
    (``difficult``, ``truncated``, pose, model-suggestion marks, ``verified``) is reported
    once per project as a warning :class:`~workbench.core.annotation.Problem`
    (:func:`workbench.core.formats.edit_write.take_warnings`).

Coordinates: :mod:`workbench.core.formats.conventions` (``xyxy_to_yolo`` / ``yolo_to_xyxy``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from workbench.core.annotation import Annotation, Problem, VocObject
from workbench.core.atomic import atomic_write_many
from workbench.core.formats import WRITERS, NotWritableError
from workbench.core.formats.conventions import xyxy_to_yolo
from workbench.core.formats.edit_write import align, box_key, lost_fields, shown_name, tell_once
from workbench.core.formats.listing import Listing
from workbench.core.formats.yolo import _find_names as find_names
from workbench.core.formats.yolo import parse_lines
from workbench.core.imageinfo import image_size

__all__ = ["yolo_label_text", "add_names_to_classes_txt", "add_names_to_yaml", "save_yolo",
           "format_line", "YoloWriteError"]

NAMES_TXT = ("classes.txt", "predefined_classes.txt")
NAMES_YAML = ("data.yaml", "dataset.yaml", "data.yml", "dataset.yml")


class YoloWriteError(NotWritableError):
    """The label file cannot be written (unreadable names file …); nothing was written. An
    ``OSError`` (via :class:`~workbench.core.formats.NotWritableError`), so the window reports
    it like a failed write."""


def format_line(class_id: int, box, width: float, height: float) -> str:  # noqa: ANN001
    cx, cy, w, h = xyxy_to_yolo(box, width, height)
    return f"{class_id} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"


def _split_lines(text: str) -> list[tuple[str, str]]:
    """``(body, line ending)`` per line; the last line may have no ending."""
    out = []
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        out.append((body, raw[len(body):]))
    return out


def yolo_label_text(old: str | None, objects: Sequence[VocObject], names: Mapping[int, str],
                    width: float, height: float, *,
                    named: bool = True) -> tuple[str, dict[int, str]]:
    """The new text of a label file (see the module doc). ``names``: ``{id: name}``;
    ``named=False``: the project has no names file (classes are shown as their ids)."""
    names = dict(names)
    ids: dict[str, int] = {}
    for i in sorted(names, reverse=True):
        ids[names[i]] = i
    lines = _split_lines(old or "")
    eol = "\r\n" if any(e == "\r\n" for _, e in lines) else "\n"
    # the reader's own parser says which lines are boxes, so what it shows is what matches
    old_objects, _, numbers = parse_lines(old or "", (width, height),  # type: ignore[arg-type]
                                          names, shown="", named=named)
    box_rows = [(n - 1, box_key(o.name, o.box)) for o, n in zip(old_objects, numbers)]
    new_keys = [box_key(o.name, o.box) for o in objects]

    def class_id(name: str) -> int:
        if name not in ids:
            if not named and not names:
                if name.isdigit():
                    return int(name)  # a project without names shows the ids as names
                raise YoloWriteError(f"class {name!r}: the project has no classes.txt or "
                                     "data.yaml to give it an id")
            new_id = max(names, default=-1) + 1
            ids[name], names[new_id] = new_id, name
        return ids[name]

    replaced: dict[int, list[str]] = {}   # line index → what replaces it (maybe nothing)
    after: dict[int, list[str]] = {}      # line index → new lines following it
    head: list[str] = []                  # new lines before every old box line
    last_line: int | None = None
    for oi, nj in align([k for _, k in box_rows], new_keys):
        if oi is not None:
            line_index = box_rows[oi][0]
            last_line = line_index
            if nj is None:
                replaced[line_index] = []
            elif box_rows[oi][1] != new_keys[nj]:
                o = objects[nj]
                replaced[line_index] = [format_line(class_id(o.name), o.box, width, height)]
            continue
        assert nj is not None  # align() never pairs None with None
        o = objects[nj]
        text = format_line(class_id(o.name), o.box, width, height)
        (head if last_line is None else after.setdefault(last_line, [])).append(text)

    out: list[tuple[str, str]] = []
    first_box = box_rows[0][0] if box_rows else len(lines)
    for i, (body, end) in enumerate(lines):
        if i == first_box:
            out.extend((t, eol) for t in head)
        if i in replaced:
            out.extend((t, end) for t in replaced[i])
        else:
            out.append((body, end))
        out.extend((t, eol) for t in after.get(i, []))
    if first_box == len(lines):
        out.extend((t, eol) for t in head)
    if not out:
        return "", names
    # every line but the last ends with its own ending (or the file's); the last keeps its
    # own, so a file without a final newline still has none when its last line stays last
    text = "".join(b + (e or eol) for b, e in out[:-1]) + out[-1][0] + out[-1][1]
    return text, names


# ---------------------------------------------------------------------------- names files

def add_names_to_classes_txt(text: str, new: Sequence[str]) -> str:
    if not new:
        return text
    eol = "\r\n" if "\r\n" in text else "\n"
    if text and not text.endswith(("\n", "\r")):
        text += eol
    return text + "".join(f"{n}{eol}" for n in new)


def _yaml_scalar(name: str) -> str:
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ .\-]*", name) and not name.endswith(" ") \
        and name.lower() not in {"yes", "no", "true", "false", "null", "on", "off", "y", "n"}
    return name if plain else json.dumps(name, ensure_ascii=False)


def add_names_to_yaml(text: str, names: Sequence[str] | Mapping[int, str],
                      new: Sequence[str]) -> str:
    """``text`` (a data.yaml whose names are ``names``: a list, or ``{id: name}``) with
    ``new`` appended under the next ids."""
    if not new:
        return text
    eol = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    first = max(names, default=-1) + 1 if isinstance(names, Mapping) else len(names)
    total = first + len(new)
    start = next((i for i, ln in enumerate(lines) if re.match(r"names\s*:", ln)), None)
    if start is None:
        raise YoloWriteError("no top-level 'names:' key")
    head = lines[start]
    rest = head.split(":", 1)[1].strip()
    if rest.startswith("["):  # flow list on one line
        close = head.rindex("]")
        inner = head[head.index("[") + 1: close].strip()
        added = ", ".join(_yaml_scalar(n) for n in new)
        lines[start] = head[:close].rstrip() + (", " if inner else "") + added + head[close:]
    elif rest.startswith("{"):  # flow mapping on one line
        close = head.rindex("}")
        inner = head[head.index("{") + 1: close].strip()
        added = ", ".join(f"{first + k}: {_yaml_scalar(n)}" for k, n in enumerate(new))
        lines[start] = head[:close].rstrip() + (", " if inner else "") + added + head[close:]
    elif rest and not rest.startswith("#"):
        raise YoloWriteError("'names:' is neither a list nor a mapping")
    else:  # block list or block mapping
        end, item = start + 1, None
        while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t-"):
            if lines[end].strip() and not lines[end].lstrip().startswith("#"):
                item = lines[end]
            end += 1
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1
        indent = "  " if item is None else item[: len(item) - len(item.lstrip())]
        mapping = item is not None and not item.lstrip().startswith("-")
        new_lines = [f"{indent}{first + k}: {_yaml_scalar(n)}{eol}" if mapping
                     else f"{indent}- {_yaml_scalar(n)}{eol}" for k, n in enumerate(new)]
        if end > 0 and not lines[end - 1].endswith(("\n", "\r")):
            lines[end - 1] += eol
        lines[end:end] = new_lines
    text = "".join(lines)
    return re.sub(r"(?m)^(nc\s*:\s*)\d+", lambda m: f"{m.group(1)}{total}", text, count=1)


def names_file(project: object) -> Path | None:
    """The project's ``data.yaml`` / ``classes.txt`` (the reader's pick), or None."""
    dataset = getattr(project, "dataset", None)
    meta = getattr(dataset, "meta", None)
    if isinstance(meta, dict) and "names_file" in meta:
        return Path(meta["names_file"]) if meta["names_file"] is not None else None
    root = Path(project.root)  # type: ignore[attr-defined]
    for name in (*NAMES_YAML, *NAMES_TXT):
        if (root / name).is_file():
            return root / name
    return None


def read_names(path: Path | None) -> dict[int, str]:
    """``{id: name}`` from ``path`` with the reader's own rules; {} when there is none."""
    if path is None:
        return {}
    folder = path.parent
    listing = Listing(folder, yaml=[path]) if path.name.lower() in NAMES_YAML else \
        Listing(folder, txt=[path])
    problems: list[Problem] = []
    names, found = find_names(folder, listing, problems)
    if found is None:
        reason = problems[0].message if problems else "no class names"
        raise YoloWriteError(f"{path}: {reason}")
    return names


def _safe_names(path: Path) -> dict[int, str] | None:
    try:
        return read_names(path)
    except (OSError, YoloWriteError):
        return None


# ---------------------------------------------------------------------------- project writer

def save_yolo(project: object, entry: object, annotation: Annotation) -> Annotation:
    """Write ``annotation`` to ``entry``'s label file (see the module doc)."""
    source = getattr(entry, "source", None)
    label = Path(source.path if source is not None
                 else entry.xml_path)  # type: ignore[attr-defined]
    shown = shown_name(project, label)
    size = annotation.size
    if size is None:
        size = image_size(entry.image_path)  # type: ignore[attr-defined]
    path = names_file(project)
    try:
        names = read_names(path)
    except (OSError, YoloWriteError) as exc:
        raise YoloWriteError(f"cannot read the class names, {shown} not saved: {exc}") from exc
    try:
        old_bytes = label.read_bytes()
    except FileNotFoundError:
        old_bytes = None
    old = None if old_bytes is None else old_bytes.decode("utf-8-sig", errors="surrogateescape")
    text, new_names = yolo_label_text(old, annotation.objects, names, size.width, size.height,
                                      named=path is not None)
    data = text.encode("utf-8", errors="surrogateescape")
    if old_bytes is not None and old_bytes.startswith(b"\xef\xbb\xbf"):
        data = b"\xef\xbb\xbf" + data
    writes: list[tuple[Path, bytes]] = []
    if data != old_bytes:
        writes.append((label, data))
    added = [new_names[i] for i in sorted(set(new_names) - set(names))]
    if added and path is not None:
        # every names file that lists the same classes (an export's data.yaml and classes.txt)
        files = list(dict.fromkeys([path, *(getattr(project, "names_files", None) or []),
                                    *(path.parent / n for n in (*NAMES_YAML, *NAMES_TXT))]))
        for f in files:
            if f != path and (not f.is_file() or _safe_names(f) != names):
                continue
            current = f.read_bytes().decode("utf-8-sig")
            if f.name.lower() in NAMES_YAML:
                updated = add_names_to_yaml(current, names, added)
            else:
                updated = add_names_to_classes_txt(current, added)
            writes.append((f, updated.encode("utf-8")))
        dataset = getattr(project, "dataset", None)
        if isinstance(getattr(dataset, "meta", None), dict):
            dataset.meta["names"] = dict(new_names)  # type: ignore[union-attr]
            dataset.classes = [new_names[k] for k in sorted(new_names)]  # type: ignore[union-attr]
    if writes:
        atomic_write_many(writes)
    tell_once(project, "YOLO", lost_fields(annotation.objects, annotation.verified), shown)
    return dataclasses.replace(annotation, raw=None)


WRITERS["yolo"] = save_yolo
