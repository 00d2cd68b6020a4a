"""The event log of ``workbench detect VIDEO --watch CLASS[,CLASS] --min-frames K`` (no torch).

Rule, per watched class, over the *processed* frames only (with ``--every N``, every Nth frame):

* a class is **present** in a frame when at least one of its detections survives the score
  threshold, NMS and top-k;
* while *absent*, K consecutive processed frames with the class present make an
  ``"appeared"`` event, emitted at the K-th of them; ``start_frame``/``start_s`` are the first
  of the K, ``best_score`` is the best score over them so far;
* while *present*, K consecutive processed frames without it make a ``"left"`` event,
  emitted at the K-th; ``end_frame``/``end_s`` are the last frame where it was still present,
  ``best_score``/``best_frame`` the best over the whole appearance;
* shorter runs change nothing (a flicker of fewer than K frames neither starts nor ends an
  appearance); a class still present when the video ends gets a ``"left"`` event with
  ``"reason": "video ended"`` (otherwise ``"reason": "absent for K frames"``).

``snapshot`` is filled in by the caller (the video detector writes a JPEG of the frame).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _ClassState:
    present: bool = False
    run: int = 0  #: consecutive processed frames contradicting ``present``
    run_start: tuple[int, float] = (0, 0.0)
    run_best: tuple[float, int] = (0.0, -1)  #: (score, frame) over the current present run
    start: tuple[int, float] = (0, 0.0)
    last_seen: tuple[int, float] = (0, 0.0)
    best: tuple[float, int] = (0.0, -1)  #: over the current appearance


@dataclass
class EventLog:
    """Feed :meth:`update` once per processed frame, then :meth:`finish`; both return events."""

    watch: Sequence[str]
    min_frames: int = 3
    events: list[dict[str, Any]] = field(default_factory=list)
    #: classes whose best score (for the current run or appearance) was set by the last frame
    new_best: set[str] = field(default_factory=set)
    _states: dict[str, _ClassState] = field(default_factory=dict)
    _last: tuple[int, float] | None = None

    def __post_init__(self) -> None:
        if self.min_frames < 1:
            raise ValueError(f"--min-frames must be 1 or more, not {self.min_frames}")
        if not self.watch:
            raise ValueError("--watch needs at least one class")
        self._states = {c: _ClassState() for c in self.watch}

    def update(self, frame: int, time_s: float,
               detections: Iterable[tuple[str, float]]) -> list[dict[str, Any]]:
        """``detections``: ``(class, score)`` of the frame's kept detections."""
        scores: dict[str, float] = {}
        for cls, score in detections:
            if cls in self._states:
                scores[cls] = max(scores.get(cls, 0.0), float(score))
        self._last = (frame, time_s)
        self.new_best = set()
        out: list[dict[str, Any]] = []
        for cls, st in self._states.items():
            here = cls in scores
            if not st.present:
                if not here:
                    st.run = 0
                    continue
                if st.run == 0:
                    st.run_start, st.run_best = (frame, time_s), (-1.0, -1)
                st.run += 1
                if scores[cls] > st.run_best[0]:
                    st.run_best = (scores[cls], frame)
                    self.new_best.add(cls)
                st.last_seen = (frame, time_s)
                if st.run >= self.min_frames:
                    st.present, st.run = True, 0
                    st.start, st.best = st.run_start, st.run_best
                    out.append(self._event("appeared", cls, st, frame, time_s))
            elif here:
                st.run = 0
                st.last_seen = (frame, time_s)
                if scores[cls] > st.best[0]:
                    st.best = (scores[cls], frame)
                    self.new_best.add(cls)
            else:
                st.run += 1
                if st.run >= self.min_frames:
                    out.append(self._left(cls, st, frame, time_s,
                                          f"absent for {self.min_frames} frames"))
        self.events.extend(out)
        return out

    def finish(self) -> list[dict[str, Any]]:
        """``"left"`` events for classes still present at the end of the video."""
        out: list[dict[str, Any]] = []
        if self._last is not None:
            for cls, st in self._states.items():
                if st.present:
                    out.append(self._left(cls, st, *self._last, "video ended"))
        self.events.extend(out)
        return out

    def _left(self, cls: str, st: _ClassState, frame: int, time_s: float,
              reason: str) -> dict[str, Any]:
        event = self._event("left", cls, st, frame, time_s)
        event.update(end_frame=st.last_seen[0], end_s=round(st.last_seen[1], 6), reason=reason)
        st.present, st.run = False, 0
        return event

    @staticmethod
    def _event(kind: str, cls: str, st: _ClassState, frame: int,
               time_s: float) -> dict[str, Any]:
        return {"event": kind, "class": cls, "frame": frame, "time_s": round(time_s, 6),
                "start_frame": st.start[0], "start_s": round(st.start[1], 6),
                "best_score": round(st.best[0], 6), "best_frame": st.best[1]}


def parse_watch(text: str, classes: Sequence[str]) -> list[str]:
    """``"cat,dog"`` → ``["cat", "dog"]``; ``ValueError`` naming an unknown class."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError("--watch needs at least one class name")
    unknown = [n for n in names if n not in classes]
    if unknown:
        raise ValueError(f"--watch: {', '.join(map(repr, unknown))} not among the checkpoint's "
                         f"classes ({', '.join(classes)})")
    return list(dict.fromkeys(names))
