"""Project validation: counts and every problem, for ``workbench validate`` and the GUI.

API
---
``validate_project(project, *, check_images=True) -> ValidationReport``
    Reads every annotation (and, when ``check_images``, decodes its image through
    :mod:`workbench.core.images`: a truncated image is a warning naming it, an image the
    decoder refuses — unreadable, over ``MAX_PIXELS``, under ``MIN_SIDE`` — an error with the
    message training gives when it leaves the image out) and collects the
    scan problems (orphan XMLs, stem clashes), every read problem (see
    :mod:`workbench.core.voc`), unreadable images without an annotation, duplicate objects
    (same class and box in one file), ``ImageSets/Main`` split files listing ids with no
    image, and — when the project has a class file — names missing from it (a likely typo);
    class names that are not safe file names (:mod:`workbench.core.safepath`), once per name.
``ValidationReport``: ``images``, ``annotated`` (images with an annotation file),
    ``objects``, ``per_class`` (project class order; class-file names with no object count
    0), ``problems``; ``errors`` (count), ``to_json()`` in the CLI's exact shape
    ``{"images", "annotated", "objects", "per_class", "problems": [{"file", "object",
    "severity", "message"}]}``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from workbench.core.annotation import Annotation, Problem
from workbench.core.images import check_image
from workbench.core.project import Project
from workbench.core.safepath import unsafe_reason


@dataclass(frozen=True)
class ValidationReport:
    images: int
    annotated: int
    objects: int
    per_class: dict[str, int] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()

    @property
    def errors(self) -> int:
        return sum(p.severity == "error" for p in self.problems)

    @property
    def warnings(self) -> int:
        return sum(p.severity == "warning" for p in self.problems)

    def to_json(self) -> dict:
        return {
            "images": self.images,
            "annotated": self.annotated,
            "objects": self.objects,
            "per_class": dict(self.per_class),
            "problems": [p.to_json() for p in self.problems],
        }


def _duplicates(ann: Annotation, shown: str | Callable[[], str]) -> list[Problem]:
    if len({(o.name, o.box) for o in ann.objects}) == len(ann.objects):
        return []  # the usual case: one set, no messages
    if callable(shown):
        shown = shown()
    seen: dict[tuple, int] = {}
    out: list[Problem] = []
    for i, o in enumerate(ann.objects):
        key = (o.name, o.box)
        if key in seen:
            out.append(Problem(shown, i, "warning",
                               f"duplicate of object {seen[key]} ({o.name!r}, same box)"))
        else:
            seen[key] = i
    return out


def _split_problems(project: Project) -> list[Problem]:
    """Ids listed in ``ImageSets/Main/{train,val,trainval,test}.txt`` that have no image."""
    ids = {e.image_id for e in project.entries}
    out: list[Problem] = []
    for name, members in project.read_splits().items():
        if "_" in name:  # per-class files (aeroplane_train.txt) repeat the same ids
            continue
        missing = [m for m in members if m not in ids]
        if missing:
            shown = project.display_name(project.imagesets_dir / f"{name}.txt")
            out.append(Problem(shown, None, "warning",
                               f"lists {len(missing)} image ids with no image "
                               f"(first: {', '.join(missing[:3])})"))
    return out


def _image_problems(project: Project, entry, found: list[Problem],  # noqa: ANN001
                    thorough: bool = False) -> list[Problem]:
    """The decoder's verdict on the entry's image (:func:`workbench.core.images.check_image`):
    a truncated file is a warning, a file it refuses an error — with the message training
    gives when it leaves the image out. A header error the annotation reader already reported
    (``image <name>: <reason>``) is not repeated."""
    check = check_image(entry.image_path, thorough=thorough)
    if check.severity == "ok":
        return []
    if check.severity == "error" and any(
            p.severity == "error" and p.object is None and p.message.endswith(check.message)
            for p in found):
        return []
    return [Problem(project.display_name(entry.image_path), None, check.severity, check.message)]


def validate_project(project: Project, *, check_images: bool = True,
                     decode_all: bool = False) -> ValidationReport:
    """Validate every entry of ``project`` (see the module doc). ``decode_all`` decodes every
    image, also the JPEG/PNG files whose end marker shows they are complete (those are judged
    from their header otherwise: :func:`workbench.core.images.check_image`)."""
    problems: list[Problem] = list(project.scan_problems)
    counts: Counter[str] = Counter()
    predefined = project.predefined_classes()
    known = set(predefined)
    unsafe_seen: set[str] = set()
    names_checked: set[str] = set()  # unsafe_reason once per class name
    for entry in project.entries:
        if not entry.has_xml:
            if check_images:
                problems.extend(_image_problems(project, entry, [], decode_all))
            continue
        ann, found = project.load(entry, check_image=check_images)
        problems.extend(found)
        if check_images:
            problems.extend(_image_problems(project, entry, found, decode_all))
        if ann is None:
            continue
        # the file as problems name it (display_name: only when there is something to say)
        shown_later = (lambda e=entry: project.display_name(e.xml_path))  # noqa: E731
        problems.extend(_duplicates(ann, found[0].file if found else shown_later))
        names = [o.name for o in ann.objects]
        counts.update(names)
        if not predefined and names_checked.issuperset(names):
            continue  # nothing per object left to say (the usual case)
        shown = found[0].file if found else shown_later()
        for i, o in enumerate(ann.objects):
            if o.name not in names_checked:
                names_checked.add(o.name)
                if o.name and unsafe_reason(o.name) is not None:
                    unsafe_seen.add(o.name)  # once per class: the first object that uses it
                    problems.append(Problem(shown, i, "warning", f"class {o.name!r} is not a "
                                            f"safe file name: it {unsafe_reason(o.name)}; files "
                                            "named after it (detect --format devkit) escape it "
                                            "as %XX"))
            if predefined and o.name and o.name not in known:
                problems.append(Problem(shown, i, "warning",
                                        f"class {o.name!r} is not in "
                                        f"{getattr(project.class_file, 'name', '')}"))
    problems.extend(_split_problems(project))
    order = predefined + sorted(n for n in counts if n not in known)
    return ValidationReport(
        images=len(project.entries),
        annotated=sum(e.has_xml for e in project.entries),
        objects=sum(counts.values()),
        per_class={n: counts.get(n, 0) for n in order},
        problems=tuple(problems),
    )
