"""Suggestions carried across frames: "Keep previous boxes" and propagated boxes.

Both reuse the pre-labeling mechanism: a suggestion is an ordinary box marked model-made
(``VocObject.model_made``; dashed on the canvas, "Model suggestions" in the file list), accepted
with Enter (the selected ones) or Ctrl+Shift+A (all of the image), rejected with Del.

They differ from pre-labeling in one point: nothing is written until a person acts. The
suggestions are added to the image's document as one undoable edit that is then marked
*clean* — a clean document is never written — so moving on without touching them leaves the
file as it was (no file at all for a new frame). Accepting, moving or relabeling one is an
edit like any other and is saved as usual (the boxes still unreviewed are then saved with their
model-made mark, as pre-labeled ones are).

* **Keep previous boxes** (Edit menu, checkable): when an image with no boxes is shown, the
  boxes of the image before it in the list (for frames: the previous frame) are offered. An
  image gets the offer once per session.
* **Propagated boxes** (:mod:`workbench.gui.video_propagate`): per image, the boxes a tracker
  carried there, with the tracker's confidence as their score; offered when that image is shown
  (or at once when it is the current one).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from workbench.core.annotation import VocObject
from workbench.core.boxes import clamp_box
from workbench.core.wording import count
from workbench.gui import commands

if TYPE_CHECKING:
    from workbench.gui.main_window import MainWindow

log = logging.getLogger(__name__)


class FrameSuggestions(QObject):
    """One per window (:meth:`of`): keep-previous mode and pending propagated boxes."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.setObjectName("frame_suggestions")
        self.window = window
        self.keep_previous = False
        #: image path -> model-made boxes waiting to be offered when it is shown
        self.pending: dict[Path, list[VocObject]] = {}
        self._offered: set[Path] = set()  # images keep-previous has already offered boxes to
        window.image_changed.connect(self._on_image_changed)
        window.project_changed.connect(self._on_project_changed)

    @classmethod
    def of(cls, window: MainWindow) -> FrameSuggestions:
        found = window.findChild(FrameSuggestions, "frame_suggestions")
        return found if found is not None else cls(window)

    def set_keep_previous(self, on: bool) -> None:
        self.keep_previous = bool(on)
        if on:  # the image in front may already be an empty frame
            self._on_image_changed(None)

    def _on_project_changed(self) -> None:
        self.pending.clear()
        self._offered.clear()

    def _on_image_changed(self, _path: object) -> None:
        doc = self.window.document
        if doc is None:
            return
        pending = self.pending.pop(doc.image_path, None)
        if pending:
            self.offer(pending, "propagated")
        if not self.keep_previous or doc.image_path in self._offered:
            return
        if doc.annotation.objects or doc.dirty:
            return
        previous = self.window.previous_annotation()
        if previous is None or not previous.objects:
            return
        self._offered.add(doc.image_path)
        objects = [replace(o, model_made=True, raw=None, score=None) for o in previous.objects]
        self.offer(objects, "kept from the previous image")

    def offer(self, objects: Sequence[VocObject], why: str) -> int:
        """Add ``objects`` to the current image as model-made suggestions without making it
        unsaved (see the module docstring); returns how many were added."""
        doc = self.window.document
        if doc is None or not objects:
            return 0
        w, h = self.window.canvas.image_size()
        have = {(o.name, o.box) for o in doc.annotation.objects}
        new = []
        for obj in objects:
            box = clamp_box(obj.box, float(w), float(h)) if w and h else obj.box
            if box[2] - box[0] < 1 or box[3] - box[1] < 1 or (obj.name, box) in have:
                continue
            new.append(replace(obj, box=box, model_made=True, raw=None))
        if not new:
            return 0
        for obj in new:
            self.window.classes.ensure(obj.name)
        was_clean = not doc.dirty
        doc.edit(commands.add_objects(doc.annotation, new),
                 f"Suggest {count(len(new), 'box')} ({why})")
        if was_clean:
            doc.stack.setClean()  # a suggestion alone is not an edit to save
        self.window.statusBar().showMessage(
            f"{count(len(new), 'suggestion')} {why}: Enter accepts the selected, "
            "Ctrl+Shift+A all of them, Del rejects", 8000)
        return len(new)

    def add_pending(self, suggestions: dict[Path, list[VocObject]]) -> None:
        """Boxes for other images, offered when each is shown (replacing older pending ones);
        the current image's at once."""
        for path, objects in suggestions.items():
            self.pending[Path(path)] = list(objects)
        if self.window.document is not None and self.window.document.image_path in suggestions:
            self._on_image_changed(None)
