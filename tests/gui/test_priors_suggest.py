"""Priors → k-means "Suggest" reads the whole project: changing the image while it runs must not
cancel it (an image change cancels the panel's per-image jobs), and its button comes back."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import project_window, write_labelimg_xml  # noqa: E402

PANEL = ("workbench.gui.panels.priors", "PriorsPanel", "Priors")


def test_suggest_survives_an_image_change(qtbot, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QColor, QImage
    from PySide6.QtTest import QTest

    from workbench.gui.panels import priors as priors_module

    images = tmp_path / "images"
    images.mkdir()
    for name, box in (("a.png", (101, 101, 160, 160)), ("b.png", (21, 31, 120, 90))):
        image = QImage(300, 300, QImage.Format.Format_RGB888)
        image.fill(QColor(90, 120, 150))
        assert image.save(str(images / name))
        write_labelimg_xml(images / name.replace(".png", ".xml"), name, (300, 300),
                           [("cat", *box)])
    release = threading.Event()
    started = threading.Event()
    real = priors_module.suggestion_for_project

    def held(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - the real k-means, after a wait
        started.set()
        assert release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(priors_module, "suggestion_for_project", held)
    w = project_window(qtbot, tmp_path / "s.ini", images, [PANEL])
    panel = w.panel_host.show_panel(PANEL[1])
    qtbot.waitUntil(lambda: panel.match is not None, timeout=5000)
    panel.k_spin.setValue(2)
    panel.suggest_button.click()
    assert not panel.suggest_button.isEnabled()
    assert started.wait(5)
    QTest.keyClick(w.canvas, Qt.Key.Key_D)                 # next image while it runs
    qtbot.waitUntil(lambda: w.document is not None
                    and Path(w.document.image_path).name == "b.png", timeout=5000)
    with qtbot.waitSignal(panel.suggestion_ready, timeout=10000):
        release.set()
    assert panel.suggest_button.isEnabled()
    assert panel.suggestion.num_boxes == 2                 # both images' boxes
    assert "→ suggested 2 shapes 1.000" in panel.suggest_label.text()
