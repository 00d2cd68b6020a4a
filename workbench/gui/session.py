"""The labeling session without Qt: the open project, its entries, the current row, the open
documents and the selection — the state the window's controllers and panels read.

The window owns one :class:`LabelingSession` (``window.session``) and keeps its current project
and row in it (``window.project`` / ``window.show_row`` read and write the session); code that
needs "which image, which project, which document" asks the session instead of the window's
private attributes. No Qt here: the session is testable on its own, and the documents it lists
are whatever the window's store holds (anything with ``get(image_path)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol


class _Store(Protocol):
    def get(self, image_path: Path) -> Any: ...


class LabelingSession:
    """Project, entries (file-dock order), current row, open documents, selection."""

    def __init__(self, documents: _Store | None = None) -> None:
        self.project: Any = None
        self.entries: list[Any] = []
        #: The row shown (-1: none).
        self.row = -1
        #: The open documents by image path (the window's DocumentStore).
        self.documents = documents
        self._by_image: dict[Path, int] | None = None
        self._by_label: dict[Path, list[int]] | None = None

    # -- opening ----------------------------------------------------------------------------
    def open(self, project: Any, entries: Sequence[Any]) -> None:
        """A project was opened: its entries, nothing shown yet. Indexes are built on first
        use (a 100k-image folder must paint first)."""
        self.project = project
        self.entries = list(entries)
        self.row = -1
        self._by_image = self._by_label = None

    # -- the current image ------------------------------------------------------------------
    @property
    def current_entry(self) -> Any:
        return self.entries[self.row] if 0 <= self.row < len(self.entries) else None

    @property
    def current_image(self) -> Path | None:
        entry = self.current_entry
        return _path(entry.image_path) if entry is not None else None

    @property
    def document(self) -> Any:
        """The current image's open document (None when none is shown)."""
        image = self.current_image
        return self.documents.get(image) if image is not None and self.documents else None

    @property
    def selection(self) -> tuple[int, ...]:
        """The selected boxes of the current document (the primary one first)."""
        doc = self.document
        if doc is None or doc.selection < 0:
            return ()
        rest = tuple(i for i in getattr(doc, "group", ()) if i != doc.selection)
        return (doc.selection, *rest)

    # -- lookups ----------------------------------------------------------------------------
    @property
    def rows(self) -> dict[Path, int]:
        """Row of every image path."""
        if self._by_image is None:
            self._by_image = {_path(e.image_path): i for i, e in enumerate(self.entries)}
        return self._by_image

    def row_of(self, image_path: str | Path) -> int | None:
        return self.rows.get(_path(image_path))

    def entry_of(self, image_path: str | Path) -> Any:
        return self.entries[self.rows[_path(image_path)]]

    def rows_of_label(self, label_path: str | Path) -> list[int]:
        """Rows whose annotation lives in ``label_path`` (several for a COCO/CreateML file)."""
        if self._by_label is None:
            index: dict[Path, list[int]] = {}
            for row, entry in enumerate(self.entries):
                index.setdefault(_path(entry.xml_path), []).append(row)
            self._by_label = index
        return self._by_label.get(_path(label_path), [])


def _path(value: str | Path) -> Path:
    return value if isinstance(value, Path) else Path(value)
