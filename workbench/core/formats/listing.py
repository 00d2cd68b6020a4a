"""One walk over a dataset folder: images and candidate label files, in natural order.

``list_folder(root) -> Listing`` walks ``root`` recursively (hidden folders skipped) once and
sorts what it finds by kind; every format scanner and :func:`detect_format` work from it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.imageinfo import IMAGE_EXTENSIONS


_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple:
    """Sort key putting ``img2`` before ``img10`` (case-insensitive)."""
    parts = _DIGITS.split(text.lower())  # digit runs at the odd places (lower() keeps them)
    parts[1::2] = map(int, parts[1::2])
    return tuple(parts)


@dataclass
class Listing:
    root: Path
    images: list[Path] = field(default_factory=list)
    xml: list[Path] = field(default_factory=list)
    txt: list[Path] = field(default_factory=list)
    json: list[Path] = field(default_factory=list)
    yaml: list[Path] = field(default_factory=list)

    def rel(self, path: Path) -> str:
        """``path`` relative to the root, posix (the path itself when outside)."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


_IMAGES = os.sep + "images" + os.sep
_LABELS = os.sep + "labels" + os.sep
_JPEGIMAGES = os.sep + "JPEGImages" + os.sep


def label_candidates(image: str, root: str, suffix: str = ".txt") -> tuple[str, str | None]:
    """``(beside, mirrored)`` label paths of the image path string ``image``: ``dir/stem.txt``
    and, when the path below ``root`` has an ``images`` folder, the same path with its last
    ``images`` replaced by ``labels`` (Ultralytics' ``img2label_paths`` rule; darknet's
    ``JPEGImages`` → ``labels`` when there is no ``images`` folder). Strings, not
    ``Path``s: this runs once per image."""
    dot = image.rfind(".")
    base = image[:dot] if dot > image.rfind(os.sep) else image
    for marker in (_IMAGES, _JPEGIMAGES):  # Ultralytics; darknet's voc_label.py layout
        i = base.rfind(marker)
        if i >= len(root) - 1:
            return base + suffix, base[:i] + _LABELS + base[i + len(marker):] + suffix
    return base + suffix, None


def stem_key(path: str) -> str:
    """``path`` without its suffix (``dir/stem``)."""
    dot = path.rfind(".")
    return path[:dot] if dot > path.rfind(os.sep) else path


def list_folder(root: Path) -> Listing:
    """Walk ``root`` once (see the module doc)."""
    out = Listing(root)
    kinds = {".xml": out.xml, ".txt": out.txt, ".json": out.json, ".yaml": out.yaml,
             ".yml": out.yaml, ".names": out.txt}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted((d for d in dirnames if not d.startswith(".")), key=natural_key)
        folder = Path(dirpath)
        # pathlib's child constructor where it has one (no re-parsing of f: 10^5 files)
        child = getattr(folder, "_make_child_relpath", folder.joinpath)
        for f in sorted(filenames, key=natural_key):
            dot = f.rfind(".")
            if dot < 0:
                continue
            ext = f[dot:].lower()
            if ext in IMAGE_EXTENSIONS:
                out.images.append(child(f))
            else:
                bucket = kinds.get(ext)
                if bucket is not None:
                    bucket.append(child(f))
    return out
