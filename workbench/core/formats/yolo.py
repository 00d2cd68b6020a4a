"""YOLO txt labels: Ultralytics layout and LabelImg's side-by-side layout (reader).

Layouts
-------
* **Ultralytics**: ``images/<split>/x.jpg`` ↔ ``labels/<split>/x.txt`` (also Roboflow's
  ``<split>/images`` ↔ ``<split>/labels``): the label path is the image path with its last
  ``images`` folder replaced by ``labels`` and the suffix by ``.txt`` (Ultralytics'
  ``img2label_paths``). The split is the folder beside ``images`` (``train``, ``val`` ...).
* **LabelImg**: ``x.jpg`` + ``x.txt`` in the same folder.
* ``annotations=DIR`` (``--annotations``): labels under ``DIR`` mirroring the image folders,
  or flat by stem.

Class names (0-based ids): ``names:`` of ``data.yaml`` / ``dataset.yaml`` (a list, or a dict
``{id: name}``), else ``classes.txt`` (one per line; LabelImg's file), else the ids themselves
(with a warning). The shallowest file wins.

Each line is ``class cx cy w h`` normalised to the image (see
:mod:`workbench.core.formats.conventions`); lines of a polygon (``class x1 y1 x2 y2 ...``,
Ultralytics segments) are read as their bounding box and counted in one warning. Problems
name the label file and the line: non-numeric values, a wrong number of values, NaN / inf,
negative sizes, class ids out of range, boxes outside the image; label files under
``labels/`` that name no image. Images without a label file are unlabeled (not a problem).
The image size comes from the header (:mod:`workbench.core.formats.sizes`, cached).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from workbench.core.annotation import Annotation, Problem, VocObject
from workbench.core.formats.conventions import yolo_to_xyxy
from workbench.core.formats.listing import Listing, label_candidates, natural_key, stem_key
from workbench.core.formats.model import Dataset, Item, Native, Source, check_box, new_object
from workbench.core.formats.sizes import image_size_fast
from workbench.core.imageinfo import ImageReadError

NAME_FILES = ("data.yaml", "dataset.yaml", "data.yml", "dataset.yml")
#: Plain one-name-per-line files: LabelImg's ``classes.txt``, darknet's ``obj.names``.
TEXT_NAME_FILES = ("classes.txt", "predefined_classes.txt", "obj.names", "classes.names")
_SPLIT_ALIASES = {"valid": "val", "validation": "val"}


def _depth(p: Path, root: Path) -> int:
    return len(p.relative_to(root).parts) if p.is_relative_to(root) else 99


def _yaml_names(path: Path) -> tuple[dict[int, str] | None, str | None]:
    try:
        import yaml
    except ImportError:  # pragma: no cover - pyyaml is a dependency
        return None, "PyYAML is not installed; cannot read names"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"cannot read ({first})"
    names = data.get("names") if isinstance(data, dict) else None
    if isinstance(names, list):
        return {i: str(n) for i, n in enumerate(names)}, None
    if isinstance(names, dict):
        try:
            return {int(k): str(v) for k, v in names.items()}, None
        except (TypeError, ValueError):
            return None, "names: keys must be class ids (integers)"
    return None, "has no names: list or dict"


def _find_names(root: Path, listing: Listing, problems: list[Problem]
                ) -> tuple[dict[int, str], Path | None]:
    yamls = sorted((p for p in listing.yaml if p.name.lower() in NAME_FILES),
                   key=lambda p: (_depth(p, root), NAME_FILES.index(p.name.lower())))
    for path in yamls:
        names, err = _yaml_names(path)
        if names is not None:
            return names, path
        problems.append(Problem(listing.rel(path), None, "error", err or "unreadable"))
    texts = sorted((p for p in listing.txt if p.name.lower() in TEXT_NAME_FILES),
                   key=lambda p: (_depth(p, root), TEXT_NAME_FILES.index(p.name.lower())))
    for path in texts:
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(listing.rel(path), None, "error",
                                    f"cannot read the class list ({exc})"))
            continue
        lines = [ln.strip() for ln in text.splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        return {i: n for i, n in enumerate(lines)}, path
    return {}, None


def ultralytics_root(folder: Path) -> Path | None:
    """The dataset root when ``folder`` is, or lies inside, an ``images/`` folder that has a
    ``labels/`` sibling (Ultralytics' layout); else None."""
    for anc in (folder, *folder.parents):
        if anc.name == "images" and (anc.parent / "labels").is_dir():
            return anc.parent
    return None


def _split_of(rel: str) -> str:
    """The split of an image path below the root (``/images/train/x.jpg`` → ``train``,
    Roboflow's ``/train/images/x.jpg`` → ``train``; ``valid`` → ``val``)."""
    parts = rel.strip(os.sep).split(os.sep)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            if i + 2 < len(parts):  # images/<split>/x.jpg
                return _SPLIT_ALIASES.get(parts[i + 1], parts[i + 1])
            if i > 0:  # <split>/images/x.jpg (Roboflow)
                return _SPLIT_ALIASES.get(parts[i - 1], parts[i - 1])
            return ""
    return ""


def scan(root: Path, listing: Listing, *, annotations: Path | None = None) -> Dataset:
    """Match every image of ``listing`` to its label file (see the module doc)."""
    problems: list[Problem] = []
    txt = {os.fspath(p): p for p in listing.txt if p.name.lower() not in TEXT_NAME_FILES}
    extra: set[str] = set()
    names_from = listing
    if annotations is not None and annotations.is_dir() and not annotations.is_relative_to(root):
        from workbench.core.formats.listing import list_folder
        outside = list_folder(annotations)
        more = {os.fspath(p): p for p in outside.txt if p.name.lower() not in TEXT_NAME_FILES}
        extra = set(more)
        txt.update(more)
        names_from = Listing(root, yaml=[*outside.yaml, *listing.yaml],
                             txt=[*outside.txt, *listing.txt])
    root_s = os.fspath(root)
    anchor = ultralytics_root(root)
    # labels/ may mirror an images/ folder above the opened one (images/train opened alone)
    bound = os.fspath(anchor) if anchor is not None and anchor != root else root_s
    if bound != root_s:
        from workbench.core.formats.listing import list_folder
        mirror = Path(bound) / "labels" / root.relative_to(Path(bound) / "images")
        if mirror.is_dir():
            txt.update((os.fspath(p), p) for p in list_folder(mirror).txt)
        above = [p for p in Path(bound).iterdir()
                 if p.name.lower() in (*NAME_FILES, *TEXT_NAME_FILES) and p.is_file()]
        names_from = Listing(root, yaml=[*names_from.yaml, *(p for p in above if p.suffix
                                                               in (".yaml", ".yml"))],
                             txt=[*names_from.txt, *(p for p in above if p.suffix
                                                     not in (".yaml", ".yml"))])
    names, names_file = _find_names(root, names_from, problems)
    ann_s = os.fspath(annotations) if annotations is not None else None
    items: list[Item] = []
    claimed: set[str] = set()
    mirrored_layout = False
    splits: dict[str, list[str]] = {}
    for img in listing.images:
        img_s = os.fspath(img)
        beside, mirrored = label_candidates(img_s, bound)
        candidates: list[str] = []
        if ann_s is not None:
            rel = img_s[len(root_s):] if img_s.startswith(root_s + os.sep) else os.sep + img.name
            candidates += [ann_s + stem_key(rel) + ".txt", os.path.join(ann_s, img.stem + ".txt")]
        if mirrored is not None:
            candidates.append(mirrored)
        candidates.append(beside)
        label = next((c for c in candidates if c in txt and c not in claimed), None)
        exists = label is not None
        if label is not None:
            claimed.add(label)
            path = txt[label]
        else:
            label = candidates[0]
            path = Path(label)
        mirrored_layout |= exists and label == mirrored
        split = _split_of(img_s[len(root_s):]) if mirrored is not None else ""
        if split:
            splits.setdefault(split, []).append(img.stem)
        items.append(Item(img, Source("yolo", path, exists, split=split)))
    labels_dir = os.sep + "labels" + os.sep
    for t in sorted(set(txt) - claimed, key=natural_key):
        if labels_dir in t[len(root_s):] or t in extra:
            problems.append(Problem(listing.rel(txt[t]), None, "error",
                                    f"label file names no image (no {txt[t].stem}.jpg/.png/... "
                                    "in the matching images folder)"))
    if names_file is None and any(i.source.exists for i in items):
        problems.append(Problem(listing.rel(root) if root != listing.root else ".", None,
                                "warning", "no data.yaml, dataset.yaml or classes.txt: class "
                                "ids are used as class names"))
    classes = [names[k] for k in sorted(names)]
    names_files = [names_file] if names_file is not None else []
    if names_file is not None:  # the writer appends new classes to every names file there
        names_files += [p for p in (*listing.yaml, *listing.txt)
                        if p.name.lower() in (*NAME_FILES, *TEXT_NAME_FILES)
                        and p != names_file and p.parent == names_file.parent]
    return Dataset(
        format="yolo", root=root, images_dir=root,
        layout="ultralytics" if mirrored_layout else "side-by-side", items=items,
        problems=problems, classes=classes, class_file=names_file, splits=splits,
        meta={"names": names, "names_file": names_file, "names_files": names_files,
              "labels_dir": annotations},
    )


def parse_lines(text: str, size: tuple[int, int] | None, names: dict[int, str], *,
                shown: str, clamp: bool = False, named: bool = True
                ) -> tuple[list[VocObject], list[Problem], list[int]]:
    """Parse YOLO ``text`` → ``(objects, problems, line numbers)`` (see the module doc).

    ``size`` is ``(width, height)``; ``None`` leaves boxes normalised (cannot happen in
    :func:`read`, which reports an unreadable image instead). ``named=False``: no names file,
    every id is accepted and named by itself.
    """
    objects: list[VocObject] = []
    problems: list[Problem] = []
    lines: list[int] = []
    polygons = 0
    w, h = size if size is not None else (1, 1)
    n_names = len(names)
    isfinite = math.isfinite
    for number, raw in enumerate(text.splitlines(), 1):
        parts = raw.split()
        if len(parts) == 5:  # the fast path: a clean box line well inside the image
            try:
                cls = int(parts[0])
                cx, cy, bw, bh = float(parts[1]), float(parts[2]), float(parts[3]), float(parts[4])
            except ValueError:
                pass
            else:
                name = names.get(cls) if cls >= 0 else None
                # conventions.yolo_to_xyxy inlined (same expressions, same floats; tested)
                x1, x2 = (cx - bw / 2.0) * w, (cx + bw / 2.0) * w
                y1, y2 = (cy - bh / 2.0) * h, (cy + bh / 2.0) * h
                if (name is not None and size is not None and 0.0 <= x1 < x2 <= w
                        and 0.0 <= y1 < y2 <= h and isfinite(x1 + x2 + y1 + y2)):
                    objects.append(new_object(name, (x1, y1, x2, y2)))
                    lines.append(number)
                    continue
        if not parts:
            continue
        where = f"line {number}: "
        if len(parts) != 5 and not (len(parts) >= 7 and len(parts) % 2 == 1):
            problems.append(Problem(shown, None, "error",
                                    f"{where}expected 'class cx cy w h' (5 values), got "
                                    f"{len(parts)}"))
            continue
        try:
            cls_f = float(parts[0])
            values = [float(v) for v in parts[1:]]
        except ValueError:
            problems.append(Problem(shown, None, "error", f"{where}non-numeric value in "
                                    f"{raw.strip()[:60]!r}"))
            continue
        if not math.isfinite(cls_f) or cls_f != int(cls_f) or cls_f < 0:
            problems.append(Problem(shown, None, "error",
                                    f"{where}class id {parts[0]!r} is not a non-negative integer"))
            continue
        if not all(math.isfinite(v) for v in values):
            problems.append(Problem(shown, None, "error", f"{where}NaN or infinite value in "
                                    f"{raw.strip()[:60]!r}"))
            continue
        if len(values) == 4:
            cx, cy, bw, bh = values
            if bw < 0 or bh < 0:
                problems.append(Problem(shown, None, "error",
                                        f"{where}negative width or height ({bw:g}, {bh:g})"))
                continue
            box = yolo_to_xyxy(cx, cy, bw, bh, w, h)
        else:
            polygons += 1
            xs, ys = values[0::2], values[1::2]
            box = (min(xs) * w, min(ys) * h, max(xs) * w, max(ys) * h)
        cls = int(cls_f)
        index = len(objects)
        if cls in names:
            name = names[cls]
        else:
            name = str(cls)
            if named:
                problems.append(Problem(shown, index, "error",
                                        f"{where}class id {cls} is out of range (0..{n_names - 1})"
                                        if n_names else f"{where}class id {cls}: no class names"))
        if size is not None:
            kept, msgs = check_box(box, size, where, clamp)
            for severity, msg in msgs:
                problems.append(Problem(shown, index if kept is not None else None,
                                        severity, msg))  # type: ignore[arg-type]
            if kept is None:
                continue
            box = kept
        objects.append(new_object(name, box))
        lines.append(number)
    if polygons:
        problems.append(Problem(shown, None, "warning",
                                f"{polygons} polygon line(s) read as their bounding boxes"))
    return objects, problems, lines


def read(dataset: Dataset, item: Item, *, check_image: bool = True, clamp: bool = False,
         display_name: str | None = None) -> Native:
    """Read ``item``'s label file (the image header gives the size). Never raises."""
    src = item.source
    if not src.exists:
        return Native(None)
    shown = display_name or str(src.path)
    try:
        with open(src.path, "rb") as fh:
            text = fh.read().decode("utf-8-sig")
    except OSError as exc:
        return Native(None, (Problem(shown, None, "error", f"cannot read ({exc.strerror or exc})"),))
    except UnicodeDecodeError as exc:
        return Native(None, (Problem(shown, None, "error", f"not UTF-8 text ({exc.reason})"),))
    img = item.image_path
    try:
        info = image_size_fast(img)
    except ImageReadError as exc:
        problem = Problem(shown, None, "error", f"image {img.name}: {exc.reason}; YOLO boxes "
                          "cannot be converted without the image size")
        return Native(Annotation(filename=img.name, folder=img.parent.name, path=str(img)),
                      (problem,))
    names = dataset.meta.get("names", {})
    objects, problems, lines = parse_lines(
        text, (info.width, info.height), names, shown=shown, clamp=clamp,
        named=dataset.meta.get("names_file") is not None)
    ann = Annotation(filename=img.name, size=info.size, objects=tuple(objects),
                     folder=img.parent.name, path=str(img))
    return Native(ann, tuple(problems), tuple(lines))
