"""The window's event hub: typed, past-tense events that panels publish and subscribe to.

A panel that needs to know about another panel's work subscribes to an event here; it never
searches the window for the other panel (``panel_host``, ``getattr(window, …)``). The labeling
window owns one :class:`EventHub` (``window.hub``)::

    unsubscribe = window.hub.subscribe(TrainingFinished, self._on_training_finished, owner=self)
    window.hub.publish(AnnotationsWritten((xml_path,)))

Delivery rules:

* Callbacks always run on the thread the hub lives in (the GUI thread). ``publish`` on that
  thread delivers at once, before it returns, in subscription order; ``publish`` from any other
  thread (a worker, a training thread) is queued and delivered by the GUI event loop.
* A subscription to a class receives its subclasses' events too.
* A callback that raises is logged; the other subscribers still get the event.
* ``subscribe`` returns a function that ends the subscription (calling it twice is harmless);
  ``owner=`` (a QObject) ends it when the owner is destroyed.
* The hub remembers the last event of each type (:meth:`EventHub.last`), so a panel built after
  something happened (a run finished before the Detections panel was opened) can catch up.

Events are frozen dataclasses; paths are :class:`pathlib.Path`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QThread, Signal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Base of every hub event."""


@dataclass(frozen=True)
class ImageChanged(Event):
    """Another image is shown (``path`` None: none is)."""

    path: Path | None


@dataclass(frozen=True)
class AnnotationsWritten(Event):
    """Annotation files changed on disk: saved by the window, written by pre-labeling, a class
    rename, or changed from outside (another tool, ``git pull``, the CLI) — ``source`` says which
    (``"save"``, ``"prelabel"``, ``"rename"``, ``"outside"``)."""

    paths: tuple[Path, ...]
    source: str = "save"


@dataclass(frozen=True)
class ClassesChanged(Event):
    """The project's class list changed (added, renamed, removed, reordered)."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class TrainingStarted(Event):
    """A training run started (``run``: its output folder)."""

    run: Path | None


@dataclass(frozen=True)
class TrainingFinished(Event):
    """A training run ended: ``best`` (and ``last``) checkpoint, None when none was written;
    ``stopped`` when the user stopped it early."""

    run: Path | None
    best: Path | None
    last: Path | None = None
    stopped: bool = False


@dataclass(frozen=True)
class CheckpointLoaded(Event):
    """A detector was loaded from ``path`` (by the Detections panel)."""

    path: Path


@dataclass(frozen=True)
class ProjectOpened(Event):
    """A project folder was opened (``root``: its images folder)."""

    root: Path


E = TypeVar("E", bound=Event)
Callback = Callable[[Any], object]


class EventHub(QObject):
    """Typed publish/subscribe on the GUI thread (see the module doc)."""

    _relay = Signal(object)  # publish from another thread → queued to this object's thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._subscribers: dict[type, list[Callback]] = {}
        self._last: dict[type, Event] = {}
        self._relay.connect(self._deliver)  # auto: direct here, queued from other threads

    def subscribe(self, event_type: type[E], callback: Callable[[E], object], *,
                  owner: QObject | None = None) -> Callable[[], None]:
        """Call ``callback(event)`` for every published ``event_type`` (or subclass) event;
        returns the function that ends the subscription."""
        if not (isinstance(event_type, type) and issubclass(event_type, Event)):
            raise TypeError(f"{event_type!r} is not a hub event type")
        self._subscribers.setdefault(event_type, []).append(callback)
        done = False

        def unsubscribe(*_args: object) -> None:
            nonlocal done
            if done:
                return
            done = True
            callbacks = self._subscribers.get(event_type, [])
            for i, cb in enumerate(callbacks):
                if cb is callback:
                    del callbacks[i]
                    break

        if owner is not None:
            owner.destroyed.connect(unsubscribe)
        return unsubscribe

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to its subscribers on the hub's (GUI) thread: at once when called
        there, queued when called from another thread."""
        if not isinstance(event, Event):
            raise TypeError(f"{event!r} is not a hub event")
        if QThread.currentThread() is self.thread():
            self._deliver(event)
        else:
            self._relay.emit(event)

    def last(self, event_type: type[E]) -> E | None:
        """The last event of exactly ``event_type`` published, or None."""
        return self._last.get(event_type)  # type: ignore[return-value]

    def subscriber_count(self, event_type: type[Event]) -> int:
        return len(self._subscribers.get(event_type, []))

    def _deliver(self, event: Event) -> None:
        self._last[type(event)] = event
        for kind in type(event).__mro__:
            live = self._subscribers.get(kind, [])
            for callback in list(live):
                if not any(cb is callback for cb in live):
                    continue  # ended by an earlier subscriber of this same event
                try:
                    callback(event)
                except Exception:  # one broken subscriber must not stop the others
                    log.exception("hub: %s failed on %r", getattr(callback, "__qualname__",
                                                                  callback), event)


def hub_of(window: object) -> EventHub | None:
    """The window's hub (None for a stand-in window without one, e.g. in a unit test)."""
    hub = getattr(window, "hub", None)
    return hub if isinstance(hub, EventHub) else None
