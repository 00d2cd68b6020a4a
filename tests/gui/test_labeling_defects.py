"""Labeling defects a newcomer hit (issue 14), each driven with real mouse and key events on the
real window and dialogs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from workbench.gui import dialogs

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import click, make_project, shown_window, to_view  # noqa: E402


@pytest.fixture
def images(tmp_path):  # noqa: ANN001,ANN201
    return make_project(tmp_path)


#: The real questions, for the tests that answer them with key events.
REAL_ASK_YES_NO, REAL_CHOOSE_REASSIGNMENT = dialogs.ask_yes_no, dialogs.choose_reassignment


@pytest.fixture
def window(qtbot, images, tmp_path, monkeypatch):  # noqa: ANN001,ANN201
    def unexpected(*args, **kwargs):  # noqa: ANN002,ANN003,ANN202
        raise AssertionError(f"unexpected dialog: {args[1:3]}")

    # A question nobody answers would wait forever: fail instead.
    for name in ("ask_yes_no", "ask_save_discard_cancel", "ask_text", "choose_reassignment",
                 "ask_directory", "show_info", "show_error"):
        monkeypatch.setattr(dialogs, name, unexpected)
    w = shown_window(qtbot, tmp_path / "settings.ini")
    assert w.open_project(images)
    w.scanner.run_to_end()
    w.canvas.setFocus()
    return w


def key(w, k, mod=Qt.KeyboardModifier.NoModifier) -> None:  # noqa: ANN001
    QTest.keyClick(w.canvas, k, mod)


def when_dialog(act: Callable[[QApplication], None], seen: dict) -> None:  # noqa: ANN001
    """Run ``act(dialog)`` on the next modal dialog once it is shown (it runs its own loop)."""
    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None or not dialog.isVisible():
            QTimer.singleShot(10, poll)
            return
        try:
            act(dialog)
        except Exception as exc:  # noqa: BLE001 (reported by the test after exec returns)
            seen["error"] = exc
            dialog.reject()
    QTimer.singleShot(0, poll)


def press_move(view, start, end, steps: int = 4) -> None:  # noqa: ANN001
    """Press at ``start`` and move to ``end`` (image px) with the button held."""
    vp = view.viewport()
    a, b = to_view(view, *start), to_view(view, *end)
    QTest.mouseMove(vp, a)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for i in range(1, steps + 1):
        QTest.mouseMove(vp, a + (b - a) * (i / steps))


def release(view, end) -> None:  # noqa: ANN001
    QTest.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier, to_view(view, *end))


def voc_size(path: Path, index: int = 0) -> tuple[int, int]:
    from workbench.core.voc import read_annotation

    ann = read_annotation(path)[0]
    assert ann is not None
    from workbench.core.boxes import edges_to_voc

    xmin, ymin, xmax, ymax = edges_to_voc(ann.objects[index].box)
    return xmax - xmin + 1, ymax - ymin + 1


# -- the class dialog --------------------------------------------------------------------------
def test_typing_part_of_a_name_and_enter_takes_the_match(qtbot) -> None:  # noqa: ANN001
    dialog = dialogs.ClassDialog(["raccoon", "dog", "cat"], None, "Class")
    qtbot.addWidget(dialog)
    dialog.show()
    QTest.keyClicks(dialog.edit, "rac")
    visible = [dialog.list.item(i).text() for i in range(dialog.list.count())
               if not dialog.list.item(i).isHidden()]
    assert visible == ["●  raccoon", "+  Create class “rac”"]
    assert dialog.list.currentItem().text() == "●  raccoon"  # highlighted: the match
    QTest.keyClick(dialog.edit, Qt.Key.Key_Return)
    assert dialog.result() == dialogs.QDialog.DialogCode.Accepted
    assert dialog.value() == "raccoon" and not dialog.creates()


def test_a_new_class_needs_its_create_row(qtbot) -> None:  # noqa: ANN001
    dialog = dialogs.ClassDialog(["raccoon", "dog"], None, "Class")
    qtbot.addWidget(dialog)
    dialog.show()
    QTest.keyClicks(dialog.edit, "rac")
    QTest.keyClick(dialog.edit, Qt.Key.Key_Down)  # past the match, onto "Create class “rac”"
    assert dialog.creates() and dialog.value() == "rac"
    QTest.keyClick(dialog.edit, Qt.Key.Key_Return)
    assert dialog.result() == dialogs.QDialog.DialogCode.Accepted and dialog.value() == "rac"
    # Nothing matches: the create row is the only row, highlighted, and says so.
    other = dialogs.ClassDialog(["raccoon"], None, "Class")
    qtbot.addWidget(other)
    other.show()
    QTest.keyClicks(other.edit, "fox")
    assert other.creates() and "creates “fox”" in other.hint.text()


def test_empty_field_and_enter_takes_the_last_or_first_class(qtbot) -> None:  # noqa: ANN001
    dialog = dialogs.ClassDialog(["raccoon", "dog"], "dog", "Class")
    qtbot.addWidget(dialog)
    dialog.show()
    QTest.keyClick(dialog.edit, Qt.Key.Key_Backspace)  # the preselected "dog" is erased
    assert dialog.edit.text() == ""
    QTest.keyClick(dialog.edit, Qt.Key.Key_Return)
    assert dialog.result() == dialogs.QDialog.DialogCode.Accepted and dialog.value() == "dog"
    first = dialogs.ClassDialog(["raccoon", "dog"], None, "Class")
    qtbot.addWidget(first)
    first.show()
    QTest.keyClick(first.edit, Qt.Key.Key_Return)
    assert first.value() == "raccoon"
    empty = dialogs.ClassDialog([], None, "Class")  # no class yet: it says what to do
    qtbot.addWidget(empty)
    empty.show()
    QTest.keyClick(empty.edit, Qt.Key.Key_Return)
    assert empty.isVisible() and empty.value() == ""
    assert "type the name of the first one" in empty.hint.text()


def test_exact_name_wins_over_longer_matches(qtbot) -> None:  # noqa: ANN001
    dialog = dialogs.ClassDialog(["bobcat", "cat"], None, "Class")
    qtbot.addWidget(dialog)
    dialog.show()
    QTest.keyClicks(dialog.edit, "cat")
    assert dialog.value() == "cat"
    assert dialog.create_item.isHidden()  # "cat" exists: nothing to create


def test_drawn_box_stays_visible_and_dialog_opens_beside_it(window, qtbot) -> None:  # noqa: ANN001
    c = window.canvas
    key(window, Qt.Key.Key_W)
    c.actual_size()
    c.centerOn(160, 120)
    seen: dict = {}

    def name_it(dialog) -> None:  # noqa: ANN001
        band = c.guide_item().band
        seen["band"] = None if band is None else band.getRect()
        seen["dialog"] = dialog.frameGeometry()
        QTest.keyClicks(dialog.edit, "ca")  # "cat" is the only match
        QTest.keyClick(dialog.edit, Qt.Key.Key_Return)

    when_dialog(name_it, seen)
    press_move(c, (150, 60), (190, 100))
    release(c, (190, 100))
    assert "error" not in seen, seen.get("error")
    assert window.current_annotation().objects[-1].name == "cat"  # not a new class "ca"
    assert window.classes.names() == ["cat", "dog"]
    box = window.current_annotation().objects[-1].box
    x1, y1, x2, y2 = box
    assert seen["band"] == pytest.approx((x1, y1, x2 - x1, y2 - y1))  # shown while asked
    assert c.guide_item().band is None  # gone once the box is made
    rect = c.mapFromScene(x1, y1, x2 - x1, y2 - y1).boundingRect()
    on_screen = QRect(c.viewport().mapToGlobal(rect.topLeft()), rect.size())
    area = QGuiApplication.primaryScreen().availableGeometry()
    assert area.contains(seen["dialog"])  # kept on the screen
    if on_screen.right() + 16 + seen["dialog"].width() <= area.right() or \
            on_screen.left() - 16 - seen["dialog"].width() >= area.left():
        assert not seen["dialog"].intersects(on_screen)  # beside the box, not over it


def test_place_beside_keeps_the_dialog_on_screen() -> None:
    from PySide6.QtCore import QPoint, QSize

    area = QGuiApplication.primaryScreen().availableGeometry()
    size = QSize(300, 200)
    box = QRect(area.left() + 50, area.top() + 100, 40, 40)
    at = dialogs.place_beside(box, size)
    assert at.x() == box.right() + 16  # to the right
    near_edge = QRect(area.right() - 60, area.top() + 100, 40, 40)
    at = dialogs.place_beside(near_edge, size)
    assert at.x() + size.width() <= near_edge.left()  # flipped to the left
    corner = dialogs.place_beside(QPoint(area.right(), area.bottom()), size)
    assert QRect(corner, size).bottom() <= area.bottom()
    assert QRect(corner, size).right() <= area.right()


# -- sizes in the status bar -------------------------------------------------------------------
def test_size_shown_while_drawing_is_the_size_written(window, images,  # noqa: ANN001
                                                      qtbot) -> None:  # noqa: ANN001
    c = window.canvas
    window.classes.set_default_class("dog")
    key(window, Qt.Key.Key_W)
    c.set_zoom(1.7)  # view pixels fall between image pixels
    c.centerOn(160, 120)
    press_move(c, (100.3, 60.6), (163.4, 123.2))
    qtbot.waitUntil(lambda: "new box" in window.cursor_label.text())
    shown = window.cursor_label.text().split("new box ")[1]
    release(c, (163.4, 123.2))
    box = window.current_annotation().objects[-1].box
    assert all(float(v).is_integer() for v in box)  # snapped to whole pixels
    key(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    w, h = voc_size(images / "img0.xml", -1)
    assert shown == f"{w}×{h}"
    assert (w, h) == (box[2] - box[0], box[3] - box[1])


def test_size_follows_an_edge_resize_and_a_delete(window, images, qtbot) -> None:  # noqa: ANN001
    c = window.canvas
    c.set_zoom(1.3)
    c.centerOn(60, 70)
    click(c, 50, 70)
    qtbot.waitUntil(lambda: "cat 90×100" in window.cursor_label.text())
    press_move(c, (100, 80), (127.4, 80))  # the right edge, outwards
    qtbot.waitUntil(lambda: "cat 90×100" not in window.cursor_label.text())
    during = window.cursor_label.text()  # the live size, the pointer outside the old box
    release(c, (127.4, 80))
    box = window.current_annotation().objects[0].box
    assert during.endswith(f"cat {int(box[2] - box[0])}×100")
    assert all(float(v).is_integer() for v in box) and box[2] != 100
    # The pointer has not moved since the release: the label still follows the new box.
    assert window.cursor_label.text().endswith(f"cat {int(box[2] - box[0])}×100")
    key(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert voc_size(images / "img0.xml") == (box[2] - box[0], 100)
    click(c, 110, 80)
    key(window, Qt.Key.Key_Delete)
    assert window.current_annotation().objects == ()
    assert "cat" not in window.cursor_label.text()


# -- Del ---------------------------------------------------------------------------------------
def test_delete_selects_nothing_so_a_second_del_deletes_nothing(window) -> None:  # noqa: ANN001
    key(window, Qt.Key.Key_D)
    key(window, Qt.Key.Key_D)  # img2: dog, cat
    c = window.canvas
    c.actual_size()
    c.centerOn(160, 120)
    click(c, 80, 90)  # the dog
    assert window.document.selection == 0
    key(window, Qt.Key.Key_Delete)
    assert [o.name for o in window.current_annotation().objects] == ["cat"]
    assert window.document.selection == -1 and c.selection() == ()
    key(window, Qt.Key.Key_Delete)
    assert [o.name for o in window.current_annotation().objects] == ["cat"]
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo reselects the dog
    assert [o.name for o in window.current_annotation().objects] == ["dog", "cat"]
    assert window.document.selection == 0


# -- training plots ----------------------------------------------------------------------------
def test_plot_axes_tick_whole_epochs_and_steps(qtbot) -> None:  # noqa: ANN001
    from types import SimpleNamespace

    from workbench.gui.panels.training_plots import TrainingPlots

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(700, 400)
    plots.show()
    for e in range(3):  # engine events count from 0; the plot shows epochs 1..3
        plots.add_epoch(SimpleNamespace(epoch=e, map_voc07=0.1 * e, map_voc=0.1 * e,
                                        ap_voc07={"a": 0.1}, ap_voc={"a": 0.1}))
    plots.add_steps([SimpleNamespace(global_step=s, losses={"cls": 1.0 / s}, total=1.0 / s,
                                     lr=0.01) for s in (1, 2, 3)])
    plots.redraw()
    assert plots.history.epochs == [1, 2, 3]
    for plot in (plots.map_plot, plots.loss_plot, plots.lr_plot):
        plot.getPlotItem().enableAutoRange()
        plot.getPlotItem().autoRange()
        lo, hi = plot.getViewBox().viewRange()[0]
        for width in (80, 300, 1200):  # narrow to wide: pyqtgraph would go to 0.5, 0.2...
            ticks = plot.getAxis("bottom").tickValues(lo, hi, width)
            values = [v for _spacing, level in ticks for v in level]
            assert values and all(float(v).is_integer() for v in values), (lo, hi, ticks)
    assert plots.ap_table.item(1, 0).text() == "mAP (epoch 3)"


# -- closing after training --------------------------------------------------------------------
def test_close_after_training_stops_and_joins_every_background_job(qtbot,  # noqa: ANN001
                                                                   tmp_path) -> None:
    import importlib.util
    import threading
    import time

    from PySide6.QtCore import QThread, QThreadPool

    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings
    from workbench.gui.workers.tasks import TaskRunner

    spec = importlib.util.spec_from_file_location(
        "workbench_train_helpers_defects", Path(__file__).resolve().parents[1] / "train_helpers.py")
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    helpers.write_tiny_voc(tmp_path / "voc")
    w = MainWindow(Settings(tmp_path / "s.ini"), panels=[
        ("workbench.gui.panels.training", "TrainingPanel", "Train"),
        ("workbench.gui.panels.detections", "DetectionsPanel", "Detections")])
    qtbot.addWidget(w)
    w.show()
    assert w.open_project(tmp_path / "voc")
    train = w.panel("TrainingPanel")
    w.panel("DetectionsPanel")
    train.epochs.setValue(1)
    train.batch.setValue(3)
    train.image_size.setValue(96)
    with qtbot.waitSignal(train.bridge.training_finished, timeout=120_000):
        qtbot.mouseClick(train.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not train.bridge.is_running(), timeout=10_000)
    # A job that ends only when cancelled, left running by a panel without shutdown() (a slow
    # Priors build): closing cancels it and waits for its pool.
    runner = TaskRunner(train)
    started = threading.Event()

    def slow(ctx) -> None:  # noqa: ANN001
        started.set()
        while True:
            ctx.check()
            time.sleep(0.01)

    runner.submit(slow)
    assert started.wait(10)
    before = {t.ident for t in threading.enumerate()}
    t0 = time.monotonic()
    assert w.close()
    assert time.monotonic() - t0 < w.CLOSE_WAIT_MS / 1000 + 2
    assert all(r._pool.activeThreadCount() == 0 for r in w.findChildren(TaskRunner))
    assert all(t.isFinished() or not t.isRunning() for t in w.findChildren(QThread))
    assert train.bridge._thread is None or train.bridge._thread.isFinished()
    assert QThreadPool.globalInstance().activeThreadCount() == 0
    # No Python thread the window started is still working (executor threads are joined).
    alive = [t for t in threading.enumerate() if t.is_alive() and not t.daemon
             and t is not threading.main_thread() and t.ident in before]
    assert not [t.name for t in alive if t.name.startswith(("image-prefetch", "large-image"))]


def test_the_app_exits_without_the_interpreter_teardown_after_torch(tmp_path: Path) -> None:
    """``run_gui`` ends the process right after the window has closed once torch is loaded
    (its teardown kept the process 5–10 s after the window had gone)."""
    import subprocess
    import time

    code = ("import atexit, sys, torch\n"
            "from PySide6.QtCore import QTimer\n"
            "from PySide6.QtWidgets import QApplication\n"
            "from workbench.gui import app\n"
            "make = app.create_app\n"
            "def create():\n"
            "    qapp = make()\n"
            "    QTimer.singleShot(300, lambda: [w.close() for w in qapp.topLevelWidgets()\n"
            "                                    if w.isVisible()])\n"
            "    return qapp\n"
            "app.create_app = create\n"
            "atexit.register(lambda: print('interpreter teardown'))\n"
            f"sys.exit(app.run_gui({str(tmp_path / 'images')!r}))\n")
    make_project(tmp_path)
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen",
           "WORKBENCH_SETTINGS": str(tmp_path / "s.ini")}
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr[-2000:]
    assert "interpreter teardown" not in out.stdout
    assert time.monotonic() - t0 < 60


# -- small things ------------------------------------------------------------------------------
def test_load_checkpoint_dialog_opens_in_the_projects_runs(window,  # noqa: ANN001
                                                            monkeypatch) -> None:  # noqa: ANN001
    from PySide6.QtWidgets import QDockWidget, QFileDialog

    from workbench.gui.panels.detections import DetectionsPanel

    asked: list[str] = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda parent, title, start, filt: (asked.append(start)
                                                                          or ("", ""))))
    panel = DetectionsPanel(window)
    dock = QDockWidget("Detections", window)
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.show()
    root = Path(window.project.root)
    QTest.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
    assert asked[-1] == str(root)  # no runs yet: the project folder, not the working folder
    (root / "runs").mkdir()
    QTest.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
    assert asked[-1] == str(root / "runs")
    panel.shutdown()


def test_no_font_change_in_a_button_state_so_cancel_is_not_clipped() -> None:
    """A font set for ``:default`` (which follows the focus between a dialog's buttons) is not
    in the button's size hint: bold "Cancel" was clipped in the delete-class dialog."""
    import re

    from workbench.gui.theme import STYLE_SHEET

    sheet = re.sub(r"/\*.*?\*/", "", STYLE_SHEET, flags=re.S)
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", sheet):
        dynamic = re.search(r":(default|hover|focus|pressed|checked)", selector)
        if dynamic and "QPushButton" in selector:
            assert "font" not in body, selector.strip()


def test_delete_class_dialogs_buttons_fit_their_text(window, monkeypatch) -> None:  # noqa: ANN001
    from PySide6.QtGui import QFontMetrics
    from PySide6.QtWidgets import QPushButton

    from workbench.gui import theme

    monkeypatch.setattr(dialogs, "ask_yes_no", REAL_ASK_YES_NO)
    monkeypatch.setattr(dialogs, "choose_reassignment", REAL_CHOOSE_REASSIGNMENT)
    app = QApplication.instance()
    old = app.styleSheet()
    theme.apply_theme(app)
    seen: dict = {"texts": []}

    def check(dialog) -> None:  # noqa: ANN001
        buttons = [b for b in dialog.findChildren(QPushButton) if b.isVisible()]
        seen["texts"].append(sorted(b.text() for b in buttons))
        for b in buttons:
            need = QFontMetrics(b.font()).horizontalAdvance(b.text()) + 24  # 12 px padding
            assert b.width() >= need, (b.text(), b.width(), need)

    def reassign(dialog) -> None:  # noqa: ANN001
        check(dialog)
        QTest.keyClick(dialog, Qt.Key.Key_Return)  # reassign to the first other class
        when_dialog(confirm, seen)

    def confirm(dialog) -> None:  # noqa: ANN001
        check(dialog)  # "Reassign and delete" / "Cancel" (the default: destructive)
        dialog.reject()

    try:
        items = window.classes.list
        for i in range(items.count()):
            if items.item(i).data(Qt.ItemDataRole.UserRole) == "dog":
                items.setCurrentRow(i)
        when_dialog(reassign, seen)
        QTest.mouseClick(window.classes.delete_button, Qt.MouseButton.LeftButton)
    finally:
        app.setStyleSheet(old)
    assert "error" not in seen, seen.get("error")
    assert seen["texts"] == [["Cancel", "OK"], ["Cancel", "Reassign and delete"]]
    assert "dog" in window.classes.names()  # cancelled: nothing deleted


def test_counts_are_singular_or_plural() -> None:
    from workbench.core.wording import count

    assert [count(n, "box") for n in (0, 1, 2)] == ["0 boxes", "1 box", "2 boxes"]
    assert count(1, "object") == "1 object" and count(1200, "image") == "1,200 images"
    assert count(1, "class") == "1 class" and count(3, "class") == "3 classes"
    root = Path(__file__).resolve().parents[2] / "workbench" / "gui"
    for name in ("class_ops.py", "dialogs.py", "documents.py", "editing.py", "export_dialog.py",
                 "exporting.py", "saving.py", "panels/classes.py", "panels/detections.py",
                 "panels/problems.py", "panels/priors_tables.py"):
        path = root / name
        text = path.read_text(encoding="utf-8")
        for bad in ("box(es)", "image(s)", "object(s)", "%d objects", "} objects"):
            assert bad not in text, (path, bad)
