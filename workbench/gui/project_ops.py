"""The window's use of the core project API (:mod:`workbench.core.project`), in one place.

Plain Python over :mod:`workbench.core` (no widgets): testable without a window, and the main
window stays short.

Nothing here imports :mod:`workbench.core.project` (its readers pull in lxml) before a
project is opened: the window's module is imported before its first paint (issue 14), the
project is opened after it (``workbench.gui.opening``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.annotation import Annotation, Problem

if TYPE_CHECKING:
    from workbench.core.project import Entry, Project

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """An annotation as read for editing. ``read_failed``: the file exists but could not be read
    completely (error-level problems), so it must not be overwritten without confirmation."""

    annotation: Annotation | None
    problems: list[Problem]
    existed: bool
    read_failed: bool


#: ``workbench gui DIR --format FMT``: the folder opened in that format instead of detecting.
_FORMAT_OVERRIDES: dict[Path, str] = {}


def set_format_override(images_dir: Path, fmt: str | None) -> None:
    key = Path(images_dir).expanduser().resolve()
    if fmt is None:
        _FORMAT_OVERRIDES.pop(key, None)
    else:
        _FORMAT_OVERRIDES[key] = fmt


def open_project(images_dir: Path, annotations_dir: Path | None = None, *,
                 stop: Callable[[], bool] | None = None) -> Project:
    """Scan the folder (``Project.open``; ``stop``: polled during the walk, then
    :class:`~workbench.core.project.OpenCancelled` is raised)."""
    from workbench.core.project import Project

    fmt = _FORMAT_OVERRIDES.get(Path(images_dir).expanduser().resolve())
    return Project.open(Path(images_dir), Path(annotations_dir) if annotations_dir else None,
                        format=fmt, stop=stop)


def entries(project: Project) -> list[Entry]:
    return list(project.entries)


def image_path(entry: Entry) -> Path:
    path = entry.image_path  # Path(a Path) parses it again: a third of the state scan at 10^5
    return path if isinstance(path, Path) else Path(path)


def xml_path(entry: Entry) -> Path:
    path = entry.xml_path
    return path if isinstance(path, Path) else Path(path)


def load(project: Project, entry: Entry) -> Loaded:
    """Read ``entry``'s XML (if any) without clamping; bad files are reported, never raised."""
    path = xml_path(entry)
    if getattr(entry, "source", None) is not None:  # YOLO, COCO, …: the project knows
        entry = project.entry(entry.image_path) or entry  # (a JSON exists for unlabeled images)
        if not entry.has_xml:
            return Loaded(None, [], existed=False, read_failed=False)
    elif not path.exists():
        return Loaded(None, [], existed=False, read_failed=False)
    if not entry.has_xml:  # written during this session: the entry snapshot predates it
        entry = dataclasses.replace(entry, has_xml=True)
    try:
        annotation, problems = project.load(entry)
    except Exception as exc:  # defensive: a reader bug must not take the window down
        log.exception("cannot read %s", path)
        return Loaded(None, [Problem(str(path), None, "error", str(exc))], existed=True,
                      read_failed=True)
    problems = list(problems)
    failed = annotation is None or any(p.severity == "error" for p in problems)
    return Loaded(annotation, problems, existed=True, read_failed=failed)


def new_annotation(project: Project, entry: Entry) -> Annotation:
    return project.new_annotation(entry)


def save(project: Project, entry: Entry, annotation: Annotation) -> Annotation:
    """Atomic write through the project (keeps its entries and class cache current)."""
    current = project.entry(entry.image_path) or entry
    return project.save(current, annotation)


def predefined_classes(project: Project) -> list[str]:
    """The names in the project's class file (empty when there is none)."""
    return list(project.predefined_classes())


def save_class_names(project: Project, names: list[str]) -> Path:
    """Write the project's classes file (one name per line, atomically)."""
    return project.write_class_list(names)


def rename_class(project: Project, old: str, new: str) -> int:
    """Rename in every annotation and the class file, all-or-nothing; files changed."""
    return project.rename_class(old, new)
