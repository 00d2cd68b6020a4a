"""The window's event hub (workbench/gui/hub.py): delivery rules, and the panels that follow each
other through it instead of looking for each other (issue 14) — in a real window.

Before: the Detections panel, opened before training, searched ``panel_host`` for a Training
panel that did not exist yet and never loaded the run's ``best.pt`` ("No checkpoint loaded").
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, QThread
from PySide6.QtTest import QTest

from workbench.gui.hub import (
    AnnotationsWritten, CheckpointLoaded, ClassesChanged, Event, EventHub, ImageChanged,
    ProjectOpened, TrainingFinished, TrainingStarted,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import make_project, shown_window, write_labelimg_xml  # noqa: E402


def _detections_helpers():  # tests/detections_helpers.py (tests are not a package)
    spec = importlib.util.spec_from_file_location(
        "detections_helpers", Path(__file__).resolve().parents[1] / "detections_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- delivery -------------------------------------------------------------------------------
def test_publish_on_the_gui_thread_delivers_at_once_in_order(qapp) -> None:  # noqa: ANN001
    hub = EventHub()
    got: list[tuple[str, Event]] = []
    hub.subscribe(ImageChanged, lambda e: got.append(("a", e)))
    hub.subscribe(ImageChanged, lambda e: got.append(("b", e)))
    hub.subscribe(ProjectOpened, lambda e: got.append(("p", e)))
    event = ImageChanged(Path("x.png"))
    hub.publish(event)
    assert got == [("a", event), ("b", event)]  # before publish returned; only its type
    assert hub.last(ImageChanged) is event and hub.last(ProjectOpened) is None


def test_publish_from_another_thread_arrives_on_the_gui_thread(qtbot) -> None:  # noqa: ANN001
    hub = EventHub()
    gui = QThread.currentThread()
    arrived: list[tuple[Event, bool]] = []
    hub.subscribe(AnnotationsWritten,
                  lambda e: arrived.append((e, QThread.currentThread() is gui)))
    during_publish: list[int] = []
    event = AnnotationsWritten((Path("a.xml"), Path("b.xml")), "outside")

    def worker() -> None:
        hub.publish(event)
        during_publish.append(len(arrived))  # queued: not delivered inside publish

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert during_publish == [0] and arrived == []
    qtbot.waitUntil(lambda: len(arrived) == 1, timeout=5000)
    assert arrived == [(event, True)]


def test_unsubscribe_and_owner_end_delivery(qapp) -> None:  # noqa: ANN001
    hub = EventHub()
    got: list[str] = []
    stop = hub.subscribe(ClassesChanged, lambda e: got.append("fn"))
    owner = QObject()
    hub.subscribe(ClassesChanged, lambda e: got.append("owned"), owner=owner)
    hub.publish(ClassesChanged(("cat",)))
    assert got == ["fn", "owned"]
    stop()
    stop()  # twice is harmless
    owner.deleteLater()
    QTest.qWait(0)
    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    hub.publish(ClassesChanged(("dog",)))
    assert got == ["fn", "owned"]
    assert hub.subscriber_count(ClassesChanged) == 0


def test_a_failing_subscriber_does_not_stop_the_others(qapp, caplog) -> None:  # noqa: ANN001
    hub = EventHub()
    got: list[Event] = []

    def broken(_event: Event) -> None:
        raise ValueError("boom")

    hub.subscribe(TrainingStarted, broken)
    hub.subscribe(TrainingStarted, got.append)
    hub.subscribe(Event, got.append)  # a base class gets every event
    hub.publish(TrainingStarted(Path("runs/r1")))
    assert got == [TrainingStarted(Path("runs/r1"))] * 2
    assert "boom" in caplog.text


def test_a_subscriber_ended_during_delivery_is_not_called(qapp) -> None:  # noqa: ANN001
    hub = EventHub()
    got: list[str] = []
    stops: list = []
    hub.subscribe(ImageChanged, lambda e: (got.append("first"), stops[0]()))
    stops.append(hub.subscribe(ImageChanged, lambda e: got.append("second")))
    hub.publish(ImageChanged(None))
    assert got == ["first"]


def test_only_events_are_published(qapp) -> None:  # noqa: ANN001
    hub = EventHub()
    with pytest.raises(TypeError):
        hub.publish("ImageChanged")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hub.subscribe(str, print)  # type: ignore[arg-type]


# -- the window publishes -------------------------------------------------------------------
@pytest.fixture
def images(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def test_window_publishes_project_image_and_saves(qtbot, tmp_path, images) -> None:  # noqa: ANN001
    w = shown_window(qtbot, tmp_path / "settings.ini")
    got: list[Event] = []
    w.hub.subscribe(Event, got.append)
    assert w.open_project(images)
    assert got[:2] == [ProjectOpened(images), ImageChanged(images / "img0.png")]
    w.canvas.setFocus()
    QTest.keyClick(w.canvas, Qt.Key.Key_D)  # next image, a real key
    assert got[-1] == ImageChanged(images / "img1.png")
    w.classes.persist_hook(["cat", "dog", "bird"])
    assert got[-1] == ClassesChanged(("cat", "dog", "bird"))
    w.canvas.setFocus()
    QTest.keyClick(w.canvas, Qt.Key.Key_D)  # img2: two boxes
    QTest.keyClick(w.canvas, Qt.Key.Key_Space)  # verified: an edit …
    QTest.keyClick(w.canvas, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # … saved
    assert AnnotationsWritten((images / "img2.xml",), "save") in got


def test_written_files_refresh_the_file_list_and_a_clean_open_image(qtbot, tmp_path,  # noqa: ANN001
                                                                    images) -> None:
    """What pre-labeling publishes (AnnotationsWritten, source "prelabel"): the file dock's
    rows and an open image without unsaved edits follow; nothing is asked or written."""
    w = shown_window(qtbot, tmp_path / "settings.ini")
    assert w.open_project(images)
    w.outside.stop()  # only the hub event tells the window here
    w.scanner.run_to_end()
    assert [w.files.model.state(r) for r in range(4)] == [
        "labeled", "unlabeled", "labeled", "unlabeled"]
    write_labelimg_xml(images / "img0.xml", "img0.png", (320, 240),
                       [("dog", 5, 5, 50, 50), ("dog", 60, 60, 90, 90)])
    write_labelimg_xml(images / "img3.xml", "img3.png", (320, 240), [("cat", 5, 5, 50, 50)])
    before = (images / "img0.xml").read_bytes()
    w.hub.publish(AnnotationsWritten((images / "img0.xml", images / "img3.xml"), "prelabel"))
    assert [o.name for o in w.current_annotation().objects] == ["dog", "dog"]
    assert not w.document.dirty
    assert w.files.model.state(3) == "labeled"
    assert (images / "img0.xml").read_bytes() == before


# -- Detections follows training ------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    return _detections_helpers().make_checkpoint(tmp_path_factory.mktemp("hub"))


@pytest.fixture
def scenes(tiny, tmp_path: Path) -> Path:  # noqa: ANN001
    folder = tmp_path / "scenes"
    folder.mkdir()
    for path in tiny[1]:
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


PANELS = [("workbench.gui.panels.detections", "DetectionsPanel", "Detections"),
          ("workbench.gui.panels.training", "TrainingPanel", "Train")]


def test_detections_opened_before_training_loads_best_pt(qtbot, tmp_path, tiny,  # noqa: ANN001
                                                         scenes) -> None:
    """The newcomer's order: Detections panel first, then Train, a run finishes → its
    best.pt is loaded (the Train panel publishes TrainingFinished on the window's hub)."""
    from workbench.engine.events import Finished
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    w = MainWindow(Settings(tmp_path / "s.ini"), panels=PANELS)
    qtbot.addWidget(w)
    w.show()
    assert w.open_project(scenes)
    detections = w.panel_host.show_panel("Detections")
    assert detections is not None and detections.checkpoint_path is None
    train = w.panel_host.show_panel("Train")  # built after the Detections panel
    assert train is not None
    run = tmp_path / "runs" / "run1"
    run.mkdir(parents=True)
    best = run / "best.pt"
    best.write_bytes(tiny[0].read_bytes())
    loaded: list[CheckpointLoaded] = []
    finished: list[TrainingFinished] = []
    w.hub.subscribe(CheckpointLoaded, loaded.append)
    w.hub.subscribe(TrainingFinished, finished.append)
    with qtbot.waitSignal(detections.checkpoint_loaded, timeout=60_000):
        # what the training thread reports at the end of a run (through the panel's bridge)
        train.bridge.training_finished.emit(Finished(
            epochs_completed=2, stopped=False, best_metric=0.5, last_checkpoint=run / "last.pt",
            best_checkpoint=best, elapsed_s=3.0))
    assert finished == [TrainingFinished(run, best, run / "last.pt", False)]
    assert detections.checkpoint_path == best and detections.detector is not None
    assert "No checkpoint loaded" not in detections.checkpoint_label.text()
    assert best.name in detections.checkpoint_label.text()
    assert loaded == [CheckpointLoaded(best)]
    assert detections.run_button.isEnabled()


def test_detections_built_after_the_run_loads_it_at_once(qtbot, tmp_path, tiny,  # noqa: ANN001
                                                         scenes) -> None:
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    w = MainWindow(Settings(tmp_path / "s.ini"), panels=PANELS)
    qtbot.addWidget(w)
    w.show()
    assert w.open_project(scenes)
    run = tmp_path / "runs" / "run1"
    run.mkdir(parents=True)
    best = run / "best.pt"
    best.write_bytes(tiny[0].read_bytes())
    w.hub.publish(TrainingFinished(run, best, None))
    detections = w.panel_host.show_panel("Detections")
    qtbot.waitUntil(lambda: detections.detector is not None, timeout=60_000)
    assert detections.checkpoint_path == best
    # A checkpoint loaded by hand from elsewhere is not replaced by the next run.
    other = tmp_path / "elsewhere" / "mine.pt"
    other.parent.mkdir()
    other.write_bytes(tiny[0].read_bytes())
    with qtbot.waitSignal(detections.checkpoint_loaded, timeout=60_000):
        detections.set_checkpoint(other)
    w.hub.publish(TrainingFinished(run, best, None))
    QTest.qWait(100)
    assert detections.checkpoint_path == other


def test_the_window_is_what_panels_may_use(qtbot, tmp_path) -> None:  # noqa: ANN001
    """Every member of the panel protocol (workbench/gui/panel_api.py) exists on the window."""
    from workbench.gui.main_window import MainWindow
    from workbench.gui.panel_api import PanelWindow
    from workbench.gui.settings import Settings

    w = MainWindow(Settings(tmp_path / "s.ini"), panels=[])
    qtbot.addWidget(w)
    assert isinstance(w, PanelWindow)
    members = set(PanelWindow.__annotations__) | {
        "project", "current_image_path", "current_annotation", "current_image_rgb",
        "add_objects", "statusBar"}
    assert {"hub", "session", "canvas", "image_changed"} <= members
    for name in members:
        assert hasattr(w, name), name
    assert isinstance(w.hub, EventHub)
