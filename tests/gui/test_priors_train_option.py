"""Train panel (issue 16): the prior-set option shows only for ssd300_vgg16 and reaches the
TrainConfig."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
H = sys.modules.get("workbench_train_helpers")
if H is None:
    _spec = importlib.util.spec_from_file_location("workbench_train_helpers",
                                                   ROOT / "tests" / "train_helpers.py")
    H = importlib.util.module_from_spec(_spec)
    sys.modules["workbench_train_helpers"] = H
    _spec.loader.exec_module(H)

from workbench.gui.main_window import MainWindow  # noqa: E402
from workbench.gui.panels.training import TrainingPanel  # noqa: E402
from workbench.gui.settings import Settings  # noqa: E402


@pytest.fixture
def panel(qtbot, tmp_path: Path):  # noqa: ANN001, ANN201
    H.write_tiny_voc(tmp_path / "voc")
    window = MainWindow(Settings(tmp_path / "settings.ini"), panels=[])
    qtbot.addWidget(window)
    assert window.open_project(tmp_path / "voc")
    p = TrainingPanel(window)
    qtbot.addWidget(p)
    p.show()
    yield p
    p.shutdown()


def test_priors_option_only_for_ssd300_and_in_the_config(panel) -> None:  # noqa: ANN001
    assert [panel.priors.itemData(i) for i in range(panel.priors.count())] == [
        "torchvision", "voc_paper"]
    assert panel.model_box.currentData() != "ssd300_vgg16"
    assert not panel.priors.isVisible()
    panel.priors.setCurrentIndex(1)
    assert panel.config().priors == "torchvision"        # not offered for this model
    panel.model_box.setCurrentIndex(panel.model_box.findData("ssd300_vgg16"))
    assert panel.priors.isVisible()
    assert panel.config().priors == "voc_paper"
    panel.priors.setCurrentIndex(0)
    assert panel.config().priors == "torchvision"
    panel.model_box.setCurrentIndex(panel.model_box.findData("demo_ssdlite_cpu"))
    assert not panel.priors.isVisible()
