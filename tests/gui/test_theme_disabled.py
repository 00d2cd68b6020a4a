"""Under the app's theme a disabled push button is drawn dimmed (found on a real X display:
"Best F1" before there are numbers looked clickable and did nothing)."""

from __future__ import annotations

from collections import Counter

from PySide6.QtWidgets import QApplication, QHBoxLayout, QPushButton, QWidget

from workbench.gui import theme


def _text_colour(widget: QWidget, button: QPushButton) -> str:
    image = widget.grab().toImage()
    g = button.geometry()
    counts = Counter(image.pixelColor(x, y).name() for x in range(g.x(), g.right())
                     for y in range(g.y(), g.bottom()))
    # the button's own fill and border are the two commonest colours; the text is the next
    background = {theme.SURFACE_2, theme.BORDER}
    return next(c for c, _n in counts.most_common() if c not in background)


def test_a_disabled_button_is_dimmed(qtbot) -> None:  # noqa: ANN001
    app = QApplication.instance()
    old_sheet, old_palette, old_style = app.styleSheet(), app.palette(), app.style().name()
    theme.apply_theme(app)
    try:
        w = QWidget()
        qtbot.addWidget(w)
        row = QHBoxLayout(w)
        on, off = QPushButton("Best F1"), QPushButton("Best F1")
        off.setEnabled(False)
        row.addWidget(on)
        row.addWidget(off)
        w.show()
        qtbot.waitExposed(w)
        assert _text_colour(w, on) == theme.TEXT
        assert _text_colour(w, off) == theme.DISABLED_TEXT
    finally:
        app.setStyleSheet(old_sheet)
        app.setPalette(old_palette)
        app.setStyle(old_style)
