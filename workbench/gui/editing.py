"""Box editing: every canvas gesture and editing key becomes one undoable command on the
current image's :class:`~workbench.gui.documents.ImageDocument`."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, QRectF

from workbench.core.annotation import VocObject
from workbench.core.boxes import Box
from workbench.core.wording import count
from workbench.gui import commands
from workbench.gui.canvas.tools import group_delta

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

    def ask_class(self, current: str | None = None, title: str = "Class",
                  beside: Box | None = None) -> str | None:
        """The class dialog; ``beside``: a box (image px) the dialog opens next to."""
        from workbench.gui import dialogs  # (imported when used: start-up)

        extra = {"anchor": self._screen_rect(beside)} if beside is not None else {}
        name = dialogs.choose_class(self.w, self.w.classes.names(), current, title, **extra)
        if name:
            self.w.classes.ensure(name)
            self.last_class = name
        return name

    def _screen_rect(self, box: Box) -> QRect:
        """``box`` (image px) in global screen pixels, as the canvas shows it now."""
        view = self.w.canvas
        x1, y1, x2, y2 = box
        rect = view.mapFromScene(QRectF(x1, y1, x2 - x1, y2 - y1)).boundingRect()
        return QRect(view.viewport().mapToGlobal(rect.topLeft()), rect.size())

    # -- canvas gestures ------------------------------------------------------------------
    def on_box_drawn(self, box: Box) -> None:
        """A new box: its class is the default class, else asked in the class dialog, which
        opens beside the box while the canvas keeps showing it (its rubber band, not a box yet)."""
        doc = self._doc()
        if doc is None:
            return
        name = self.w.classes.default_class() or self.ask_class(self.last_class,
                                                                "Class of the new box", box)
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
            doc.select(index, self.w.canvas.selection())
        self.w.on_selection_changed(index)
        n = len(self.w.canvas.selection())
        if n > 1:
            self.w.statusBar().showMessage(
                f"{n} boxes selected: Del, Ctrl+D, Ctrl+E, 1–9, F, Enter, the arrows and a drag "
                "act on all of them", 5000)

    def on_boxes_moved(self, indices: tuple[int, ...], dx: float, dy: float) -> None:
        """A dragged group of selected boxes (the canvas kept it on the image)."""
        doc = self._doc()
        if doc is None or not indices or max(indices) >= len(doc.annotation.objects):
            return
        self._move(indices, dx, dy, f"Move {len(indices)} boxes")

    def _move(self, sel: tuple[int, ...], dx: float, dy: float, text: str,
              merge_key: object = None) -> None:
        """Shift boxes ``sel`` together, stopped as one at the image border."""
        doc, (w, h) = self._doc(), self._size()
        import numpy as np  # not at module level: the first paint needs no numpy (issue 14)
        boxes = np.asarray([doc.annotation.objects[i].box for i in sel], dtype=np.float64)
        dx, dy = group_delta(boxes, dx, dy, w, h)
        after = doc.annotation
        for i in sel:
            after = commands.nudge(after, i, dx, dy, w, h)
        self._edit_keeping_selection(after, text, sel, merge_key=merge_key)

    # -- the selection ----------------------------------------------------------------------
    def _selection(self) -> tuple[int, ...]:
        """The selected boxes (Ctrl+click and Ctrl+A select several), in index order."""
        doc = self._doc()
        if doc is None:
            return ()
        n = len(doc.annotation.objects)
        return tuple(i for i in self.w.canvas.selection() if i < n)

    def _edit_keeping_selection(self, after, text: str, selection: tuple[int, ...],  # noqa: ANN001
                                **kw: object) -> None:
        """One undoable edit that keeps every box where it is; the same boxes stay selected."""
        doc, primary = self._doc(), self._selected()
        primary = primary if primary in selection else selection[-1]
        doc.edit(after, text, select_after=primary, group_after=selection, **kw)

    @staticmethod
    def _what(names: list[str]) -> str:
        return names[0] if len(names) == 1 else f"{len(names)} boxes"

    def select_all(self) -> None:
        """Ctrl+A: every box of the image."""
        if self._doc() is not None:
            self.w.canvas.select_all()

    # -- Edit menu ------------------------------------------------------------------------
    def delete_selected(self) -> None:
        doc, sel = self._doc(), self._selection()
        if doc is None or not sel:
            return self._hint_select()
        what = self._what([doc.annotation.objects[i].name for i in sel])
        # Nothing is selected afterwards: selecting the next box made a second Del delete a
        # box the user had not chosen.
        doc.edit(commands.remove_objects(doc.annotation, sel), f"Delete {what}",
                 select_after=-1)

    def duplicate_selected(self) -> None:
        doc, sel = self._doc(), self._selection()
        if doc is None or not sel:
            return self._hint_select()
        w, h = self._size()
        objects = [doc.annotation.objects[i] for i in sel]
        first = len(doc.annotation.objects)
        after = commands.add_objects(doc.annotation, [replace(o, raw=None) for o in objects])
        for k in range(len(objects)):
            after = commands.nudge(after, first + k, DUPLICATE_OFFSET, DUPLICATE_OFFSET, w, h)
        copies = tuple(range(first, first + len(objects)))
        doc.edit(after, f"Duplicate {self._what([o.name for o in objects])}",
                 select_after=copies[-1], group_after=copies)  # the copies, ready to drag

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
        doc.edit(after, f"Copy {count(added, 'box')} from the previous image")
        self.w.statusBar().showMessage(f"Copied {count(added, 'box')} from the previous image",
                                       4000)

    def edit_label(self, index: int | None = None) -> None:
        """Ctrl+E: the class of the selected boxes; a double click (``index``): of that box."""
        doc = self._doc()
        if doc is None:
            return
        explicit = not (index is None or index is False)
        sel = (index,) if explicit else self._selection()
        if not sel or not all(0 <= i < len(doc.annotation.objects) for i in sel):
            return self._hint_select()
        primary = self._selected() if not explicit and self._selected() in sel else sel[-1]
        current = doc.annotation.objects[primary].name
        name = self.ask_class(current, "Change class")
        if name:
            self._relabel(sel, name)

    def _relabel(self, sel: tuple[int, ...], name: str) -> None:
        doc = self._doc()
        change = [i for i in sel if doc.annotation.objects[i].name != name]
        if not change:
            return
        after = doc.annotation
        for i in change:
            after = commands.relabel(after, i, name)
        what = "" if len(change) == 1 else f"{len(change)} boxes "
        self._edit_keeping_selection(after, f"Relabel {what}as {name}", sel)

    def set_class_number(self, number: int) -> None:
        """Keys 1–9: the selected boxes get the N-th class; with no selection, the N-th class
        becomes the default class for new boxes."""
        names = self.w.classes.names()
        if not 1 <= number <= len(names):
            self.w.statusBar().showMessage(f"There is no class number {number}", 3000)
            return
        name = names[number - 1]
        sel = self._selection()
        if sel:
            self._relabel(sel, name)
        else:
            self.w.classes.set_default_class(name)
            self.w.statusBar().showMessage(f"New boxes get the class “{name}”", 3000)

    def toggle_difficult(self) -> None:
        """F: one box flips; of several, all become difficult unless all were already."""
        doc, sel = self._doc(), self._selection()
        if doc is None or not sel:
            return self._hint_select()
        objects = doc.annotation.objects
        value = not all(objects[i].difficult for i in sel)
        after = doc.annotation
        for i in sel:
            if objects[i].difficult != value:
                after = commands.toggle_difficult(after, i)
        flag = "difficult" if value else "not difficult"
        what = "" if len(sel) == 1 else f"{len(sel)} boxes "
        self._edit_keeping_selection(after, f"Mark {what}{flag}", sel)

    def toggle_verified(self) -> None:
        doc = self._doc()
        if doc is None:
            return
        verified = not doc.annotation.verified
        doc.edit(replace(doc.annotation, verified=verified),
                 "Mark verified" if verified else "Mark not verified")

    def nudge(self, dx: float, dy: float) -> None:
        """Arrow keys: the selected boxes move together, stopped where the first meets the
        image border (their arrangement is kept)."""
        doc, sel = self._doc(), self._selection()
        if doc is None or not sel:
            return
        self._move(sel, dx, dy, "Nudge box" if len(sel) == 1 else f"Nudge {len(sel)} boxes",
                   merge_key=("nudge", str(doc.image_path), sel))

    def accept_suggestions(self) -> None:
        doc = self._doc()
        if doc is None:
            return
        doc.edit(commands.accept_suggestions(doc.annotation), "Accept model suggestions")

    def accept_selected(self) -> None:
        """Enter: the selected model suggestions become reviewed boxes (Del rejects them)."""
        doc, sel = self._doc(), self._selection()
        if doc is None:
            return
        made = [i for i in sel if doc.annotation.objects[i].model_made]
        if not made:
            return
        after = doc.annotation
        for i in made:
            after = commands.replace_object(after, i, replace(after.objects[i], model_made=False))
        what = self._what([doc.annotation.objects[i].name for i in made])
        self._edit_keeping_selection(after, f"Accept {what}", sel)

    def add_objects(self, objects: list[VocObject]) -> None:
        doc = self._doc()
        if doc is None or not objects:
            return
        for obj in objects:
            self.w.classes.ensure(obj.name)
        doc.edit(commands.add_objects(doc.annotation, objects),
                 f"Add {count(len(objects), 'box')}")
