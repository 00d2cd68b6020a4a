"""A Faster R-CNN's RPN proposals on one photo, each with the anchor it came from.

torchvision's ``RegionProposalNetwork.forward`` returns only the proposals and their scores:
``filter_proposals`` (top ``pre_nms_top_n`` per level → clip → drop tiny boxes → score floor →
NMS per level → ``post_nms_top_n``) loses the anchor each proposal was decoded from. So
:func:`trace_rpn` calls the RPN's own pieces in the order ``forward`` does —
``rpn.head`` on the backbone's maps, ``rpn.anchor_generator``, ``concat_box_prediction_layers``,
``rpn.box_coder.decode`` — and then runs the same filter steps as ``filter_proposals`` (same
torchvision ops, same settings read from the module) carrying one more column: each candidate's
anchor index. Then it calls the RPN's real ``filter_proposals`` on the same inputs and checks
the boxes and scores agree exactly (``RpnTrace.matches_torchvision``), so the anchors shown
belong to the proposals the detector actually passes on to its RoI heads.

All boxes are pixel-edge ``xyxy`` on the **photo** (mapped back from the detector input with
the per-axis ratio, as the detector maps its detections); IoU is unchanged by that mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torchvision.ops import boxes as box_ops

from workbench.engine.feature_maps import backbone_pass


@dataclass(frozen=True)
class RpnTrace:
    """The RPN's proposals after its NMS, best first."""

    boxes: np.ndarray            #: ``(N, 4)`` proposals on the photo
    scores: np.ndarray           #: ``(N,)`` objectness, sigmoid
    anchor_index: np.ndarray     #: ``(N,)`` index into all anchors of the image
    anchors: np.ndarray          #: ``(N, 4)`` the anchor of each proposal, on the photo
    level: np.ndarray            #: ``(N,)`` feature-map index of that anchor
    level_names: tuple[str, ...]
    num_anchors: int             #: anchors on all maps together
    candidates: int              #: boxes that reached NMS (after top-n, clip, size, floor)
    input_size: tuple[int, int]  #: ``(h, w)`` the detector saw
    photo_size: tuple[int, int]
    matches_torchvision: bool    #: same boxes and scores as ``rpn.filter_proposals``

    def anchor_iou(self) -> np.ndarray:
        """``(N,)`` IoU of each proposal with its own anchor."""
        a, b = self.boxes, self.anchors   # pairwise, in numpy (the GUI thread calls this)
        iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
        ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
        inter = iw * ih
        area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
        area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        union = area_a + area_b - inter
        return np.divide(inter, union, out=np.zeros(len(a)), where=union > 0)


def _to_photo(boxes: torch.Tensor, input_size: tuple[int, int],
              photo_size: tuple[int, int]) -> np.ndarray:
    ry = photo_size[0] / input_size[0]
    rx = photo_size[1] / input_size[1]
    scale = torch.tensor([rx, ry, rx, ry], dtype=torch.float64)
    return (boxes.detach().cpu().double() * scale).numpy()


def trace_rpn(model: Any, rgb: np.ndarray) -> RpnTrace:
    """Run ``model``'s backbone and RPN (eval settings) on the ``(H, W, 3)`` uint8 photo."""
    from torchvision.models.detection.rpn import concat_box_prediction_layers

    rpn: Any = getattr(model, "rpn", None)
    if rpn is None:
        raise ValueError(f"{type(model).__name__} has no region proposal network (rpn); "
                         "choose a Faster R-CNN")
    with backbone_pass(model, rgb) as (images, features):
        names = tuple(str(k) for k in features)
        maps = list(features.values())
        objectness, deltas = rpn.head(maps)
        anchors = rpn.anchor_generator(images, maps)
        per_level = [int(o[0].shape[0] * o[0].shape[1] * o[0].shape[2]) for o in objectness]
        objectness, deltas = concat_box_prediction_layers(objectness, deltas)
        proposals = rpn.box_coder.decode(deltas.detach(), anchors).view(1, -1, 4)
        traced = _filter_with_index(rpn, proposals, objectness, images.image_sizes,
                                    per_level)
        ref_boxes, ref_scores = rpn.filter_proposals(proposals, objectness,
                                                     images.image_sizes, per_level)
    boxes, scores, index, level, candidates = traced
    same = bool(torch.equal(boxes, ref_boxes[0]) and torch.equal(scores, ref_scores[0]))
    input_size = (int(images.image_sizes[0][0]), int(images.image_sizes[0][1]))
    photo_size = (int(rgb.shape[0]), int(rgb.shape[1]))
    return RpnTrace(
        boxes=_to_photo(boxes, input_size, photo_size),
        scores=scores.detach().cpu().double().numpy(),
        anchor_index=index.cpu().numpy().astype(np.int64),
        anchors=_to_photo(anchors[0][index], input_size, photo_size),
        level=level.cpu().numpy().astype(np.int64),
        level_names=names, num_anchors=int(sum(per_level)), candidates=candidates,
        input_size=input_size, photo_size=photo_size, matches_torchvision=same)


def _filter_with_index(rpn: Any, proposals: torch.Tensor, objectness: torch.Tensor,
                       image_sizes: list[tuple[int, int]], per_level: list[int],
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """``RegionProposalNetwork.filter_proposals`` for one image, keeping each box's anchor
    index (and level); returns ``boxes, scores, anchor index, level, candidates at NMS``."""
    device = proposals.device
    objectness = objectness.detach().reshape(1, -1)
    levels = torch.cat([torch.full((n,), i, dtype=torch.int64, device=device)
                        for i, n in enumerate(per_level)]).reshape(1, -1)
    top_n_idx = rpn._get_top_n_idx(objectness, per_level)[0]   # anchor indices, per level
    scores = torch.sigmoid(objectness[0, top_n_idx])
    lvl = levels[0, top_n_idx]
    boxes = box_ops.clip_boxes_to_image(proposals[0, top_n_idx], image_sizes[0])
    index = top_n_idx
    keep = box_ops.remove_small_boxes(boxes, rpn.min_size)
    boxes, scores, lvl, index = boxes[keep], scores[keep], lvl[keep], index[keep]
    keep = torch.where(scores >= rpn.score_thresh)[0]
    boxes, scores, lvl, index = boxes[keep], scores[keep], lvl[keep], index[keep]
    candidates = len(boxes)
    keep = box_ops.batched_nms(boxes, scores, lvl, rpn.nms_thresh)
    keep = keep[: rpn.post_nms_top_n()]
    return boxes[keep], scores[keep], index[keep], lvl[keep], candidates
