"""After a modal dialog the window it belongs to is made active again (dialogs._focus_back):
with no window manager (a bare X server) the input focus otherwise stays on the root window and
the labeling window takes no more keys — seen on Xvfb after the class dialog."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit, QWidget

from workbench.gui import dialogs


def _window(qtbot, title: str) -> QWidget:  # noqa: ANN001
    w = QWidget()
    w.setWindowTitle(title)
    w.resize(300, 200)
    QLineEdit(w)  # something to hold the focus
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_focus_back_activates_the_parents_window(qtbot) -> None:  # noqa: ANN001
    main, other = _window(qtbot, "main"), _window(qtbot, "other")
    other.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is other, timeout=3000)
    child = main.findChild(QLineEdit)
    dialogs._focus_back(child)                         # a child of the window: its window
    qtbot.waitUntil(lambda: QApplication.activeWindow() is main, timeout=3000)
    dialogs._focus_back(None)                          # no parent: nothing to do
    assert QApplication.activeWindow() is main


def test_class_dialog_gives_the_focus_back(qtbot, monkeypatch) -> None:  # noqa: ANN001
    main = _window(qtbot, "main")
    calls: list[QWidget | None] = []
    real = dialogs._focus_back
    monkeypatch.setattr(dialogs, "_focus_back", lambda parent: (calls.append(parent),
                                                                real(parent)))

    def answer() -> None:  # typed into the open dialog with real key events
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, dialogs.ClassDialog)
        QTest.keyClicks(dialog.edit, "rac")
        QTest.keyClick(dialog.edit, Qt.Key.Key_Return)

    QTimer.singleShot(200, answer)
    assert dialogs.choose_class(main, ["raccoon", "dog"]) == "raccoon"
    assert calls == [main]
    qtbot.waitUntil(lambda: QApplication.activeWindow() is main, timeout=3000)
