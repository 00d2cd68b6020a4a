"""The Errors table's header shows the order the rows are in (QA: ▲ on FP while the largest
FP was first)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt

from workbench.gui.panels.errors_table import (ErrorsFilter, ErrorsTableModel,
                                               ErrorsTableView, ImageRow)


def _titles(view: ErrorsTableView) -> list[str]:
    model = view.model()
    return [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]


def _click_header(qtbot, view: ErrorsTableView, col: int) -> None:  # noqa: ANN001
    header = view.horizontalHeader()
    x = header.sectionViewportPosition(col) + header.sectionSize(col) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(x, header.height() // 2))


def test_sort_mark_follows_the_order(qtbot) -> None:  # noqa: ANN001
    model = ErrorsTableModel()
    proxy = ErrorsFilter()
    proxy.setSourceModel(model)
    model.set_rows([ImageRow("a", 1, 1, 0, 0, 0.5), ImageRow("b", 1, 3, 0, 0, 0.7),
                    ImageRow("c", 0, 2, 1, 0, None)])
    view = ErrorsTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.resize(360, 200)
    view.show()
    qtbot.waitExposed(view)
    assert not view.horizontalHeader().isSortIndicatorShown()  # Fusion drew ▲ for descending
    assert proxy.image_ids() == ["b", "c", "a"]  # FP 3, 2, 1: the largest first
    assert _titles(view) == ["Image", "FP ▼", "FN", "Conf", "Worst"]
    _click_header(qtbot, view, 1)
    assert proxy.image_ids() == ["a", "c", "b"]
    assert _titles(view) == ["Image", "FP ▲", "FN", "Conf", "Worst"]
    _click_header(qtbot, view, 2)  # FN: numbers descending first
    assert proxy.image_ids() == ["c", "a", "b"]
    assert _titles(view) == ["Image", "FP", "FN ▼", "Conf", "Worst"]
    _click_header(qtbot, view, 0)  # image names: ascending first
    assert proxy.image_ids() == ["a", "b", "c"]
    assert _titles(view)[0] == "Image ▲"
