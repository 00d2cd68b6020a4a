"""The file dock on a generated folder of a few thousand images (issue 14, big folders): the
filter typed with real key events and the state filter give exact visible counts; the filter
keeps the current row and never navigates; counts follow state changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from workbench.gui.app import build_window, wait_until_open
from workbench.gui.settings import Settings

N = 3000
SEED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "raccoon" / "images"


def _jpeg(path: Path) -> None:
    from PySide6.QtGui import QColor, QImage

    image = QImage(16, 12, QImage.Format.Format_RGB888)
    image.fill(QColor(90, 90, 90))
    assert image.save(str(path), "JPEG")


XML = ("<annotation{verified}><filename>{name}</filename><size><width>16</width>"
       "<height>12</height><depth>3</depth></size><object><name>cat</name><difficult>0</difficult>"
       "<bndbox><xmin>2</xmin><ymin>2</ymin><xmax>10</xmax><ymax>9</ymax></bndbox></object>"
       "</annotation>")


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``img1.jpg`` … ``img3000.jpg`` (hard links of one JPEG); an XML beside every tenth
    (``img1``, ``img11``, …: 300), of which every fifth is verified (60)."""
    folder = tmp_path_factory.mktemp("big")
    seed = folder / ".seed.jpeg.tmp"
    _jpeg(seed)
    for i in range(1, N + 1):
        try:
            os.link(seed, folder / f"img{i}.jpg")
        except OSError:
            (folder / f"img{i}.jpg").write_bytes(seed.read_bytes())
        if i % 10 == 1:
            verified = ' verified="yes"' if i % 50 == 1 else ""
            (folder / f"img{i}.xml").write_text(
                XML.format(name=f"img{i}.jpg", verified=verified), encoding="utf-8")
    seed.unlink()
    return folder


@pytest.fixture
def window(qtbot, big_folder: Path, tmp_path: Path):  # noqa: ANN001,ANN201
    w = build_window(big_folder, None, Settings(tmp_path / "s.ini"))
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    wait_until_open(w)
    w.scanner.run_to_end()
    return w


def _expected_text(text: str) -> int:
    return sum(1 for i in range(1, N + 1) if text in f"img{i}.jpg")


def test_filter_typed_gives_exact_counts(qtbot, window) -> None:  # noqa: ANN001
    files = window.files
    assert files.model.rowCount() == N
    assert files.proxy.rowCount() == N
    files.filter_edit.setFocus()
    typed = ""
    for ch in "IMG12":  # upper case typed: the filter ignores case
        qtbot.keyClicks(files.filter_edit, ch)
        typed += ch.lower()
        assert files.proxy.rowCount() == _expected_text(typed), typed
    assert files.proxy.rowCount() == _expected_text("img12")  # img12, img120-129, img1200-… = 111
    qtbot.keyClick(files.filter_edit, Qt.Key.Key_Backspace)  # back to "img1": a recent result
    assert files.proxy.rowCount() == _expected_text("img1")
    qtbot.keyClicks(files.filter_edit, "99")
    shown = [files.proxy.data(files.proxy.index(r, 0)) for r in range(files.proxy.rowCount())]
    assert shown == [f"img{i}.jpg" for i in range(1, N + 1) if "img199" in f"img{i}.jpg"]
    files.filter_edit.clear()
    assert files.proxy.rowCount() == N
    assert window.document is not None and window._row == 0  # filtering never navigates


def test_state_filter_counts(qtbot, window) -> None:  # noqa: ANN001
    files = window.files
    counts = files.model.counts()
    assert counts["verified"] == 60 and counts["labeled"] == 240
    assert counts["unlabeled"] == N - 300
    assert files.model.pending() == 0
    combo = files.state_combo
    for state, expected in (("verified", 60), ("labeled", 240), ("unlabeled", N - 300),
                            ("problems", 0), (None, N)):
        combo.setCurrentIndex(combo.findData(state))
        assert files.proxy.rowCount() == expected, state
    combo.setCurrentIndex(combo.findData("labeled"))
    qtbot.keyClicks(files.filter_edit, "img2")  # labeled and holding "img2"
    expected = sum(1 for i in range(1, N + 1)
                   if i % 10 == 1 and i % 50 != 1 and "img2" in f"img{i}.jpg")
    assert files.proxy.rowCount() == expected
    # a state changes under the filter: the visible rows follow (one pass per refilter)
    row = next(i for i in range(N) if files.model.state(i) == "unlabeled"
               and "img2" in files.model.names()[i])
    files.model.set_state(row, "labeled")
    assert files.model.counts()["labeled"] == 241
    qtbot.waitUntil(lambda: files.proxy.rowCount() == expected + 1, timeout=3000)


def test_filter_keeps_the_current_row_and_click_opens(qtbot, window) -> None:  # noqa: ANN001
    files = window.files
    window.show_row(1499)  # img1500.jpg
    qtbot.keyClicks(files.filter_edit, "img15")
    current = files.list.currentIndex()
    assert files.proxy.data(current) == "img1500.jpg"
    assert window._row == 1499
    target = next(r for r in range(files.proxy.rowCount())
                  if files.proxy.data(files.proxy.index(r, 0)) == "img151.jpg")
    rect = files.list.visualRect(files.proxy.index(target, 0))
    qtbot.mouseClick(files.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window._row == 150 and window.document.image_path.name == "img151.jpg"


def test_big_folder_paints_before_its_scan(qtbot, big_folder: Path, tmp_path: Path,  # noqa: ANN001
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import workbench.gui.app as app

    monkeypatch.setattr(app, "BACKGROUND_OPEN_ENTRIES", 1000)  # 3,300 entries count as big
    w = build_window(big_folder, None, Settings(tmp_path / "s.ini"))
    qtbot.addWidget(w)
    assert w.opening is not None and w.project is None  # not scanned yet…
    assert w.canvas.image_size() == (16, 12)  # …but its first image is on the canvas
    w.show()
    wait_until_open(w)
    assert w.opening is None and w.project is not None
    assert w.files.model.rowCount() == N and w.files.proxy.rowCount() == N
    assert w.document is not None and w.document.image_path.name == "img1.jpg"
