"""The Train panel's pretrained weights: "COCO (download)" asks with the size first, downloads
from a local HTTP server on a background task with the progress bar moving, can be declined or
cancelled (nothing kept), and says offline in one line. Nothing reaches the internet."""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, file: str):  # noqa: ANN202
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


H = _load("workbench_train_helpers", "train_helpers.py")
W = _load("workbench_weights_helpers", "weights_helpers.py")

from workbench.engine import weights_download as wd  # noqa: E402
from workbench.gui.main_window import MainWindow  # noqa: E402
from workbench.gui.panels.training import TrainingPanel  # noqa: E402
from workbench.gui.settings import Settings  # noqa: E402

torch.set_num_threads(1)
MODEL = W.MODEL


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    srv = W.WeightsServer()
    monkeypatch.setenv(wd.BASE_URL_ENV, srv.url)
    yield srv
    srv.close()


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return W.temp_torch_home(tmp_path / "torch_home", monkeypatch)


@pytest.fixture
def panel(qtbot, tmp_path: Path):
    H.write_tiny_voc(tmp_path / "voc")
    window = MainWindow(Settings(tmp_path / "settings.ini"), panels=[])
    qtbot.addWidget(window)
    assert window.open_project(tmp_path / "voc")
    p = TrainingPanel(window)
    qtbot.addWidget(p)
    p.epochs.setValue(1)
    p.batch.setValue(4)
    p.image_size.setValue(96)
    p.show()
    yield p
    p.shutdown()


class Asker:
    """Stands in for ``QMessageBox.question``: records the text, gives ``answer``."""

    def __init__(self) -> None:
        self.questions: list[tuple[str, str]] = []
        self.answer = QMessageBox.StandardButton.Yes

    def __call__(self, parent, title, text, *args, **kwargs):  # noqa: ANN001, ANN204
        self.questions.append((title, text))
        return self.answer


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> Asker:
    asker = Asker()
    monkeypatch.setattr(QMessageBox, "question", asker)
    return asker


def no_training(panel, monkeypatch) -> list:
    started: list = []
    monkeypatch.setattr(panel.bridge, "start", lambda config: started.append(config))
    return started


def choose(panel, value: str) -> None:
    panel.weights.choice.setCurrentIndex(panel.weights.choice.findData(value))


def test_coco_download_asks_with_the_size_then_shows_progress(qtbot, panel, server, torch_home,
                                                              asked, monkeypatch) -> None:
    data = os.urandom(1_500_000)
    name = server.add(data, "tiny_coco")
    W.point_coco_at(monkeypatch, name)
    started = no_training(panel, monkeypatch)
    choose(panel, "coco")
    assert panel.weights.choice.currentText() == "COCO (download)"
    assert panel.weights.request() == "coco" and not panel.weights.path.isVisibleTo(panel)
    values: list[int] = []
    panel.progress.valueChanged.connect(values.append)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    qtbot.waitUntil(lambda: len(started) == 1, timeout=20000)
    (title, text), = asked.questions
    assert title == "Download pretrained weights"
    assert text.startswith(f"Download 1.4 MB from {server.url[7:-1]} into "
                           f"{torch_home / 'hub' / 'checkpoints'}?")
    assert f"{server.url}{name}" in text
    assert [r[0] for r in server.requests] == ["HEAD", "GET"]  # asked between the two
    moving = [v for v in values if v > 0]
    assert len(moving) >= 3 and moving == sorted(moving) and moving[-1] == 1000
    assert (torch_home / "hub" / "checkpoints" / name).read_bytes() == data
    assert started[0].weights == "coco" and started[0].model == MODEL
    assert f"Starting: run folder {started[0].out_dir}" in panel.status.text()


def test_declined_download_fetches_nothing(qtbot, panel, server, torch_home, asked,
                                           monkeypatch) -> None:
    name = server.add(os.urandom(20_000), "tiny_coco")
    W.point_coco_at(monkeypatch, name)
    started = no_training(panel, monkeypatch)
    asked.answer = QMessageBox.StandardButton.No
    choose(panel, "coco")
    panel.start()
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=10000)
    assert len(asked.questions) == 1 and started == []
    assert [r[0] for r in server.requests] == ["HEAD"] and W.cache_files(torch_home) == []
    assert panel.status.text() == "Not downloaded; the run did not start."


def test_stop_cancels_the_download_and_keeps_nothing(qtbot, panel, server, torch_home, asked,
                                                     monkeypatch) -> None:
    name = server.add(os.urandom(3_000_000), "tiny_coco")
    server.slow.add(name)  # ~3 s to send
    W.point_coco_at(monkeypatch, name)
    started = no_training(panel, monkeypatch)
    choose(panel, "coco")
    panel.start()
    qtbot.waitUntil(lambda: 0 < panel.progress.value() < 1000, timeout=10000)
    assert panel.progress.text().startswith("downloading COCO detector weights")
    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=10000)
    assert started == [] and panel.status.text() == "Download cancelled; nothing was kept."
    panel.weights_fetcher.runner.wait(10000)
    assert W.cache_files(torch_home) == []


def test_offline_says_so_in_one_line(qtbot, panel, torch_home, asked, monkeypatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(wd.BASE_URL_ENV, f"http://127.0.0.1:{port}/")
    started = no_training(panel, monkeypatch)
    choose(panel, "imagenet")
    panel.start()
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=10000)
    cache = torch_home / "hub" / "checkpoints"
    assert panel.status.text() == (
        f"Could not download http://127.0.0.1:{port}/mobilenet_v3_large-8738ca79.pth: "
        "connection refused. Download it on a machine with internet and pass --weights FILE, "
        f"or copy it into {cache}.")
    assert "e15759" in panel.status.styleSheet() and panel.progress.text() == "download failed"
    assert started == [] and asked.questions == [] and not torch_home.exists()


def test_cached_file_starts_without_asking(qtbot, panel, server, torch_home, asked,
                                           monkeypatch) -> None:
    data = os.urandom(10_000)
    name = server.add(data, "tiny_coco")
    W.point_coco_at(monkeypatch, name)
    (torch_home / "hub" / "checkpoints").mkdir(parents=True)
    (torch_home / "hub" / "checkpoints" / name).write_bytes(data)
    started = no_training(panel, monkeypatch)
    choose(panel, "coco")
    panel.start()
    qtbot.waitUntil(lambda: len(started) == 1, timeout=10000)
    assert asked.questions == [] and server.requests == []


def test_models_without_weights_offer_no_download(panel) -> None:
    box = panel.weights.choice
    choose(panel, "coco")
    panel.model_box.setCurrentIndex(panel.model_box.findData("demo_ssdlite_cpu"))
    for value in ("coco", "imagenet"):
        assert not box.model().item(box.findData(value)).isEnabled()
    assert box.currentData() == "none" and panel.weights.request() is None
    panel.model_box.setCurrentIndex(panel.model_box.findData(MODEL))
    assert box.model().item(box.findData("coco")).isEnabled()
    choose(panel, "file")
    assert panel.weights.path.isVisibleTo(panel) and panel.weights.request() is None
    panel.weights.path.setText("/tmp/w.pth")
    assert panel.config().weights == "/tmp/w.pth"
    choose(panel, "hub")
    assert panel.config().weights == "hub"


@pytest.mark.slow
def test_training_starts_from_the_downloaded_coco_weights(qtbot, panel, server, torch_home,
                                                          asked, monkeypatch) -> None:
    name = server.add(W.coco_like_bytes(), "ssdlite320_mobilenet_v3_large_coco")
    W.point_coco_at(monkeypatch, name)
    choose(panel, "coco")
    runs: list = []
    panel.bridge.run_started.connect(runs.append)
    with qtbot.waitSignal(panel.bridge.training_finished, timeout=240000):
        panel.start()
    assert runs[0].weights_message.startswith("loaded COCO detector weights")
    assert "fine-tuning: learning rate 0.0005" in runs[0].weights_message
    ckpt = torch.load(panel.run_dir / "last.pt", weights_only=True)
    assert ckpt["detector"]["weights_kind"] == "detector"
    assert ckpt["optimizer"]["param_groups"][0]["initial_lr"] == pytest.approx(0.0005)
