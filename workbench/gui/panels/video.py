"""Video panel: play a video with the loaded checkpoint's detections, seek, step, and an event
list (click → that frame).

* **Frames** are decoded on a worker (:class:`~workbench.gui.jobs.JobRunner`, key ``"frame"``:
  the latest request wins, so holding → shows the frame the user stopped at, not every frame
  in between) by :class:`workbench.core.video_reader.FrameReader`, which returns exactly frame
  ``n`` (seeks are checked).
* **Detections**: the panel follows :class:`~workbench.gui.hub.CheckpointLoaded` (the
  Detections panel's Load, or a finished training) and loads the same checkpoint as a
  :class:`~workbench.engine.inference.RawDetector`. The network runs once per frame on the
  worker, with NMS off and a low score floor; the score and NMS sliders here re-apply
  :func:`workbench.engine.postprocess.apply` to that raw output on the GUI thread (well under a
  millisecond) — the same post-processing as the Detections panel and ``workbench detect``.
  They start at the checkpoint's saved settings.
* **Events**: ``Events…`` loads an ``events.jsonl`` written by ``workbench detect VIDEO
  --watch``; ``Scan`` runs the same rule (:mod:`workbench.core.video_events`) over the open
  video for the classes typed in *Watch*, on every Nth frame, in the background. A click on an
  event shows its frame (``frame``: where the event was confirmed).
* **Keys** in the picture: ←/→ one frame, Shift+←/→ ten, Home/End, K play/pause.

No torch at import time: the engine is imported inside jobs.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListWidget,
    QListWidgetItem, QPushButton, QSlider, QSpinBox, QVBoxLayout, QWidget,
)

from workbench.core.wording import count
from workbench.gui.hub import CheckpointLoaded, ImageChanged, TrainingFinished
from workbench.gui.jobs import Job, JobContext, JobRunner
from workbench.gui.panels.video_view import DrawnBox, VideoView

if TYPE_CHECKING:
    from workbench.gui.panel_api import PanelWindow

log = logging.getLogger(__name__)

SCORE_STEPS = 100
IOU_STEPS = 100


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of an ``events.jsonl``; ``ValueError`` naming the file and line."""
    events = []
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}, line {i}: not JSON ({exc})") from None
            if not isinstance(event, dict) or not isinstance(event.get("frame"), int):
                raise ValueError(f"{path}, line {i}: not an event (no integer \"frame\")")
            events.append(event)
    return events


def event_text(event: dict[str, Any]) -> str:
    kind = str(event.get("event", "?"))
    t = float(event.get("time_s", 0.0))
    best = event.get("best_score")
    return (f"{t:7.2f} s  {kind} {event.get('class', '?')}  (frame {event['frame']}"
            + (f", best {float(best):.2f}" if best is not None else "") + ")")


class VideoPanel(QWidget):
    """Dock contents; ``window``: :class:`~workbench.gui.panel_api.PanelWindow`."""

    frame_shown = Signal(int)       #: after frame n is on screen (with its detections)
    video_opened = Signal(str)
    detector_ready = Signal(str)
    events_changed = Signal()

    def __init__(self, window: PanelWindow) -> None:
        super().__init__()
        self.labeling_window = window
        self.video: Path | None = None
        self.info: Any = None
        self.reader: Any = None
        self.frame = -1          #: the frame on screen
        self.target = 0          #: the frame last asked for
        self.detector: Any = None
        self.checkpoint_path: Path | None = None
        self.detector_lock = threading.Lock()  # frames and the event scan share the network
        self._raw: Any = None
        self.detections: Any = None  #: ImageDetections on screen (after the sliders)
        self.events: list[dict[str, Any]] = []
        self.jobs = JobRunner(self)          # frames (latest wins) and opening
        # loading a checkpoint (every one the hub announces): nicer, it gives way while the
        # GUI thread is busy (gui/jobs.py; issue 14, GUI stalls)
        self.model_jobs = JobRunner(self, niceness=5)
        self.scan_jobs = JobRunner(self, niceness=5)
        self.scan_job: Job | None = None
        self.play_timer = QTimer(self)
        self.play_timer.timeout.connect(self._on_play_tick)
        self._build_ui()
        hub = window.hub
        hub.subscribe(CheckpointLoaded, self._on_checkpoint_loaded, owner=self)
        hub.subscribe(TrainingFinished, self._on_training_finished, owner=self)
        # A folder of extracted frames: its video opens by itself (it said "No video open"
        # beside clip_000000.jpg until "This image's frame" was clicked).
        self._followed: Path | None = None
        hub.subscribe(ImageChanged, self._on_image_changed, owner=self)
        shown = hub.last(ImageChanged)
        if shown is not None:
            self._on_image_changed(shown)
        last = hub.last(CheckpointLoaded)
        finished = hub.last(TrainingFinished)
        if last is not None:
            self.load_checkpoint(last.path)
        elif finished is not None:
            self._on_training_finished(finished)

    # -- UI ---------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.open_button = QPushButton("Open video…")
        self.open_button.clicked.connect(self._on_open_clicked)
        self.source_button = QPushButton("This image's frame")
        self.source_button.setToolTip("Open the video the current image was extracted from, "
                                      "at its frame (frames.json of File → Open Video…)")
        self.source_button.clicked.connect(self.show_source_of_current_image)
        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.source_button)
        self.file_label = QLabel("No video open")
        self.file_label.setWordWrap(True)
        self.view = VideoView()
        self.view.step_requested.connect(self.step)
        self.view.jump_requested.connect(
            lambda where: self.seek(0 if where == "home" else self.last_frame()))
        self.view.play_toggled.connect(self.toggle_play)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("video_seek")
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self._on_slider)
        self.back_button = QPushButton("◀")
        self.back_button.setToolTip("Previous frame (←; Shift+← ten)")
        self.back_button.clicked.connect(lambda: self.step(-1))
        self.play_button = QPushButton("Play")
        self.play_button.setToolTip("Play / pause (K)")
        self.play_button.clicked.connect(self.toggle_play)
        self.next_button = QPushButton("▶")
        self.next_button.setToolTip("Next frame (→; Shift+→ ten)")
        self.next_button.clicked.connect(lambda: self.step(1))
        for b in (self.back_button, self.next_button):
            b.setMaximumWidth(b.fontMetrics().horizontalAdvance("◀") + 28)
        self.position = QLabel("")
        self.position.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        controls = QHBoxLayout()
        for b in (self.back_button, self.play_button, self.next_button):
            controls.addWidget(b)
        controls.addWidget(self.position, 1)  # "frame 1234 / 5678 · 51.40 s"

        det = QGroupBox("Detections")
        self.checkpoint_label = QLabel("No checkpoint: load one in the Detections panel")
        self.checkpoint_label.setWordWrap(True)
        self.score_slider = QSlider(Qt.Orientation.Horizontal)
        self.score_slider.setRange(0, SCORE_STEPS)
        self.score_slider.setValue(50)
        self.iou_slider = QSlider(Qt.Orientation.Horizontal)
        self.iou_slider.setRange(1, IOU_STEPS)
        self.iou_slider.setValue(45)
        self.score_value, self.iou_value = QLabel("0.50"), QLabel("0.45")
        for s in (self.score_slider, self.iou_slider):
            s.valueChanged.connect(self._on_setting_changed)
        form = QFormLayout(det)
        form.addRow(self.checkpoint_label)
        form.addRow("Score ≥", self._beside(self.score_slider, self.score_value))
        form.addRow("NMS IoU", self._beside(self.iou_slider, self.iou_value))
        self.stats = QLabel("")
        form.addRow(self.stats)

        events = QGroupBox("Events")
        self.watch = QLineEdit()
        self.watch.setPlaceholderText("classes, e.g. raccoon,dog")
        self.watch.setToolTip("Scan: an event when one of these classes appears for the given "
                              "number of consecutive scanned frames, and one when it leaves")
        self.every = QSpinBox(minimum=1, maximum=1000, value=5)
        self.every.setPrefix("every ")
        self.every.setToolTip("Scan every Nth frame")
        self.min_frames = QSpinBox(minimum=1, maximum=100, value=3)
        self.min_frames.setPrefix("K ")
        self.min_frames.setToolTip("Consecutive scanned frames that make an appearance or a "
                                   "leaving (--min-frames)")
        self.scan_button = QPushButton("Scan")
        self.scan_button.clicked.connect(self.scan)
        self.events_button = QPushButton("Load events…")
        self.events_button.setToolTip("Load an events.jsonl of workbench detect VIDEO --watch")
        self.events_button.clicked.connect(self._on_events_clicked)
        self.event_list = QListWidget()
        self.event_list.setObjectName("video_events")
        self.event_list.setMinimumHeight(150)
        self.event_list.itemClicked.connect(self._on_event_clicked)
        self.events_label = QLabel("")
        self.events_label.setWordWrap(True)
        ev = QVBoxLayout(events)
        ev.addWidget(self.watch)
        row = QHBoxLayout()
        for w in (self.every, self.min_frames, self.scan_button):
            row.addWidget(w)
        ev.addLayout(row)
        ev.addWidget(self.events_button)
        ev.addWidget(self.event_list, 1)
        ev.addWidget(self.events_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.file_label)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.slider)
        layout.addLayout(controls)
        layout.addWidget(det)
        layout.addWidget(events)
        self._set_enabled()

    @staticmethod
    def _beside(slider: QSlider, value: QLabel) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(slider, 1)
        value.setMinimumWidth(value.fontMetrics().horizontalAdvance("0.000"))
        row.addWidget(value)
        return box

    def _set_enabled(self) -> None:
        has = self.reader is not None
        for w in (self.slider, self.back_button, self.play_button, self.next_button):
            w.setEnabled(has)
        self.scan_button.setEnabled(has and self.detector is not None)

    # -- opening ----------------------------------------------------------------------------
    def _on_open_clicked(self) -> None:
        from workbench.gui.video_open import VIDEO_FILTER

        path, _ = QFileDialog.getOpenFileName(self, "Open a video", "", VIDEO_FILTER)
        if path:
            self.open_video(Path(path))

    def open_video(self, path: Path, frame: int = 0) -> Job:
        """Open ``path`` (on a worker) and show ``frame``."""
        from workbench.core.video_reader import FrameReader

        self.pause()
        self.file_label.setText(f"Opening {Path(path).name}…")
        job = self.jobs.submit(lambda ctx: FrameReader(path), key="frame", name="Open video")
        job.finished.connect(lambda reader: self._on_opened(reader, frame))
        job.failed.connect(lambda msg: self.file_label.setText(f"Cannot open: {msg}"))
        return job

    def _on_opened(self, reader: Any, frame: int) -> None:
        old, self.reader = self.reader, reader
        if old is not None:
            self.jobs.submit(lambda ctx: old.close(), name="Close video")
        self.video, self.info = reader.path, reader.info
        self._raw, self.frame = None, -1
        info = reader.info
        length = f"{info.frame_count} frames" if reader.length_known else "length unknown"
        self.file_label.setText(f"{info.path.name} · {info.width}×{info.height}, "
                                f"{info.fps:g} fps, {length}")
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, self.last_frame()))
        self.slider.blockSignals(False)
        self._set_enabled()
        self.video_opened.emit(str(info.path))
        self.seek(frame)

    def last_frame(self) -> int:
        return max(0, (self.reader.frame_count if self.reader is not None else 1) - 1)

    def show_source_of_current_image(self) -> bool:
        """Open the video the window's current image was extracted from, at its frame."""
        from workbench.core.video import frame_source

        image = self.labeling_window.current_image_path()
        source = frame_source(image) if image is not None else None
        if source is None:
            self.file_label.setText("The current image has no frames.json record "
                                    "(it was not extracted by File → Open Video…)")
            return False
        if self.video is not None and self.video == source.video and self.reader is not None:
            self.seek(source.frame)
        else:
            self.open_video(source.video, source.frame)
        return True

    def _on_image_changed(self, event: ImageChanged) -> None:
        """While no video is open, the first image shown from a folder with a ``frames.json``
        record opens its video at that frame (once per folder: closing or opening another
        video is the user's)."""
        if self.reader is not None or event.path is None:
            return
        folder = Path(event.path).parent
        if folder == self._followed:
            return
        self._followed = folder
        from workbench.core.video import frame_source

        source = frame_source(event.path)
        if source is not None and source.video.is_file():
            self.open_video(source.video, source.frame)

    # -- frames -----------------------------------------------------------------------------
    def seek(self, frame: int) -> Job | None:
        """Show ``frame`` (clamped to the video); the latest request wins."""
        if self.reader is None:
            return None
        frame = max(0, int(frame))
        if self.reader.length_known:  # else the length is learnt by reading
            frame = min(frame, self.last_frame())
        self.target = frame
        reader, detector, lock = self.reader, self.detector, self.detector_lock

        def work(ctx: JobContext) -> tuple[int, Any, Any, Any]:
            import cv2

            rgb = cv2.cvtColor(reader.read(frame), cv2.COLOR_BGR2RGB)
            raw = None
            if detector is not None:
                ctx.check()
                with lock:
                    raw = detector.raw_for_array(rgb)
            return frame, rgb, raw, detector

        job = self.jobs.submit(work, key="frame", name="Video frame")
        job.finished.connect(self._on_frame)
        job.failed.connect(self._on_frame_failed)
        return job

    def step(self, delta: int) -> None:
        self.seek(self.target + int(delta))

    def _on_slider(self, value: int) -> None:
        if value != self.target:
            self.seek(value)

    def _on_frame(self, result: tuple[int, Any, Any, Any]) -> None:
        frame, rgb, raw, detector = result
        self.frame = frame
        self._raw = raw if detector is self.detector else None
        self.view.set_frame(rgb, self._drawn_boxes())
        self.slider.blockSignals(True)
        self.slider.setMaximum(max(self.slider.maximum(), self.last_frame()
                                   + (0 if self.reader.length_known else 1)))
        self.slider.setValue(frame)
        self.slider.blockSignals(False)
        fps = self.info.fps if self.info is not None else 25.0
        self.position.setText(f"frame {frame} / {self.last_frame()} · {frame / fps:.2f} s")
        self.view.set_message("")
        self.frame_shown.emit(frame)
        if self.play_timer.isActive() and self._at_end():
            self.pause()

    def _on_frame_failed(self, message: str) -> None:
        self.pause()
        self.view.set_message(message)
        if self.reader is not None:  # past the real end: the reader now knows the length
            self.target = min(self.target, self.last_frame())
            self.slider.blockSignals(True)
            self.slider.setMaximum(self.last_frame())
            self.slider.blockSignals(False)

    # -- playing ----------------------------------------------------------------------------
    def toggle_play(self) -> None:
        if self.play_timer.isActive():
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        if self.reader is None:
            return
        if self._at_end():
            self.seek(0)
        fps = self.info.fps if self.info is not None else 25.0
        self.play_timer.start(max(10, int(1000 / fps)))
        self.play_button.setText("Pause")

    def pause(self) -> None:
        self.play_timer.stop()
        self.play_button.setText("Play")

    def _on_play_tick(self) -> None:
        # one frame in flight at a time: a slow detector plays slower, it never queues up
        latest = self.jobs.latest("frame")
        if latest is not None and not latest.done:
            return
        if self._at_end():
            self.pause()
            return
        self.step(1)

    def _at_end(self) -> bool:
        """At the last frame (of a video of unknown length: only once a read has failed)."""
        return self.reader is not None and self.reader.length_known \
            and self.target >= self.last_frame()

    # -- detections -------------------------------------------------------------------------
    def _on_checkpoint_loaded(self, event: CheckpointLoaded) -> None:
        self.load_checkpoint(event.path)

    def _on_training_finished(self, event: TrainingFinished) -> None:
        """A finished run's best checkpoint, unless another one was loaded meanwhile."""
        path = event.best or event.last
        if path is None or not Path(path).is_file():
            return
        if self.checkpoint_path is None or self.checkpoint_path.parent == Path(path).parent:
            self.load_checkpoint(Path(path))

    def load_checkpoint(self, path: Path) -> Job:
        self.checkpoint_label.setText(f"Loading {Path(path).name}…")

        def work(ctx: JobContext) -> Any:
            from workbench.gui.workers.detectors import shared_detector

            # the Detections panel's model (loaded once), with a cache of its own: frames
            return shared_detector(path).with_own_cache(1)

        job = self.model_jobs.submit(work, key="load", name="Load checkpoint (Video)")
        job.finished.connect(lambda detector: self.set_detector(detector, Path(path)))
        job.failed.connect(lambda msg: self.checkpoint_label.setText(f"Cannot load: {msg}"))
        return job

    def set_detector(self, detector: Any, path: Path | None = None) -> None:
        """Use ``detector`` (a RawDetector or anything with ``classes``, ``settings`` and
        ``raw_for_array``); the sliders take its settings; the frame is detected again."""
        self.detector, self.checkpoint_path = detector, path
        s = detector.settings
        for slider, value in ((self.score_slider, s.score_threshold * SCORE_STEPS),
                              (self.iou_slider, s.nms_iou * IOU_STEPS)):
            slider.blockSignals(True)
            slider.setValue(int(round(value)))
            slider.blockSignals(False)
        self._update_values()
        name = path.name if path is not None else getattr(detector, "name", "detector")
        self.checkpoint_label.setText(f"{name}: {', '.join(map(str, detector.classes))}")
        self._set_enabled()
        self.detector_ready.emit(str(path or ""))
        if self.reader is not None:
            self.seek(self.target)

    def settings(self) -> Any:
        from workbench.engine.postprocess import PostprocessSettings

        base = getattr(self.detector, "settings", None) or PostprocessSettings()
        return base.replace(score_threshold=self.score_slider.value() / SCORE_STEPS,
                            nms_iou=self.iou_slider.value() / IOU_STEPS)

    def _update_values(self) -> None:
        self.score_value.setText(f"{self.score_slider.value() / SCORE_STEPS:.2f}")
        self.iou_value.setText(f"{self.iou_slider.value() / IOU_STEPS:.2f}")

    def _on_setting_changed(self) -> None:
        self._update_values()
        self.view.set_boxes(self._drawn_boxes())

    def _drawn_boxes(self) -> list[DrawnBox]:
        """The cached raw output of the frame on screen, post-processed at the sliders."""
        if self._raw is None or self.detector is None:
            self.detections = None
            self.stats.setText("")
            return []
        from workbench.engine.postprocess import apply

        classes = list(self.detector.classes)
        det = apply(self._raw, self.settings(), classes, f"frame {self.frame}")
        self.detections = det
        self.stats.setText(f"frame {self.frame}: {count(len(det.boxes), 'detection')}")
        return [DrawnBox((float(box[0]), float(box[1]), float(box[2]), float(box[3])),
                         str(label), float(score),
                         classes.index(str(label)) if str(label) in classes else 0)
                for box, score, label in zip(det.boxes, det.scores, det.labels)]

    # -- events -----------------------------------------------------------------------------
    def _on_events_clicked(self) -> None:
        start = str(self.video.parent) if self.video is not None else ""
        path, _ = QFileDialog.getOpenFileName(self, "Load an event log", start,
                                              "Event logs (*.jsonl);;All files (*)")
        if path:
            self.load_events(Path(path))

    def load_events(self, path: Path) -> bool:
        try:
            events = read_events(path)
        except (OSError, ValueError) as exc:
            self.events_label.setText(str(exc))
            return False
        self.set_events(events)
        self.events_label.setText(f"{count(len(events), 'event')} from {path.name}")
        return True

    def set_events(self, events: list[dict[str, Any]]) -> None:
        self.events = list(events)
        self.event_list.clear()
        for event in self.events:
            self._add_event_item(event)
        self.events_changed.emit()

    def _add_event_item(self, event: dict[str, Any]) -> None:
        item = QListWidgetItem(event_text(event))
        item.setData(Qt.ItemDataRole.UserRole, int(event["frame"]))
        self.event_list.addItem(item)

    def _on_event_clicked(self, item: QListWidgetItem) -> None:
        self.pause()
        self.seek(int(item.data(Qt.ItemDataRole.UserRole)))
        self.view.setFocus()

    def scan(self) -> Job | None:
        """Run the event rule over the open video for the watched classes (background)."""
        if self.reader is None or self.detector is None or self.video is None:
            return None
        from workbench.core.video_events import parse_watch

        try:
            watch = parse_watch(self.watch.text(), list(self.detector.classes))
        except ValueError as exc:
            self.events_label.setText(str(exc))
            return None
        video, detector, lock = self.video, self.detector, self.detector_lock
        settings, every, k = self.settings(), self.every.value(), self.min_frames.value()

        def work(ctx: JobContext) -> Any:
            import cv2

            from workbench.core.video import Selection, iter_frames
            from workbench.core.video_events import EventLog
            from workbench.engine.postprocess import apply

            log_ = EventLog(watch, k)
            classes = list(detector.classes)

            def progress(done: int, total: int) -> None:
                if total:
                    ctx.progress(done / total, f"frame {done}/{total}")

            for frame in iter_frames(video, Selection(every=every), on_progress=progress,
                                     should_cancel=ctx.cancelled):
                rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
                with lock:
                    raw = detector.raw_for_array(rgb)
                det = apply(raw, settings, classes, str(frame.number))
                yield from log_.update(frame.number, frame.time_s,
                                       zip(map(str, det.labels), map(float, det.scores)))
            yield from log_.finish()

        self.set_events([])
        self.events_label.setText("Scanning…")
        self.scan_button.setEnabled(False)
        job = self.scan_jobs.submit(work, key="scan", name="Scan video for events")
        job.yielded.connect(self._on_scan_event)
        job.progressed.connect(lambda f, m: self.events_label.setText(f"Scanning: {m}"))
        for end in (job.finished, job.failed, job.cancelled):
            end.connect(self._on_scan_end)
        self.scan_job = job
        return job

    def _on_scan_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self._add_event_item(event)
        self.events_changed.emit()

    def _on_scan_end(self, *_args: object) -> None:
        job = self.scan_job
        outcome = job.outcome if job is not None else ""
        self.events_label.setText(
            f"{count(len(self.events), 'event')} ({outcome})" if outcome != "failed"
            else f"Scan failed: {job.error if job is not None else ''}")
        self._set_enabled()

    # -- life -------------------------------------------------------------------------------
    def shutdown(self) -> None:
        self.pause()
        for runner in (self.jobs, self.model_jobs, self.scan_jobs):
            runner.shutdown(10_000)
        if self.reader is not None:
            self.reader.close()
            self.reader = None
