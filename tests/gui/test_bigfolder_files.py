"""Issue 14: the file dock's state scan sets a chunk of states at once (one ``dataChanged``
per step, counts kept exact) and its filter shows exactly the matching rows."""

from __future__ import annotations

from PySide6.QtCore import Qt

from workbench.gui.panels.files import FilesPanel, StateScanner

N = 3000


def _state(row: int) -> str:
    return "verified" if row % 500 == 1 else "labeled" if row % 10 == 1 else "unlabeled"


def _panel(qtbot) -> FilesPanel:
    panel = FilesPanel()
    qtbot.addWidget(panel)
    panel.set_entries([f"img{i}.jpg" for i in range(N)])
    panel.resize(360, 600)
    panel.show()
    return panel


def test_set_states_counts_and_one_signal(qtbot):
    panel = _panel(qtbot)
    model = panel.model
    seen: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda top, bottom, *_: seen.append((top.row(), bottom.row())))
    model.set_states([(5, "labeled"), (2, "unlabeled"), (9, "labeled")])
    assert seen == [(2, 9)]
    assert model.counts()["labeled"] == 2 and model.counts()["unlabeled"] == 1
    assert model.pending() == N - 3
    model.set_states([(5, "labeled")])  # unchanged: no signal
    assert seen == [(2, 9)]
    model.set_states([(5, "problems")])
    assert seen[-1] == (5, 5)
    assert model.counts()["labeled"] == 1 and model.counts()["problems"] == 1
    assert [model.state(r) for r in (2, 5, 9, 3)] == ["unlabeled", "problems", "labeled", None]


def test_scanner_fills_every_state_in_chunks(qtbot):
    panel = _panel(qtbot)
    model = panel.model
    signals: list[int] = []
    model.dataChanged.connect(lambda *_: signals.append(1))
    scanner = StateScanner(model, _state, chunk=40)
    scanner.start()
    scanner.run_to_end()
    expected = [_state(r) for r in range(N)]
    assert model.states() == expected
    counts = model.counts()
    assert counts["labeled"] == expected.count("labeled") == 300 - 6
    assert counts["verified"] == 6
    assert counts["unlabeled"] == expected.count("unlabeled")
    assert model.pending() == 0
    assert len(signals) <= N // 40 + 1 < N  # one per step, not one per row


def test_state_filter_follows_the_scan(qtbot):
    panel = _panel(qtbot)
    combo = panel.state_combo
    combo.setCurrentIndex(combo.findData("labeled"))
    assert panel.proxy.rowCount() == 0  # nothing scanned yet
    scanner = StateScanner(panel.model, _state, chunk=40)
    scanner.start()
    scanner.run_to_end()
    panel.proxy.refilter()  # (the timer would do it REFILTER_MS later)
    assert panel.proxy.rowCount() == 294
    first = panel.proxy.index(0, 0)
    assert first.data(Qt.ItemDataRole.DisplayRole) == "img11.jpg"  # img1: verified
    assert panel.proxy.mapToSource(panel.proxy.index(293, 0)).row() == 2991


def test_filter_typing_and_backspace_exact_rows(qtbot):
    panel = _panel(qtbot)
    scanner = StateScanner(panel.model, _state)
    scanner.start()
    scanner.run_to_end()
    edit = panel.filter_edit
    edit.setFocus()
    counts = []
    for ch in "img12":
        qtbot.keyClick(edit, ch)
        counts.append(panel.proxy.rowCount())
    # img12, img120-129, img1200-1299
    assert counts == [N, N, N, 1111, 111]
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    assert panel.proxy.rowCount() == 1111
    panel.state_combo.setCurrentIndex(panel.state_combo.findData("labeled"))
    # "img1" and a last digit 1 (img1, img11, img101-191, img1001-1991), less the verified
    # img1, img1001, img1501
    assert panel.proxy.rowCount() == 1 + 1 + 10 + 100 - 3
    rows = [panel.proxy.mapToSource(panel.proxy.index(i, 0)).row()
            for i in range(panel.proxy.rowCount())]
    assert rows == [r for r in range(N) if "img1" in f"img{r}.jpg" and _state(r) == "labeled"]
