"""First run: with no project, the window opens the generated sample project and the hint."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QDockWidget, QTextBrowser

from workbench.core import synth
from workbench.gui import first_run
from workbench.gui.app import build_window, initial_project
from workbench.gui.settings import Settings


def _small_sample(monkeypatch, tmp_path: Path) -> Path:  # noqa: ANN001
    root = tmp_path / "data" / "sample-project"
    monkeypatch.setattr(first_run, "sample_project_dir", lambda: root)
    monkeypatch.setattr(synth, "DEFAULT_IMAGES", 5)
    return root


def test_sample_dir_is_in_the_app_data_location(qapp) -> None:  # noqa: ANN001
    from PySide6.QtCore import QStandardPaths

    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    assert first_run.sample_project_dir() == Path(base) / "sample-project"


def test_no_project_opens_the_generated_sample_with_the_hint(qtbot, monkeypatch,
                                                            tmp_path: Path) -> None:
    root = _small_sample(monkeypatch, tmp_path)
    window = build_window(None, None, Settings(tmp_path / "s.ini"), sample=True)
    qtbot.addWidget(window)
    assert first_run.is_sample_complete(root)
    assert sorted(p.name for p in (root / "images").iterdir()) == [
        f"sample_{i:04d}.jpg" for i in range(5)]
    assert window.project is not None and len(window.entries()) == 5
    assert window.current_annotation() is not None
    assert len(window.current_annotation().objects) >= 1
    docks = [d for d in window.findChildren(QDockWidget)
             if d.objectName() == first_run.HINT_OBJECT_NAME]
    assert len(docks) == 1
    text = docks[0].widget()
    assert isinstance(text, QTextBrowser)
    assert "First five minutes" in text.toPlainText()
    assert "demo_ssdlite_cpu" in text.toPlainText()


def test_sample_is_generated_once_and_regenerated_when_incomplete(qapp, monkeypatch,  # noqa: ANN001
                                                                 tmp_path: Path) -> None:
    root = _small_sample(monkeypatch, tmp_path)
    assert first_run.sample_project() == root
    stamp = (root / "images" / "sample_0000.jpg").stat().st_mtime_ns
    assert first_run.sample_project() == root  # complete: not written again
    assert (root / "images" / "sample_0000.jpg").stat().st_mtime_ns == stamp
    (root / first_run.MARKER).unlink()  # an interrupted generation is redone
    (root / "images" / "sample_0003.jpg").unlink()
    first_run.sample_project()
    assert (root / "images" / "sample_0003.jpg").is_file()
    assert first_run.is_sample_complete(root)


def test_explicit_folder_or_last_project_wins_and_tests_get_no_sample(monkeypatch,
                                                                       tmp_path: Path) -> None:
    root = _small_sample(monkeypatch, tmp_path)
    folder = tmp_path / "mine"
    folder.mkdir()
    assert initial_project(folder, None, None, sample=True) == (folder, None)
    assert initial_project(None, None, Settings(tmp_path / "s.ini")) is None
    assert not root.exists()


def test_training_panel_fills_in_the_demo_recipe(qtbot, tmp_path: Path) -> None:
    from workbench.engine.demo_model import NAME, RECIPE
    from workbench.gui.main_window import MainWindow
    from workbench.gui.panels.training import TrainingPanel

    sample = synth.generate_project(tmp_path / "sample", num_images=4, seed=0)
    window = MainWindow(Settings(tmp_path / "s.ini"), panels=[])
    qtbot.addWidget(window)
    assert window.open_project(sample.root)
    panel = TrainingPanel(window)
    qtbot.addWidget(panel)
    ssdlite = panel.model_box.findData("ssdlite320_mobilenet_v3_large")
    panel.model_box.setCurrentIndex(ssdlite)
    assert panel.config().optimizer == "sgd"
    panel.model_box.setCurrentIndex(panel.model_box.findData(NAME))
    assert panel.epochs.value() == RECIPE["epochs"]
    assert panel.batch.value() == RECIPE["batch_size"]
    assert panel.lr.value() == pytest.approx(RECIPE["lr"])
    config = panel.config()
    assert config.model == NAME and config.optimizer == RECIPE["optimizer"]
    assert config.warmup_steps == RECIPE["warmup_steps"]
    assert config.images_dir == sample.root.resolve()
    panel.epochs.setValue(3)  # the user's own choice wins over the recipe
    assert panel.config().epochs == 3
    panel.shutdown()
