"""The wheel over a panel scrolls it: a combo box / spin box / slider without the focus keeps
its value (QA: scrolling the Runs panel switched "best epoch" to "last epoch"); once clicked,
the wheel changes it as usual."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (QApplication, QComboBox, QLabel, QLineEdit, QSlider, QSpinBox,
                               QVBoxLayout, QWidget)

from workbench.gui.panel_host import PanelScrollArea


def _wheel(widget: QWidget, steps: int = -1) -> bool:
    """One notch down (``steps`` < 0) over the middle of ``widget``, as the platform sends it."""
    local = QPointF(widget.rect().center())
    event = QWheelEvent(local, QPointF(widget.mapToGlobal(local.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    return QApplication.sendEvent(widget, event)


def _area(qtbot):  # noqa: ANN001, ANN202
    panel = QWidget()
    layout = QVBoxLayout(panel)
    combo = QComboBox()
    combo.addItems(["best epoch", "last epoch", "epoch 3"])
    spin = QSpinBox()
    spin.setRange(0, 100)
    spin.setValue(50)
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, 100)
    slider.setValue(50)
    elsewhere = QLineEdit()  # where the focus is (in the window: the canvas)
    layout.addWidget(elsewhere)
    layout.addWidget(combo)
    layout.addWidget(spin)
    layout.addWidget(slider)
    for i in range(40):  # taller than the area: it scrolls
        label = QLabel(f"row {i}")
        label.setMinimumHeight(30)
        layout.addWidget(label)
    area = PanelScrollArea(panel)
    qtbot.addWidget(area)
    area.resize(300, 300)
    area.show()
    qtbot.waitExposed(area)
    area.activateWindow()
    qtbot.waitUntil(area.isActiveWindow)
    elsewhere.setFocus()
    qtbot.waitUntil(elsewhere.hasFocus)
    return area, combo, spin, slider


def test_wheel_over_unfocused_widgets_scrolls_the_panel(qtbot) -> None:  # noqa: ANN001
    area, combo, spin, slider = _area(qtbot)
    bar = area.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == 0
    for widget in (combo, spin, slider):
        assert widget.focusPolicy() == Qt.FocusPolicy.StrongFocus  # a click, not the wheel
    _wheel(combo)
    assert combo.currentIndex() == 0 and combo.currentText() == "best epoch"
    assert bar.value() > 0
    scrolled = bar.value()
    _wheel(spin.lineEdit() if hasattr(spin, "lineEdit") else spin)
    _wheel(slider)
    assert spin.value() == 50 and slider.value() == 50
    assert bar.value() > scrolled


def test_wheel_changes_a_focused_combo_and_spin_box(qtbot) -> None:  # noqa: ANN001
    area, combo, spin, _slider = _area(qtbot)
    bar = area.verticalScrollBar()
    qtbot.mouseClick(combo, Qt.MouseButton.LeftButton)  # opens the popup, takes the focus
    combo.hidePopup()
    qtbot.waitUntil(combo.hasFocus)
    _wheel(combo)
    assert combo.currentText() == "last epoch"
    assert bar.value() == 0
    qtbot.mouseClick(spin, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(spin.hasFocus)
    _wheel(spin, steps=1)
    assert spin.value() == 51
    assert combo.currentText() == "last epoch" and bar.value() == 0


def test_widgets_added_later_are_guarded(qtbot) -> None:  # noqa: ANN001
    area, _combo, _spin, _slider = _area(qtbot)
    late = QComboBox()
    late.addItems(["a", "b"])
    area.widget().layout().insertWidget(0, late)
    qtbot.waitUntil(lambda: late.focusPolicy() == Qt.FocusPolicy.StrongFocus)
    _wheel(late)
    assert late.currentText() == "a"
    assert area.verticalScrollBar().value() > 0


def test_runs_panel_in_the_window_keeps_best_epoch(qtbot, tmp_path) -> None:  # noqa: ANN001
    """The QA case: the wheel over the Runs panel's "best epoch" box, in its dock."""
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    w = MainWindow(Settings(tmp_path / "settings.ini"),
                   panels=[("workbench.gui.panels.runs", "RunsPanel", "Runs")])
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    panel = w.panel_host.show_panel("RunsPanel")
    assert panel is not None
    area = panel.parentWidget().parentWidget()
    assert isinstance(area, PanelScrollArea)
    area.resize(area.width(), 120)  # short: the panel scrolls
    area.fit()
    w.canvas.setFocus()
    qtbot.wait(20)  # the guard's filters are installed in the turn after the build, as input is
    box = panel.epoch_box
    assert box.currentText() == "best epoch"
    _wheel(box)
    assert box.currentText() == "best epoch"
