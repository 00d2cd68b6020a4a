"""``workbench eval``: VOC07 / VOC / COCO mAP of detections against a labelled folder, the
operating point, confusion matrix and per-image errors (issue 15), and comparing checkpoints.

    workbench eval IMAGES_DIR [--annotations DIR] (--checkpoint CKPT | --results PATH)
                   [--metric voc07|voc|coco|all] [--iou 0.5] [--strict] [--score S] [--json]
    workbench eval IMAGES_DIR --compare CKPT_A CKPT_B [CKPT ...] [same options]

Ground truth: the images of IMAGES_DIR that have a VOC XML (next to them or in --annotations);
images without one are not evaluated. Parsed VOC ground truth is kept between runs in
``$XDG_CACHE_HOME/workbench/gt`` (:mod:`workbench.core.gt_cache`: a file is read again when its
or its image's path, size or mtime changes; ``--no-cache`` or ``WORKBENCH_GT_CACHE=0``: read
everything). ``--results`` reads a devkit folder
(``*_det_*_<class>.txt``, 1-based pixels), a folder of VOC XML with ``<score>``, a folder of
per-image JSON (``workbench detect`` output) or a COCO results JSON (integer ids: images 1..N in
the project's order of annotated images, classes 1..K sorted by name — the ids of the ground
truth ``--write-coco-gt FILE`` writes — unless --coco-gt names another COCO ground truth).
``--checkpoint`` runs the
detector over the annotated images in the usual evaluation setting (score > 0.01, top 100 per
image, the checkpoint's NMS IoU); ``--checkpoint-settings`` uses its saved display settings;
``--score-floor/--nms/--top-k`` override either.

What ``validate`` calls an error is left out of the evaluation as training leaves it out, each
said once on stderr with validate's message (:mod:`workbench.core.usable`): an image the
decoder refuses (a JPEG cut inside its header, an empty file, under 2 px a side, over the pixel
limit) with its ground truth and its detections, an inverted / zero-area / outside box alone;
the rest is evaluated and the exit status is 0. Exit status 2: no ground truth at all, a bad
checkpoint or results file, bad options.

``--json`` prints ``{"voc07": {"map", "per_class"}, "voc": {"map", "per_class"}, "coco": {"map",
"map50", "map75", "map_small", "map_medium", "map_large"}}`` (the requested keys only; undefined
numbers are null; ``per_class`` lists the classes with at least one non-difficult object). With
``--score S`` it adds the error analysis (``docs/errors.md``) at IoU ``--iou`` for detections of
score ``>= S`` (``--score best`` or a bare ``--score``: the score that
maximises F1): ``"operating_point": {"score", "iou", "precision", "recall", "f1", "tp", "fp",
"fn", "chosen"}`` (``chosen`` is ``"score"`` for ``--score S``, else ``"best_f1"``: the score
that maximises F1), ``"confusion": {"labels": [classes…, "background"], "matrix": [[int]]}``
(rows ground truth, columns predicted), ``"per_image": [{"image", "tp", "fp", "fn"}]`` and
``"per_size": {"small"|"medium"|"large": {"ap", "per_class"}}`` (COCO AP@[.5:.95] per area range).
The table (no ``--json``) always ends with the operating point — best F1 unless ``--score S`` —,
the confusion matrix and the images with the most errors.

``--compare`` runs each checkpoint over the same images and prints the metrics and per-class AP
of every run side by side with the difference to the first (``--json``: ``{"runs": [{"checkpoint",
metrics…, "operating_point"}], "differences": [{"checkpoint", metric: {"map", "per_class"}}]}``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

METRICS = ("voc07", "voc", "coco")
#: The usual VOC/COCO evaluation setting for a checkpoint (as the training loop's evaluation).
EVAL_SCORE_FLOOR = 0.01
EVAL_TOP_K = 100


#: ``--score best``: the operating point of highest F1.
BEST = "best"


def _score_arg(text: str) -> float | str:
    if text.strip().lower() == BEST:
        return BEST
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number or 'best': {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "eval", help="evaluate detections (VOC07 11-point, VOC all-point, COCO mAP)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", metavar="IMAGES_DIR", help="folder of images with VOC XML")
    p.add_argument("--annotations", metavar="DIR", default=None,
                   help="folder of the VOC XML (default: next to the images)")
    p.add_argument("--format", choices=("voc", "yolo", "coco", "createml", "labelme"),
                   default=None, help="label format of the ground truth (default: detected "
                   "from the folder's files)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--checkpoint", metavar="CKPT", help="run this checkpoint over the images")
    src.add_argument("--results", metavar="PATH", help="devkit/XML/JSON folder or COCO JSON")
    src.add_argument("--compare", metavar="CKPT", nargs="+", default=None,
                     help="run two or more checkpoints over the same images and print their "
                     "metrics and per-class AP side by side with the differences")
    p.add_argument("--metric", choices=(*METRICS, "all"), default="all")
    p.add_argument("--iou", type=float, default=0.5, help="VOC IoU threshold (default 0.5)")
    p.add_argument("--strict", action="store_true",
                   help="VOC: IoU must exceed the threshold (py-faster-rcnn) instead of reach it")
    p.add_argument("--coco-gt", metavar="JSON", default=None,
                   help="COCO ground truth whose image/category ids the results JSON uses")
    p.add_argument("--write-coco-gt", metavar="JSON", default=None,
                   help="also write the ground truth as a COCO dataset (difficult → iscrowd), "
                   "the id mapping COCO results must use; alone, only writes it")
    p.add_argument("--score", type=_score_arg, nargs="?", const=BEST, default=None,
                   metavar="S", help="add the error analysis to --json: operating point "
                   "(precision/recall/F1), confusion matrix, per-image errors and per-size AP "
                   "for detections of score >= S; 'best' or no value: the score of best F1 "
                   "(what the table reports without --score)")
    p.add_argument("--score-floor", type=float, default=None, metavar="F",
                   help=f"with --checkpoint: keep score > F (default {EVAL_SCORE_FLOOR})")
    p.add_argument("--nms", type=float, default=None,
                   help="with --checkpoint: NMS IoU (default: the checkpoint's)")
    p.add_argument("--top-k", type=int, default=None,
                   help=f"with --checkpoint: detections per image (default {EVAL_TOP_K})")
    p.add_argument("--checkpoint-settings", action="store_true",
                   help="with --checkpoint: use its saved score/NMS/top-k (what `workbench "
                   "detect` shows) instead of the evaluation setting")
    p.add_argument("--device", default=None, help="with --checkpoint: cpu, cuda, mps")
    p.add_argument("--batch-size", type=int, default=1, help="with --checkpoint: images per pass")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.add_argument("--no-cache", action="store_true",
                   help="read every VOC XML again instead of the parsed ground truth kept in "
                   "$XDG_CACHE_HOME/workbench/gt by path, size, mtime, ctime and inode (with "
                   "--annotations, the whole project while nothing under its two folders "
                   "changed) (also WORKBENCH_GT_CACHE=0)")
    p.set_defaults(func=run)


def load_ground_truth(images: str, annotations: str | None,
                      label_format: str | None = None,
                      cache: bool = False, need_project: bool = True,
                      freeze: list[bool] | None = None) -> tuple[Any, dict[str, Any]]:
    """Open the project → ``(project, {image id: Annotation})`` (images with labels only);
    ``cache``: VOC files through :mod:`workbench.core.gt_cache` (parsed XML kept by path, size
    and mtime). Without ``need_project`` (evaluating a results file) and with an annotations
    folder, an unchanged project comes whole from the cache's tree snapshot
    (:class:`workbench.core.gt_cache.TreeSnapshot`); ``project`` is then a
    :class:`~workbench.core.gt_cache.SnapshotProject` (its ``format`` and ``entries``).
    ``freeze``: see :func:`_freeze` (read through the cache only)."""
    from workbench.core.results import project_ground_truth

    snapshot = None
    if cache and not need_project:
        from workbench.core.gt_cache import TreeSnapshot

        from workbench.core.gc_pause import paused as gc_paused

        snapshot = TreeSnapshot(images, annotations, label_format)
        with gc_paused():  # (see below; the files' hundreds of thousands of tuples too)
            kept = snapshot.load()  # (lists the two trees before anything is read)
            if kept is not None:
                ground_truth = project_ground_truth(kept, load=kept.load)
                _freeze(freeze)
                return kept, ground_truth
    from workbench.core.project import Project

    project = Project.open(images, annotations, format=label_format)
    if not cache or project.format != "voc":
        return project, project_ground_truth(project)
    from workbench.core.gc_pause import paused as gc_paused
    from workbench.core.gt_cache import GroundTruthCache

    # The collector paused while the ground truth is read and kept (as Project.open pauses
    # it for the scan): tens of objects per file and no reference cycle; its passes over the
    # growing heap were ~13% of a cold read of 5,000 files (bench/bench_scale.py).
    with gc_paused():
        store = GroundTruthCache(project)
        ground_truth = store.ground_truth()  # = project_ground_truth(project, load=store.load)
        store.save()
        if snapshot is not None:
            snapshot.save(project, store)
        _freeze(freeze)
    return project, ground_truth


def _freeze(freeze: list[bool] | None) -> None:
    """With ``freeze`` (a list), every object alive now — the ground truth just read, made
    while the collector was paused — moved out of its scans (``gc.freeze``) before the pause
    ends, and ``True`` appended: the caller puts them back (``gc.unfreeze``) when done. Else
    the first collection after the pause went over all of them (tens of objects a file:
    ~60 ms of a cold 5,000-image eval), and the next generations' again."""
    if freeze is not None:
        import gc

        gc.freeze()
        freeze.append(True)


def eval_settings(args: argparse.Namespace, checkpoint: str | None = None) -> Any:
    """Post-processing for ``--checkpoint``: the checkpoint's own with ``--checkpoint-settings``,
    else the usual evaluation setting — keep ``score > 0.01`` and the top 100 per image (mAP
    needs the whole precision/recall curve, not the tuned display threshold), with the
    checkpoint's NMS IoU and class-agnostic choice; ``--score-floor/--nms/--top-k``
    override."""
    from workbench.engine.checkpoint import read_checkpoint
    from workbench.engine.postprocess import PostprocessSettings

    saved = PostprocessSettings.from_dict(
        read_checkpoint(checkpoint or args.checkpoint).get("postprocess"))
    base = saved if args.checkpoint_settings else saved.replace(
        score_threshold=EVAL_SCORE_FLOOR, top_k=EVAL_TOP_K)
    changes = {k: v for k, v in (("score_threshold", args.score_floor), ("nms_iou", args.nms),
                                 ("top_k", args.top_k)) if v is not None}
    return base.replace(**changes) if changes else base


def _detect(args: argparse.Namespace, project: Any, ground_truth: dict[str, Any],
            checkpoint: str | None = None) -> list:
    from workbench.engine.inference import predict_project

    checkpoint = checkpoint or args.checkpoint
    settings = eval_settings(args, checkpoint)
    log.info("detecting with score > %g, NMS IoU %g%s, top %d per image",
             settings.score_threshold, settings.nms_iou,
             " (class-agnostic)" if settings.class_agnostic else "", settings.top_k)
    paths = [e.image_path for e in project.entries
             if e.has_xml and (e.image_id or Path(e.image_path).stem) in ground_truth]

    def progress(done: int, total: int) -> None:
        if not args.json:
            print(f"\rdetecting {done}/{total}", end="" if done < total else "\n",
                  file=sys.stderr, flush=True)

    def refused(path: Path, message: str) -> None:  # validate's error: left out, said once
        image_id = next((e.image_id or Path(e.image_path).stem for e in project.entries
                         if Path(e.image_path) == path), path.stem)
        ground_truth.pop(image_id, None)
        print(f"\nworkbench eval: not evaluated: {message}", file=sys.stderr)

    if args.compare and not args.json:
        print(f"{checkpoint}:", file=sys.stderr)
    return predict_project(checkpoint, project, settings=settings, device=args.device,
                           batch_size=args.batch_size, progress=progress, image_paths=paths,
                           on_refused=refused)


def write_coco_ground_truth(ground_truth: dict[str, Any], path: str) -> None:
    """Atomically write :func:`workbench.core.metrics.to_coco`'s ground-truth dataset."""
    from workbench.core.atomic import atomic_write_text
    from workbench.core.metrics import to_coco

    dataset, _ = to_coco(ground_truth, [])
    atomic_write_text(path, json.dumps(dataset))


def _show(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.4f}"


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def run(args: argparse.Namespace) -> int:
    frozen: list[bool] = []
    try:
        return _run(args, frozen)
    finally:
        if frozen:  # (the ground truth was kept out of the collector's scans: see _freeze)
            import gc

            gc.unfreeze()


def _run(args: argparse.Namespace, frozen: list[bool]) -> int:
    from workbench.core.results import ResultsError, read_results

    try:
        if not 0.0 <= args.iou <= 1.0:
            raise ValueError(f"--iou must be in [0, 1], got {args.iou}")
        from workbench.core.gt_cache import cache_enabled

        project, ground_truth = load_ground_truth(
            args.images, args.annotations, getattr(args, "format", None),
            cache=cache_enabled(getattr(args, "no_cache", False)),
            need_project=bool(args.checkpoint or args.compare),
            freeze=None if args.checkpoint or args.compare else frozen)
        if not ground_truth:
            raise ValueError(f"{args.images}: no image has a readable VOC XML annotation"
                             if project.format == "voc" else
                             f"{args.images}: no image has readable {project.format} labels")
        if args.write_coco_gt:
            write_coco_ground_truth(ground_truth, args.write_coco_gt)
            if not (args.checkpoint or args.results or args.compare):
                print(f"COCO ground truth of {len(ground_truth)} images written to "
                      f"{args.write_coco_gt}")
                return 0
        if args.compare:
            return _compare(args, project, ground_truth)
        if not (args.checkpoint or args.results):
            raise ValueError("one of --checkpoint, --results, --compare (or --write-coco-gt) "
                             "is required")
        detections: Any
        if args.checkpoint:
            detections = _detect_checked(args, project, ground_truth, args.checkpoint)
        else:
            gt_classes = sorted({o.name for a in ground_truth.values() for o in a.objects})
            detections = read_results(args.results, image_ids=list(ground_truth),
                                      classes=gt_classes, coco_gt=args.coco_gt)
    except (ResultsError, ValueError, OSError, ImportError) as exc:
        print(f"workbench eval: {exc}", file=sys.stderr)
        return 2
    detections = _known_only(detections, ground_truth)
    results = evaluate(ground_truth, detections, args)
    if args.json:
        doc = to_json(results)
        if args.score is not None:  # the error analysis keys only when asked for
            doc.update(error_analysis(ground_truth, detections, args,
                                      results.get("coco")).to_json())
        print(json.dumps(doc, indent=2))
    else:
        errors = error_analysis(ground_truth, detections, args, results.get("coco"),
                                per_size="coco" in results)
        from workbench.cli.eval_report import format_errors

        print(format_table(results, len(ground_truth), detections))
        print()
        print(format_errors(errors))
    return 0


def _detect_checked(args: argparse.Namespace, project: Any, ground_truth: dict[str, Any],
                    checkpoint: str) -> list:
    """:func:`_detect` with the engine's checkpoint errors as ``ValueError``."""
    from workbench.engine.events import TrainingError  # CheckpointError and kin

    try:
        return _detect(args, project, ground_truth, checkpoint)
    except TrainingError as exc:
        raise ValueError(str(exc)) from exc


def _known_only(detections: Any, ground_truth: dict[str, Any]) -> Any:
    """Detections on images without ground truth dropped (with a warning)."""
    # DetectionRuns (devkit, COCO results) answer from their columns, without a per-run object
    run_ids = getattr(detections, "ids", None)
    ids = run_ids if run_ids is not None else [d.image_id for d in detections]
    unknown = sorted(set(ids).difference(ground_truth))  # (C loops: ~10^5 run ids at 5k)
    if unknown:
        log.warning("detections on %d images without ground truth ignored (e.g. %s)",
                    len(unknown), ", ".join(unknown[:3]))
        keep = [i in ground_truth for i in ids]
        detections = detections.select(keep) if run_ids is not None else \
            [d for d, k in zip(detections, keep) if k]
    return detections


def evaluate(ground_truth: dict[str, Any], detections: Any,
             args: argparse.Namespace) -> dict[str, Any]:
    """``{"voc07"|"voc"|"coco": result}`` for the metrics ``--metric`` asks for."""
    from workbench.core.metrics_voc import evaluate_voc  # (COCO's modules only when asked)

    wanted = METRICS if args.metric == "all" else (args.metric,)
    results: dict[str, Any] = {}
    for name in wanted:
        if name == "coco":
            from workbench.core.metrics import evaluate_coco

            results[name] = evaluate_coco(ground_truth, detections)
        else:
            results[name] = evaluate_voc(ground_truth, detections, iou_threshold=args.iou,
                                         use_07_metric=name == "voc07", strict=args.strict)
    return results


def error_analysis(ground_truth: dict[str, Any], detections: Any, args: argparse.Namespace,
                   coco: Any = None, *, per_size: bool = True) -> Any:
    """:class:`workbench.core.error_analysis.ErrorAnalysis` at ``--score`` (best F1 when not
    given or ``best``) and ``--iou``/``--strict``; ``per_size`` from ``coco`` when already
    evaluated, else from a COCO evaluation run here."""
    from workbench.core.error_analysis import ErrorIndex, per_size_ap
    from workbench.core.metrics import evaluate_coco

    index = ErrorIndex(ground_truth, detections, iou=args.iou, strict=args.strict)
    analysis = index.analysis(None if args.score in (None, BEST) else float(args.score))
    if not per_size:
        return analysis
    if coco is None:
        coco = evaluate_coco(ground_truth, detections)
    return replace(analysis, per_size=per_size_ap(coco))


def _compare(args: argparse.Namespace, project: Any, ground_truth: dict[str, Any]) -> int:
    """``--compare``: every checkpoint over the same images, side by side."""
    from workbench.cli.eval_report import compare_json, format_compare

    if len(args.compare) < 2:
        raise ValueError("--compare needs at least two checkpoints")
    # Every file before the first run: a typo in the last name should not cost the minutes of
    # detecting with the others first.
    for checkpoint in args.compare:
        if not Path(checkpoint).is_file():
            raise ValueError(f"checkpoint {checkpoint} does not exist")
    runs = []
    for checkpoint in args.compare:
        gt = dict(ground_truth)  # a refused image leaves this run's copy only
        detections = _known_only(_detect_checked(args, project, gt, checkpoint), gt)
        results = evaluate(gt, detections, args)
        point = error_analysis(gt, detections, args, per_size=False).operating_point
        runs.append((checkpoint, results, point))
    if args.json:
        print(json.dumps(compare_json(runs, to_json), indent=2))
    else:
        print(format_compare(runs, len(ground_truth)))
    return 0


def to_json(results: dict[str, Any]) -> dict[str, Any]:
    """The ``--json`` document (NaN → null)."""
    out: dict[str, Any] = {}
    for name, r in results.items():
        if name == "coco":
            out[name] = {k: _finite(getattr(r, k)) for k in
                         ("map", "map50", "map75", "map_small", "map_medium", "map_large")}
        else:
            out[name] = {"map": _finite(r.map),
                         "per_class": {c: _finite(v) for c, v in r.per_class.items()}}
    return out


def format_table(results: dict[str, Any], num_images: int, detections: list) -> str:
    """Per-class table (objects, detections, AP per metric) and the summary lines."""
    first = next(iter(results.values()))
    classes = first.classes
    num_det: dict[str, int] = {}
    if hasattr(detections, "label_counts"):  # DetectionRuns: one bincount
        num_det = detections.label_counts()
    for d in detections if not num_det else ():
        for label in d.labels.tolist():
            num_det[label] = num_det.get(label, 0) + 1
    headers = {"voc07": "VOC07 AP", "voc": "VOC AP", "coco": "COCO AP"}
    width = max([5, *(len(c) for c in classes)])
    lines = [f"{'class':<{width}}  {'objects':>7}  {'dets':>7}  "
             + "  ".join(f"{headers[n]:>9}" for n in results)]
    for c in classes:
        cells = []
        for r in results.values():
            ap = r.per_class.get(c)
            cells.append(f"{'n/a':>9}" if ap is None else f"{ap:>9.4f}")
        lines.append(f"{c:<{width}}  {first.num_positives.get(c, 0):>7}  "
                     f"{num_det.get(c, 0):>7}  " + "  ".join(cells))
    lines.append("")
    lines.append(f"{num_images} images; 'objects' excludes difficult ones; n/a = no ground truth")
    for name, r in results.items():
        if name == "coco":
            s = {k: _show(v) for k, v in r.summary().items()}
            lines.append(f"{r.description}: mAP {s['map']}  AP50 {s['map50']}  "
                         f"AP75 {s['map75']}  APs {s['map_small']}  APm {s['map_medium']}  "
                         f"APl {s['map_large']}  AR100 {s['ar100']}")
        else:
            lines.append(f"{r.description}: mAP {_show(r.map)}")
    return "\n".join(lines)
