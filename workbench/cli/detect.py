"""``workbench detect CKPT IMAGES_OR_DIR... --out DIR``: run a checkpoint on images.

Formats (``--format``):

* ``json`` (default): ``DIR/<image stem>.json`` =
  ``[{"class": str, "score": float, "box": [xmin, ymin, xmax, ymax]}, ...]``, best first, with
  float pixel-edge coordinates in image pixels (``(0, 0)`` is the image's top-left corner, a box
  covering the whole image is ``[0, 0, width, height]``).
* ``voc``: ``DIR/<image stem>.xml``, PASCAL VOC XML with a ``<score>`` per object, marked as
  model-made (what pre-labeling writes; LabelImg opens it).
* ``devkit``: ``DIR/comp4_det_test_<class>.txt`` per class (a class name that is not a safe
  file name — ``/``, ``..``, control characters, ``%`` … — is percent-escaped), lines
  ``<image stem> <score> <xmin> <ymin> <xmax> <ymax>`` in the VOC devkit's 1-based pixel
  coordinates, the results format ``workbench eval --results`` reads.

An image the decoder refuses (what ``validate`` calls an error: a JPEG cut inside its header,
an empty file, under 2 px a side, more pixels than the limit — refused from its header, never
decoded) is skipped with validate's message; the others are written, and the exit status is 1
when any image was skipped (2: bad checkpoint, options or output folder).

Score threshold, NMS IoU, top-k and class-agnostic NMS default to the settings saved in the
checkpoint (what the Detections panel stored).

``--tile SIZE [--tile-overlap PX|FRACTION]``: tiled inference for small objects in large images
(drone, microscopy): the network runs on overlapping SIZE px tiles and once on the whole image
downscaled; boxes are shifted back to image pixels and merged by class-wise NMS before the
settings above are applied (:mod:`workbench.engine.tiling`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "detect", help="run a trained checkpoint on images and write detections",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", metavar="CKPT", help="a workbench checkpoint (.pt)")
    p.add_argument("inputs", metavar="IMAGES_OR_DIR", nargs="+",
                   help="image files and/or folders of images")
    p.add_argument("--score", type=float, default=None,
                   help="score threshold (keep score > S); default: the checkpoint's")
    p.add_argument("--nms", type=float, default=None,
                   help="NMS IoU threshold (1.0 disables NMS); default: the checkpoint's")
    p.add_argument("--top-k", type=int, default=None,
                   help="at most K detections per image; default: the checkpoint's")
    p.add_argument("--class-agnostic", action=argparse.BooleanOptionalAction, default=None,
                   help="NMS across classes instead of per class; default: the checkpoint's")
    p.add_argument("--format", choices=("json", "voc", "devkit"), default="json")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1, mps (default: auto)")
    p.add_argument("--batch-size", type=int, default=1, help="images per forward pass")
    p.add_argument("--tile", type=int, default=None, metavar="SIZE",
                   help="tiled inference for small objects in large images: run the network "
                   "on SIZE x SIZE px tiles (plus the whole image, downscaled) and merge by "
                   "class-wise NMS (see workbench/engine/tiling.py)")
    p.add_argument("--tile-overlap", type=_overlap, default=None, metavar="PX|FRACTION",
                   help="overlap between neighbouring tiles: pixels (128) or a fraction of the "
                   "tile (0.2, the default)")
    from workbench.cli.detect_video import add_video_arguments

    add_video_arguments(p)  # --every --render --watch --min-frames (a video input)
    p.set_defaults(func=run)


def _overlap(text: str) -> float:
    from workbench.engine.tiling import parse_overlap

    try:
        return parse_overlap(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a number of pixels or a fraction: {text!r}") from None


def collect_images(inputs: Sequence[str | Path]) -> list[Path]:
    """Image files named directly, plus the images (by suffix, sorted) of named folders."""
    images: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir()
                           if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise ValueError(f"{item}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
            images.extend(found)
        elif item.is_file():
            images.append(item)
        else:
            raise ValueError(f"{item}: no such file or folder")
    stems: dict[str, Path] = {}
    for path in images:
        if path.stem in stems and stems[path.stem] != path:
            raise ValueError(f"two images share the name {path.stem!r} ({stems[path.stem]}, "
                             f"{path}); outputs are named by stem")
        stems[path.stem] = path
    return list(dict.fromkeys(images))


def detections_to_json(det: Any) -> list[dict[str, Any]]:
    return [{"class": str(label), "score": round(float(score), 6),
             "box": [round(float(v), 3) for v in box]}
            for box, score, label in zip(det.boxes, det.scores, det.labels)]


def write_devkit(out: Path, classes: Iterable[str], results: Sequence[Any]) -> list[Path]:
    """One ``comp4_det_test_<class>.txt`` per class (empty when it has no detections)."""
    from workbench.core.safepath import escape_id

    lines: dict[str, list[str]] = {c: [] for c in classes}
    for det in results:
        # the id as split files write it: spaces, "%" and non-UTF-8 name bytes percent-escaped
        # (core/safepath.py escape_id; core/results.py unescapes it)
        image_id = escape_id(det.image_id)
        for (x1, y1, x2, y2), score, label in zip(det.boxes, det.scores, det.labels):
            # pixel-edge -> VOC 1-based: xmin = x1 + 1, xmax = x2 (see core/boxes.py)
            lines[str(label)].append(f"{image_id} {score:.6f} {x1 + 1:.2f} {y1 + 1:.2f} "
                                     f"{x2:.2f} {y2:.2f}")
    from workbench.core.atomic import atomic_write_text
    from workbench.core.safepath import escape_name, safe_child

    paths = []
    for cls, rows in lines.items():
        # a class name from the checkpoint may hold "/" or ".." — percent-escaped, reversibly
        # (core/results.py unescapes it), so the file always lands inside ``out``
        path = safe_child(out, f"comp4_det_test_{escape_name(cls)}.txt")
        atomic_write_text(path, "".join(f"{r}\n" for r in rows))
        paths.append(path)
    return paths


def write_voc(out: Path, image: Path, size: tuple[int, int], det: Any) -> Path:
    from workbench.core.annotation import Annotation, ImageSize, VocObject
    from workbench.core.voc import write_annotation

    objects = tuple(VocObject(name=str(label), box=tuple(float(v) for v in box),  # type: ignore[arg-type]
                              score=float(score), model_made=True)
                    for box, score, label in zip(det.boxes, det.scores, det.labels))
    annotation = Annotation(filename=image.name, size=ImageSize(size[0], size[1], 3),
                            objects=objects, folder=image.parent.name, path=str(image))
    from workbench.core.safepath import safe_child

    path = safe_child(out, f"{image.stem}.xml", portable=False)
    write_annotation(annotation, path)
    return path


def _tiling(args: argparse.Namespace) -> Any:
    """The :class:`workbench.engine.tiling.Tiling` asked for, or None (no ``--tile``)."""
    if args.tile is None:
        if args.tile_overlap is not None:
            raise ValueError("--tile-overlap needs --tile SIZE")
        return None
    from workbench.engine.tiling import DEFAULT_OVERLAP, Tiling

    overlap = DEFAULT_OVERLAP if args.tile_overlap is None else args.tile_overlap
    return Tiling(tile=args.tile, overlap=overlap)


def run(args: argparse.Namespace) -> int:
    from workbench.cli.detect_video import image_input_error, is_video_input, run_video

    if is_video_input(args.inputs):  # one .mp4/.avi/... file: workbench/cli/detect_video.py
        return run_video(args)
    if (message := image_input_error(args)) is not None:
        print(f"workbench detect: {message}", file=sys.stderr)
        return 2
    from workbench.core.atomic import atomic_write_text
    from workbench.core.safepath import safe_child
    from workbench.engine.events import CheckpointError, ConfigError
    from workbench.engine.inference import RawDetector
    from workbench.engine.postprocess import apply

    from workbench.core.outfolder import (
        OutputFolderError, check_output_folder, describe_os_error, remove_created,
    )

    try:  # a full, read-only or forbidden --out: one line, before the model is loaded
        created = check_output_folder(args.out)
    except OutputFolderError as exc:
        print(f"workbench detect: {exc}", file=sys.stderr)
        return 2
    try:
        images = collect_images(args.inputs)
        detector = RawDetector.from_checkpoint(args.checkpoint, device=args.device,
                                               cache_size=max(1, args.batch_size))
        changes = {k: v for k, v in (("score_threshold", args.score), ("nms_iou", args.nms),
                                     ("top_k", args.top_k),
                                     ("class_agnostic", args.class_agnostic)) if v is not None}
        settings = detector.settings.replace(**changes)
        tiling = _tiling(args)
    except (ValueError, CheckpointError, ConfigError) as exc:
        remove_created(created)
        print(f"workbench detect: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    s = settings
    print(f"{detector.name} on {len(images)} images ({detector.device}); score > "
          f"{s.score_threshold:g}, NMS IoU {s.nms_iou:g}"
          f"{' class-agnostic' if s.class_agnostic else ''}, top-k {s.top_k}"
          + (f"; tiles of {tiling.tile} px, overlap {tiling.overlap_pixels} px"
             if tiling else ""), file=sys.stderr)
    results = []
    total = 0
    written: list[Path] = []
    refused: list[Path] = []

    def skip(path: Path, message: str) -> None:  # validate's error: left out, said once
        refused.append(path)
        print(f"workbench detect: skipped {message}", file=sys.stderr)

    try:
        if tiling is None:
            raws = detector.raw_many(images, args.batch_size, on_refused=skip)
        else:
            from workbench.engine.tiling import tiled_raw_for_path

            def tiled():  # noqa: ANN202
                for p in images:
                    try:
                        yield p, tiled_raw_for_path(detector, p, tiling)
                    except ValueError as exc:
                        skip(p, str(exc))

            raws = tiled()
        for i, (path, raw) in enumerate(raws, start=1):
            det = apply(raw, settings, detector.classes, path.stem)
            total += len(det)
            if args.format == "json":
                target = safe_child(out, f"{path.stem}.json", portable=False)
                atomic_write_text(target, json.dumps(detections_to_json(det), indent=1) + "\n")
                written.append(target)
            elif args.format == "voc":
                written.append(write_voc(out, path, raw.image_size or (0, 0), det))
            else:
                results.append(det)
            print(f"[{i}/{len(images)}] {path.name}: {len(det)} detections", file=sys.stderr)
        if args.format == "devkit":
            write_devkit(out, detector.classes, results)
    except OSError as exc:  # the disk filled up (or went read-only) while writing
        remove_created(created)
        for target in written:
            target.unlink(missing_ok=True)
        print(f"workbench detect: cannot write to {out}: {describe_os_error(exc)}; the "
              f"{len(written)} files written so far were removed", file=sys.stderr)
        return 2
    done = len(images) - len(refused)
    print(f"{total} detections in {done} images written to {out} ({args.format})"
          + (f"; {len(refused)} images could not be read (see above)" if refused else ""))
    return 1 if refused else 0
