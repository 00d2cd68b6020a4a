"""Plain records for one image's annotation (no Qt, no torch, no XML).

Records are frozen dataclasses: edits make new records with :func:`dataclasses.replace`, which
keeps undo/redo simple and lets the GUI, the engine and the CLI share them safely. Boxes are float
pixel-edge ``xyxy`` (see :mod:`workbench.core.boxes`).

``raw`` fields carry the XML an annotation or object was read from, so that
:func:`workbench.core.voc.write_annotation` can preserve everything we do not edit (unknown
elements and attributes, ``<part>``, ``<occluded>``, custom tags, original number formatting).
They do not take part in equality.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from workbench.core.boxes import Box

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class ImageSize:
    width: int
    height: int
    depth: int = 3


@dataclass(frozen=True)
class VocObject:
    """One ``<object>``: class name, pixel-edge box and the VOC flags."""

    name: str
    box: Box
    difficult: bool = False
    truncated: bool = False
    pose: str = "Unspecified"
    #: Simple unknown child elements as ``(tag, text)`` pairs, in file order (e.g. ``occluded``).
    extra: tuple[tuple[str, str], ...] = ()
    #: Detector confidence when the object is a detection (``<score>`` in the XML), else None.
    score: float | None = None
    #: True for a box a model suggested and no person has reviewed yet (pre-labeling).
    model_made: bool = False
    raw: bytes | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Annotation:
    """One annotation file: the image it describes and its objects."""

    filename: str
    size: ImageSize | None = None
    objects: tuple[VocObject, ...] = ()
    verified: bool = False
    folder: str = ""
    #: The ``<path>`` text as written by the tool that made the file. Never opened.
    path: str = ""
    database: str = "Unknown"
    segmented: str = "0"
    raw: bytes | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Problem:
    """Something wrong or suspicious found while reading or validating a file."""

    file: str
    object: int | None
    severity: Severity
    message: str

    def to_json(self) -> dict:
        return {"file": self.file, "object": self.object, "severity": self.severity,
                "message": self.message}

    def __str__(self) -> str:
        where = self.file if self.object is None else f"{self.file} (object {self.object})"
        return f"{self.severity}: {where}: {self.message}"
