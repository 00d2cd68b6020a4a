"""The one rule for what the rest of the program uses of an annotation: ``validate``'s verdict.

``validate`` is the contract. What it calls an error is left out everywhere — training's
snapshot, ``eval``'s ground truth (also the Metrics panel's), ``export`` — the same way, and
said once with validate's own message:

* an error about the file as a whole (``Problem.object is None``: the image is refused by the
  decoder — empty, not an image, under 2 px a side, over the pixel limit — or the annotation
  cannot be read) leaves the **image** out, with its objects;
* an error about one object (inverted or zero-area box, box wholly outside the image, no
  ``<name>``) leaves **that object** out; the image and its other objects stay.

Warnings (a box partly outside, a truncated image decoded as viewers show it, …) leave nothing
out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import NamedTuple

from workbench.core.annotation import Annotation, Problem


class Usable(NamedTuple):
    """``annotation``: the objects to use (None: the whole image is left out); ``left_out``:
    the error problems that left something out (validate's messages)."""

    annotation: Annotation | None
    left_out: tuple[Problem, ...]

    @property
    def skipped_objects(self) -> int:
        return len({p.object for p in self.left_out if p.object is not None})


def usable(annotation: Annotation | None, problems: Iterable[Problem]) -> Usable:
    """Apply validate's verdict (see the module doc) to ``annotation`` read with ``problems``."""
    if annotation is not None and isinstance(problems, (list, tuple)) and not problems:
        return Usable(annotation, ())  # the usual file: nothing said, nothing left out
    errors = tuple([p for p in problems if p.severity == "error"])
    if annotation is None or any(p.object is None for p in errors):
        return Usable(None, tuple(p for p in errors if p.object is None) or errors)
    bad = {p.object for p in errors}
    if not bad:
        return Usable(annotation, ())
    keep = tuple(o for i, o in enumerate(annotation.objects) if i not in bad)
    return Usable(dataclasses.replace(annotation, objects=keep), errors)
