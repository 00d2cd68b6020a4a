"""The file filter changes its row count by inserting / removing rows at the end when the
count changes little (no model reset, issue 14): what is shown, selected and current must
still be the filtered rows."""

from __future__ import annotations

from PySide6.QtCore import Qt

from workbench.gui.panels.files import FilesPanel


def _shown(panel: FilesPanel) -> list[str]:
    p = panel.proxy
    return [p.data(p.index(r, 0)) for r in range(p.rowCount())]


def test_small_count_changes_resize_and_show_the_right_rows(qtbot) -> None:  # noqa: ANN001
    panel = FilesPanel()
    qtbot.addWidget(panel)
    names = [f"a{i}.jpg" for i in range(1200)] + [f"b{i}.jpg" for i in range(30)]
    panel.set_entries(names)
    panel.resize(300, 600)
    panel.show()
    resets = []
    panel.proxy.modelReset.connect(lambda: resets.append(1))
    panel.set_current(5)  # a5.jpg
    qtbot.keyClicks(panel.filter_edit, "a1")  # a1, a10-a19, a100-a199, a1000-a1199: 311 rows
    assert resets == [1]  # 1230 -> 311 rows: a reset
    assert _shown(panel) == [n for n in names if "a1" in n]
    assert not panel.list.selectionModel().hasSelection()  # a5.jpg is not shown
    panel.set_current(10)  # a10.jpg
    assert panel.list.currentIndex().row() == 1
    qtbot.keyClick(panel.filter_edit, Qt.Key.Key_Backspace)  # "a": 1200 rows
    assert resets == [1, 1]  # 311 -> 1200: more than RESIZE_ROWS
    assert _shown(panel) == names[:1200]
    panel.filter_edit.setText("jpg")  # 1230 rows: 30 empty rows added at the end, no reset
    assert resets == [1, 1]
    assert _shown(panel) == names
    panel.set_current(1215)  # b15.jpg
    panel.filter_edit.setText("a")  # 1200 rows: 30 removed at the end, no reset
    assert resets == [1, 1]
    assert _shown(panel) == names[:1200]
    assert not panel.list.selectionModel().hasSelection()  # b15.jpg is not shown
    panel.set_current(10)
    panel.filter_edit.setText("")  # 1230: added again, a10.jpg still current and selected
    assert resets == [1, 1]
    assert _shown(panel) == names
    assert panel.list.currentIndex().row() == 10
    assert [i.row() for i in panel.list.selectionModel().selectedRows()] == [10]
