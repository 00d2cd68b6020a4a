"""Rows and texts of the Priors panel's tables, and its k-means job (no Qt state, no torch)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

from workbench.core.anchors import (
    AnchorSuggestion, resize_input_shapes, ssd_input_shapes, suggest_anchors,
)
from workbench.core.boxes import iou_matrix
from workbench.core.matching import IGNORED, MatchResult, encode_prior
from workbench.core.priors import PriorSet
from workbench.core.wording import count
from workbench.gui.panels.table_fill import filling


def make_table(headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    t.setWordWrap(False)
    t.verticalHeader().setDefaultSectionSize(22)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    return t


def fill_table(table: QTableWidget, rows: list[list[str]]) -> None:
    with filling(table):  # columns measured once, not per cell (~25 ms per image before)
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if len(text) > 12:  # a long note may be elided in a narrow column
                    item.setToolTip(text)
                table.setItem(r, c, item)


#: Columns of :func:`map_rows`.
MAP_HEADERS = ["map", "grid", "per cell", "priors", "pos.", "neg.", "ignored",
               "scales / sizes", "aspect ratios"]
#: Header tooltips of :data:`MAP_HEADERS` (short headers: the panel is ~370 px wide).
MAP_HEADER_TIPS = {"per cell": "priors per grid cell", "pos.": "positive priors (matched)",
                   "neg.": "negative priors (background)",
                   "ignored": "anchors between the two IoU thresholds"}


def fold_map_details(table: QTableWidget, rpn: bool) -> None:
    """Nine columns do not fit the panel's column (issue 14: the last ones were cut off): the
    scales and aspect ratios go to each row's tooltip, "ignored" shows only for anchors (SSD has
    none). The cells stay in the table."""
    details = (MAP_HEADERS.index("scales / sizes"), MAP_HEADERS.index("aspect ratios"))
    for c in details:
        table.setColumnHidden(c, True)
    table.setColumnHidden(MAP_HEADERS.index("ignored"), not rpn)
    # anchors: three per cell on every level (in the tooltip and the feature-map list), and
    # the "ignored" column needs its room
    if rpn:
        details = (*details, MAP_HEADERS.index("per cell"))
    table.setColumnHidden(MAP_HEADERS.index("per cell"), rpn)
    for c, name in enumerate(MAP_HEADERS):
        header = table.horizontalHeaderItem(c)
        if header is not None and name in MAP_HEADER_TIPS:
            header.setToolTip(MAP_HEADER_TIPS[name])
    for r in range(table.rowCount()):
        parts = [f"{MAP_HEADERS[c]}: {table.item(r, c).text()}" for c in details
                 if table.item(r, c) is not None and table.item(r, c).text()]
        tip = "\n".join(parts)
        for c in range(table.columnCount()):
            item = table.item(r, c)
            if item is not None and c not in details:
                item.setToolTip(tip)


def _numbers(values: tuple[float, ...]) -> str:
    return ", ".join(f"{round(v, 3):g}" for v in values)


def map_rows(priors: PriorSet, m: MatchResult | None) -> list[list[str]]:
    """One row per map (see :data:`MAP_HEADERS`), then the total. SSD scales are fractions of
    the input side (``s_k``, ``s'_k``) and ratios width/height; RPN sizes are input px and
    ratios torchvision's height/width."""
    rpn = priors.kind == "rpn"
    rows = []
    for i, fm in enumerate(priors.feature_maps):
        rows.append([fm.name, f"{fm.size[0]}×{fm.size[1]}", str(fm.per_cell), f"{fm.count:,}",
                     str(m.map_positives[i]) if m else "", f"{m.map_negatives[i]:,}" if m else "",
                     f"{m.map_ignored[i]:,}" if m and rpn else "—", _numbers(fm.scales),
                     _numbers(tuple(dict.fromkeys(fm.aspect_ratios)))])
    rows.append(["total", "", "", f"{priors.total:,}", str(m.num_positive) if m else "",
                 f"{m.num_negative:,}" if m else "",
                 f"{int(m.ignored.sum()):,}" if m and rpn else "—", "", ""])
    return rows


def object_rows(m: MatchResult, names: list[str]) -> list[list[str]]:
    return [[f"{i + 1}. {names[i]}", f"{o.best_iou:.2f}", str(o.positives),
             str(o.above_threshold), "⚠ " + o.reason if o.flagged else ""]
            for i, o in enumerate(m.objects)]


def summary_text(m: MatchResult | None) -> str:
    if m is None or not m.objects:
        return "No ground truth on this image: every prior is negative."
    forced = int(m.forced.sum())
    text = (f"{m.num_positive} positive ({forced} only by the best-prior rule), "
            f"{m.num_negative:,} negative")
    if m.kind == "ssd":
        text += f"; hard-negative budget 3:1 → {m.hard_negative_budget:,} negatives kept"
    else:
        pos, neg = m.rpn_sample()
        text += f", {int(m.ignored.sum()):,} ignored; RPN sample of 256: {pos} + {neg}"
    if m.flagged:
        text += (f". ⚠ {count(len(m.flagged), 'object')} "
                 f"reach{'es' if len(m.flagged) == 1 else ''} no prior at IoU "
                 f"{m.positive_threshold:g}.")
    return text


def cell_rows(boxes: np.ndarray, indices: np.ndarray, m: MatchResult | None,
              gt: np.ndarray) -> list[list[str]]:
    """k, w × h, best IoU, label, regression target — one row per prior of a cell.

    The target is towards the matched object; for a negative/ignored prior towards the
    object it overlaps most (what it would regress to if it were positive), marked "(to n)".
    """
    rows = []
    overlaps = iou_matrix(boxes, gt) if len(gt) else np.zeros((len(boxes), 0))
    for k, (i, box) in enumerate(zip(indices, boxes)):
        w, h = box[2] - box[0], box[3] - box[1]
        label, offsets, best = "negative", "", 0.0
        if m is not None and len(gt):
            best = float(m.best_iou[i])
            g = int(m.matched_gt[i])
            if g >= 0:
                label = f"positive → {g + 1}" + (" (best prior)" if m.forced[i] else "")
            elif g == IGNORED:
                label = "ignored"
            target = g if g >= 0 else int(np.argmax(overlaps[k]))
            d = encode_prior(m.kind, box, gt[target])
            offsets = ", ".join(f"{v:+.2f}" for v in d)
            if g < 0:
                offsets += f"  (to {target + 1})"
        rows.append([str(k), f"{w:.0f}×{h:.0f}", f"{best:.2f}", label, offsets])
    return rows


def project_boxes(project: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every person-made box of a project ``(N, 4)`` and its photo size ``(N, 2)`` (w, h)."""
    boxes, sizes = [], []
    for entry in project.annotated:
        ann, _problems = project.load(entry, check_image=False)
        if ann is None or ann.size is None:
            continue
        for obj in ann.objects:
            if not obj.model_made:
                boxes.append(obj.box)
                sizes.append((ann.size.width, ann.size.height))
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4), \
        np.asarray(sizes, dtype=np.float64).reshape(-1, 2)


def suggestion_for_project(project: Any, base: PriorSet, model: Any,
                           k: int | None) -> AnchorSuggestion:
    """k-means over the project's box shapes in ``base``'s input pixels (worker job body).

    SSD warps photos to its square; Faster R-CNN keeps the aspect ratio (``model.transform``'s
    ``min_size``/``max_size``).
    """
    boxes, sizes = project_boxes(project)
    if len(boxes) == 0:
        raise ValueError("the project has no annotated boxes yet")
    in_h, in_w = base.input_size
    if base.kind == "ssd":
        shapes = ssd_input_shapes(boxes, sizes, (in_w, in_h))
    else:
        t = model.transform
        shapes = resize_input_shapes(boxes, sizes, float(t.min_size[-1]), float(t.max_size))
    return suggest_anchors(shapes, base, k)


def suggestion_text(s: AnchorSuggestion) -> str:
    shapes = ", ".join(f"{w:.0f}×{h:.0f}" for w, h in s.shapes[:12])
    more = f" … (+{len(s.shapes) - 12})" if len(s.shapes) > 12 else ""
    return (f"{s.num_boxes} boxes. Mean best IoU: default {len(s.default_shapes)} shapes "
            f"{s.mean_best_iou_default:.3f} → suggested {len(s.shapes)} shapes "
            f"{s.mean_best_iou_suggested:.3f}.\nSuggested (input px): {shapes}{more}")
