"""Pre-labeling: run a detector over a project and write its detections as *suggestions*.

Suggestions are ordinary VOC objects marked model-made (``VocObject.model_made``, kept in the
XML) until a person accepts or edits them. What is touched, per image:

* no annotation file → a new one with the suggestions (none is written when nothing is found:
  an empty file would read as "a person checked this image and found nothing");
* a file holding only unreviewed suggestions → its suggestions are replaced by the new ones;
* a file with objects a person made, or a file with no objects (a person's "nothing here") →
  left alone, unless ``include_annotated``: then its person-made objects are kept as they are
  and only its model-made ones are replaced;
* a file that cannot be read cleanly, or an image in ``skip`` (e.g. open with unsaved edits) →
  never touched.

:func:`prelabel` is a generator of :class:`PrelabelStep` events ending with one
:class:`PrelabelFinished`; it checks ``stop`` (a ``threading.Event``) between images. Every file
is written atomically.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from workbench.core.annotation import Annotation, ImageSize, VocObject
from workbench.core.boxes import clamp_box
from workbench.core.detections import ImageDetections
from workbench.engine.postprocess import PostprocessSettings, apply

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrelabelStep:
    """One image handled. ``action``: "written", "nothing found", or "skipped: <why>";
    ``annotation`` is what was written (None otherwise)."""

    done: int
    total: int
    image: Path
    xml: Path
    action: str
    suggestions: int
    annotation: Annotation | None = None


@dataclass(frozen=True)
class PrelabelFinished:
    total: int
    written: int
    skipped: int
    suggestions: int
    cancelled: bool


def suggestions_from(det: ImageDetections, size: tuple[int, int]) -> tuple[VocObject, ...]:
    """Detections as model-made objects (boxes clamped to the ``(width, height)`` image)."""
    width, height = size
    return tuple(
        VocObject(name=str(label), box=clamp_box(tuple(float(v) for v in box),  # type: ignore[arg-type]
                                                 width, height),
                  score=round(float(score), 4), model_made=True)
        for box, score, label in zip(det.boxes, det.scores, det.labels))


def _existing(project: Any, entry: Any) -> tuple[Annotation | None, str | None]:
    """The entry's current annotation, or a reason not to touch it."""
    xml = Path(entry.xml_path)
    if getattr(entry, "source", None) is not None:  # YOLO, COCO …: a JSON exists for all
        current = project.entry(entry.image_path) if hasattr(project, "entry") else None
        if not (current or entry).has_xml:
            return None, None
    elif not xml.exists():
        return None, None
    try:
        annotation, problems = project.load(entry)
    except Exception as exc:  # noqa: BLE001 - hostile/broken XML: leave the file alone
        return None, f"cannot read {xml.name} ({exc})"
    if annotation is None or any(p.severity == "error" for p in problems):
        return None, f"{xml.name} has errors"
    return annotation, None


def plan_action(annotation: Annotation | None, include_annotated: bool) -> str | None:
    """None to pre-label the image, else why it is skipped."""
    if annotation is None:
        return None
    people = [o for o in annotation.objects if not o.model_made]
    only_suggestions = bool(annotation.objects) and not people
    if only_suggestions or include_annotated:
        return None
    return "has annotations" if people else "annotated as empty"


def prelabel(
    detector: Any,
    project: Any,
    settings: PostprocessSettings | None = None,
    *,
    include_annotated: bool = False,
    skip: Collection[Path] = (),
    stop: threading.Event | None = None,
) -> Iterator[PrelabelStep | PrelabelFinished]:
    """Pre-label ``project`` (a :class:`workbench.core.project.Project`) with ``detector`` (a
    :class:`workbench.engine.inference.RawDetector`); see the module doc for what is touched."""
    from workbench.core.voc import write_annotation

    settings = settings or detector.settings
    entries = list(project.entries)
    skip_set = {Path(p).resolve() for p in skip}
    written = skipped = total_suggestions = 0
    cancelled = False
    for done, entry in enumerate(entries, start=1):
        if stop is not None and stop.is_set():
            cancelled = True
            break
        image, xml = Path(entry.image_path), Path(entry.xml_path)
        if image.resolve() in skip_set:
            reason: str | None = "open with unsaved edits"
            annotation = None
        else:
            annotation, reason = _existing(project, entry)
            reason = reason or plan_action(annotation, include_annotated)
        if reason is not None:
            skipped += 1
            yield PrelabelStep(done, len(entries), image, xml, f"skipped: {reason}", 0)
            continue
        try:
            raw = detector.raw(image)
        except ValueError as exc:  # unreadable image: report, go on
            skipped += 1
            yield PrelabelStep(done, len(entries), image, xml, f"skipped: {exc}", 0)
            continue
        size = raw.image_size
        suggestions = suggestions_from(apply(raw, settings, detector.classes, image.stem), size)
        if annotation is None:
            if not suggestions:
                yield PrelabelStep(done, len(entries), image, xml, "nothing found", 0)
                continue
            new = Annotation(filename=image.name, size=ImageSize(size[0], size[1], 3),
                             objects=suggestions, folder=image.parent.name, path=str(image))
        else:
            people = tuple(o for o in annotation.objects if not o.model_made)
            # Nothing new: leave the file (never turn old suggestions into an empty annotation).
            if not suggestions and (not people or len(people) == len(annotation.objects)):
                yield PrelabelStep(done, len(entries), image, xml, "nothing found", 0)
                continue
            new = replace(annotation, objects=people + suggestions)
        if hasattr(project, "save"):  # keeps the project's entry (has_xml) and classes current
            new = project.save(entry, new)
        else:
            xml.parent.mkdir(parents=True, exist_ok=True)
            write_annotation(new, xml)
        written += 1
        total_suggestions += len(suggestions)
        yield PrelabelStep(done, len(entries), image, xml, "written", len(suggestions), new)
    log.info("pre-labeled %d of %d images (%d suggestions, %d skipped%s)", written, len(entries),
             total_suggestions, skipped, ", cancelled" if cancelled else "")
    yield PrelabelFinished(len(entries), written, skipped, total_suggestions, cancelled)
