"""Textures, backgrounds and object sprites for the generated sample project.

Everything here is plain numpy + OpenCV and draws with a caller-supplied
``numpy.random.Generator``, so a scene is a pure function of its seed. Images are float32 RGB in
``[0, 1]``, shape ``(H, W, 3)``; masks (alpha) are float32 ``(H, W)`` in ``[0, 1]``.

An object *sprite* is ``(rgb, alpha)`` drawn on its own tight canvas: the object's opaque pixels
touch all four edges of the canvas, so the canvas *is* the object's full extent. The scene
composer (:mod:`workbench.core.synth`) pastes sprites and measures the visible box from the alpha
that stays visible after occlusion.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

Sprite = tuple[np.ndarray, np.ndarray]  # rgb (h, w, 3) float32, alpha (h, w) float32


# ------------------------------------------------------------------------------------------
# colour and texture helpers
# ------------------------------------------------------------------------------------------
def hsv(h: float, s: float, v: float) -> np.ndarray:
    """One RGB colour ``(3,)`` float32 from hue in degrees ``[0, 360)``, saturation, value."""
    px = np.array([[[h % 360.0 / 2.0, s * 255.0, v * 255.0]]], dtype=np.float32)
    px = np.clip(px, 0, 255).astype(np.uint8)
    return cv2.cvtColor(px, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32) / 255.0


def fractal_noise(rng: np.random.Generator, h: int, w: int, base: int = 4,
                  octaves: int = 4, persistence: float = 0.55) -> np.ndarray:
    """Smooth value noise ``(h, w)`` in ``[0, 1]``: random grids upsampled bicubically, summed."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = base * (2 ** o)
        grid = rng.random((max(2, cells * h // max(h, w) + 2), cells + 2)).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= persistence
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def colorize(field: np.ndarray, colors: list[np.ndarray]) -> np.ndarray:
    """Map a ``(h, w)`` field in ``[0, 1]`` through a piecewise-linear palette → ``(h, w, 3)``."""
    stops = np.linspace(0.0, 1.0, len(colors))
    out = np.empty(field.shape + (3,), np.float32)
    for c in range(3):
        out[..., c] = np.interp(field, stops, [float(col[c]) for col in colors])
    return out


def wood(rng: np.random.Generator, h: int, w: int, color: np.ndarray,
         vertical: bool = False) -> np.ndarray:
    """Planks with grain: ``(h, w, 3)``. ``vertical`` runs the grain along y."""
    if vertical:
        return wood(rng, w, h, color).transpose(1, 0, 2).copy()
    n = fractal_noise(rng, h, w, base=3, octaves=3)
    ys = np.arange(h, dtype=np.float32)[:, None]
    freq = rng.uniform(0.25, 0.6)
    grain = 0.5 + 0.5 * np.sin(ys * freq + 6.0 * n)
    shade = 0.72 + 0.28 * grain
    plank_h = max(4, int(h / rng.integers(2, 5)))
    seams = (np.arange(h) % plank_h) < max(1, plank_h // 12)
    shade[seams, :] *= 0.55
    return np.clip(color[None, None, :] * shade[..., None], 0, 1)


def _smooth_mask(mask_u8: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(mask_u8.astype(np.float32) / 255.0, (3, 3), 0.7)


def _tighten(rgb: np.ndarray, alpha: np.ndarray) -> Sprite:
    """Crop a sprite to the bounding box of ``alpha > 0.5``."""
    ys, xs = np.nonzero(alpha > 0.5)
    if len(ys) == 0:
        return rgb, alpha
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return rgb[y0:y1, x0:x1].copy(), alpha[y0:y1, x0:x1].copy()


# ------------------------------------------------------------------------------------------
# object sprites: each takes (rng, width, height) of the object's extent
# ------------------------------------------------------------------------------------------
def ball(rng: np.random.Generator, w: int, h: int) -> Sprite:
    """A shaded sphere (seen as an ellipse when w != h) with beach-ball segments or a seam."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    nx = (xx + 0.5 - w / 2) / (w / 2)
    ny = (yy + 0.5 - h / 2) / (h / 2)
    r2 = nx * nx + ny * ny
    alpha = np.clip((1.0 - r2) * min(w, h) / 4.0, 0, 1).astype(np.float32)
    nz = np.sqrt(np.clip(1.0 - r2, 0, 1))
    hue = rng.uniform(0, 360)
    c1, c2 = hsv(hue, rng.uniform(0.6, 1.0), rng.uniform(0.75, 1.0)), hsv(
        hue + rng.uniform(90, 270), rng.uniform(0.0, 0.9), rng.uniform(0.8, 1.0))
    style = rng.integers(3)
    ang = np.arctan2(ny, nx) + rng.uniform(0, math.pi)
    if style == 0:  # beach ball: alternating wedges
        k = int(rng.choice([3, 4]))
        sel = (np.floor((ang / math.pi) * k) % 2).astype(bool)
    elif style == 1:  # tennis-ball seam: a sine band
        ph = rng.uniform(0, 6.3)
        sel = np.abs(ny - 0.45 * np.sin(nx * 3.0 + ph)) < 0.09
    else:  # spots
        sel = np.sin(nx * 9 + ny * 2) * np.sin(ny * 9 - nx * 2) > 0.45
    rgb = np.where(sel[..., None], c2, c1).astype(np.float32)
    lx, ly = rng.uniform(-0.6, 0.6), rng.uniform(-0.8, -0.2)
    lz = math.sqrt(max(0.05, 1 - lx * lx - ly * ly))
    lam = np.clip(nx * lx + ny * ly + nz * lz, 0, 1)
    spec = np.clip(nx * lx + ny * ly + nz * lz, 0, 1) ** 30
    rgb = rgb * (0.25 + 0.75 * lam)[..., None] + 0.6 * spec[..., None]
    return np.clip(rgb, 0, 1), alpha


def crate(rng: np.random.Generator, w: int, h: int) -> Sprite:
    """A wooden (sometimes painted) crate: planks, a dark frame, a diagonal brace, a lit top."""
    hue = rng.uniform(20, 40) if rng.random() < 0.7 else rng.uniform(0, 360)
    color = hsv(hue, rng.uniform(0.45, 0.8), rng.uniform(0.55, 0.9))
    rgb = np.zeros((h, w, 3), np.float32)
    alpha = np.ones((h, w), np.float32)
    top = int(h * rng.uniform(0.12, 0.25)) if rng.random() < 0.6 and h > 16 else 0
    skew = int(w * rng.uniform(0.1, 0.2)) if top else 0
    front_w = w - skew
    face = wood(rng, h - top, front_w, color, vertical=bool(rng.random() < 0.4))
    t = max(2, int(min(front_w, h - top) * rng.uniform(0.07, 0.12)))
    frame = color * 0.55
    face[:t], face[-t:], face[:, :t], face[:, -t:] = frame, frame, frame, frame
    if rng.random() < 0.7:  # diagonal brace
        m = np.zeros(face.shape[:2], np.uint8)
        cv2.line(m, (t, face.shape[0] - t), (front_w - t, t), 255, max(2, t))
        face = np.where(m[..., None] > 0, frame * 1.2, face)
    rgb[top:, :front_w] = face
    if top:  # top face: parallelogram, brighter; side face: darker
        alpha[:] = 0
        alpha[top:, :front_w] = 1
        top_poly = np.array([[0, top], [skew, 0], [w, 0], [front_w, top]], np.int32)
        side_poly = np.array([[front_w, top], [w, 0], [w, h - top], [front_w, h]], np.int32)
        m = np.zeros((h, w), np.uint8)
        cv2.fillPoly(m, [top_poly], 255)
        rgb[m > 0] = np.clip(wood(rng, h, w, color)[m > 0] * 1.25, 0, 1)
        alpha[m > 0] = 1
        m[:] = 0
        cv2.fillPoly(m, [side_poly], 255)
        rgb[m > 0] = wood(rng, h, w, color, vertical=True)[m > 0] * 0.6
        alpha[m > 0] = 1
    return rgb, alpha


def cone(rng: np.random.Generator, w: int, h: int) -> Sprite:
    """A traffic cone: tapered body with reflective bands, cylindrical shading, square base."""
    hue = rng.uniform(5, 45)
    body = hsv(hue, rng.uniform(0.75, 1.0), rng.uniform(0.8, 1.0))
    band = hsv(0, 0.0, rng.uniform(0.85, 1.0))
    base_h = max(2, int(h * rng.uniform(0.08, 0.14)))
    top_w = max(1.0, w * rng.uniform(0.08, 0.2))
    bw = w * rng.uniform(0.7, 0.85)
    m = np.zeros((h, w), np.uint8)
    poly = np.array([[w / 2 - top_w / 2, 0], [w / 2 + top_w / 2, 0],
                     [w / 2 + bw / 2, h - base_h], [w / 2 - bw / 2, h - base_h]])
    cv2.fillPoly(m, [np.round(poly).astype(np.int32)], 255)
    alpha = _smooth_mask(m)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    half = top_w / 2 + (bw - top_w) / 2 * (yy / max(h - base_h, 1))
    u = np.clip((xx + 0.5 - w / 2) / np.maximum(half, 1), -1, 1)
    shade = 0.45 + 0.55 * np.sqrt(np.clip(1 - (u - rng.uniform(-0.4, 0.4)) ** 2, 0, 1))
    rgb = np.broadcast_to(body, (h, w, 3)).copy()
    n_bands = int(rng.integers(1, 3))
    for i in range(n_bands):
        y0 = (0.3 + 0.28 * i) * (h - base_h)
        rgb[int(y0):int(y0 + 0.12 * h)] = band
    rgb *= shade[..., None]
    rgb[h - base_h:] = body * 0.5
    alpha[h - base_h:] = 1.0
    return np.clip(rgb, 0, 1), alpha


def bottle(rng: np.random.Generator, w: int, h: int) -> Sprite:
    """An upright bottle (taller than wide): body, shoulders, neck, cap, label band, glass shine."""
    glass = hsv(rng.choice([120.0, 30.0, 200.0]) + rng.uniform(-15, 15),
                rng.uniform(0.5, 0.9), rng.uniform(0.45, 0.8))
    m = np.zeros((h, w), np.uint8)
    neck_w = max(2, int(w * rng.uniform(0.3, 0.45)))
    neck_h = int(h * rng.uniform(0.22, 0.32))
    sh = int(h * rng.uniform(0.08, 0.14))
    x0 = (w - neck_w) // 2
    cv2.rectangle(m, (x0, 0), (x0 + neck_w - 1, neck_h), 255, -1)
    poly = np.array([[x0, neck_h], [x0 + neck_w - 1, neck_h], [w - 1, neck_h + sh], [w - 1, h - 1],
                     [0, h - 1], [0, neck_h + sh]], np.int32)
    cv2.fillPoly(m, [poly], 255)
    alpha = _smooth_mask(m)
    xx = np.arange(w, dtype=np.float32)[None, :]
    u = (xx + 0.5 - w / 2) / (w / 2)
    shade = 0.55 + 0.45 * np.sqrt(np.clip(1 - u * u, 0, 1))
    rgb = np.broadcast_to(glass, (h, w, 3)) * shade[..., None]
    rgb = np.repeat(rgb, h, axis=0) if rgb.shape[0] == 1 else rgb.copy()
    shine_x = int(w * rng.uniform(0.2, 0.35))
    rgb[:, shine_x:shine_x + max(1, w // 10)] += 0.35
    ly0 = int(h * rng.uniform(0.5, 0.6))
    ly1 = ly0 + int(h * rng.uniform(0.15, 0.25))
    label = hsv(rng.uniform(0, 360), rng.uniform(0.0, 0.8), rng.uniform(0.7, 1.0))
    rgb[ly0:ly1] = label * shade[0][:, None]
    for yl in range(ly0 + 2, ly1 - 1, max(2, (ly1 - ly0) // 4)):  # "text" lines
        rgb[yl, int(w * 0.25):int(w * 0.75)] *= 0.3
    rgb[: max(1, int(h * 0.05))] = hsv(rng.uniform(0, 360), 0.7, 0.8)  # cap
    return np.clip(rgb, 0, 1).astype(np.float32), alpha


def donut(rng: np.random.Generator, w: int, h: int) -> Sprite:
    """A ring doughnut seen from above at an angle: dough, wavy icing, sprinkles, a hole."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    nx = (xx + 0.5 - w / 2) / (w / 2)
    ny = (yy + 0.5 - h / 2) / (h / 2)
    r = np.sqrt(nx * nx + ny * ny)
    hole = rng.uniform(0.28, 0.4)
    edge = min(w, h) / 4.0
    alpha = np.clip((1 - r) * edge, 0, 1) * np.clip((r - hole) * edge, 0, 1)
    dough = hsv(rng.uniform(25, 38), rng.uniform(0.5, 0.75), rng.uniform(0.65, 0.9))
    icing = hsv(*rng.choice(np.array([[330, 0.45, 0.95], [20, 0.7, 0.35], [50, 0.1, 0.97],
                                     [280, 0.4, 0.8]])))
    ang = np.arctan2(ny, nx)
    wav = 0.82 + 0.06 * np.sin(ang * rng.integers(5, 9) + rng.uniform(0, 6))
    iced = (r < wav) & (r > hole + 0.07)
    rgb = np.where(iced[..., None], icing, dough).astype(np.float32)
    shade = 0.6 + 0.4 * np.sin(np.clip((r - hole) / (1 - hole), 0, 1) * math.pi)
    rgb *= shade[..., None]
    for _ in range(int(rng.integers(8, 20))):  # sprinkles
        a, rr = rng.uniform(0, 2 * math.pi), rng.uniform(hole + 0.12, 0.75)
        cx, cy = w / 2 + rr * math.cos(a) * w / 2, h / 2 + rr * math.sin(a) * h / 2
        d = rng.uniform(0, math.pi)
        ln = max(1.0, 0.06 * w)
        p0 = (int(cx - ln * math.cos(d)), int(cy - ln * math.sin(d)))
        p1 = (int(cx + ln * math.cos(d)), int(cy + ln * math.sin(d)))
        cv2.line(rgb, p0, p1, tuple(float(v) for v in hsv(rng.uniform(0, 360), 0.8, 1.0)),
                 max(1, w // 40))
    return np.clip(rgb, 0, 1), alpha.astype(np.float32)


#: class name → (sprite function, range of width/height aspect of the object's extent)
OBJECTS: dict[str, tuple[Callable[[np.random.Generator, int, int], Sprite], tuple[float, float]]] = {
    "ball": (ball, (0.85, 1.2)),
    "crate": (crate, (0.6, 1.8)),
    "cone": (cone, (0.55, 0.8)),
    "bottle": (bottle, (0.36, 0.5)),
    "donut": (donut, (1.0, 1.9)),
}


def render_object(rng: np.random.Generator, name: str, size: float) -> Sprite:
    """Sprite of class ``name`` whose extent's larger side is about ``size`` pixels.

    Bottles and crates are sometimes laid on their side / rotated, so every class shows several
    aspect ratios; the result is cropped tight to its alpha.
    """
    fn, (a0, a1) = OBJECTS[name]
    aspect = math.exp(rng.uniform(math.log(a0), math.log(a1)))
    w, h = (size, size / aspect) if aspect >= 1 else (size * aspect, size)
    w, h = max(4, int(round(w))), max(4, int(round(h)))
    rgb, alpha = fn(rng, w, h)
    angle = 0.0
    if name == "bottle" and rng.random() < 0.25:
        angle = float(rng.choice([90.0, -90.0])) + rng.uniform(-10, 10)
    elif rng.random() < 0.5:
        angle = rng.uniform(-15, 15)
    if abs(angle) > 0.5:
        rgb, alpha = _rotate(rgb, alpha, angle)
    return _tighten(rgb, alpha)


def _rotate(rgb: np.ndarray, alpha: np.ndarray, angle: float) -> Sprite:
    h, w = alpha.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(math.ceil(h * sin + w * cos)), int(math.ceil(h * cos + w * sin))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    rgb = cv2.warpAffine(rgb, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    alpha = cv2.warpAffine(alpha, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0)
    return rgb, alpha
