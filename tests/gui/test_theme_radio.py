"""Under the app's style sheet the chosen radio button is filled with the accent colour like a
checked check box (QA: in the Open Video dialog the chosen rule was a faint grey dot)."""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QRadioButton, QStyle, QStyleOptionButton, QVBoxLayout, QWidget

from workbench.gui import theme


def _indicator_colours(button: QRadioButton) -> Counter[str]:
    option = QStyleOptionButton()
    button.initStyleOption(option)
    rect = button.style().subElementRect(QStyle.SubElement.SE_RadioButtonIndicator, option,
                                         button)
    image = button.grab().toImage()
    return Counter(image.pixelColor(x, y).name() for x in range(rect.left(), rect.right() + 1)
                   for y in range(rect.top(), rect.bottom() + 1))


def _near(colour: str, target: str, tol: int = 24) -> bool:
    a, b = QColor(colour), QColor(target)
    return max(abs(a.red() - b.red()), abs(a.green() - b.green()),
               abs(a.blue() - b.blue())) <= tol


def test_the_chosen_radio_button_is_accent_filled(qtbot) -> None:  # noqa: ANN001
    w = QWidget()
    w.setStyleSheet(theme.STYLE_SHEET)  # this widget only: nothing global to undo
    qtbot.addWidget(w)
    col = QVBoxLayout(w)
    first, second = QRadioButton("Every Nth frame"), QRadioButton("Frames per second")
    first.setChecked(True)
    col.addWidget(first)
    col.addWidget(second)
    w.show()
    qtbot.waitExposed(w)

    def accent(button: QRadioButton) -> int:
        return sum(n for c, n in _indicator_colours(button).items() if _near(c, theme.ACCENT))

    def white(button: QRadioButton) -> int:
        return _indicator_colours(button)["#ffffff"]  # (the test widget's own grey is #efefef)

    assert accent(first) >= 40 and white(first) >= 4  # accent ring, white dot
    assert accent(second) == 0 and white(second) == 0
    qtbot.mouseClick(second, Qt.MouseButton.LeftButton, pos=QPoint(8, second.height() // 2))
    assert second.isChecked() and not first.isChecked()
    assert accent(second) >= 40 and white(second) >= 4
    assert accent(first) == 0 and white(first) == 0
