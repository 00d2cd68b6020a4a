"""Export a checkpoint's detector to ONNX, post-processing included.

The exported graph takes one ``image`` input, float32 ``(3, H, W)`` RGB in ``[0, 1]`` (any
``H``, ``W``: the model resizes it itself, as in torchvision), and returns ``boxes`` ``(N, 4)``
float32 pixel-edge ``xyxy`` in the input image's pixels, ``scores`` ``(N,)`` float32 and
``labels`` ``(N,)`` int64 class ids ``1..K``. The score threshold, NMS IoU and top-k are baked in
from the checkpoint's ``"postprocess"`` (or the values given); NMS is torchvision's per-class
``batched_nms`` (class-agnostic NMS is not part of torchvision's exported graph).

The class names, model name and post-processing settings are stored in the ONNX file's
``metadata_props`` (``workbench.classes`` as JSON, ...). Uses torch's TorchScript-based exporter
(``dynamo=False``), the path torchvision's detection models are tested with.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from workbench.engine.postprocess import PostprocessSettings

log = logging.getLogger(__name__)

DEFAULT_OPSET = 17


class ExportError(RuntimeError):
    """The checkpoint cannot be exported (message names the file and the reason)."""


class _SingleImage(nn.Module):
    """``model([image])[0]`` as a tuple, so the graph has one tensor input and three outputs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.model([image])[0]
        return out["boxes"], out["scores"], out["labels"]


@dataclass(frozen=True)
class ExportResult:
    path: Path
    model_name: str
    classes: tuple[str, ...]
    settings: PostprocessSettings
    max_abs_diff: float | None  #: onnxruntime vs torch on a check image (None: not checked)


def export_onnx(
    checkpoint_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    settings: PostprocessSettings | None = None,
    opset: int = DEFAULT_OPSET,
    check: bool = True,
) -> ExportResult:
    """Export ``checkpoint_path`` to ``out_path`` (written atomically).

    ``settings`` default to the checkpoint's ``"postprocess"``. With ``check`` and onnxruntime
    installed, the exported model is run on a test image and compared with torch.
    """
    from workbench.engine.checkpoint import load_checkpoint
    from workbench.engine.detectors import set_postprocess

    out_path = Path(out_path)
    model, ckpt = load_checkpoint(checkpoint_path, "cpu")
    settings = settings or PostprocessSettings.from_dict(ckpt.get("postprocess"))
    if settings.class_agnostic:
        raise ExportError(
            f"{checkpoint_path}: its settings ask for class-agnostic NMS, which torchvision's "
            "exported post-processing does not do; pass --per-class-nms to export per-class NMS")
    set_postprocess(model, score_threshold=settings.score_threshold, nms_iou=settings.nms_iou,
                    top_k=settings.top_k)
    wrapper = _SingleImage(model).eval()
    size = int(ckpt.get("image_size") or 320)
    example = _check_image(size, round(size * 4 / 3), seed=0)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp",
                                    dir=out_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about Python scalars
            torch.onnx.export(
                wrapper, (example,), str(tmp), opset_version=opset,
                input_names=["image"], output_names=["boxes", "scores", "labels"],
                dynamic_axes={"image": {1: "height", 2: "width"}, "boxes": {0: "detections"},
                              "scores": {0: "detections"}, "labels": {0: "detections"}},
                dynamo=False,
            )
        _add_metadata(tmp, ckpt, settings)
        os.replace(tmp, out_path)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ExportError(f"cannot write {out_path}: {exc}") from exc
        raise ExportError(f"{checkpoint_path}: ONNX export of {ckpt['model_name']} failed: "
                          f"{exc}") from exc
    diff = None
    if check and _has_onnxruntime():
        diff = compare_with_torch(out_path, model, _check_image(size * 3 // 4, size, seed=1))
        log.info("onnxruntime vs torch on a check image: max |box difference| %.2e px", diff)
    return ExportResult(out_path, str(ckpt["model_name"]), tuple(ckpt["classes"]), settings, diff)


def _check_image(height: int, width: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand((3, height, width), generator=g)


def _add_metadata(path: Path, ckpt: dict, settings: PostprocessSettings) -> None:
    import onnx

    proto = onnx.load(str(path))
    meta = {
        "workbench.model_name": str(ckpt["model_name"]),
        "workbench.classes": json.dumps(list(ckpt["classes"])),
        "workbench.postprocess": json.dumps(settings.to_dict()),
        "workbench.input": "image: float32 (3, H, W) RGB in [0, 1]",
    }
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))


def _has_onnxruntime() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def run_onnx(path: str | os.PathLike[str], image: torch.Tensor | np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run an exported model with onnxruntime on a ``(3, H, W)`` float image in [0, 1]."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    array = image.numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    boxes, scores, labels = session.run(None, {"image": array.astype(np.float32)})
    return boxes, scores, labels


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``workbench.*`` metadata of an exported file."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}


def compare_with_torch(path: str | os.PathLike[str], model: nn.Module, image: torch.Tensor
                       ) -> float:
    """Max absolute box difference (px) between onnxruntime and ``model`` on ``image``.

    Raises :class:`ExportError` when the number of detections or the labels differ.
    """
    boxes, scores, labels = run_onnx(path, image)
    with torch.inference_mode():
        ref = model.eval()([image])[0]
    if len(boxes) != len(ref["boxes"]) or not np.array_equal(np.sort(labels),
                                                             np.sort(ref["labels"].numpy())):
        raise ExportError(f"{path}: onnxruntime gives {len(boxes)} detections, torch "
                          f"{len(ref['boxes'])}")
    if len(boxes) == 0:
        return 0.0
    ref_boxes = ref["boxes"].numpy()
    # Equal scores may come out in either order: compare in a canonical (rounded box) order.
    a, b = _canonical(boxes, labels), _canonical(ref_boxes, ref["labels"].numpy())
    return float(np.abs(boxes[a] - ref_boxes[b]).max())


def _canonical(boxes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    r = np.round(boxes.astype(np.float64), 1)
    return np.lexsort((r[:, 3], r[:, 2], r[:, 1], r[:, 0], labels))
