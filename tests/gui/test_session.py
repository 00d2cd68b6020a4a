"""The Qt-free labeling session (workbench/gui/session.py) and the window keeping its project and
current row in it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from workbench.gui.session import LabelingSession

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import click, make_project, shown_window  # noqa: E402


def _entry(i: int, label: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(image_path=Path(f"/p/img{i}.png"),
                           xml_path=Path(label or f"/p/img{i}.xml"))


def test_session_without_qt() -> None:
    """The module imports nothing from Qt (the ``workbench.gui`` package itself does)."""
    code = ("import sys, runpy; runpy.run_path('workbench/gui/session.py'); "
            "print(any(m.startswith('PySide6') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False", out.stderr


def test_rows_entries_current_and_shared_label_files() -> None:
    docs = {Path("/p/img1.png"): SimpleNamespace(selection=2, group=(0, 2))}
    session = LabelingSession(docs)
    assert session.current_entry is None and session.document is None
    entries = [_entry(0), _entry(1), _entry(2, "/p/all.json"), _entry(3, "/p/all.json")]
    session.open("project", entries)
    assert session.project == "project" and session.row == -1
    assert session.row_of("/p/img2.png") == 2 and session.row_of(Path("/x.png")) is None
    assert session.entry_of(Path("/p/img3.png")) is entries[3]
    assert session.rows_of_label("/p/all.json") == [2, 3]
    assert session.rows_of_label(Path("/p/img0.xml")) == [0]
    session.row = 1
    assert session.current_image == Path("/p/img1.png")
    assert session.document is docs[Path("/p/img1.png")]
    assert session.selection == (2, 0)
    session.open("other", entries[:1])  # a new project: nothing shown, indexes rebuilt
    assert session.row == -1 and session.rows == {Path("/p/img0.png"): 0}


def test_the_window_keeps_project_and_row_in_the_session(qtbot, tmp_path) -> None:  # noqa: ANN001
    images = make_project(tmp_path)
    w = shown_window(qtbot, tmp_path / "settings.ini")
    assert w.session.project is None and w.project is None
    assert w.open_project(images)
    assert w.session.project is w.project and w.session.entries == w.entries()
    assert w.session.current_image == images / "img0.png" == w.current_image_path()
    w.canvas.setFocus()
    QTest.keyClick(w.canvas, Qt.Key.Key_D)
    QTest.keyClick(w.canvas, Qt.Key.Key_D)  # img2: a dog and a cat
    assert w.session.row == 2 and w.session.current_image == images / "img2.png"
    assert w.session.document is w.document
    w.canvas.actual_size()
    w.canvas.centerOn(160, 120)
    click(w.canvas, 200, 100)  # the cat (pixel edges 150,50-250,200), a real click
    assert w.session.selection == (1,)
    w.files.image_activated.emit(0)  # the file dock picks img0
    assert w.session.row == 0 and w.session.selection == ()
