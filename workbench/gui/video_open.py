"""File → Open Video…: pick a video, choose which frames to keep, extract them in the
background, then open the folder as the project.

The rules are those of ``workbench frames`` (:mod:`workbench.core.video`): every Nth frame, a
target rate, or scene changes; a ``start``/``end`` range; at most N frames; near-duplicate
skipping. Images are named ``<video stem>_<frame:06d>.jpg`` and ``frames.json`` in the folder
records the video and frame number of each. The folder defaults to ``<video stem>_frames``
beside the video; a re-run with the same folder writes only the missing frames.

Extraction runs as a job on the window's :class:`~workbench.gui.jobs.JobRunner`, with a
progress dialog (frames read, time left) whose Cancel keeps the frames written so far.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup, QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog,
    QFormLayout, QHBoxLayout, QLabel, QLineEdit, QProgressDialog, QPushButton, QRadioButton,
    QSpinBox, QVBoxLayout, QWidget,
)

from workbench.core.video import (
    DEFAULT_DUP_THRESHOLD, DEFAULT_SCENE_THRESHOLD, VIDEO_SUFFIXES, ExtractResult, Progress,
    Selection, VideoError, VideoInfo, extract_frames, parse_time,
)
from workbench.core.video import open_video as probe_video
from workbench.gui.jobs import Job, JobContext

if TYPE_CHECKING:
    from workbench.gui.main_window import MainWindow

log = logging.getLogger(__name__)

VIDEO_FILTER = ("Videos (" + " ".join(f"*{s}" for s in VIDEO_SUFFIXES) + ");;All files (*)")


def expected_count(selection: Selection, info: VideoInfo) -> int | None:
    """How many frames ``selection`` keeps from a video of ``info`` (before the duplicate rule;
    ``max_frames`` applied), by arithmetic on :func:`workbench.core.video.iter_frames`'s rule;
    None for scene changes or an unknown length."""
    if selection.scene is not None or info.frame_count <= 0:
        return None
    first = math.ceil(selection.start * info.fps - 1e-9)
    last = info.frame_count
    if selection.end is not None:
        last = min(last, math.ceil(selection.end * info.fps - 1e-9))
    span = max(0, last - first)
    if not span:
        return 0
    if selection.every is not None:
        n = -(-span // selection.every)
    elif selection.fps is not None:
        n = 1 + selection.rate_tick(last - 1, info.fps) - selection.rate_tick(first, info.fps)
    else:
        n = span
    return min(n, selection.max_frames) if selection.max_frames else n


def describe(info: VideoInfo) -> str:
    """"640×480 · 10 fps · 40 frames (0:04)" for the dialog's header."""
    if info.frame_count <= 0:
        return f"{info.width}×{info.height} · {info.fps:g} fps · length unknown"
    seconds = info.frame_count / info.fps
    return (f"{info.width}×{info.height} · {info.fps:g} fps · {info.frame_count} frames "
            f"({int(seconds // 60)}:{seconds % 60:04.1f})")


def default_output(video: Path) -> Path:
    """``<video stem>_frames`` beside the video."""
    return video.parent / f"{video.stem}_frames"


def ask_video_file(parent: QWidget | None, start: str = "") -> str | None:
    """The file dialog (a function, so tests can replace it)."""
    path, _ = QFileDialog.getOpenFileName(parent, "Open a video", start, VIDEO_FILTER)
    return path or None


class OpenVideoDialog(QDialog):
    """Which frames to keep and where to write them."""

    def __init__(self, video: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open Video")
        self.setObjectName("open_video_dialog")
        self.video = Path(video)
        layout = QVBoxLayout(self)
        name = QLabel(f"<b>{self.video.name}</b>")
        name.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(name)
        # Size, rate and length (the container's header: a few ms), so that "every Nth" can be
        # chosen knowing how many frames there are; the count kept is shown under the rules.
        self.info: VideoInfo | None = None
        try:
            cap, self.info = probe_video(self.video)
            cap.release()
            about = describe(self.info)
        except VideoError as exc:
            about = str(exc)
        self.about = QLabel(about)
        self.about.setWordWrap(True)
        layout.addWidget(self.about)

        self.rules = QButtonGroup(self)
        self.rule_all = QRadioButton("Every frame")
        self.rule_every = QRadioButton("Every Nth frame")
        self.rule_fps = QRadioButton("Frames per second")
        self.rule_scene = QRadioButton("Scene changes")
        self.every = QSpinBox(minimum=1, maximum=100000, value=10)
        self.fps = QDoubleSpinBox(minimum=0.01, maximum=1000.0, value=1.0, decimals=2)
        self.scene = QDoubleSpinBox(minimum=0.0, maximum=255.0, value=DEFAULT_SCENE_THRESHOLD,
                                    decimals=1)
        self.scene.setToolTip("Mean absolute grey difference (0-255) between consecutive "
                              "frames shrunk to 64x36 that starts a new scene")
        form = QFormLayout()
        for button, field in ((self.rule_every, self.every), (self.rule_fps, self.fps),
                              (self.rule_scene, self.scene), (self.rule_all, None)):
            self.rules.addButton(button)
            if field is None:
                form.addRow(button)
            else:
                form.addRow(button, field)
                button.toggled.connect(field.setEnabled)
                field.setEnabled(False)
        self.rule_every.setChecked(True)

        self.start = QLineEdit("0")
        self.start.setToolTip("Seconds, M:SS or H:MM:SS")
        self.end = QLineEdit("")
        self.end.setPlaceholderText("end of the video")
        self.end.setToolTip("Seconds, M:SS or H:MM:SS (exclusive); empty: to the end")
        self.max_frames = QSpinBox(minimum=0, maximum=10_000_000, value=0)
        self.max_frames.setSpecialValueText("no limit")
        self.skip_duplicates = QCheckBox("Skip near-duplicates")
        self.skip_duplicates.setToolTip("Drop a frame nearly identical to the last one kept "
                                        "(a static camera gives one image, not thousands)")
        self.dup_threshold = QDoubleSpinBox(minimum=0.0, maximum=255.0,
                                            value=DEFAULT_DUP_THRESHOLD, decimals=1)
        self.dup_threshold.setToolTip("Mean absolute grey difference (0-255) to the last kept "
                                      "frame at or below which a frame is a duplicate")
        self.dup_threshold.setEnabled(False)
        self.skip_duplicates.toggled.connect(self.dup_threshold.setEnabled)
        self.skip_duplicates.toggled.connect(self._update_estimate)
        form.addRow("Start", self.start)
        form.addRow("End", self.end)
        form.addRow("At most", self.max_frames)
        form.addRow(self.skip_duplicates, self.dup_threshold)

        self.output = QLineEdit(str(default_output(self.video)))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.output, 1)
        out_row.addWidget(browse)
        form.addRow("Folder", out_row)
        layout.addLayout(form)
        self.estimate = QLabel("")
        layout.addWidget(self.estimate)
        for button in (self.rule_all, self.rule_every, self.rule_fps, self.rule_scene):
            button.toggled.connect(self._update_estimate)
        for spin in (self.every, self.fps, self.max_frames):
            spin.valueChanged.connect(self._update_estimate)
        for line in (self.start, self.end):
            line.textChanged.connect(self._update_estimate)
        self._update_estimate()
        self.error = QLabel("")
        self.error.setStyleSheet("color: #d33")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Extract")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _update_estimate(self, *_args: Any) -> None:
        if self.info is None:
            self.estimate.setText("")
            return
        try:
            n = expected_count(self.selection(), self.info)
        except ValueError:
            self.estimate.setText("")
            return
        if n is None:
            self.estimate.setText("Keeps one image per scene change")
        else:
            self.estimate.setText(f"Keeps {n} image{'' if n == 1 else 's'}"
                                  + (" (fewer with near-duplicates skipped)"
                                     if self.skip_duplicates.isChecked() else ""))

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the frames",
                                                  str(self.video.parent))
        if folder:
            self.output.setText(folder)

    def selection(self) -> Selection:
        """The chosen rule; ``ValueError`` with a message for the user."""
        start = parse_time(self.start.text() or "0")
        end = parse_time(self.end.text()) if self.end.text().strip() else None
        return Selection(
            every=self.every.value() if self.rule_every.isChecked() else None,
            fps=self.fps.value() if self.rule_fps.isChecked() else None,
            scene=self.scene.value() if self.rule_scene.isChecked() else None,
            start=start, end=end, max_frames=self.max_frames.value() or None,
            skip_duplicates=self.skip_duplicates.isChecked(),
            dup_threshold=self.dup_threshold.value())

    def output_dir(self) -> Path:
        return Path(self.output.text().strip()).expanduser()

    def accept(self) -> None:
        try:
            self.selection()
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        if not self.output.text().strip():
            self.error.setText("Choose a folder for the frames.")
            return
        out = self.output_dir()
        if out.exists() and not out.is_dir():
            self.error.setText(f"{out} is a file, not a folder.")
            return
        super().accept()


def run_extraction(ctx: JobContext, video: Path, out: Path,
                   selection: Selection) -> ExtractResult:
    """The job: :func:`extract_frames` reporting ``frame n/N (p%), t s left`` as progress."""
    line = Progress(lambda _text: None)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.1 or (total and done >= total):
            last[0] = now
            ctx.progress(done / total if total else 0.0, line.line(done, total))

    return extract_frames(video, out, selection, on_progress=progress,
                          should_cancel=ctx.cancelled)


def summary(result: ExtractResult, out: Path) -> str:
    text = (f"{len(result.written)} new images in {out}, {len(result.existing)} already there"
            + (f", {result.duplicates} near-duplicates skipped" if result.duplicates else ""))
    return ("Cancelled: " if result.cancelled else "") + text


class Extraction:
    """One extraction: the job, its progress dialog, and opening the folder at the end."""

    def __init__(self, window: MainWindow, video: Path, out: Path, selection: Selection,
                 *, open_when_done: bool = True) -> None:
        self.window = window
        self.video, self.out = video, out
        self.result: ExtractResult | None = None
        self.open_when_done = open_when_done
        self.dialog = QProgressDialog(f"Reading {video.name}…", "Cancel", 0, 1000, window)
        self.dialog.setObjectName("video_extract_progress")
        self.dialog.setWindowTitle("Extracting frames")
        self.dialog.setMinimumDuration(0)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.setValue(0)
        self.job: Job = window.jobs.submit(
            lambda ctx: run_extraction(ctx, video, out, selection),
            key="video-extract", name="Extracting frames")
        self.job.progressed.connect(self._on_progress)
        self.job.finished.connect(self._on_finished)
        self.job.failed.connect(self._on_failed)
        self.job.cancelled.connect(self._on_cancelled)
        self.dialog.canceled.connect(self.job.cancel)

    def _on_progress(self, fraction: float, message: str) -> None:
        self.dialog.setValue(int(round(fraction * 1000)))
        self.dialog.setLabelText(f"{self.video.name}: {message}")

    def _on_finished(self, result: ExtractResult) -> None:
        self.result = result
        self.dialog.close()
        text = summary(result, self.out)
        log.info("%s: %s", self.video, text)
        if self.open_when_done and result.kept:
            self.window.open_folder(self.out)
        self.window.statusBar().showMessage(text, 12000)

    def _on_failed(self, message: str) -> None:
        self.dialog.close()  # the status bar shows the message (jobs.job_errors)

    def _on_cancelled(self) -> None:
        self.dialog.close()
        self.window.statusBar().showMessage(
            f"Extraction cancelled; the frames written so far are kept in {self.out}", 12000)
        if self.open_when_done and any(self.out.glob("*.jpg")):
            self.window.open_folder(self.out)


def open_video(window: MainWindow, video: str | Path | None = None) -> Extraction | None:
    """File → Open Video…: ask for a video (unless given), the options, then extract."""
    if video is None:
        start = str(window.project.images_dir) if window.project is not None else ""
        video = ask_video_file(window, start)
        if not video:
            return None
    dialog = OpenVideoDialog(Path(video), window)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return start_extraction(window, Path(video), dialog.output_dir(), dialog.selection())


def start_extraction(window: MainWindow, video: Path, out: Path, selection: Selection,
                     **kwargs: Any) -> Extraction:
    extraction = Extraction(window, video, out, selection, **kwargs)
    window._video_extraction = extraction  # type: ignore[attr-defined]  # kept alive
    return extraction
