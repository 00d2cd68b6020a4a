"""The one background-job mechanism (:mod:`workbench.gui.jobs`) with real Qt: latest request
wins, cancel, an error reported once in the one place, close joins the runners; and auto-detect
runs nothing while the Detections panel is tabbed behind another panel (real D key presses)."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QThread, Qt
from PySide6.QtTest import QTest

from workbench.gui.jobs import Job, JobRunner, job_errors

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import make_project, shown_window  # noqa: E402


def _collect(job: Job, log: list) -> None:
    job.finished.connect(lambda r, k=job: log.append(("finished", r)))
    job.failed.connect(lambda m: log.append(("failed", m)))
    job.cancelled.connect(lambda r=job: log.append(("cancelled", r.name)))


def test_latest_request_wins(qtbot) -> None:  # noqa: ANN001
    runner = JobRunner()
    gate = threading.Event()
    threads: list[int] = []

    def work(value: int):  # noqa: ANN202
        def run(ctx):  # noqa: ANN001, ANN202
            threads.append(threading.get_ident())
            gate.wait(5)  # the first one is still running when the others are submitted
            return value
        return run

    log: list = []
    jobs = [runner.submit(work(i), key="image", name=f"job {i}") for i in range(3)]
    for job in jobs:
        _collect(job, log)
    assert [j.cancel_requested for j in jobs] == [True, True, False]
    assert runner.latest("image") is jobs[2]
    gate.set()
    qtbot.waitUntil(lambda: all(j.done for j in jobs), timeout=5000)
    assert ("finished", 2) in log and len([e for e in log if e[0] == "finished"]) == 1
    assert sorted(e[1] for e in log if e[0] == "cancelled") == ["job 0", "job 1"]
    assert [j.outcome for j in jobs] == ["cancelled", "cancelled", "finished"]
    assert len(threads) <= 2  # the queued middle one never ran (the first may have)
    assert jobs[2].result == 2 and jobs[0].result is None
    assert threading.get_ident() not in threads  # never on the GUI thread
    assert runner.shutdown(5000)


def test_progress_on_the_gui_thread_and_cancel(qtbot) -> None:  # noqa: ANN001
    runner = JobRunner()
    started = threading.Event()
    seen_threads: list[object] = []

    def slow(ctx):  # noqa: ANN001, ANN202
        for i in range(1000):
            ctx.progress(i / 1000, f"step {i}")
            started.set()
            ctx.check()  # raises JobCancelled once cancelled
            time.sleep(0.005)
        return "never"

    job = runner.submit(slow, name="slow")
    job.progressed.connect(lambda f, m: seen_threads.append(QThread.currentThread()))
    log: list = []
    _collect(job, log)
    assert started.wait(5)
    qtbot.waitUntil(lambda: bool(seen_threads), timeout=5000)
    with qtbot.waitSignal(job.cancelled, timeout=5000):
        job.cancel()
    assert log == [("cancelled", "slow")] and job.result is None
    assert set(seen_threads) == {QThread.currentThread()}


def test_generator_items_and_return_value(qtbot) -> None:  # noqa: ANN001
    runner = JobRunner()

    def gen(ctx):  # noqa: ANN001, ANN202
        yield 1
        yield 2
        return "done"

    job = runner.submit(gen)
    items: list = []
    job.yielded.connect(items.append)
    with qtbot.waitSignal(job.finished, timeout=5000) as blocker:
        pass
    assert items == [1, 2] and blocker.args == ["done"]


def test_error_reported_once_in_the_one_place(qtbot, tmp_path) -> None:  # noqa: ANN001
    window = shown_window(qtbot, tmp_path / "s.ini")
    reports: list[str] = []
    job_errors().reported.connect(reports.append)
    before = len(job_errors().history)

    def broken(ctx):  # noqa: ANN001, ANN202
        raise OSError("disk full")

    job = window.jobs.submit(broken, name="Export to /x")
    log: list = []
    _collect(job, log)
    qtbot.waitUntil(lambda: job.done, timeout=5000)
    qtbot.wait(50)  # nothing else arrives
    assert log == [("failed", "OSError: disk full")]
    assert reports == ["Export to /x: OSError: disk full"]
    assert len(job_errors().history) == before + 1
    assert "Export to /x: OSError: disk full" in window.statusBar().currentMessage()
    job_errors().reported.disconnect(reports.append)

    # a job cancelled before it fails is not an error
    gate = threading.Event()

    def fails_late(ctx):  # noqa: ANN001, ANN202
        gate.wait(5)
        raise OSError("too late")

    late = window.jobs.submit(fails_late)
    late.cancel()
    gate.set()
    qtbot.waitUntil(lambda: late.done, timeout=5000)
    assert late.outcome == "cancelled" and len(job_errors().history) == before + 1


def test_close_cancels_and_joins_every_runner(qtbot, tmp_path) -> None:  # noqa: ANN001
    window = shown_window(qtbot, tmp_path / "s.ini")
    started = threading.Event()
    ended = threading.Event()

    def endless(ctx):  # noqa: ANN001, ANN202
        started.set()
        try:
            while True:
                ctx.check()
                time.sleep(0.01)
        finally:
            ended.set()

    panel_runner = JobRunner(window.files)  # a panel's own runner, deep in the window's tree
    panel_runner.submit(endless)
    window.jobs.submit(endless)
    assert started.wait(5)
    t0 = time.monotonic()
    assert window.close()
    assert time.monotonic() - t0 < window.CLOSE_WAIT_MS / 1000 + 1
    assert ended.is_set()
    assert window.jobs.active == [] or all(j.cancel_requested for j in window.jobs.active)
    assert window.jobs._pool.activeThreadCount() == 0
    assert panel_runner._pool.activeThreadCount() == 0


# -- auto-detect and a panel tabbed behind another ----------------------------------------------

DETECTIONS = ("workbench.gui.panels.detections", "DetectionsPanel", "Detections")
IOU = ("workbench.gui.panels.iou", "IouPanel", "IoU")


@pytest.fixture(scope="module")
def detector_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = importlib.util.spec_from_file_location(
        "detections_helpers", Path(__file__).resolve().parents[1] / "detections_helpers.py")
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    return helpers.make_checkpoint(tmp_path_factory.mktemp("jobs"), steps=1)[0]


def test_auto_detect_runs_nothing_while_tabbed_behind(qtbot, tmp_path,  # noqa: ANN001
                                                      detector_checkpoint) -> None:
    from workbench.engine.inference import RawDetector
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    images = make_project(tmp_path / "project", n=6)
    window = MainWindow(Settings(tmp_path / "s.ini"), panels=[DETECTIONS, IOU])
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    assert window.open_project(images)
    host = window.panel_host
    det = host.show_panel("Detections")
    iou = host.show_panel("IoU")
    det_key, iou_key = f"{DETECTIONS[0]}.{DETECTIONS[1]}", f"{IOU[0]}.{IOU[1]}"
    assert det_key in host.panels and iou_key in host.panels
    det.auto_run.setChecked(True)
    det.set_detector(RawDetector.from_checkpoint(detector_checkpoint), detector_checkpoint)

    def in_front(panel) -> bool:  # noqa: ANN001
        return host.layers.owner_shown(panel)

    host.docks[iou_key].raise_()  # Detections tabbed behind IoU
    qtbot.waitUntil(lambda: in_front(iou) and not in_front(det), timeout=3000)
    assert det.isVisible()  # what the panel used to ask: a tab behind still says visible
    qtbot.waitUntil(lambda: not det.jobs.busy, timeout=30_000)
    started = det.detections_started
    window.canvas.setFocus()
    for _ in range(4):
        QTest.keyClick(window.canvas, Qt.Key.Key_D)
        qtbot.wait(20)
    assert window.current_image_path().name == "img4.png"
    assert det.detections_started == started  # nothing submitted
    assert not det.jobs.busy and det.detections is None

    # brought to the front, it detects the image shown (once), and follows the next one
    with qtbot.waitSignal(det.raw_ready, timeout=30_000) as blocker:
        host.docks[det_key].raise_()
    assert blocker.args == [str(images / "img4.png")]
    assert det.detections_started == started + 1
    QTest.keyClick(window.canvas, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: det.detections_started == started + 2, timeout=3000)
    qtbot.waitUntil(lambda: not det.jobs.busy, timeout=30_000)
    det.shutdown()


def test_auto_detect_latest_image_wins(qtbot, tmp_path, detector_checkpoint) -> None:  # noqa: ANN001
    """Quick image changes: the detections of images already left are cancelled, the last
    image's is shown."""
    from workbench.engine.inference import RawDetector
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    images = make_project(tmp_path / "project", n=6)
    window = MainWindow(Settings(tmp_path / "s.ini"), panels=[DETECTIONS])
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.open_project(images)
    det = window.panel_host.show_panel("Detections")
    det.auto_run.setChecked(True)
    det.set_detector(RawDetector.from_checkpoint(detector_checkpoint), detector_checkpoint)
    ready: list[str] = []
    det.raw_ready.connect(ready.append)
    qtbot.waitUntil(lambda: not det.jobs.busy, timeout=30_000)
    ready.clear()
    window.canvas.setFocus()
    for _ in range(5):
        QTest.keyClick(window.canvas, Qt.Key.Key_D)  # no event loop between the presses
    qtbot.waitUntil(lambda: not det.jobs.busy, timeout=30_000)
    assert window.current_image_path().name == "img5.png"
    assert ready[-1] == str(images / "img5.png")
    assert len(ready) <= 2  # the first (already running) may finish; the rest never ran
    assert det._raw_path == images / "img5.png"
    det.shutdown()


def test_ctrl_n_does_not_scan_on_the_gui_thread(qtbot, tmp_path) -> None:  # noqa: ANN001
    """Ctrl+N before the background state scan has finished returns at once and shows the
    next unlabeled image when the scan gets there."""
    images = make_project(tmp_path / "project", n=4)  # img1 and img3 have no annotation
    window = shown_window(qtbot, tmp_path / "s.ini")
    assert window.open_project(images)
    assert window.scanner.running  # nothing read yet: the event loop has not run
    window.canvas.setFocus()
    QTest.keyClick(window.canvas, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.scanner.running  # not forced to the end on the GUI thread
    assert window.current_image_path().name == "img0.png"
    qtbot.waitUntil(lambda: window.current_image_path().name == "img1.png", timeout=5000)
    QTest.keyClick(window.canvas, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.current_image_path().name == "img3.png"  # states known: at once



def test_training_failures_reach_the_one_place(qtbot, tmp_path) -> None:  # noqa: ANN001
    """The training QThread stays (see workers/bridge.py) but its failure is reported like
    every job's: once, in the window's status bar; the Train panel shows it inline."""
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    window = MainWindow(Settings(tmp_path / "s.ini"), panels=[
        ("workbench.gui.panels.training", "TrainingPanel", "Train")])
    qtbot.addWidget(window)
    window.show()
    train = window.panel("TrainingPanel")
    reports: list[str] = []
    job_errors().reported.connect(reports.append)
    worker = threading.Thread(target=lambda: train.bridge.failed.emit("TrainingError: no images"))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(reports), timeout=3000)
    qtbot.wait(20)
    assert reports == ["Training: TrainingError: no images"]
    assert "Training: TrainingError: no images" in window.statusBar().currentMessage()
    assert "Training stopped: TrainingError: no images" in train.status.text()
    job_errors().reported.disconnect(reports.append)


def test_train_panel_says_loading_models_until_the_background_import_is_done(
        qtbot, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """Opened before torch is imported, the Train dock says "Loading models…" (the window
    stays responsive) and the panel is built when the background loader is done."""
    from PySide6.QtWidgets import QLabel

    from workbench.gui import jobs
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    release = threading.Event()

    class SlowLoader(jobs.ModelLoader):
        MODULES = ("a_module_never_imported",)  # so start() does not find it loaded

        def _run(self) -> None:  # stands for a long `import torch`
            release.wait(10)
            self._done.set()
            self.loaded.emit()

    loader = SlowLoader()
    monkeypatch.setattr(jobs, "_LOADER", loader)
    loader.start_when_idle(idle_ms=60_000)  # the user never pauses in this test
    assert not loader.loading and not loader.done
    spec = ("workbench.gui.panels.training", "TrainingPanel", "Train")
    window = MainWindow(Settings(tmp_path / "s.ini"), panels=[spec])
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    key = f"{spec[0]}.{spec[1]}"
    host = window.panel_host
    host.docks[key].toggleViewAction().trigger()  # Panels → Train
    qtbot.wait(50)
    assert loader.loading  # opening the panel started the loader at once
    assert key not in host.panels
    texts = [w.text() for w in host.docks[key].findChildren(QLabel)]
    if isinstance(host.docks[key].widget(), QLabel):
        texts.append(host.docks[key].widget().text())
    assert any("Loading models" in t for t in texts), texts
    release.set()
    qtbot.waitUntil(lambda: key in host.panels, timeout=60_000)
    assert type(host.panels[key]).__name__ == "TrainingPanel"


def test_idle_start_watches_the_windows_input_only(qtbot, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """With a window, the idle watcher sits on its native window (not on the application):
    pointer moves over a widget inside it hold the start back; a pause starts the loader."""
    from PySide6.QtCore import QCoreApplication, QPoint
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

    from workbench.gui import jobs

    starts: list[float] = []

    class CountingLoader(jobs.ModelLoader):
        MODULES = ("a_module_never_imported",)

        def start(self) -> None:
            starts.append(time.monotonic())

        def start_panels(self) -> None:  # phase one is not what this test is about
            pass

    window = QWidget()
    inner = QLabel("inside", window)
    QVBoxLayout(window).addWidget(inner)
    qtbot.addWidget(window)
    window.resize(300, 200)
    window.show()
    qtbot.waitExposed(window)
    loader = CountingLoader()
    monkeypatch.setattr(jobs, "_LOADER", loader)
    began = time.monotonic()
    loader.start_when_idle(idle_ms=400, window=window)
    assert loader._idle_watched is window.windowHandle()  # noqa: SLF001
    assert loader._idle_watched is not QCoreApplication.instance()  # noqa: SLF001
    for i in range(6):  # ~0.6 s of pointer moves over the inner widget, 100 ms apart
        QTest.mouseMove(inner, QPoint(10 + 5 * i, 10 + 3 * i))
        qtbot.wait(100)
        assert starts == []
    qtbot.waitUntil(lambda: bool(starts), timeout=3000)
    assert len(starts) == 1 and starts[0] - began >= 0.85  # input until 0.5 s + the 0.4 s pause


def test_background_jobs_give_way_while_the_gui_thread_is_busy(qtbot) -> None:  # noqa: ANN001
    """A nicer runner's job waits at ctx.progress/ctx.check while the GUI thread is marked
    busy; a plain runner's job does not; a cancel or JobRunner.wait ends the wait."""
    from workbench.gui.jobs import gui_pulse

    pulse = gui_pulse()
    background, plain = JobRunner(niceness=5), JobRunner()
    steps: list[str] = []

    def work(name: str):  # noqa: ANN202
        def run(ctx):  # noqa: ANN001, ANN202
            ctx.progress(0.5, "half")
            steps.append(name)
            ctx.check()
            return name
        return run

    try:
        pulse.mark_busy(60)
        held = background.submit(work("background"), name="held")
        quick = plain.submit(work("plain"), name="quick")
        qtbot.waitUntil(lambda: quick.done, timeout=5000)
        qtbot.wait(300)
        assert steps == ["plain"] and not held.done  # still waiting for the GUI thread
        assert pulse.timer.isActive()  # beating while a background job is live
        pulse.busy_until = 0.0
        qtbot.waitUntil(lambda: held.done, timeout=5000)
        assert held.outcome == "finished" and steps == ["plain", "background"]
        qtbot.waitUntil(lambda: not pulse.timer.isActive(), timeout=5000)

        pulse.mark_busy(60)  # cancelled while it waits: ends at once, cancelled
        held = background.submit(work("cancelled"), name="held")
        qtbot.wait(100)
        held.cancel()
        qtbot.waitUntil(lambda: held.done, timeout=5000)
        assert held.outcome == "cancelled" and held.result is None

        held = background.submit(work("waited for"), name="held")  # still marked busy
        assert background.wait(5000)  # the GUI thread waits: the job does not wait for it
        assert steps[-1] == "waited for"
    finally:
        pulse.busy_until = 0.0
        background.shutdown(5000)
        plain.shutdown(5000)


def test_gui_pulse_sees_a_busy_gui_thread(qtbot) -> None:  # noqa: ANN001
    """While a background job is live, a GUI-thread turn longer than a beat's lateness (real
    work in the event loop) holds background jobs back for HOLD_S."""
    from PySide6.QtCore import QTimer

    from workbench.gui.jobs import GuiPulse, gui_pulse

    pulse = gui_pulse()
    runner = JobRunner(niceness=5)
    release = threading.Event()
    job = runner.submit(lambda ctx: release.wait(10), name="long")
    try:
        qtbot.wait(50)
        late = pulse.late_beats
        assert not pulse.gui_busy()
        QTimer.singleShot(0, lambda: time.sleep(0.1))  # the GUI thread busy for 100 ms
        qtbot.waitUntil(lambda: pulse.late_beats > late, timeout=3000)
        assert pulse.gui_busy()
        assert pulse.busy_until - time.perf_counter() <= GuiPulse.HOLD_S
    finally:
        release.set()
        qtbot.waitUntil(lambda: job.done, timeout=5000)
        pulse.busy_until = 0.0
        runner.shutdown(5000)
