"""Edit → Propagate Boxes…: carry the current frame's boxes through the next K images.

The images after the current one in the project list are taken as the next frames (a folder
from File → Open Video… lists them in frame order). A job on the window's runner decodes them
and runs :func:`workbench.core.tracking.track_boxes` (an OpenCV tracker per box; CSRT by
default) or, with a checkpoint loaded in the Detections panel, the detector on each frame and
:func:`workbench.core.tracking.follow_detections` (greedy IoU association). A progress dialog
shows the frames done and cancels.

The result is shown in a small non-modal window: one row per frame and box with the tracker's
confidence (a lost box stops: no rows after it). Nothing is written by propagating: each frame
gets its boxes as *suggestions* when it is shown (:mod:`workbench.gui.video_suggest`: dashed,
Enter / Ctrl+Shift+A to accept, Del to reject). "Accept selected" / "Accept all" in the result
window accept rows directly: the current image gets them as reviewed boxes (one undoable edit),
other images have them added to their annotation files (an image open with unsaved edits is
skipped and keeps its suggestions). The window opens beside the canvas
(:func:`beside_canvas`), not over the frame it points to.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout,
    QHBoxLayout, QHeaderView, QLabel, QProgressDialog, QPushButton, QSpinBox, QTableWidget,
    QTableWidgetItem, QVBoxLayout, QWidget,
)

from workbench.core.annotation import VocObject
from workbench.core.tracking import (
    DEFAULT_ASSOCIATION_IOU, DEFAULT_MIN_CONFIDENCE, TRACKERS, FrameBoxes,
)
from workbench.core.wording import count
from workbench.gui.jobs import Job, JobContext
from workbench.gui.video_suggest import FrameSuggestions

if TYPE_CHECKING:
    from workbench.gui.main_window import MainWindow

log = logging.getLogger(__name__)

DETECTOR = "detector"
METHOD_TEXT = {"csrt": "Tracker: CSRT (accurate, default)", "kcf": "Tracker: KCF (fast)",
               "mil": "Tracker: MIL", DETECTOR: "Detector + IoU matching"}


@dataclass(frozen=True)
class PropagateOptions:
    frames: int = 10
    method: str = TRACKERS[0]
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    iou_threshold: float = DEFAULT_ASSOCIATION_IOU
    checkpoint: Path | None = None


@dataclass(frozen=True)
class FrameResult:
    """What the job yields per frame: the image and one entry per source box (None: lost)."""

    index: int  #: 1 = the first frame after the source
    image: Path
    boxes: FrameBoxes


class PropagateDialog(QDialog):
    def __init__(self, checkpoint: Path | None, parent: QWidget | None = None,
                 available: int = 10) -> None:
        super().__init__(parent)
        self.setWindowTitle("Propagate Boxes")
        self.setObjectName("propagate_dialog")
        self.checkpoint = checkpoint
        self.frames = QSpinBox(minimum=1, maximum=max(1, available), value=min(10, available))
        self.method = QComboBox()
        for name in TRACKERS:
            self.method.addItem(METHOD_TEXT[name], name)
        if checkpoint is not None:
            self.method.addItem(f"{METHOD_TEXT[DETECTOR]} ({checkpoint.name})", DETECTOR)
        self.min_confidence = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05,
                                             value=DEFAULT_MIN_CONFIDENCE, decimals=2)
        self.min_confidence.setToolTip("A tracked box whose appearance match (0-1) falls below "
                                       "this is lost and stops")
        self.iou = QDoubleSpinBox(minimum=0.05, maximum=1.0, singleStep=0.05,
                                  value=DEFAULT_ASSOCIATION_IOU, decimals=2)
        self.iou.setToolTip("Detector mode: a box moves to the detection overlapping it at "
                            "least this much (greedy, highest IoU first)")
        form = QFormLayout(self)
        form.addRow("Next frames", self.frames)
        form.addRow("Method", self.method)
        form.addRow("Min. confidence", self.min_confidence)
        form.addRow("Match IoU", self.iou)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Propagate")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def options(self) -> PropagateOptions:
        method = str(self.method.currentData())
        return PropagateOptions(self.frames.value(), method, self.min_confidence.value(),
                                self.iou.value(),
                                self.checkpoint if method == DETECTOR else None)


def _decode(path: Path) -> Any:
    from workbench.core.images import decode_image

    return decode_image(path).rgb


def propagate(ctx: JobContext, first_rgb: Any, objects: list[VocObject], targets: list[Path],
              options: PropagateOptions) -> Iterator[FrameResult]:
    """The job (a generator): decode each target and carry ``objects`` into it."""
    from workbench.core import tracking

    boxes = [o.box for o in objects]
    total = len(targets)

    def frames() -> Iterator[Any]:
        for i, path in enumerate(targets):
            ctx.progress(i / total, f"frame {i + 1}/{total}: {path.name}")
            yield _decode(path)

    if options.method == DETECTOR:
        assert options.checkpoint is not None
        from workbench.engine.postprocess import apply
        from workbench.gui.workers.detectors import shared_detector

        # the model the panels have loaded (loaded here once otherwise); a cache of its own
        detector = shared_detector(options.checkpoint).with_own_cache(1)
        classes = list(detector.classes)

        def detections() -> Iterator[tracking.FrameDetections]:
            for path, rgb in zip(targets, frames()):
                det = apply(detector.raw_for_array(rgb), detector.settings, classes, path.stem)
                yield tracking.FrameDetections(det.boxes, det.scores,
                                               [str(c) for c in det.labels])

        steps = tracking.follow_detections(boxes, detections(),
                                           labels=[o.name for o in objects],
                                           iou_threshold=options.iou_threshold)
    else:
        steps = tracking.track_boxes(first_rgb, boxes, frames(), tracker=options.method,
                                     min_confidence=options.min_confidence,
                                     should_cancel=ctx.cancelled)
    for i, (path, step) in enumerate(zip(targets, steps), start=1):
        yield FrameResult(i, path, step)
    ctx.progress(1.0, "done")


def suggestions_of(results: list[FrameResult], objects: list[VocObject]
                   ) -> dict[Path, list[VocObject]]:
    """Per image, the tracked boxes as model-made objects scored with the confidence."""
    out: dict[Path, list[VocObject]] = {}
    for r in results:
        found = [replace(objects[k], box=t.box, score=t.confidence,
                         model_made=True, raw=None)
                 for k, t in enumerate(r.boxes) if t is not None]
        if found:
            out[r.image] = found
    return out


class Propagation:
    """One run: the job, its progress dialog, then the results window."""

    def __init__(self, window: MainWindow, options: PropagateOptions) -> None:
        self.window = window
        doc = window.document
        assert doc is not None and window.project is not None
        self.source = doc.image_path
        self.objects = [replace(o, model_made=False, score=None, raw=None)
                        for o in doc.annotation.objects]
        row = window.session.rows[self.source]
        entries = window.entries()[row + 1: row + 1 + options.frames]
        self.targets = [Path(e.image_path) for e in entries]
        self.results: list[FrameResult] = []
        self.view: PropagationView | None = None
        first = window.current_image_rgb()
        self.dialog = QProgressDialog(f"Tracking {count(len(self.objects), 'box')}…", "Cancel",
                                      0, 1000, window)
        self.dialog.setObjectName("propagate_progress")
        self.dialog.setWindowTitle("Propagating boxes")
        self.dialog.setMinimumDuration(0)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        objects, targets = list(self.objects), list(self.targets)
        self.job: Job = window.jobs.submit(
            lambda ctx: propagate(ctx, first, objects, targets, options),
            key="propagate", name="Propagating boxes")
        self.job.progressed.connect(self._on_progress)
        self.job.yielded.connect(self.results.append)
        for end in (self.job.finished, self.job.failed, self.job.cancelled):
            end.connect(self._on_end)
        self.dialog.canceled.connect(self.job.cancel)

    def _on_progress(self, fraction: float, message: str) -> None:
        self.dialog.setValue(int(round(fraction * 1000)))
        self.dialog.setLabelText(message)

    def _on_end(self, *_args: object) -> None:
        self.dialog.close()
        if self.job.outcome == "failed":
            return  # the status bar has the message (jobs.job_errors)
        suggestions = suggestions_of(self.results, self.objects)
        FrameSuggestions.of(self.window).add_pending(suggestions)
        frames = len(suggestions)
        self.window.statusBar().showMessage(
            f"Propagated {count(len(self.objects), 'box')} into {count(frames, 'frame')}"
            + (" (cancelled)" if self.job.outcome == "cancelled" else "")
            + ": shown as suggestions on each frame", 10000)
        self.view = PropagationView(self.window, self)
        place_beside_canvas(self.view, self.window)
        self.view.show()


def beside_canvas(canvas: QRect, screen: QRect, size: QSize, minimum: QSize) -> QRect:
    """Where a tool window of ``size`` (no smaller than ``minimum``) goes so that it does not
    cover the canvas (global coordinates): right of it where the screen has room (over the
    right-hand panels or outside the main window), else left of it, narrowed down to
    ``minimum`` if need be; where neither side has room, at the screen's right edge at its
    minimum width (over the canvas's right margin, not the middle of the frame)."""
    height = max(min(size.height(), screen.height()), min(minimum.height(), screen.height()))
    right = screen.right() - canvas.right()
    left = canvas.left() - screen.left()
    if right >= minimum.width():
        width = min(size.width(), right)
        x = canvas.right() + 1
    elif left >= minimum.width():
        width = min(size.width(), left)
        x = canvas.left() - width
    else:
        width = min(minimum.width(), screen.width())
        x = screen.right() + 1 - width
    y = min(max(canvas.top(), screen.top()), screen.bottom() + 1 - height)
    return QRect(x, y, width, height)


def place_beside_canvas(dialog: QWidget, window: MainWindow) -> None:
    """Move ``dialog`` (before it is shown: Qt would centre it on the window) beside the
    window's canvas (:func:`beside_canvas`)."""
    canvas = window.canvas
    screen = (window.screen() or dialog.screen()).availableGeometry()
    area = QRect(canvas.mapToGlobal(QPoint(0, 0)), canvas.size())
    frame = dialog.frameGeometry().size() - dialog.size()  # the title bar and borders
    place = beside_canvas(area, screen, dialog.size() + frame, dialog.minimumSizeHint() + frame)
    dialog.resize(place.size() - frame)
    dialog.move(place.topLeft())


class PropagationView(QDialog):
    """The results: frame, class, confidence; accept selected / all; double click: go there."""

    def __init__(self, window: MainWindow, run: Propagation) -> None:
        super().__init__(window)
        self.setObjectName("propagation_view")
        self.setWindowTitle("Propagated boxes")
        self.setModal(False)
        self.window_ = window
        self.run = run
        self.rows: list[tuple[Path, int]] = []  # (image, source box index)
        lost: dict[int, int | None] = {k: None for k in range(len(run.objects))}
        for r in run.results:
            for k, t in enumerate(r.boxes):
                if t is None and lost[k] is None:
                    lost[k] = r.index
        parts = [f"{o.name} #{k + 1}: " + (f"lost at frame +{lost[k]}" if lost[k] else
                                            f"{len(run.results)} frames")
                 for k, o in enumerate(run.objects)]
        self.summary = QLabel(f"From {run.source.name}: " + "; ".join(parts))
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Frame", "Image", "Class", "Conf."])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for r in run.results:
            for k, t in enumerate(r.boxes):
                if t is None:
                    continue
                row = self.table.rowCount()
                self.table.insertRow(row)
                for col, text in enumerate((f"+{r.index}", r.image.name, run.objects[k].name,
                                            f"{t.confidence:.2f}")):
                    item = QTableWidgetItem(text)
                    if col in (0, 3):
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                              | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(row, col, item)
                self.rows.append((r.image, k))
        self.table.doubleClicked.connect(lambda index: self.go_to(index.row()))
        self.accept_selected_button = QPushButton("Accept selected")
        self.accept_all_button = QPushButton("Accept all")
        self.accept_selected_button.clicked.connect(
            lambda: self.accept_rows(sorted({i.row() for i in
                                             self.table.selectionModel().selectedRows()})))
        self.accept_all_button.clicked.connect(lambda: self.accept_rows(range(len(self.rows))))
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        for b in (self.accept_selected_button, self.accept_all_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        self.status = QLabel("Double-click a row to see that frame.")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.resize(460, 360)

    def go_to(self, row: int) -> None:
        image = self.rows[row][0]
        target = self.window_.session.rows.get(image)
        if target is not None:
            self.window_.show_row(target)

    def accept_rows(self, rows: Any) -> int:
        """Accept the boxes of ``rows``; returns how many boxes were accepted."""
        wanted: dict[Path, list[VocObject]] = {}
        for row in rows:
            image, k = self.rows[row]
            result = next(r for r in self.run.results if r.image == image)
            t = result.boxes[k]
            if t is not None:
                wanted.setdefault(image, []).append(
                    replace(self.run.objects[k], box=t.box, score=t.confidence,
                            model_made=False, raw=None))
        done, skipped = accept_into_images(self.window_, wanted)
        pending = FrameSuggestions.of(self.window_).pending
        for image, objects in wanted.items():
            if image in pending:
                keys = {(o.name, o.box) for o in objects}
                left = [o for o in pending[image] if (o.name, o.box) not in keys]
                if left:
                    pending[image] = left
                else:
                    del pending[image]
        self.status.setText((f"Accepted {count(done, 'box')}" if done or not wanted
                             else "Already accepted")
                            + (f"; {skipped} image(s) with unsaved edits skipped" if skipped
                               else ""))
        return done


def accept_into_images(window: MainWindow, wanted: dict[Path, list[VocObject]]
                       ) -> tuple[int, int]:
    """Add reviewed boxes to images: the current one as an undoable edit (a suggestion of the
    same box is marked reviewed instead of doubled), others in their files. Returns
    ``(boxes accepted, images skipped)``."""
    from workbench.gui import commands
    from workbench.gui import project_ops as ops
    from workbench.gui.hub import AnnotationsWritten

    done = skipped = 0
    written: list[Path] = []
    for image, objects in wanted.items():
        doc = window.documents.get(image)
        if doc is not None and (doc is window.document or doc.dirty):
            if doc is not window.document:
                skipped += 1
                continue
            after = doc.annotation
            added = 0
            for obj in objects:
                if any(not o.model_made and o.name == obj.name and o.box == obj.box
                       for o in after.objects):
                    continue  # accepted already (a second "Accept all" added it again)
                same = [i for i, o in enumerate(after.objects)
                        if o.model_made and o.name == obj.name and o.box == obj.box]
                if same:
                    after = commands.replace_object(after, same[0],
                                                    replace(after.objects[same[0]],
                                                            model_made=False))
                else:
                    after = commands.add_objects(after, [obj])
                added += 1
            if added:
                doc.edit(after, f"Accept {count(added, 'propagated box', 'propagated boxes')}")
            done += added
            continue
        project = window.project
        entry = window.session.entry_of(image)
        loaded = ops.load(project, entry)
        if loaded.read_failed:
            skipped += 1
            continue
        annotation = loaded.annotation or ops.new_annotation(project, entry)
        have = {(o.name, o.box) for o in annotation.objects}
        new = [o for o in objects if (o.name, o.box) not in have]
        if new:
            ops.save(project, entry, commands.add_objects(annotation, new))
            written.append(ops.xml_path(entry))
        done += len(new)
    if written:
        window.hub.publish(AnnotationsWritten(tuple(written), "propagate"))
    return done, skipped


def start_propagation(window: MainWindow, options: PropagateOptions | None = None
                      ) -> Propagation | None:
    """Edit → Propagate Boxes…: ask the options (unless given), then run."""
    doc = window.document
    if doc is None or window.project is None:
        return None
    if not doc.annotation.objects:
        window.statusBar().showMessage("Propagate: this image has no boxes to carry", 6000)
        return None
    row = window.session.rows[doc.image_path]
    available = len(window.entries()) - row - 1
    if available < 1:
        window.statusBar().showMessage("Propagate: this is the last image", 6000)
        return None
    if options is None:
        from workbench.gui.hub import CheckpointLoaded

        last = window.hub.last(CheckpointLoaded)
        dialog = PropagateDialog(last.path if last is not None else None, window, available)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        options = dialog.options()
    run = Propagation(window, options)
    window._video_propagation = run  # type: ignore[attr-defined]  # kept alive
    return run
