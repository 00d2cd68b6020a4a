"""Box editing: every canvas gesture and editing key becomes one undoable command on the
current image's :class:`~workbench.gui.documents.ImageDocument`."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from workbench.core.annotation import VocObject
from workbench.core.boxes import Box
from workbench.gui import commands, dialogs

if TYPE_CHECKING:
    from workbench.gui.main_window import MainWindow

DUPLICATE_OFFSET = 10.0


class EditController:
    """Slots for the canvas signals and the Edit menu."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window
        #: The class chosen last; the class dialog starts with it (Enter repeats it).
        self.last_class: str | None = None

    # -- helpers --------------------------------------------------------------------------
    def _doc(self):  # noqa: ANN202
        return self.w.document

    def _selected(self) -> int:
        doc = self._doc()
        return doc.selection if doc is not None else -1

    def _size(self) -> tuple[float, float]:
        w, h = self.w.canvas.image_size()
        return float(w), float(h)

    def _hint_select(self) -> None:
        if self._doc() is not None:
            self.w.statusBar().showMessage("Select a box first (click it on the image)", 3000)

    def ask_class(self, current: str | None = None, title: str = "Class") -> str | None:
        name = dialogs.choose_class(self.w, self.w.classes.names(), current, title)
        if name:
            self.w.classes.ensure(name)
            self.last_class = name
        return name

    # -- canvas gestures ------------------------------------------------------------------
    def on_box_drawn(self, box: Box) -> None:
        doc = self._doc()
        if doc is None:
            return
        name = self.w.classes.default_class() or self.ask_class(self.last_class,
                                                                "Class of the new box")
        if not name:
            return  # the user cancelled: no box
        self.w.classes.ensure(name)
        obj = VocObject(name=name, box=tuple(map(float, box)))
        doc.edit(commands.add_objects(doc.annotation, [obj]), f"Draw {name}",
                 select_after=len(doc.annotation.objects))
        if not self.w.settings.draw_sticky:
            self.w.canvas.set_mode("select")

    def on_box_edited(self, index: int, box: Box) -> None:
        doc = self._doc()
        if doc is None or not 0 <= index < len(doc.annotation.objects):
            return
        old = doc.annotation.objects[index].box
        same_size = abs((old[2] - old[0]) - (box[2] - box[0])) < 1e-9 and \
            abs((old[3] - old[1]) - (box[3] - box[1])) < 1e-9
        doc.edit(commands.set_box(doc.annotation, index, box),
                 "Move box" if same_size else "Resize box", select_after=index)

    def on_selection_changed(self, index: int) -> None:
        doc = self._doc()
        if doc is not None:
            doc.select(index)
        self.w.on_selection_changed(index)

    # -- Edit menu ------------------------------------------------------------------------
    def delete_selected(self) -> None:
        doc, i = self._doc(), self._selected()
        if doc is None or i < 0:
            return self._hint_select()
        name = doc.annotation.objects[i].name
        doc.edit(commands.remove_objects(doc.annotation, [i]), f"Delete {name}",
                 select_after=min(i, len(doc.annotation.objects) - 2))

    def duplicate_selected(self) -> None:
        doc, i = self._doc(), self._selected()
        if doc is None or i < 0:
            return self._hint_select()
        w, h = self._size()
        obj = doc.annotation.objects[i]
        moved = commands.nudge(commands.add_objects(doc.annotation, [replace(obj, raw=None)]),
                               len(doc.annotation.objects), DUPLICATE_OFFSET, DUPLICATE_OFFSET,
                               w, h)
        doc.edit(moved, f"Duplicate {obj.name}", select_after=len(doc.annotation.objects))

    def copy_previous(self) -> None:
        """Append the boxes of the previous image in the list (LabelImg's Ctrl+V)."""
        doc = self._doc()
        previous = self.w.previous_annotation()
        if doc is None or previous is None or not previous.objects:
            self.w.statusBar().showMessage("The previous image has no boxes to copy", 4000)
            return
        w, h = self._size()
        after = commands.copy_objects_from(doc.annotation, previous.objects, w, h)
        added = len(after.objects) - len(doc.annotation.objects)
        doc.edit(after, f"Copy {added} box(es) from the previous image")
        self.w.statusBar().showMessage(f"Copied {added} box(es) from the previous image", 4000)

    def edit_label(self, index: int | None = None) -> None:
        doc = self._doc()
        i = self._selected() if index is None or index is False else index
        if doc is None or not 0 <= i < len(doc.annotation.objects):
            return self._hint_select()
        current = doc.annotation.objects[i].name
        name = self.ask_class(current, "Change class")
        if name and name != current:
            doc.edit(commands.relabel(doc.annotation, i, name), f"Relabel as {name}",
                     select_after=i)

    def set_class_number(self, number: int) -> None:
        """Keys 1–9: the selected box gets the N-th class; with no selection, the N-th class
        becomes the default class for new boxes."""
        names = self.w.classes.names()
        if not 1 <= number <= len(names):
            self.w.statusBar().showMessage(f"There is no class number {number}", 3000)
            return
        name = names[number - 1]
        doc, i = self._doc(), self._selected()
        if doc is not None and i >= 0:
            if doc.annotation.objects[i].name != name:
                doc.edit(commands.relabel(doc.annotation, i, name), f"Relabel as {name}",
                         select_after=i)
        else:
            self.w.classes.set_default_class(name)
            self.w.statusBar().showMessage(f"New boxes get the class “{name}”", 3000)

    def toggle_difficult(self) -> None:
        doc, i = self._doc(), self._selected()
        if doc is None or i < 0:
            return self._hint_select()
        after = commands.toggle_difficult(doc.annotation, i)
        flag = "difficult" if after.objects[i].difficult else "not difficult"
        doc.edit(after, f"Mark {flag}", select_after=i)

    def toggle_verified(self) -> None:
        doc = self._doc()
        if doc is None:
            return
        verified = not doc.annotation.verified
        doc.edit(replace(doc.annotation, verified=verified),
                 "Mark verified" if verified else "Mark not verified")

    def nudge(self, dx: float, dy: float) -> None:
        doc, i = self._doc(), self._selected()
        if doc is None or i < 0:
            return
        w, h = self._size()
        doc.edit(commands.nudge(doc.annotation, i, dx, dy, w, h), "Nudge box", select_after=i,
                 merge_key=("nudge", str(doc.image_path), i))

    def accept_suggestions(self) -> None:
        doc = self._doc()
        if doc is None:
            return
        doc.edit(commands.accept_suggestions(doc.annotation), "Accept model suggestions")

    def accept_selected(self) -> None:
        """Enter: the selected model suggestion becomes a reviewed box (Del rejects it)."""
        doc, i = self._doc(), self._selected()
        if doc is None or i < 0 or not doc.annotation.objects[i].model_made:
            return
        obj = doc.annotation.objects[i]
        doc.edit(commands.replace_object(doc.annotation, i, replace(obj, model_made=False)),
                 f"Accept {obj.name}", select_after=i)

    def add_objects(self, objects: list[VocObject]) -> None:
        doc = self._doc()
        if doc is None or not objects:
            return
        for obj in objects:
            self.w.classes.ensure(obj.name)
        doc.edit(commands.add_objects(doc.annotation, objects), f"Add {len(objects)} box(es)")
