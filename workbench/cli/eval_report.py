"""Text and JSON of ``workbench eval``'s error analysis and of ``--compare`` (issue 15).

Kept apart from :mod:`workbench.cli.eval` (options, loading, evaluation) so that each stays short.
No torch import.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

#: How many images the text output lists under "most errors".
WORST_IMAGES = 10
_HEADERS = {"voc07": "VOC07", "voc": "VOC", "coco": "COCO"}


def _num(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _diff(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:+.4f}"


def format_point(point: Any) -> str:
    """One line: how the score was chosen, the threshold, P/R/F1 and the counts."""
    how = "best F1" if point.chosen == "best_f1" else "--score"
    return (f"operating point ({how}; VOC class-aware, IoU >= {point.iou:g}): "
            f"score >= {point.score:.4g}  precision {point.precision:.4f}  "
            f"recall {point.recall:.4f}  F1 {point.f1:.4f}  "
            f"TP {point.tp}  FP {point.fp}  FN {point.fn}")


def format_confusion(confusion: Any) -> str:
    """The matrix as an aligned Markdown table: rows ground truth, columns predicted,
    ``background`` last (every line starts with ``|``)."""
    labels = list(confusion.labels)
    matrix = confusion.matrix.tolist()
    corner = "truth \\ predicted"
    first = max(len(corner), *(len(x) for x in labels))
    widths = [max(len(x), *(len(str(row[j])) for row in matrix), 3)
              for j, x in enumerate(labels)]
    lines = [f"| {corner:<{first}} | " + " | ".join(f"{x:>{w}}" for x, w in zip(labels, widths))
             + " |",
             f"|{'-' * (first + 2)}|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"]
    for name, row in zip(labels, matrix):
        lines.append(f"| {name:<{first}} | "
                     + " | ".join(f"{v:>{w}}" for v, w in zip(row, widths)) + " |")
    return "\n".join(lines)


def format_errors(analysis: Any, worst: int = WORST_IMAGES) -> str:
    """Operating point, confusion matrix, per-size AP and the images with the most errors."""
    point = analysis.operating_point
    lines = [format_point(point), "",
             f"confusion matrix (class-agnostic, score >= {point.score:.4g}, "
             f"IoU >= {point.iou:g}; rows ground truth, columns predicted):",
             format_confusion(analysis.confusion)]
    if analysis.per_size is not None:
        sizes = "  ".join(f"{k} {_num(v.ap)}" for k, v in analysis.per_size.items())
        lines += ["", f"COCO AP@[.5:.95] by object size (<32², 32²-96², >96² px): {sizes}"]
    ranked = sorted((e for e in analysis.per_image if e.fp + e.fn),
                    key=lambda e: (-(e.fp + e.fn), -e.worst_score, e.image))[:worst]
    if ranked:
        lines += ["", f"images with the most errors (FP + FN; {len(ranked)} of "
                      f"{sum(1 for e in analysis.per_image if e.fp + e.fn)} with any):"]
        width = max(len(e.image) for e in ranked)
        for e in ranked:
            lines.append(f"- {e.image:<{width}}  FP {e.fp:>3}  FN {e.fn:>3}  "
                         f"confused {e.confused:>3}  worst FP score "
                         + (f"{e.worst_score:.3f}" if e.fp else "-"))  # no FP: no score
    return "\n".join(lines)


Run = tuple[str, dict[str, Any], Any]  # (checkpoint, {metric: result}, OperatingPoint)


def _per_class(result: Any) -> dict[str, float]:
    return dict(result.per_class)


def compare_json(runs: Sequence[Run], to_json: Callable[[dict[str, Any]], dict[str, Any]]
                 ) -> dict[str, Any]:
    """``{"runs": [{"checkpoint", metric…, "operating_point"}], "differences": [{"checkpoint",
    metric: {"map", "per_class"}}]}`` — each difference is that run minus the first (null where
    either side is undefined). COCO entries carry ``per_class`` (AP@[.5:.95]) here too."""
    docs = []
    for checkpoint, results, point in runs:
        doc = to_json(results)
        if "coco" in results:
            doc["coco"]["per_class"] = {c: _finite(v) for c, v in _per_class(
                results["coco"]).items()}
        docs.append({"checkpoint": checkpoint, **doc, "operating_point": point.to_json()})
    base = docs[0]
    differences = []
    for doc in docs[1:]:
        entry: dict[str, Any] = {"checkpoint": doc["checkpoint"]}
        for metric in (m for m in ("voc07", "voc", "coco") if m in base):
            classes = sorted(set(base[metric]["per_class"]) | set(doc[metric]["per_class"]))
            entry[metric] = {
                "map": _sub(doc[metric]["map"], base[metric]["map"]),
                "per_class": {c: _sub(doc[metric]["per_class"].get(c),
                                      base[metric]["per_class"].get(c)) for c in classes}}
        entry["f1"] = doc["operating_point"]["f1"] - base["operating_point"]["f1"]
        differences.append(entry)
    return {"runs": docs, "differences": differences}


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _sub(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def format_compare(runs: Sequence[Run], num_images: int) -> str:
    """Runs as columns ``[1] [2] …`` and each later run's difference to run 1 (``[2]-[1]``):
    mAP per metric, the operating point, then per-class AP for each metric."""
    n = len(runs)
    legend = [f"[{i + 1}] {ckpt}" for i, (ckpt, _, _) in enumerate(runs)]
    heads = [f"[{i + 1}]" for i in range(n)] + [f"[{i + 1}]-[1]" for i in range(1, n)]
    metrics = [m for m in ("voc07", "voc", "coco") if m in runs[0][1]]
    rows: list[tuple[str, list[str]]] = []
    for m in metrics:
        values = [r[1][m].map for r in runs]
        rows.append((f"{_HEADERS[m]} mAP", [_num(v) for v in values]
                     + [_diff(v - values[0]) for v in values[1:]]))
    for field in ("f1", "precision", "recall"):
        values = [getattr(r[2], field) for r in runs]
        rows.append((f"best-F1 {field}" if runs[0][2].chosen == "best_f1" else field,
                     [_num(v) for v in values] + [_diff(v - values[0]) for v in values[1:]]))
    scores = [r[2].score for r in runs]
    rows.append(("at score >=", [f"{s:.4g}" for s in scores] + [""] * (n - 1)))
    lines = [*legend, "", _table("metric", heads, rows)]
    for m in metrics:
        per = [_per_class(r[1][m]) for r in runs]
        classes = sorted(set().union(*per))
        crow = []
        for c in classes:
            values = [p.get(c, math.nan) for p in per]
            crow.append((c, [_num(v) for v in values]
                         + [_diff(v - values[0]) for v in values[1:]]))
        lines += ["", f"per-class {_HEADERS[m]} AP", _table("class", heads, crow)]
    lines += ["", f"{num_images} images; n/a = no ground truth of that class"]
    return "\n".join(lines)


def _table(first: str, heads: list[str], rows: list[tuple[str, list[str]]]) -> str:
    width = max(len(first), *(len(r[0]) for r in rows)) if rows else len(first)
    cols = [max(len(h), 7, *(len(r[1][j]) for r in rows)) for j, h in enumerate(heads)]
    out = [f"{first:<{width}}  " + "  ".join(f"{h:>{w}}" for h, w in zip(heads, cols))]
    for name, cells in rows:
        out.append(f"{name:<{width}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(cells, cols)))
    return "\n".join(out)
