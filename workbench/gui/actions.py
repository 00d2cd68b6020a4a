"""Every menu item, toolbar button and key of the labeling window, in one table.

Keys follow LabelImg where they make sense (W, A/D, Ctrl+S, Space, Del, Ctrl+D, Ctrl+E, Ctrl+U,
Ctrl+R, Ctrl+V) and no key is bound to two actions (:func:`shortcut_conflicts` checks, a test
asserts it). Space is delivered by the canvas (a tap = verified, a hold = pan) and by the window
shortcut when another widget has focus — one action either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QSizePolicy, QToolBar, QToolButton, QWidget

from workbench.gui import assets

if TYPE_CHECKING:
    from workbench.gui.main_window import MainWindow

#: Keys handled inside the canvas rather than by actions (for the shortcut sheet).
CANVAS_KEYS: list[tuple[str, str]] = [
    ("←/→/↑/↓", "Nudge the selected boxes 1 px (Shift: 10 px)"),
    ("Ctrl+click", "Add a box to the selection, or take it out; drag one to move them all"),
    ("Drag from empty space", "Select the boxes inside the band (Ctrl: add them)"),
    ("Esc", "Cancel the drag / leave draw mode / deselect"),
    ("Space + drag", "Pan (as does the middle mouse button)"),
    ("Wheel", "Zoom around the cursor"),
    ("Double click", "Change the class of a box"),
]


@dataclass
class Actions:
    by_name: dict[str, QAction] = field(default_factory=dict)
    menus: dict[str, QMenu] = field(default_factory=dict)
    toolbar: QToolBar | None = None

    def __getattr__(self, name: str) -> QAction:
        try:
            return self.__dict__["by_name"][name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    @property
    def panels_menu(self) -> QMenu:
        return self.menus["panels"]


def _make(window: MainWindow, acts: Actions, name: str, text: str, slot: Callable[..., object],
          keys: str | list[str] | QKeySequence.StandardKey | None = None, icon: str | None = None,
          tip: str = "", checkable: bool = False) -> QAction:
    action = QAction(text, window)
    action.setObjectName(name)
    if icon:
        action.setIcon(assets.icon(icon))
    if keys is not None:
        if isinstance(keys, list):
            action.setShortcuts([QKeySequence(k) for k in keys])
        else:
            action.setShortcut(QKeySequence(keys))
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{tip or text.replace('&', '')}" + (f"  ({shortcut})" if shortcut else ""))
    action.setCheckable(checkable)
    if checkable:
        action.toggled.connect(slot)
    else:
        action.triggered.connect(lambda _checked=False: slot())
    window.addAction(action)  # shortcuts work even when menus/toolbar are hidden
    acts.by_name[name] = action
    return action


def build_actions(window: MainWindow) -> Actions:
    """Create actions, menus and the toolbar of ``window``."""
    w, ed, sv = window, window.editor, window.saver
    a = Actions()
    m = lambda *args, **kw: _make(w, a, *args, **kw)  # noqa: E731

    # File
    m("open_folder", "&Open Folder…", w.open_folder_dialog, "Ctrl+U", "open-folder",
      "Open a folder of images")
    m("open_video", "Open &Video…", lambda: _video("video_open", "open_video", w), None,
      "open-folder", "Extract frames of a video into a folder and open it as the project")
    m("change_save_dir", "Change &Annotation Folder…", w.change_annotation_dir_dialog, "Ctrl+R",
      "save-dir", "Read and write the XML files in another folder")
    m("export", "&Export Dataset…", w.export_dataset, "Ctrl+Shift+E", "export",
      "Export the project as PASCAL VOC2007, COCO JSON or YOLO txt")
    m("import_dataset", "&Import Dataset…", lambda: _import_dataset(w), None, "open-folder",
      "Convert a YOLO, COCO, CreateML or labelme dataset to a PASCAL VOC folder")
    m("save", "&Save", sv.save_current, "Ctrl+S", "save", "Save this image's boxes")
    autosave = m("autosave", "Auto&save", sv.set_autosave, None, None,
                 "Save automatically after each edit and when leaving an image", checkable=True)
    autosave.blockSignals(True)
    autosave.setChecked(w.settings.autosave)
    autosave.blockSignals(False)
    m("quit", "&Quit", w.close, "Ctrl+Q", "quit")

    # Edit
    undo = w.documents.undo_group.createUndoAction(w, "&Undo")
    undo.setShortcut(QKeySequence("Ctrl+Z"))
    undo.setIcon(assets.icon("undo"))
    redo = w.documents.undo_group.createRedoAction(w, "&Redo")
    redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    redo.setIcon(assets.icon("redo"))
    for name, action in (("undo", undo), ("redo", redo)):
        action.setObjectName(name)
        w.addAction(action)
        a.by_name[name] = action
    modes = QActionGroup(w)
    select = m("select_mode", "&Select and Edit", lambda on: on and w.canvas.set_mode("select"),
               None, "select", "Select, move and resize boxes (Esc)", checkable=True)
    draw = m("draw_mode", "&Draw Boxes", lambda on: on and w.canvas.set_mode("draw"), "W",
             "draw", "Draw a new box by dragging", checkable=True)
    for action in (select, draw):
        modes.addAction(action)
    select.setChecked(True)
    sticky = m("draw_sticky", "Stay in Draw Mode", _set_sticky(w), None, None,
               "Keep drawing after each box", checkable=True)
    sticky.blockSignals(True)
    sticky.setChecked(w.settings.draw_sticky)
    sticky.blockSignals(False)
    m("select_all", "Select &All Boxes", ed.select_all, "Ctrl+A", None,
      "Select every box of this image (Ctrl+click adds a box or takes it out)")
    m("delete", "&Delete Selected Boxes", ed.delete_selected, "Del", "delete",
      "Delete the selected boxes")
    m("duplicate", "D&uplicate Selected Boxes", ed.duplicate_selected, "Ctrl+D", "duplicate",
      "Duplicate the selected boxes, 10 px lower right")
    m("copy_previous", "&Copy Boxes of Previous Image", ed.copy_previous, "Ctrl+V", "copy-prev")
    m("keep_previous", "&Keep Previous Boxes", lambda on: _video(
        "video_suggest", "FrameSuggestions", w).of(w).set_keep_previous(on), None, None,
      "An image without boxes starts with the previous image's boxes as suggestions",
      checkable=True)
    m("propagate", "&Propagate Boxes…", lambda: _video("video_propagate", "start_propagation",
                                                        w), None, None,
      "Track this image's boxes through the next images (video frames) as suggestions")
    m("edit_label", "Change &Class…", ed.edit_label, "Ctrl+E", "edit-label")
    m("difficult", "Toggle &Difficult", ed.toggle_difficult, "F", "difficult",
      "Mark the selected boxes difficult (VOC: excluded from recall)")
    m("verified", "Mark Image &Verified", ed.toggle_verified, "Space", "verified")
    m("accept", "&Accept Model Suggestions", ed.accept_suggestions, "Ctrl+Shift+A", "accept",
      "Mark every model-made box of this image as reviewed")
    m("accept_one", "Accept Selected Suggestions", ed.accept_selected, ["Return", "Enter"],
      None, "Mark the selected model-made boxes as reviewed (Del rejects them)")
    for n in range(1, 10):
        m(f"class_{n}", f"Class {n}", lambda n=n: ed.set_class_number(n), str(n))

    # View
    m("zoom_in", "Zoom &In", w.canvas.zoom_in, ["Ctrl++", "Ctrl+Shift+="], "zoom-in")
    m("zoom_out", "Zoom &Out", w.canvas.zoom_out, "Ctrl+-", "zoom-out")
    m("fit", "&Fit Window", w.canvas.fit, "Ctrl+F", "fit")
    m("actual_size", "&Actual Size (100 %)", w.canvas.actual_size, "Ctrl+=", "actual-size")
    show_boxes = m("show_boxes", "Show &Boxes", w.canvas.annotation_item().setVisible, "Ctrl+H",
                   None, "Hide the boxes to look at the image under them", checkable=True)
    show_boxes.blockSignals(True)
    show_boxes.setChecked(True)
    show_boxes.blockSignals(False)

    # Go
    m("prev", "&Previous Image", w.prev_image, "A", "prev")
    m("next", "&Next Image", w.next_image, "D", "next")
    m("next_unlabeled", "Next &Unlabeled Image", w.next_unlabeled, "Ctrl+N", "next-unlabeled")

    # Help
    m("shortcuts", "&Keyboard Shortcuts", w.show_shortcuts, "F1", "keyboard")
    m("about", "&About Detection Workbench", w.show_about)

    _build_menus(w, a)
    _build_toolbar(w, a)
    return a


def _import_dataset(window: MainWindow) -> None:
    from workbench.gui.importing import import_dataset

    import_dataset(window)


def _video(module: str, name: str, window: MainWindow) -> object:
    """``workbench.gui.<module>.<name>``, called with ``window`` when it is a function (the
    video modules import OpenCV: loaded when first used)."""
    import importlib

    member = getattr(importlib.import_module(f"workbench.gui.{module}"), name)
    return member if isinstance(member, type) else member(window)


def _set_sticky(window: MainWindow) -> Callable[[bool], None]:
    def apply(on: bool) -> None:
        window.settings.draw_sticky = on
    return apply


def _build_menus(w: MainWindow, a: Actions) -> None:
    bar = w.menuBar()
    file = bar.addMenu("&File")
    file.addActions([a.open_folder, a.open_video, a.change_save_dir])
    a.menus["recent"] = file.addMenu("Open &Recent")
    file.addSeparator()
    file.addActions([a.save, a.autosave])
    file.addSeparator()
    file.addActions([a.import_dataset, a.export])
    file.addSeparator()
    file.addAction(a.quit)
    edit = bar.addMenu("&Edit")
    edit.addActions([a.undo, a.redo])
    edit.addSeparator()
    edit.addActions([a.select_mode, a.draw_mode, a.draw_sticky, a.select_all])
    edit.addSeparator()
    edit.addActions([a.edit_label, a.difficult, a.duplicate, a.delete, a.copy_previous,
                     a.keep_previous, a.propagate])
    classes = edit.addMenu("Set Class")
    classes.addActions([a.by_name[f"class_{n}"] for n in range(1, 10)])
    edit.addSeparator()
    edit.addActions([a.verified, a.accept_one, a.accept])
    view = bar.addMenu("&View")
    view.addActions([a.zoom_in, a.zoom_out, a.fit, a.actual_size])
    view.addSeparator()
    view.addAction(a.show_boxes)
    view.addSeparator()
    a.menus["docks"] = view
    a.menus["panels"] = view.addMenu(assets.icon("panels"), "&Panels")
    go = bar.addMenu("&Go")
    go.addActions([a.prev, a.next, a.next_unlabeled])
    help_ = bar.addMenu("&Help")
    help_.addActions([a.shortcuts, a.about])
    a.menus.update({"file": file, "edit": edit, "go": go, "help": help_, "classes": classes})


def _build_toolbar(w: MainWindow, a: Actions) -> None:
    tb = QToolBar("Tools", w)
    tb.setObjectName("toolbar")
    tb.setMovable(False)
    tb.setIconSize(assets.icon_size())
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    tb.addActions([a.open_folder, a.change_save_dir, a.save])
    tb.addSeparator()
    tb.addActions([a.prev, a.next, a.next_unlabeled])
    tb.addSeparator()
    tb.addActions([a.select_mode, a.draw_mode])
    tb.addSeparator()
    tb.addActions([a.undo, a.redo, a.edit_label, a.duplicate, a.delete, a.difficult,
                   a.verified])
    tb.addSeparator()
    tb.addActions([a.zoom_in, a.zoom_out, a.fit, a.actual_size])
    spacer = QWidget()
    spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    tb.addWidget(spacer)
    panels = QToolButton()
    panels.setObjectName("panels_button")
    panels.setText("Panels")
    panels.setIcon(assets.icon("panels"))
    panels.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    panels.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    panels.setMenu(a.panels_menu)
    panels.setToolTip("Show inspection, training and detection panels")
    tb.addWidget(panels)
    w.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
    a.toolbar = tb


def shortcut_rows(a: Actions) -> list[tuple[str, str, str]]:
    """``(key, action text, menu)`` for the shortcut sheet, actions first, then canvas keys."""
    menu_of: dict[QAction, str] = {}
    for title, menu in a.menus.items():
        for action in menu.actions():
            menu_of.setdefault(action, title.capitalize())
    rows = []
    for name, action in a.by_name.items():
        if name.startswith("class_"):  # one row for the nine number keys
            if name == "class_1":
                rows.append(("1 … 9", "Set the class of the selected boxes (no selection: "
                             "the default class for new boxes)", "Edit"))
            continue
        keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText)
                         for s in action.shortcuts())
        if keys:
            rows.append((keys, action.text().replace("&", ""), menu_of.get(action, "")))
    rows += [(k, t, "Canvas") for k, t in CANVAS_KEYS]
    return rows


def shortcut_conflicts(a: Actions) -> dict[str, list[str]]:
    """Keys bound to more than one action (should be empty)."""
    seen: dict[str, list[str]] = {}
    for name, action in a.by_name.items():
        for seq in action.shortcuts():
            seen.setdefault(seq.toString(QKeySequence.SequenceFormat.PortableText), []).append(name)
    return {k: v for k, v in seen.items() if len(v) > 1}
