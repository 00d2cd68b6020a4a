"""The CPU demo detector: torchvision's SSD with an SSDlite head on a small plain-conv backbone.

``demo_ssdlite_cpu`` is registered into :mod:`workbench.engine.detectors` (which imports this
module as a plugin) and trains **from scratch** — no pretrained weights exist for it, nothing is
downloaded. It is torchvision's :class:`~torchvision.models.detection.SSD` meta-architecture
(default boxes, hard-negative mining with 3:1 negatives, smooth-L1 box loss, per-class NMS) with

* :class:`~torchvision.models.detection.ssdlite.SSDLiteHead` (depthwise 3×3 + pointwise
  predictors, MobileNetV2 paper §6.2), and
* a compact backbone of 3×3 convolutions with batch norm and ReLU (:class:`TinyBackbone`)
  giving six feature maps at strides 8, 16, 32, 64, 128 and 256. Dense 3×3 convolutions run
  about twice as fast per training step on a CPU as MobileNetV3's depthwise blocks of similar
  size (measured: 0.17 s vs 0.36 s for 8 images at 320 px, one thread), and batch norm in
  every layer is what lets a detector train from scratch at a high learning rate (DSOD,
  ScratchDet).

Default boxes are tuned to objects from about 6 % to 100 % of the image side (scales 0.06 …
1.0 instead of SSDlite's 0.2 … 0.95), with aspect ratios 1, 2, 3 and their inverses on every
map, so small and thin objects (a bottle is 3–4× taller than wide) have boxes to match.

:data:`RECIPE` holds the training settings that go with the model (AdamW, cosine schedule,
batch size, epochs); the Train panel and ``bench/bench_demo.py`` start from them.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import Any

from torch import Tensor, nn

from workbench.core import models as catalog
from workbench.engine.detectors import DetectorSpec, register_detector

NAME = "demo_ssdlite_cpu"
#: Not "ssd": the trainer gives other families flip-only augmentation (the model resizes to its
#: square input itself). SSD's zoom-out / IoU-crop augmentation is made for hundreds of epochs;
#: in a 10-minute from-scratch run it held val mAP at 0.11 after 16 epochs where flips alone
#: reached 0.32 (same data and settings), and more generated images do its job here.
FAMILY = "ssd-demo"
DEFAULT_SIZE = 320
#: IoU at which a default box becomes a positive for an object. SSD's 0.5 leaves a thin object
#: (a bottle) one or two positives, while its neighbours — nearly the same pixels, shifted by
#: one stride — train as background; 0.4 gave bottles 0.2–0.39 AP where 0.5 gave 0.1–0.18 after
#: 9 epochs (same data and settings).
MATCH_IOU = 0.4
#: Output channels: stem (strides 2, 4, 8), then one stage per further feature map.
CHANNELS: tuple[int, ...] = (16, 32, 64, 96, 128, 128, 128, 128)
#: Default-box scales as fractions of the input side, one per feature map plus the last
#: ``s'`` (see torchvision's ``DefaultBoxGenerator``).
SCALES: tuple[float, ...] = (0.06, 0.12, 0.24, 0.42, 0.6, 0.8, 1.0)
ASPECT_RATIOS: tuple[tuple[int, ...], ...] = ((2, 3),) * 6

#: Training settings for this model (keys are :class:`workbench.engine.config.TrainConfig`
#: fields), kept in the model catalog (:mod:`workbench.core.models`) with the other models'.
RECIPE: dict[str, Any] = {"model": NAME, **catalog.get_model(NAME).recipe}


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class TinyBackbone(nn.Module):
    """Plain 3×3 conv + BN + ReLU feature extractor.

    Input ``(B, 3, S, S)`` normalised images; output an ordered dict of six maps
    ``"0" … "5"`` at strides 8, 16, 32, 64, 128, 256 (``S/8 … S/256``, at least 1×1), with
    ``channels[2:]`` channels.
    """

    def __init__(self, channels: tuple[int, ...] = CHANNELS, num_maps: int = 6) -> None:
        super().__init__()
        c = channels
        self.stem = nn.Sequential(
            _conv(3, c[0], 2), _conv(c[0], c[1], 2), _conv(c[1], c[1]),
            _conv(c[1], c[2], 2), _conv(c[2], c[2]),
        )
        stages, prev = [], c[2]
        for i in range(num_maps - 1):
            out = c[min(3 + i, len(c) - 1)]
            stages.append(nn.Sequential(_conv(prev, out, 2), _conv(out, out)))
            prev = out
        self.stages = nn.ModuleList(stages)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        x = self.stem(x)
        out = [x]
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return OrderedDict((str(i), v) for i, v in enumerate(out))


def build_demo_ssdlite(num_classes: int, size: int = DEFAULT_SIZE,
                       weights_backbone: Any = None) -> nn.Module:
    """The demo detector for ``num_classes`` (background included) at ``size`` × ``size``.

    ``weights_backbone`` must be None: there are no pretrained weights for this backbone.
    """
    from torchvision.models.detection import _utils as det_utils
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
    from torchvision.models.detection.ssd import SSD
    from torchvision.models.detection.ssdlite import SSDLiteHead

    if weights_backbone is not None:
        raise ValueError(f"{NAME} has no pretrained backbone weights; it trains from scratch")
    backbone = TinyBackbone()
    anchors = DefaultBoxGenerator([list(a) for a in ASPECT_RATIOS], scales=list(SCALES))
    out_channels = det_utils.retrieve_out_channels(backbone, (size, size))
    norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.03)
    head = SSDLiteHead(out_channels, anchors.num_anchors_per_location(), num_classes, norm)
    return SSD(backbone, anchors, (size, size), num_classes, head=head, iou_thresh=MATCH_IOU,
               score_thresh=0.01, nms_thresh=0.45, detections_per_img=100,
               topk_candidates=200, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])


_ENTRY = catalog.get_model(NAME)
SPEC = DetectorSpec(
    name=NAME,
    family=_ENTRY.family,
    default_image_size=_ENTRY.default_image_size,
    min_image_size=_ENTRY.min_image_size,
    build=build_demo_ssdlite,
    description=_ENTRY.description,
    cpu_step_s=_ENTRY.cpu_step_s,
    gpu_step_s=_ENTRY.gpu_step_s,
    coco_uses_pretrained_layout=False,
    recipe=RECIPE,
)

register_detector(SPEC)
