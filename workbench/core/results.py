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
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.annotation import Annotation
from workbench.core.detections import ImageDetections
from workbench.core.safepath import unescape_name

log = logging.getLogger(__name__)

DEVKIT_NAME = re.compile(r"^(?P<prefix>.+?)_det_(?P<set>[^_]+)_(?P<cls>.+)\.txt$")


class ResultsError(ValueError):
    """A results file or folder that cannot be read; the message names the file and problem."""


def read_results(path: str | Path, *, image_ids: Sequence[str] = (),
                 classes: Sequence[str] = (), coco_gt: str | Path | None = None
                 ) -> list[ImageDetections]:
    """Read detections from a devkit/XML/JSON folder or a COCO results file (see module doc)."""
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


def project_ground_truth(project: Any) -> dict[str, Annotation]:
    """``{image id (file stem): Annotation}`` for every image of a
    :class:`workbench.core.project.Project` with a readable XML, in the project's order.

    Images without an XML are not part of the ground truth (unlabelled, not "empty").
    Raises ``ValueError`` when two annotated images share a stem (detections name images by
    stem, so they would be ambiguous).
    """
    ground_truth: dict[str, Annotation] = {}
    where: dict[str, Path] = {}
    for entry in project.entries:
        if not entry.has_xml:
            continue
        annotation, problems = project.load(entry, check_image=False)
        for problem in problems:
            log.log(logging.WARNING if problem.severity == "error" else logging.DEBUG,
                    "%s", problem)
        if annotation is None:
            log.warning("%s: not evaluated (unreadable)", entry.xml_path)
            continue
        image_id = entry.image_id or Path(entry.image_path).stem
        if image_id in ground_truth:
            raise ValueError(f"two annotated images share the id {image_id!r} "
                             f"({where[image_id]}, {entry.image_path}); detections name images "
                             "by file stem")
        ground_truth[image_id] = annotation
        where[image_id] = Path(entry.image_path)
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


def read_devkit_file(path: str | Path, class_name: str | None = None) -> list[ImageDetections]:
    """One ``*_det_*_<class>.txt`` file → runs of :class:`ImageDetections` in line order."""
    path = Path(path)
    if class_name is None:
        match = DEVKIT_NAME.match(path.name)
        if match is None:
            raise ResultsError(f"{path}: name is not <prefix>_det_<set>_<class>.txt")
        # detect --format devkit percent-escapes unsafe class names (core/safepath.py)
        class_name = unescape_name(match.group("cls"))
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
        if not np.all(np.isfinite(values)):
            raise ResultsError(f"{path}:{number}: non-finite value")
        ids.append(fields[0])
        rows.append(values)
    data = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    boxes = data[:, 1:5].copy()
    boxes[:, 0:2] -= 1.0  # VOC 1-based inclusive → pixel edges (core/boxes.py)
    return _runs(ids, boxes, data[:, 0].copy(), [class_name] * len(ids))


def read_devkit_folder(folder: str | Path) -> list[ImageDetections]:
    """Every ``*_det_*_<class>.txt`` of a folder (sorted by name)."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and DEVKIT_NAME.match(p.name))
    prefixes = {m.group("prefix") for m in map(DEVKIT_NAME.match, (p.name for p in files)) if m}
    if len(prefixes) > 1:
        log.warning("%s: results of several competitions/runs mixed: %s", folder,
                    ", ".join(sorted(prefixes)))
    out: list[ImageDetections] = []
    for p in files:
        out.extend(read_devkit_file(p))
    return out


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
                      ) -> list[ImageDetections]:
    """A COCO results JSON → runs of :class:`ImageDetections` in file order (see module doc)."""
    path = Path(path)
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(items, list):
        raise ResultsError(f"{path}: COCO results must be a list of detections")
    image_map, class_map = _coco_mappings(image_ids, classes, coco_gt)
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
