"""Small videos the tests draw themselves (tests are not a package: load with importlib or
``sys.path``): moving coloured shapes on a textured background, with the true boxes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SIZE = (160, 120)  # (width, height)
#: Shapes: (colour BGR, start x, y, size, dx per frame). The red square leaves the frame to the
#: right around frame 20; the blue one moves slowly left and stays inside.
SHAPES = (((40, 40, 220), 20, 20, 24, 6), ((220, 120, 30), 110, 70, 26, -2))


def background(size: tuple[int, int] = SIZE) -> np.ndarray:
    w, h = size
    rng = np.random.default_rng(7)
    noise = rng.integers(50, 110, (h // 4, w // 4, 1), dtype=np.uint8)
    return np.repeat(cv2.resize(noise, (w, h), interpolation=cv2.INTER_NEAREST)[..., None],
                     3, axis=2)


def true_box(shape: int, frame: int) -> tuple[float, float, float, float]:
    """Pixel-edge xyxy of ``SHAPES[shape]`` in ``frame`` (may lie partly outside)."""
    _, x, y, s, dx = SHAPES[shape]
    x1 = x + dx * frame
    return (float(x1), float(y), float(x1 + s), float(y + s))


def shapes_frame(frame: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    """Frame ``frame`` (BGR uint8): the background with every shape drawn at its place, each
    with a lighter cross on it (texture for the trackers)."""
    img = background(size).copy()
    for k, (colour, *_rest) in enumerate(SHAPES):
        x1, y1, x2, y2 = (int(v) for v in true_box(k, frame))
        cv2.rectangle(img, (x1, y1), (x2 - 1, y2 - 1), colour, -1)
        light = tuple(min(255, c + 30) for c in colour)
        cv2.line(img, (x1 + 3, y1 + 3), (x2 - 4, y2 - 4), light, 3)
        cv2.line(img, (x1 + 3, y2 - 4), (x2 - 4, y1 + 3), light, 3)
    return img


def write_shapes_video(path: Path, frames: int = 30, fps: float = 10.0,
                       size: tuple[int, int] = SIZE) -> Path:
    """An MJPG .avi of :func:`shapes_frame` 0 … frames-1."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened(), "this OpenCV cannot write MJPG .avi"
    for i in range(frames):
        writer.write(shapes_frame(i, size))
    writer.release()
    return path
