"""Build a panel's heavy widgets in a later event-loop turn than the panel (issue 14, GUI stalls).

A panel is built on the GUI thread the first time its dock is shown; a ``pyqtgraph.PlotWidget``
costs 10-30 ms to make and as much again to polish and paint the first time, so a panel with a
plot or two held the event loop 100-200 ms (``bench/bench_gui_stalls.py``). :class:`Deferred`
stands in the layout for such a widget: it has the widget's minimum height from the start (the
panel's layout does not jump), builds it in a later turn — after the panel's first paint — and
also at once when code asks for it (:meth:`Deferred.widget`), so callers never see it missing.
Several :class:`Deferred` of one panel share a :class:`BuildQueue`: one widget per turn, with
:attr:`BuildQueue.GAP_MS` between them so that input and repaints run in between.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QLayout, QTabWidget, QVBoxLayout, QWidget


def add_shown(layout: QLayout, widget: QWidget) -> None:
    """Add ``widget`` to ``layout`` and show it now unless it was hidden on purpose (a child
    added to a visible parent is shown only in a later turn by Qt: a caller that just asked for
    it must find it visible)."""
    hidden = widget.testAttribute(Qt.WidgetAttribute.WA_WState_ExplicitShowHide) \
        and widget.isHidden()
    layout.addWidget(widget)
    parent = layout.parentWidget()
    if not hidden and parent is not None and parent.isVisible():
        widget.show()


class BuildQueue(QObject):
    """Runs queued build functions one per event-loop turn, in order (each at most once)."""

    #: milliseconds between one build and the next: the first paint of what one built lands
    #: in between, in a turn of its own
    GAP_MS = 30
    #: milliseconds before the first build: a zero-delay call may run in the same pass of the
    #: event loop as the panel's own build, after it without a break (bench_gui_stalls: the
    #: Metrics panel built on its module's import and its plot in one 200 ms gap)
    FIRST_MS = 15

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queue: list[Callable[[], object]] = []
        self._scheduled = False

    def add(self, build: Callable[[], object], *, first: bool = False) -> None:
        """Run ``build`` in a later turn (after those queued before it; ``first``: before)."""
        if first:
            self._queue.insert(0, build)
        else:
            self._queue.append(build)
        self._schedule(self.FIRST_MS)

    def discard(self, build: Callable[[], object]) -> None:
        """Forget ``build`` if still queued (it was run at once instead)."""
        self._queue = [b for b in self._queue if b != build]  # bound methods: equal, not same

    @property
    def pending(self) -> int:
        """How many builds are still queued."""
        return len(self._queue)

    def flush(self) -> None:
        """Run every queued build now."""
        while self._queue:
            self._queue.pop(0)()

    def _schedule(self, delay_ms: int) -> None:
        if not self._scheduled and self._queue:
            self._scheduled = True
            QTimer.singleShot(delay_ms, self, self._next)

    def _next(self) -> None:
        self._scheduled = False
        if self._queue:
            self._queue.pop(0)()
        self._schedule(self.GAP_MS)


class Deferred(QWidget):
    """A placeholder in a layout whose content ``build()`` makes in a later turn (see the
    module doc); :meth:`widget` builds it now if it is not yet."""

    def __init__(self, build: Callable[[], QWidget], queue: BuildQueue, *,
                 min_height: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._build = build
        self._queue = queue
        self._widget: QWidget | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        if min_height:
            self.setMinimumHeight(min_height)
        self._hidden = False  # built by the queue, shown in the next of its turns
        queue.add(self._build_hidden)

    @property
    def built(self) -> bool:
        return self._widget is not None

    def _build_hidden(self) -> None:
        """The queue's turn: build the content but show it in the queue's next turn — its
        first paint (a plot's: ~25 ms) is then not in the same pass of the event loop."""
        if self._widget is None:
            widget = self._build()
            widget.hide()
            layout = self.layout()
            assert layout is not None
            layout.addWidget(widget)
            self._widget, self._hidden = widget, True
            self._queue.add(self._reveal, first=True)

    def _reveal(self) -> None:
        if self._hidden and self._widget is not None:
            self._hidden = False
            self._widget.show()

    def widget(self) -> QWidget:
        """The content, built (and shown) now if it was not yet."""
        if self._widget is None:
            self._queue.discard(self._build_hidden)
            widget = self._build()
            layout = self.layout()
            assert layout is not None
            add_shown(layout, widget)
            self._widget = widget
        elif self._hidden:
            self._queue.discard(self._reveal)
            self._reveal()
        return self._widget


def hosted(widget: QWidget) -> bool:
    """Whether ``widget`` is in a panel shown by the window's panel host (its scroll area)."""
    parent = widget.parentWidget()
    while parent is not None:
        if parent.objectName() == "panelScroll":
            return True
        parent = parent.parentWidget()
    return False


class LaterTabs(QObject):
    """Tabs of a ``QTabWidget`` whose pages join them in later turns (``queue``), or at once
    when the tab is picked: a page waiting for its turn is an unparented widget, so it is not
    polished, laid out or painted with the panel. The page objects exist from the start —
    callers fill their tables and labels as before; :meth:`attach_all` puts every page in. In a
    panel of the panel host a page is compacted as the host did the panel
    (:meth:`~workbench.gui.panel_host.PanelHost.compact`: wrapped form rows and labels)."""

    def __init__(self, tabs: QTabWidget, queue: BuildQueue | None) -> None:
        super().__init__(tabs)
        self.tabs, self.queue = tabs, queue
        #: tab index -> (slot, the page or the function that builds it)
        self._pages: dict[int, tuple[QWidget, QWidget | Callable[[], QWidget]]] = {}
        tabs.currentChanged.connect(self.attach)  # before the owner's slots (connected later)

    def add(self, page: QWidget | Callable[[], QWidget], title: str, *,
            queued: bool = True) -> int:
        """Add a tab ``title`` for ``page``; its index. ``page`` may be a function that builds
        the page: it is called when the page joins its tab. That is in a turn of the queue
        (unless ``queued`` is False or there is no queue: a page never shown is then never
        built), or earlier when the tab is picked or :meth:`attach` is called."""
        slot = QWidget()
        layout = QVBoxLayout(slot)
        layout.setContentsMargins(0, 0, 0, 0)
        index = self.tabs.addTab(slot, title)
        self._pages[index] = (slot, page)
        if self.queue is not None and queued:
            self.queue.add(lambda i=index: self.attach(i))
        return index

    def waiting(self, index: int) -> bool:
        """Whether tab ``index``'s page has not joined its tab yet."""
        return index in self._pages

    def attach(self, index: int) -> None:
        """Put tab ``index``'s page in it (built now if it is built on demand), if it waits."""
        entry = self._pages.pop(index, None)
        if entry is not None:
            slot, page = entry
            if not isinstance(page, QWidget):
                page = page()
            if hosted(self.tabs):  # what the panel host did to the rest of the panel
                from workbench.gui.panel_host import PanelHost

                PanelHost.compact(page)
            layout = slot.layout()
            assert layout is not None
            add_shown(layout, page)

    def attach_all(self) -> None:
        for index in list(self._pages):
            self.attach(index)
