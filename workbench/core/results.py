"""Readers for detection results, into :class:`ImageDetections` (float pixel-edge ``xyxy``).

Formats, chosen by :func:`read_results` from what the path holds:

* **VOC devkit** — a folder of ``*_det_*_<class>.txt`` files (``comp4_det_test_cat.txt``), each
  line ``image_id score xmin ymin xmax ymax`` with 1-based inclusive pixel coordinates, as the
  devkit and ``workbench detect --format devkit`` write them; ``image_id`` is the image's file
  stem. Boxes become ``(xmin - 1, ymin - 1, xmax, ymax)``.
* **VOC XML with scores** — a folder of ``<stem>.xml`` whose objects carry ``<score>``
  (``workbench detect --format voc``, pre-labeling).
* **Per-image JSON** — a folder of ``<stem>.json`` holding
  ``[{"class": str, "score": float, "box": [x1, y1, x2, y2]}, …]`` in pixel-edge coordinates
  (``workbench detect --format json``).
* **COCO results JSON** — one file, ``[{"image_id", "category_id", "bbox": [x, y, w, h],
  "score"}, …]``. Integer ids need a mapping: by default image ids are 1..N in the order of the
  ``image_ids`` given and category ids 1..K in ``classes`` order (what
  :func:`workbench.core.metrics.to_coco` assigns); or pass a COCO ground-truth JSON
  (``coco_gt``) whose ``images[].file_name`` and ``categories[].name`` give them. String
  ``image_id`` / ``category_id`` values are taken as stem / class name directly.

Order is kept: devkit lines and COCO entries come back as consecutive runs per image, so score
ties are broken by file order as the devkit and pycocotools break them. Use
:func:`by_image` to merge the runs of each image.
"""

from __future__ import annotations

import json
import logging
import math
import mmap
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.annotation import Annotation
from workbench.core.detection_runs import DetectionRuns
from workbench.core.detections import ImageDetections
from workbench.core.heap import keep_freed_memory
from workbench.core.numtext import (
    ascii_tokens, parse_columns, plain_separators, run_starts, same_token, tokens,
)
from workbench.core.safepath import unescape_id, unescape_name

log = logging.getLogger(__name__)

DEVKIT_NAME = re.compile(r"^(?P<prefix>.+?)_det_(?P<set>[^_]+)_(?P<cls>.+)\.txt$")


class ResultsError(ValueError):
    """A results file or folder that cannot be read; the message names the file and problem."""


def read_results(path: str | Path, *, image_ids: Sequence[str] = (),
                 classes: Sequence[str] = (), coco_gt: str | Path | None = None
                 ) -> Sequence[ImageDetections]:
    """Read detections from a devkit/XML/JSON folder or a COCO results file (see module doc).

    Devkit folders and COCO results come back as a :class:`DetectionRuns` (flat columns that
    are also the sequence of runs), the other formats as a list. Freed heap memory is kept
    for reuse from here on (:func:`workbench.core.heap.keep_freed_memory`)."""
    keep_freed_memory()
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() != ".json":
            raise ResultsError(f"{path}: a results file must be COCO results JSON (.json); "
                               "devkit results are a folder of *_det_*_<class>.txt files")
        return read_coco_results(path, image_ids=image_ids, classes=classes, coco_gt=coco_gt)
    if not path.is_dir():
        raise ResultsError(f"{path}: no such file or folder")
    devkit = sorted(p for p in path.iterdir() if p.is_file() and DEVKIT_NAME.match(p.name))
    if devkit:
        return read_devkit_folder(path)
    if any(p.suffix.lower() == ".xml" for p in path.iterdir()):
        return read_xml_folder(path)
    if any(p.suffix.lower() == ".json" for p in path.iterdir()):
        return read_json_folder(path)
    raise ResultsError(f"{path}: no *_det_*_<class>.txt, *.xml or *.json results in this folder")


def project_ground_truth(project: Any, load: Any = None) -> dict[str, Annotation]:
    """``{image id (file stem): Annotation}`` for every image of a
    :class:`workbench.core.project.Project` with a readable XML, in the project's order.

    Images without an XML are not part of the ground truth (unlabelled, not "empty"). What
    ``validate`` calls an error is left out as training and export leave it out
    (:func:`workbench.core.usable.usable`): an image the decoder refuses (its header is read)
    or an unreadable file with all its objects, an inverted / zero-area / outside box alone;
    each is logged once as a warning with validate's message. ``load`` replaces
    ``project.load`` (:class:`workbench.core.gt_cache.GroundTruthCache.load`).
    Raises ``ValueError`` when two annotated images share a stem (detections name images by
    stem, so they would be ambiguous).
    """
    from workbench.core.usable import usable

    ground_truth: dict[str, Annotation] = {}
    where: dict[str, Any] = {}
    load = load or project.load
    for entry in project.entries:
        if not entry.has_xml:
            continue
        annotation, problems = usable(*load(entry))
        if annotation is None:
            log.warning("not evaluated: %s", "; ".join(str(p) for p in problems)
                        or f"{entry.xml_path}: unreadable")
            continue
        for problem in problems:
            log.warning("object not evaluated: %s", problem)
        image_id = entry.image_id or Path(entry.image_path).stem
        if image_id in ground_truth:
            raise ValueError(f"two annotated images share the id {image_id!r} "
                             f"({where[image_id]}, {entry.image_path}); detections name images "
                             "by file stem")
        ground_truth[image_id] = annotation
        where[image_id] = entry.image_path
    return ground_truth


def by_image(detections: Iterable[ImageDetections]) -> dict[str, ImageDetections]:
    """Merge detections of the same image (in order) → ``{image_id: ImageDetections}``."""
    parts: dict[str, list[ImageDetections]] = {}
    for det in detections:
        parts.setdefault(det.image_id, []).append(det)
    merged = {}
    for image_id, items in parts.items():
        if len(items) == 1:
            merged[image_id] = items[0]
        else:
            merged[image_id] = ImageDetections(
                image_id, np.concatenate([d.boxes for d in items]),
                np.concatenate([d.scores for d in items]),
                np.concatenate([d.labels for d in items]))
    return merged


def _runs(image_ids: list[str], boxes: np.ndarray, scores: np.ndarray,
          labels: list[str]) -> list[ImageDetections]:
    """Split parallel rows into consecutive runs of the same image id."""
    if not image_ids:
        return []
    ids = np.asarray(image_ids)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    label_arr = np.asarray(labels, dtype=str)
    return [ImageDetections(str(ids[s]), boxes[s:e], scores[s:e], label_arr[s:e])
            for s, e in zip(starts.tolist(), ends.tolist())]


def _devkit_fast(data: bytes, class_name: str) -> DetectionRuns | None:
    """The fast path of :func:`read_devkit_file` for one piece of whole lines (see
    :func:`_devkit_piece`) → its runs."""
    piece = _devkit_piece(data)
    return None if piece is None else _joined_runs([piece], class_name)


def _devkit_piece(data: bytes) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """``(run ids, first row of each run, (rows, 5) score and box numbers)`` of devkit lines:
    the text split once, every number converted in one vectorised pass
    (:mod:`workbench.core.numtext`, bit-identical to ``float()``) and one finite check.
    ``None`` when anything is off — a line without six fields, a token that is not a number,
    a non-finite value, unusual separators — so the line-by-line reader can name the file and
    line."""
    data = plain_separators(data)
    if data is None:
        return None
    buf = np.frombuffer(data + _PAD, dtype=np.uint8)
    starts, ends, _ = tokens(buf, lines=False)
    if len(starts) % 6:
        return None
    rows = len(starts) // 6
    if rows == 0:
        return [], np.zeros(0, dtype=np.int64), np.zeros((0, 5))
    starts, ends = starts.reshape(rows, 6), ends.reshape(rows, 6)
    if not _six_per_line(buf, starts, ends, np.count_nonzero(buf == 10)):
        return None
    values = parse_columns(buf, starts[:, 1:], ends[:, 1:])
    if values is None:
        return None
    if not np.isfinite(values).all():
        return None
    id_starts, id_ends = np.ascontiguousarray(starts[:, 0]), np.ascontiguousarray(ends[:, 0])
    first = run_starts(buf, id_starts, id_ends)
    if data.isascii():  # (plain_separators: no NUL or other control bytes)
        ids = ascii_tokens(buf, id_starts[first], id_ends[first])
    else:
        ids = [data[a:b].decode("utf-8") for a, b in zip(id_starts[first].tolist(),
                                                          id_ends[first].tolist())]
    if b"%" in data:  # ids as split files write them (detect --format devkit does too)
        ids = [unescape_id(i) for i in ids]
    return ids, first, values


def _joined_runs(pieces: list[tuple[list[str], np.ndarray, np.ndarray]], class_name: str
                 ) -> DetectionRuns:
    """The runs of consecutive pieces of one file: a run of one image that crosses a piece
    boundary is one run, as in the whole file; boxes made once, at the end."""
    pieces = [p for p in pieces if len(p[0])]
    if not pieces:
        return DetectionRuns.empty()
    ids: list[str] = []
    firsts: list[np.ndarray] = []
    offset = 0
    for piece_ids, first, values in pieces:
        if ids and ids[-1] == piece_ids[0]:  # the run goes on: no new run at the piece start
            firsts.append(first[1:] + offset)
            ids.extend(piece_ids[1:])
        else:
            firsts.append(first + offset)
            ids.extend(piece_ids)
        offset += len(values)
    values = pieces[0][2] if len(pieces) == 1 else np.concatenate([p[2] for p in pieces])
    boxes = np.empty((offset, 4))
    np.subtract(values[:, 1:3], 1.0, out=boxes[:, 0:2])  # VOC 1-based inclusive → pixel edges
    boxes[:, 2:4] = values[:, 3:5]  # (core/boxes.py)
    bounds = np.concatenate([*firsts, np.full(1, offset, dtype=np.int64)])
    return DetectionRuns(ids, bounds, boxes, np.ascontiguousarray(values[:, 0]),
                         np.zeros(offset, dtype=np.int64), (class_name,))


def _six_per_line(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, newlines: int
                  ) -> bool:
    """Six tokens on one line, one line per row: a row's first and sixth token share a line,
    and each row starts on a later line than the one before ends. Usually seen from the
    newlines alone: a newline right after each row (the last one's may be missing) and no
    other newline in the text (``newlines`` of them) — then no newline falls inside a row;
    otherwise (blank lines) from where the newlines are."""
    after = buf[ends[:, 5]] == 10
    if after[:-1].all() and newlines == len(after) - 1 + int(after[-1]):
        return True
    newline_at = np.flatnonzero(buf == 10)
    first = np.searchsorted(newline_at, starts[:, 0])
    sixth = np.searchsorted(newline_at, starts[:, 5])
    return bool((first == sixth).all() and (first[1:] > sixth[:-1]).all())


def read_devkit_file(path: str | Path, class_name: str | None = None
                     ) -> Sequence[ImageDetections]:
    """One ``*_det_*_<class>.txt`` file → runs of :class:`ImageDetections` in line order
    (a :class:`DetectionRuns` when the file is clean, else a list)."""
    path = Path(path)
    if class_name is None:
        match = DEVKIT_NAME.match(path.name)
        if match is None:
            raise ResultsError(f"{path}: name is not <prefix>_det_<set>_<class>.txt")
        # detect --format devkit percent-escapes unsafe class names (core/safepath.py)
        class_name = unescape_name(match.group("cls"))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read ({exc})") from exc
    fast = _devkit_pieces(data, class_name)
    if fast is not None:
        return fast
    return _devkit_lines(path, class_name)


#: Bytes of a devkit file read per vectorised pass (whole lines): a piece's bytes and token
#: arrays stay in the CPU caches (a 4 MB file read whole took ~25% longer).
_DEVKIT_PIECE = 1 << 19


def _devkit_pieces(data: bytes, class_name: str) -> DetectionRuns | None:
    """:func:`_devkit_piece` over pieces of whole lines, joined (:func:`_joined_runs`).
    ``None`` when any piece is not plain (the line reader then reads the whole file)."""
    pieces = []
    lo = 0
    while lo < len(data):
        hi = data.find(b"\n", lo + _DEVKIT_PIECE) if len(data) - lo > _DEVKIT_PIECE else -1
        hi = len(data) if hi < 0 else hi + 1
        piece = _devkit_piece(data[lo:hi] if (lo, hi) != (0, len(data)) else data)
        if piece is None:
            return None
        pieces.append(piece)
        lo = hi
    return _joined_runs(pieces, class_name)


def _devkit_lines(path: Path, class_name: str) -> list[ImageDetections]:
    """Line by line: the reference behaviour, and the error messages with file and line."""
    ids: list[str] = []
    rows: list[list[float]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read ({exc})") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 6:
            raise ResultsError(f"{path}:{number}: expected 'image_id score xmin ymin xmax ymax', "
                               f"got {len(fields)} fields")
        try:
            values = [float(v) for v in fields[1:]]
        except ValueError as exc:
            raise ResultsError(f"{path}:{number}: not a number ({exc})") from exc
        if not all(map(math.isfinite, values)):
            raise ResultsError(f"{path}:{number}: non-finite value")
        ids.append(unescape_id(fields[0]))  # percent-escaped like split files (safepath)
        rows.append(values)
    data = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    boxes = data[:, 1:5].copy()
    boxes[:, 0:2] -= 1.0  # VOC 1-based inclusive → pixel edges (core/boxes.py)
    return _runs(ids, boxes, data[:, 0].copy(), [class_name] * len(ids))


def read_devkit_folder(folder: str | Path) -> DetectionRuns:
    """Every ``*_det_*_<class>.txt`` of a folder (sorted by name)."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and DEVKIT_NAME.match(p.name))
    prefixes = {m.group("prefix") for m in map(DEVKIT_NAME.match, (p.name for p in files)) if m}
    if len(prefixes) > 1:
        log.warning("%s: results of several competitions/runs mixed: %s", folder,
                    ", ".join(sorted(prefixes)))
    return DetectionRuns.concat([DetectionRuns.from_detections(read_devkit_file(p))
                                 for p in files])


def read_json_folder(folder: str | Path) -> list[ImageDetections]:
    """A folder of per-image ``<stem>.json`` (``workbench detect --format json``)."""
    out = []
    for p in sorted(Path(folder).glob("*.json")):
        try:
            items = json.loads(p.read_text(encoding="utf-8"))
            if not isinstance(items, list):
                raise ValueError("expected a list of detections")
            boxes = np.asarray([it["box"] for it in items], dtype=np.float64).reshape(-1, 4)
            scores = np.asarray([it["score"] for it in items], dtype=np.float64)
            labels = np.asarray([str(it["class"]) for it in items], dtype=str)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ResultsError(f"{p}: not a per-image detections JSON ({exc!s})") from exc
        out.append(ImageDetections(p.stem, boxes, scores, labels))
    return out


def read_xml_folder(folder: str | Path) -> list[ImageDetections]:
    """A folder of VOC XML whose objects carry ``<score>``; image id = XML file stem."""
    from workbench.core.voc import read_annotation

    out = []
    for p in sorted(Path(folder).glob("*.xml")):
        try:
            annotation, problems = read_annotation(p)
        except Exception as exc:  # noqa: BLE001 - any reader failure names the file
            raise ResultsError(f"{p}: cannot read ({exc})") from exc
        for problem in problems:
            log.warning("%s", problem)
        missing = [i for i, o in enumerate(annotation.objects) if o.score is None]
        if missing:
            raise ResultsError(f"{p}: object {missing[0]} has no <score>: not a detections file")
        objs = annotation.objects
        out.append(ImageDetections(
            p.stem, np.asarray([o.box for o in objs], dtype=np.float64).reshape(-1, 4),
            np.asarray([o.score for o in objs], dtype=np.float64),
            np.asarray([o.name for o in objs], dtype=str)))
    return out


def _coco_mappings(image_ids: Sequence[str], classes: Sequence[str],
                   coco_gt: str | Path | None) -> tuple[dict[int, str], dict[int, str]]:
    if coco_gt is None:
        return ({i + 1: s for i, s in enumerate(image_ids)},
                {i + 1: c for i, c in enumerate(classes)})
    try:
        data = json.loads(Path(coco_gt).read_text(encoding="utf-8"))
        images = {int(im["id"]): Path(str(im["file_name"])).stem for im in data["images"]}
        cats = {int(c["id"]): str(c["name"]) for c in data["categories"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ResultsError(f"{coco_gt}: not a COCO ground-truth JSON ({exc!s})") from exc
    return images, cats


def read_coco_results(path: str | Path, *, image_ids: Sequence[str] = (),
                      classes: Sequence[str] = (), coco_gt: str | Path | None = None
                      ) -> Sequence[ImageDetections]:
    """A COCO results JSON → runs of :class:`ImageDetections` in file order (see module doc).

    A file whose entries all have the shape of the first one, with numbers for values (what
    every detector's dump looks like), is read by :func:`_coco_fast`; anything else — and
    every error message — comes from the entry-by-entry reader."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            # a big file is mapped, not read: its slices are copied out of the page cache
            # one at a time (no file-sized buffer faulted in and filled first)
            big = os.fstat(fh.fileno()).st_size > 4 * _JSON_SLICE
            data: bytes | mmap.mmap = (mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
                                       if big else fh.read())
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: not JSON ({exc})") from exc
    try:
        image_map, class_map = _coco_mappings(image_ids, classes, coco_gt)
        fast = _coco_fast(data, image_map, class_map)
    finally:
        if isinstance(data, mmap.mmap):
            data.close()
    if fast is not None:
        return fast
    return _coco_entries(path, image_map, class_map)


def _coco_entries(path: Path, image_map: dict[int, str], class_map: dict[int, str]
                  ) -> list[ImageDetections]:
    """Entry by entry: the reference behaviour, and the error messages naming the entry."""
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(items, list):
        raise ResultsError(f"{path}: COCO results must be a list of detections")
    ids, boxes, scores, labels = [], [], [], []
    for n, item in enumerate(items):
        try:
            image, category = item["image_id"], item["category_id"]
            x, y, w, h = (float(v) for v in item["bbox"])
            score = float(item["score"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultsError(f"{path}: entry {n} is not {{image_id, category_id, bbox, score}} "
                               f"({exc!s})") from exc
        stem = image if isinstance(image, str) else image_map.get(int(image))
        name = category if isinstance(category, str) else class_map.get(int(category))
        if stem is None:
            raise ResultsError(f"{path}: entry {n}: image_id {image} is not in the image-id "
                               f"mapping (1..{len(image_map)}); pass the COCO ground truth")
        if name is None:
            raise ResultsError(f"{path}: entry {n}: category_id {category} is not in the class "
                               f"mapping (1..{len(class_map)}); pass the COCO ground truth")
        ids.append(stem)
        boxes.append((x, y, x + w, y + h))
        scores.append(score)
        labels.append(name)
    return _runs(ids, np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
                 np.asarray(scores, dtype=np.float64), labels)


_JSON_NUMBER_AND_SPACE = b"0123456789.+-eE \t\n\r"
_JSON_STRUCTURE = bytes.maketrans(b"[]{},:\t\r\n", b"         ")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PAD = b" " * 32  # tokens are read a column at a time: no gather runs off the end
_JSON_SLICE = 1 << 20  # bytes of COCO results read per vectorised pass (cache-sized)
_REQUIRED = ("image_id", "category_id", "bbox", "score")


def _coco_layout(first: object) -> dict[str, tuple[int, int]] | None:
    """``{key: (first column, count)}`` of the numbers of one entry, or None when the entry
    is not a flat object of numbers and lists of numbers with the four required keys."""
    if not isinstance(first, dict) or any(k not in first for k in _REQUIRED):
        return None
    layout, column = {}, 0
    for key, value in first.items():
        if not _KEY.fullmatch(key):
            return None
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return None
        layout[key] = (column, len(values))
        column += len(values)
    if layout["bbox"][1] != 4 or any(layout[k][1] != 1 for k in _REQUIRED if k != "bbox"):
        return None
    return layout


def _coco_fast(data: bytes | mmap.mmap, image_map: dict[int, str], class_map: dict[int, str]
               ) -> DetectionRuns | None:
    """COCO results JSON without building 10^6 dicts (``None``: use :func:`_coco_entries`).

    The first entry is parsed with ``json``; the file's *skeleton* (every byte but digits,
    ``.+-eE`` and whitespace) must then be exactly that entry's skeleton repeated — the same
    keys in the same order, numbers only, no strings, ``true``, ``NaN`` or nesting — and each
    key must occur once per entry. Then the keys and the punctuation are blanked and all the
    numbers are read in vectorised passes over 1 MB slices (bit-identical to ``float()``,
    :mod:`workbench.core.numtext`). Ids are truncated to integers as ``int()`` truncates; an
    id missing from the mappings sends the file to the entry reader, which names the entry."""
    open_at = data.find(b"{")
    close_at = data.find(b"}", open_at)
    if open_at < 0 or close_at < 0 or data[:open_at].strip(b" \t\n\r") != b"[":
        return None
    try:
        layout = _coco_layout(json.loads(data[open_at:close_at + 1]))
    except (ValueError, UnicodeDecodeError):
        return None
    if layout is None:
        return None
    entry = data[open_at:close_at + 1].translate(None, _JSON_NUMBER_AND_SPACE)
    columns = sum(n for _, n in layout.values())
    parts, lo = [], 0
    while lo < len(data):  # slices of whole entries: temporaries bounded by the slice size
        hi = data.find(b"}", lo + _JSON_SLICE)
        if hi < 0 or data.find(b"{", hi) < 0:  # the last slice takes the closing bracket
            hi = len(data)
        else:
            hi += 1
        values = _coco_slice(data[lo:hi], lo == 0, hi == len(data), entry, layout, columns)
        if values is None:
            return None
        parts.append(values)
        lo = hi
    values = np.concatenate(parts) if len(parts) > 1 else parts[0]
    count = len(values)
    image_col = values[:, layout["image_id"][0]]
    cat_col = values[:, layout["category_id"][0]]
    if max(np.abs(image_col).max(), np.abs(cat_col).max()) >= 2.0 ** 53:
        return None  # ids beyond a double's integers: leave them to int()
    image_codes, image_stems = _mapped(image_col, image_map)
    cat_codes, cat_names = _mapped(cat_col, class_map)
    if image_codes is None or cat_codes is None:
        return None
    # runs of one image (by stem: two ids of one stem continue a run, as the entry reader)
    stem_index: dict[str, int] = {}
    stem_code = np.asarray([stem_index.setdefault(s, len(stem_index)) for s in image_stems],
                           dtype=np.int64)[image_codes]
    first = np.flatnonzero(np.r_[True, stem_code[1:] != stem_code[:-1]])
    ids = [image_stems[c] for c in image_codes[first].tolist()]
    b = layout["bbox"][0]
    boxes = np.empty((count, 4))  # x, y, x + w, y + h (two columns at a time)
    boxes[:, 0:2] = values[:, b:b + 2]
    np.add(values[:, b:b + 2], values[:, b + 2:b + 4], out=boxes[:, 2:4])
    return DetectionRuns(ids, np.r_[first, count], boxes,
                         values[:, layout["score"][0]].copy(), cat_codes, cat_names)


def _coco_slice(data: bytes, first: bool, last: bool, entry: bytes,
                layout: dict[str, tuple[int, int]], columns: int) -> np.ndarray | None:
    """The ``(entries, columns)`` numbers of one slice of a COCO results file (see
    :func:`_coco_fast`): ``[`` or ``,`` then whole entries, ``]`` after the last one."""
    skeleton = data.translate(None, _JSON_NUMBER_AND_SPACE)
    head = b"[" if first else b","
    tail = b"]" if last else b""
    count, rest = divmod(len(skeleton) - len(head) - len(tail) + 1, len(entry) + 1)
    if rest or count < 1 or skeleton != head + (entry + b",") * (count - 1) + entry + tail:
        return None
    buf = np.frombuffer(data.translate(_JSON_STRUCTURE) + _PAD, dtype=np.uint8)
    starts, ends, _ = tokens(buf, lines=False)
    width = columns + len(layout)  # per entry: each key, then its numbers
    if len(starts) != count * width:
        return None
    starts, ends = starts.reshape(count, width), ends.reshape(count, width)
    is_number = np.ones(width, dtype=bool)
    at = 0
    for key, (_, n) in layout.items():
        # the skeleton ignored digits and 'e's inside keys: check every key token exactly
        if not same_token(buf, np.ascontiguousarray(starts[:, at]),
                          np.ascontiguousarray(ends[:, at]), b'"%s"' % key.encode(),
                          _JSON_NUMBER_AND_SPACE):
            return None
        is_number[at] = False
        at += 1 + n
    return parse_columns(buf, starts[:, is_number], ends[:, is_number])


def _mapped(column: np.ndarray, mapping: dict[int, str]
            ) -> tuple[np.ndarray | None, list[str]]:
    """``(code per row, value per code)`` of ``mapping[int(v)]``; None when one is missing."""
    ints = column.astype(np.int64)  # int() truncates
    low, high = (int(ints.min()), int(ints.max())) if len(ints) else (0, -1)
    if low >= 0 and high < 4 * len(mapping) + 4096:  # the usual 1..N: a table, not a sort
        unique = np.flatnonzero(np.bincount(ints, minlength=high + 1))
        table = np.zeros(high + 1, dtype=np.int64)
        table[unique] = np.arange(len(unique))
        codes = table[ints]
    else:
        unique, codes = np.unique(ints, return_inverse=True)
    found = [mapping.get(u) for u in unique.tolist()]
    if any(v is None for v in found):
        return None, []
    return codes.reshape(-1), found  # type: ignore[return-value]
