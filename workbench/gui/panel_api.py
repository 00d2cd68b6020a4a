"""What a panel may use of the labeling window: one typed ``Protocol`` instead of ``window: Any``.

Panels (``workbench/gui/panels/``) are built as ``PanelClass(window)``. They may use the members
below and nothing else of the window — no private attributes, no searching for other panels (to
follow another panel's work, subscribe to an event on :attr:`PanelWindow.hub`, see
:mod:`workbench.gui.hub`). :class:`~workbench.gui.main_window.MainWindow` provides all of them
(checked by ``tests/gui/test_hub.py``); ``tests/gui/test_panel_protocol.py`` builds and drives
every registry panel with a window that has only these members.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    from PySide6.QtCore import SignalInstance
    from PySide6.QtWidgets import QStatusBar

    from workbench.core.annotation import Annotation, VocObject
    from workbench.gui.hub import EventHub
    from workbench.gui.session import LabelingSession


@runtime_checkable
class PanelWindow(Protocol):
    """The window as a panel sees it."""

    #: typed events between panels (TrainingFinished, AnnotationsWritten, …)
    hub: EventHub
    #: project, entries, current row, open documents (Qt-free)
    session: LabelingSession
    #: the canvas view (``canvas.scene()``: image pixel-edge coordinates)
    canvas: Any
    #: open documents (``dirty()``: those with unsaved edits)
    documents: Any
    #: ``image_changed(str)`` after another image is shown; ``annotation_changed()`` after
    #: every edit, undo or redo of the current image; ``project_changed()`` after a folder opens
    image_changed: SignalInstance
    annotation_changed: SignalInstance
    project_changed: SignalInstance

    @property
    def project(self) -> Any: ...  # core Project or None

    def current_image_path(self) -> Path | None: ...

    def current_annotation(self) -> Annotation | None: ...

    def current_image_rgb(self) -> np.ndarray | None: ...

    def add_objects(self, objects: Sequence[VocObject]) -> None: ...

    def show_row(self, row: int) -> bool: ...  # go to image ``row`` (``session.row_of(path)``)

    def statusBar(self) -> QStatusBar: ...  # noqa: N802 (Qt API)


def panel_window_members() -> frozenset[str]:
    """The names a panel may use of the window: :class:`PanelWindow`'s attributes, properties
    and methods (``tests/gui/test_panel_protocol.py`` builds every registry panel with a window
    that has only these)."""
    return frozenset(PanelWindow.__annotations__) | frozenset(
        name for name in vars(PanelWindow) if not name.startswith("_"))
