"""Detections panel in a real labeling window: instant tuning, marks, suppressed, accept, save."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDockWidget

from workbench.core.annotation import Annotation, ImageSize, VocObject
from workbench.gui.main_window import MainWindow
from workbench.gui.panels.detections import DetectionsPanel
from workbench.gui.settings import Settings


def _helpers():  # tests/detections_helpers.py (tests are not a package)
    spec = importlib.util.spec_from_file_location(
        "detections_helpers", Path(__file__).resolve().parents[1] / "detections_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H = _helpers()
GT_CAT, GT_DOG, GT_HARD = (8.0, 6.0, 58.0, 46.0), (70.0, 50.0, 120.0, 90.0), (90.0, 5.0, 120.0,
                                                                             30.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    return H.make_checkpoint(tmp_path_factory.mktemp("panel"))


@pytest.fixture
def folder(tiny: tuple[Path, list[Path]], tmp_path: Path) -> Path:
    """The 4 scenes; scene_0 has ground truth: a cat, a dog and a difficult cat."""
    from workbench.core.voc import write_annotation

    images = tmp_path / "images"
    images.mkdir()
    for path in tiny[1]:
        (images / path.name).write_bytes(path.read_bytes())
    write_annotation(Annotation("scene_0.png", ImageSize(128, 96, 3), (
        VocObject("cat", GT_CAT), VocObject("dog", GT_DOG),
        VocObject("cat", GT_HARD, difficult=True))), images / "scene_0.xml")
    return images


@pytest.fixture
def window(qtbot, tmp_path: Path, folder: Path):  # noqa: ANN001, ANN201
    w = MainWindow(Settings(tmp_path / "settings.ini"), panels=[])
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    assert w.open_project(folder)
    assert w.current_image_path().name == "scene_0.png"
    return w


@pytest.fixture
def panel(window):  # noqa: ANN001, ANN201
    p = DetectionsPanel(window)
    dock = QDockWidget("Detections", window)
    dock.setObjectName("test-detections-dock")
    dock.setWidget(p)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    yield p
    p.shutdown()


def _toggle(box) -> None:  # noqa: ANN001
    """Click a check box on its indicator (a click right of its text does nothing in Qt)."""
    QTest.mouseClick(box, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(8, box.height() // 2))


def _load(qtbot, panel: DetectionsPanel, ckpt: Path) -> None:  # noqa: ANN001
    with qtbot.waitSignal(panel.raw_ready, timeout=30_000):
        panel.set_checkpoint(ckpt)


def test_slider_moves_never_call_the_model(qtbot, window, panel, tiny) -> None:  # noqa: ANN001
    _load(qtbot, panel, tiny[0])
    assert panel.detections is not None
    calls = []
    panel.detector.model.register_forward_pre_hook(lambda *_: calls.append(1))
    assert panel.settings_values() == (0.2, 0.5, 7, False)  # the checkpoint's settings
    seen = {len(panel.detections)}
    panel.score_slider.setFocus()
    for _ in range(15):
        QTest.keyClick(panel.score_slider, Qt.Key.Key_PageDown)  # -0.01 each
        seen.add(len(panel.detections))
    for key, slider in ((Qt.Key.Key_PageUp, panel.topk_slider),
                        (Qt.Key.Key_PageUp, panel.iou_slider)):
        slider.setFocus()
        for _ in range(5):
            QTest.keyClick(slider, key)
            seen.add(len(panel.detections))
    _toggle(panel.agnostic)
    _toggle(panel.show_suppressed)
    assert panel.agnostic.isChecked() and panel.show_suppressed.isChecked()
    assert panel.settings_values()[0] == pytest.approx(0.05)
    assert len(seen) > 2  # the boxes did change
    assert (panel.detections.scores > 0.05).all()
    assert len(panel.overlay.kept) + len(panel.overlay.fp) == len(panel.detections)
    assert calls == [] and panel.detector.forward_images == 1
    # another image runs the network once; coming back uses the cache
    with qtbot.waitSignal(panel.raw_ready, timeout=30_000):
        window.next_image()
    assert panel.detector.forward_images == 2 and len(calls) == 1
    window.prev_image()
    assert panel.detections is not None and panel.detections.image_id == "scene_0"
    assert panel.detector.forward_images == 2 and len(calls) == 1


class _StubDetector:
    """What the panel needs from a RawDetector, serving a constructed raw output."""

    def __init__(self, raw) -> None:  # noqa: ANN001
        from workbench.engine.postprocess import PostprocessSettings

        self.raw_output = raw
        self.classes = ("cat", "dog")
        self.settings = PostprocessSettings(0.1, 1.0, 100)
        self.name, self.device = "stub", "cpu"

    def is_cached(self, path: Path) -> bool:
        return True

    def raw(self, path: Path):  # noqa: ANN201
        return self.raw_output


def _constructed():  # noqa: ANN202
    from workbench.engine.postprocess import RawDetections

    boxes = [GT_CAT,                      # 0.9 cat on the cat: TP
             (9.0, 7.0, 58.0, 46.0),      # 0.8 cat on the cat again: duplicate, FP
             (0.0, 60.0, 30.0, 90.0),     # 0.7 dog on nothing: FP
             (90.0, 5.0, 115.0, 30.0),    # 0.6 cat on the difficult cat (IoU 0.83): neither
             (1.0, 1.0, 5.0, 5.0)]        # 0.05: below the threshold
    return RawDetections.from_unsorted(boxes, [0.9, 0.8, 0.7, 0.6, 0.05], [1, 1, 2, 1, 2],
                                       image_size=(128, 96))


def test_tp_fp_fn_marks_on_a_constructed_case(qtbot, window, panel) -> None:  # noqa: ANN001
    panel.set_detector(_StubDetector(_constructed()))
    assert panel.marks is not None
    assert panel.marks.status == ("TP", "FP", "FP", "difficult")
    assert panel.marks.missed == (1,)  # the dog
    assert panel.marks.counts == {"TP": 1, "FP": 2, "FN": 1}
    np.testing.assert_allclose(panel.overlay.kept.boxes, [GT_CAT, (90, 5, 115, 30)])
    np.testing.assert_allclose(panel.overlay.fp.boxes, [(9, 7, 58, 46), (0, 60, 30, 90)])
    np.testing.assert_allclose(panel.overlay.fn.boxes, [(68, 48, 122, 92)])  # GT_DOG, outset 2
    model = panel.table_model
    assert [model.index(r, 3).data() for r in range(4)] == ["TP", "FP", "FP", "difficult"]
    assert [model.index(r, 1).data() for r in range(4)] == ["cat", "cat", "dog", "cat"]
    assert "TP 1 · FP 2 (dashed) · FN 1 (red dash-dot)" in panel.stats.text()
    # NMS at 0.5 removes the duplicate: now only one FP
    panel.iou_slider.setValue(50)
    assert panel.marks.status == ("TP", "FP", "difficult")
    # a stricter evaluation IoU turns the slightly-off difficult hit into a FP
    panel.eval_iou.setValue(0.9)
    assert panel.marks.status == ("TP", "FP", "FP")
    # marks off: no FP layer, no FN
    _toggle(panel.marks_box)
    assert panel.marks is None and len(panel.overlay.fp) == 0 and len(panel.overlay.fn) == 0
    assert len(panel.overlay.kept) == 3


def test_show_suppressed_links_each_box_to_its_suppressor(qtbot, window, panel) -> None:  # noqa: ANN001
    panel.set_detector(_StubDetector(_constructed()))
    panel.iou_slider.setValue(50)
    _toggle(panel.show_suppressed)
    assert panel.show_suppressed.isChecked()
    np.testing.assert_allclose(panel.overlay.suppressed.boxes, [(9, 7, 58, 46)])
    assert len(panel.overlay.links) == 1
    (line,) = [ln for _c, lines in panel.overlay.links._groups for ln in lines]
    assert (line.x1(), line.y1(), line.x2(), line.y2()) == pytest.approx((33.5, 26.5, 33, 26))
    _toggle(panel.show_suppressed)
    assert len(panel.overlay.suppressed) == 0 and len(panel.overlay.links) == 0


def _click_row(panel: DetectionsPanel, row: int) -> None:
    view = panel.table
    rect = view.visualRect(panel.table_model.index(row, 1))
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     rect.center())


def test_accepting_is_undoable_and_saved_as_model_made(qtbot, window, panel, folder) -> None:  # noqa: ANN001
    panel.set_detector(_StubDetector(_constructed()))
    before = window.current_annotation().objects
    _click_row(panel, 2)
    assert panel.selected_rows() == [2]
    np.testing.assert_allclose(panel.overlay.selection.boxes, [(0, 60, 30, 90)])
    QTest.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    objects = window.current_annotation().objects
    assert objects[:3] == before
    added = objects[3]
    assert (added.name, added.box, added.score, added.model_made) == \
        ("dog", (0.0, 60.0, 30.0, 90.0), 0.7, True)
    assert panel.marks.counts == {"TP": 1, "FP": 2, "FN": 1}  # suggestions are not truth
    window.actions.undo.trigger()
    assert window.current_annotation().objects == before
    window.actions.redo.trigger()
    assert len(window.current_annotation().objects) == 4
    window.actions.undo.trigger()
    QTest.mouseClick(panel.accept_all_button, Qt.MouseButton.LeftButton)
    assert len(window.current_annotation().objects) == 3 + 4
    window.actions.save.trigger()
    text = (folder / "scene_0.xml").read_text()
    assert text.count('model_made="yes"') == 4 and text.count("<score>") == 4
    from workbench.core.voc import read_annotation

    saved, _ = read_annotation(folder / "scene_0.xml")
    assert [o.model_made for o in saved.objects] == [False] * 3 + [True] * 4
    assert [o.score for o in saved.objects[3:]] == [0.9, 0.8, 0.7, 0.6]


def test_save_settings_into_the_checkpoint(qtbot, window, panel, tiny, tmp_path) -> None:  # noqa: ANN001
    from workbench.engine.checkpoint import read_checkpoint

    ckpt = tmp_path / "copy.pt"
    ckpt.write_bytes(tiny[0].read_bytes())
    _load(qtbot, panel, ckpt)
    panel.score_slider.setValue(350)
    panel.iou_slider.setValue(60)
    panel.topk_slider.setValue(12)
    _toggle(panel.agnostic)
    QTest.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)  # written on a worker
    qtbot.waitUntil(lambda: "Saved" in window.statusBar().currentMessage(), timeout=10_000)
    assert read_checkpoint(ckpt)["postprocess"] == {
        "score_threshold": 0.35, "nms_iou": 0.6, "top_k": 12, "class_agnostic": True}
    assert "Saved" in window.statusBar().currentMessage()


def test_prelabel_folder_writes_suggestions_and_shows_them(qtbot, window, panel, tiny,  # noqa: ANN001
                                                           folder) -> None:
    _load(qtbot, panel, tiny[0])
    window.show_row(3)  # scene_3: no annotation yet
    assert window.current_image_path().name == "scene_3.png"
    assert window.current_annotation().objects == ()
    gt_before = (folder / "scene_0.xml").read_bytes()
    with qtbot.waitSignal(panel.prelabel.finished, timeout=60_000) as blocker:
        QTest.mouseClick(panel.prelabel.start_button, Qt.MouseButton.LeftButton)
    done = blocker.args[0]
    assert (done.total, done.written, done.skipped, done.cancelled) == (4, 3, 1, False)
    assert (folder / "scene_0.xml").read_bytes() == gt_before
    for stem in ("scene_1", "scene_2", "scene_3"):
        assert 'model_made="yes"' in (folder / f"{stem}.xml").read_text()
    shown = window.current_annotation().objects
    assert shown and all(o.model_made for o in shown)  # the open image got its suggestions
    states = [window.files.model.state(row) for row in range(4)]
    assert states[1:] == ["suggestions"] * 3  # the file dock shows unreviewed suggestions
    qtbot.waitUntil(lambda: not panel.prelabel.running, timeout=5000)
    assert panel.prelabel.start_button.isEnabled()


def test_failures_are_reported_not_raised(qtbot, window, panel, tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nope")
    with qtbot.waitSignal(panel.failed, timeout=30_000) as blocker:
        panel.set_checkpoint(bad)
    assert "bad.pt" in blocker.args[0]
    assert panel.detector is None and not panel.run_button.isEnabled()


def test_panel_module_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, workbench.gui.panels.detections\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "False", out.stderr




def test_follows_a_finished_training_run(qtbot, window, tiny, tmp_path) -> None:  # noqa: ANN001
    """The panel follows training through the window's hub (it never looks for the Train
    panel): a published TrainingFinished loads the run's best.pt."""
    from workbench.gui.hub import CheckpointLoaded, TrainingFinished

    panel = DetectionsPanel(window)
    loaded: list = []
    window.hub.subscribe(CheckpointLoaded, loaded.append)
    try:
        run = tmp_path / "run"
        run.mkdir()
        best = run / "best.pt"
        best.write_bytes(tiny[0].read_bytes())
        with qtbot.waitSignal(panel.checkpoint_loaded, timeout=30_000) as blocker:
            window.hub.publish(TrainingFinished(run, best, run / "last.pt"))
        assert blocker.args == [str(best)]
        assert panel.checkpoint_path == best
        assert loaded == [CheckpointLoaded(best)]
    finally:
        panel.shutdown()


def test_follows_a_run_that_finished_before_it_was_opened(qtbot, window, tiny,  # noqa: ANN001
                                                         tmp_path) -> None:
    """Train first, open Detections afterwards (the first-run hint's order): the finished
    run's best.pt is loaded at once (the hub remembers the last TrainingFinished)."""
    from workbench.gui.hub import TrainingFinished

    run = tmp_path / "run"
    run.mkdir()
    best = run / "best.pt"
    best.write_bytes(tiny[0].read_bytes())
    window.hub.publish(TrainingFinished(run, best, run / "last.pt"))
    panel = DetectionsPanel(window)
    try:
        qtbot.waitUntil(lambda: panel.detector is not None, timeout=30_000)
        assert panel.checkpoint_path == best
    finally:
        panel.shutdown()


def test_hidden_panel_does_not_run_the_network(qtbot, window, panel, tiny) -> None:  # noqa: ANN001
    _load(qtbot, panel, tiny[0])
    assert panel.detector.forward_images == 1
    dock = panel.parentWidget()
    while not isinstance(dock, QDockWidget):
        dock = dock.parentWidget()
    dock.hide()
    window.next_image()
    window.next_image()
    qtbot.wait(200)
    assert panel.detector.forward_images == 1 and panel.detections is None
    with qtbot.waitSignal(panel.raw_ready, timeout=30_000) as blocker:
        dock.show()
    assert Path(blocker.args[0]).name == "scene_2.png"
    assert panel.detector.forward_images == 2 and panel.detections.image_id == "scene_2"


def test_registered_and_built_by_the_window(qtbot, tmp_path, folder) -> None:  # noqa: ANN001
    from workbench.gui.panels.registry import PANELS

    assert ("workbench.gui.panels.detections", "DetectionsPanel", "Detections") in PANELS
    w = MainWindow(Settings(tmp_path / "s.ini"))
    qtbot.addWidget(w)
    w.show()
    assert w.open_project(folder)
    built = w.panel("DetectionsPanel")
    assert isinstance(built, DetectionsPanel) and built.window is w
    assert not built.run_button.isEnabled()  # nothing loaded yet
    built.shutdown()


def test_images_flipped_quickly_are_not_detected(qtbot, window, panel, tiny) -> None:  # noqa: ANN001
    """Real D presses in quick succession (auto-detect on): only the image the user stops on
    runs the network; the ones flipped by are cancelled while they wait; a single switch
    after a pause detects at once."""
    _load(qtbot, panel, tiny[0])
    assert panel.detector.forward_images == 1
    window.canvas.setFocus()
    for _ in range(3):  # no event loop between the presses: scene_1, scene_2, scene_3
        QTest.keyClick(window.canvas, Qt.Key.Key_D)
    assert window.current_image_path().name == "scene_3.png"
    assert panel.stats.text() == "Detecting once the image stays…"
    qtbot.waitUntil(lambda: panel.detections is not None
                    and panel.detections.image_id == "scene_3", timeout=30_000)
    qtbot.waitUntil(lambda: not panel.jobs.busy, timeout=30_000)
    # the first press (after a pause) may have started scene_1 at once; scene_2 never ran
    assert panel.detector.forward_images in (2, 3)
    assert not panel.detector.is_cached(window.project.entries[2].image_path)
    qtbot.wait(400)  # a pause: the next switch detects at once, its name in the text
    QTest.keyClick(window.canvas, Qt.Key.Key_A)  # back to scene_2
    assert window.current_image_path().name == "scene_2.png"
    assert panel.stats.text() == "Detecting on scene_2.png…"
    qtbot.waitUntil(lambda: panel.detections is not None
                    and panel.detections.image_id == "scene_2", timeout=30_000)
    assert panel.detector.is_cached(window.project.entries[2].image_path)


def test_a_loaded_checkpoint_is_loaded_once_for_every_panel(qtbot, window, panel, tiny,  # noqa: ANN001
                                                            monkeypatch) -> None:
    """The Video and Errors panels follow the Detections panel's checkpoint (the hub) with the
    same model in memory: the file is read and the network built once, not once per panel."""
    from workbench.engine.inference import RawDetector
    from workbench.gui.panels.errors import ErrorsPanel
    from workbench.gui.panels.video import VideoPanel

    loads: list[Path] = []
    real = RawDetector.from_checkpoint.__func__
    monkeypatch.setattr(RawDetector, "from_checkpoint", classmethod(
        lambda cls, path, **kw: loads.append(Path(path)) or real(cls, path, **kw)))
    _load(qtbot, panel, tiny[0])
    video, errors = VideoPanel(window), ErrorsPanel(window)  # built after: the hub's last
    try:
        qtbot.waitUntil(lambda: video.detector is not None and errors.detector is not None,
                        timeout=30_000)
        assert loads == [tiny[0]]
        assert errors.detector is panel.detector
        # the video's frames have a cache of their own; the model and its forward lock are one
        assert video.detector is not panel.detector
        assert video.detector.model is panel.detector.model
        assert video.detector._model_lock is panel.detector._model_lock
        assert (video.detector.cache_size, panel.detector.cache_size) == (1, 64)
        # a rewritten checkpoint is another one: loaded again
        data = tiny[0].read_bytes()
        copy = tiny[0].with_name("tiny-copy.pt")
        copy.write_bytes(data)
        _load(qtbot, panel, copy)
        qtbot.waitUntil(lambda: video.checkpoint_path == copy, timeout=30_000)
        assert loads == [tiny[0], copy]
        assert video.detector.model is panel.detector.model
    finally:
        video.shutdown()
        errors.shutdown()
