"""Panels that build part of their widgets in later event-loop turns (issue 14, GUI stalls;
:mod:`workbench.gui.panels.deferred`) show the same thing as before: a tab picked before its
page joined it shows the page, filled; a plot asked for before its turn is built at once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QFormLayout, QLabel, QTabWidget, QWidget

from workbench.gui.panels.deferred import BuildQueue, Deferred, LaterTabs

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import write_labelimg_xml, project_window  # noqa: E402

PRIORS = ("workbench.gui.panels.priors", "PriorsPanel", "Priors")
CLASSICS = ("workbench.gui.panels.classics", "ClassicsPanel", "Classics")
METRICS = ("workbench.gui.panels.metrics", "MetricsPanel", "Metrics")
RUNS = ("workbench.gui.panels.runs", "RunsPanel", "Runs")


def click_tab(qtbot, tabs: QTabWidget, index: int) -> None:  # noqa: ANN001
    bar = tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    assert tabs.currentIndex() == index


@pytest.fixture
def window(qtbot, tmp_path):  # noqa: ANN001, ANN201
    """300x300 images: a.png with a 60x60 cat and a 4x20 stick (no SSD prior reaches it),
    b.png with a dog."""
    images = tmp_path / "images"
    images.mkdir()
    image = QImage(300, 300, QImage.Format.Format_RGB888)
    image.fill(QColor(90, 120, 150))
    assert image.save(str(images / "a.png"))
    write_labelimg_xml(images / "a.xml", "a.png", (300, 300),
                       [("cat", 101, 101, 160, 160), ("stick", 11, 11, 14, 30)])
    assert image.save(str(images / "b.png"))
    write_labelimg_xml(images / "b.xml", "b.png", (300, 300), [("dog", 51, 61, 150, 160)])
    w = project_window(qtbot, tmp_path / "s.ini", images, [PRIORS, CLASSICS, METRICS, RUNS])
    yield w
    for panel in w.panel_host.panels.values():
        stop = getattr(panel, "shutdown", None)
        if callable(stop):
            stop()


def test_build_queue_runs_in_order_once_and_flushes(qtbot) -> None:  # noqa: ANN001
    owner = QWidget()
    qtbot.addWidget(owner)
    queue = BuildQueue(owner)
    ran: list[str] = []
    first, second, third = (lambda: ran.append("a")), (lambda: ran.append("b")), \
        (lambda: ran.append("c"))
    for build in (first, second, third):
        queue.add(build)
    assert ran == [] and queue.pending == 3  # nothing in the caller's turn
    queue.discard(second)
    qtbot.waitUntil(lambda: queue.pending == 0, timeout=3000)
    assert ran == ["a", "c"]
    queue.add(first)
    queue.add(third)
    queue.flush()
    assert ran == ["a", "c", "a", "c"] and queue.pending == 0
    qtbot.wait(100)
    assert ran == ["a", "c", "a", "c"]  # flushed builds do not run again


def test_deferred_widget_built_later_or_when_asked(qtbot) -> None:  # noqa: ANN001
    owner = QWidget()
    qtbot.addWidget(owner)
    queue = BuildQueue(owner)
    made: list[QLabel] = []

    def make(text: str) -> QLabel:
        made.append(QLabel(text))
        return made[-1]

    early = Deferred(lambda: make("early"), queue, min_height=120, parent=owner)
    late = Deferred(lambda: make("late"), queue, parent=owner)
    assert early.minimumHeight() == 120 and not early.built and not late.built
    label = early.widget()  # asked for before its turn: built now, once
    assert label.text() == "early" and label.parentWidget() is early
    assert early.widget() is label
    qtbot.waitUntil(lambda: late.built, timeout=3000)
    assert [m.text() for m in made] == ["early", "late"]
    assert late.widget().parentWidget() is late


def test_later_tabs_page_joins_when_picked(qtbot) -> None:  # noqa: ANN001
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    queue = BuildQueue(tabs)
    later = LaterTabs(tabs, queue)
    first = QLabel("first")
    tabs.addTab(first, "One")
    page = QLabel("second page")
    assert later.add(page, "Two") == 1
    tabs.show()
    qtbot.waitExposed(tabs)
    assert page.parentWidget() is None  # waiting for its turn: not polished with the rest
    shown: list[bool] = []
    tabs.currentChanged.connect(lambda _i: shown.append(page.parentWidget() is not None))
    click_tab(qtbot, tabs, 1)
    assert shown == [True]  # in its tab before the owner's slots hear of the change
    assert page.isVisible() and page.text() == "second page"


def test_later_tabs_builds_a_page_on_demand_only_when_picked(qtbot) -> None:  # noqa: ANN001
    """A page given as a function and not queued is built when its tab is clicked (before the
    owner's slots hear of it), never in the queue's turns; a queued one in a turn."""
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    queue = BuildQueue(tabs)
    later = LaterTabs(tabs, queue)
    built: list[str] = []

    def page(name: str):  # noqa: ANN202
        def build() -> QLabel:
            built.append(name)
            return QLabel(name)
        return build

    assert later.add(page("first"), "One") == 0
    assert later.add(page("second"), "Two", queued=False) == 1
    tabs.show()
    qtbot.waitExposed(tabs)
    qtbot.waitUntil(lambda: queue.pending == 0, timeout=3000)
    qtbot.wait(100)
    assert built == ["first"] and later.waiting(1) and not later.waiting(0)
    seen: list[list[str]] = []
    tabs.currentChanged.connect(lambda _i: seen.append(list(built)))
    click_tab(qtbot, tabs, 1)
    assert seen == [["first", "second"]]
    label = tabs.widget(1).findChild(QLabel)
    assert label is not None and label.text() == "second" and label.isVisible()
    click_tab(qtbot, tabs, 0)
    click_tab(qtbot, tabs, 1)
    assert built == ["first", "second"]  # once


def test_priors_matching_tab_picked_at_once_shows_the_rows(window, qtbot) -> None:  # noqa: ANN001
    """The Matching page joins its tab later; picked (a real click) right after the panel is
    built it shows the two objects, the unreachable stick flagged."""
    panel = window.panel_host.show_panel(PRIORS[1])
    assert not panel.tabs.isAncestorOf(panel.objects_table)  # its page waits for its turn
    click_tab(qtbot, panel.tabs, 2)
    assert panel.objects_table.isVisible()
    rows = [[panel.objects_table.item(r, c).text() for c in (0, 4)]
            for r in range(panel.objects_table.rowCount())]
    assert [r[0] for r in rows] == ["1. cat", "2. stick"]
    assert rows[0][1] == "" and "⚠" in rows[1][1]
    # in the host: the page's form rows wrap like the rest of the panel's
    click_tab(qtbot, panel.tabs, 4)
    mining_forms = panel.mine_button.parentWidget().findChildren(QFormLayout)
    forms = [panel.mine_button.parentWidget().layout(), *mining_forms]
    assert {f.rowWrapPolicy() for f in forms if isinstance(f, QFormLayout)} == {
        QFormLayout.RowWrapPolicy.WrapLongRows}


def test_classics_pages_built_when_their_tab_is_picked(window, qtbot) -> None:  # noqa: ANN001
    """The YOLO and RPN pages are not built with the panel, nor in later turns: each is built
    (and filled) when its tab is first clicked."""
    from workbench.gui.panels.classics_rpn import RpnPage
    from workbench.gui.panels.classics_yolo import YoloPage

    from workbench.gui.panels.classics_roi import RoiPage

    panel = window.panel_host.show_panel(CLASSICS[1])
    assert panel.tabs.count() == 3
    assert [panel.tabs.tabText(i) for i in range(3)] == ["RoI pooling", "YOLO grid", "RPN"]
    assert panel._roi_page is None  # the page in front: built in the next turn
    qtbot.waitUntil(lambda: panel._roi_page is not None, timeout=3000)
    assert panel.tabs.widget(0).findChildren(RoiPage) == [panel._roi_page]
    qtbot.waitUntil(lambda: panel._roi_page.isVisible(), timeout=3000)
    # then brought up to date: the ground-truth boxes listed, the feature maps asked for
    qtbot.waitUntil(lambda: panel.roi_page.index_spin.maximum() == 1, timeout=3000)
    assert panel._features_key is not None
    qtbot.wait(200)  # later turns build nothing else
    assert panel._yolo_page is None and panel._rpn_page is None
    assert panel.tabs.widget(1).findChildren(YoloPage) == []
    click_tab(qtbot, panel.tabs, 1)  # the YOLO page, built and filled for the current image
    assert panel._yolo_page is not None and panel._yolo_page.isVisible()
    assert panel._yolo_page.parentWidget() is panel.tabs.widget(1)
    table = panel.yolo_page.table
    # 7x7 grid of 42.86 px cells: stick centre (12, 20), cat centre (130, 130)
    assert [[table.item(r, c).text() for c in range(7)] for r in range(table.rowCount())] == [
        ["0,0", "1", "0.280", "0.467", "0.093", "0.467", "stick"],
        ["3,3", "1", "0.033", "0.033", "1.400", "1.400", "cat"]]
    assert len(panel.yolo_page.cell_layer) == 2
    assert panel._rpn_page is None  # still not built
    click_tab(qtbot, panel.tabs, 2)
    assert isinstance(panel._rpn_page, RpnPage) and panel._rpn_page.isVisible()
    assert panel._rpn_page.parentWidget() is panel.tabs.widget(2)
    assert panel.tabs.widget(1).findChildren(YoloPage) == [panel.yolo_page]


def test_classics_rpn_page_built_later_gets_the_checkpoints(window, qtbot, tmp_path) -> None:  # noqa: ANN001
    """A checkpoint offered (CheckpointLoaded) before the RPN page is built is in its detector
    list, selected, once its tab is picked; the RoI page has it at once."""
    from workbench.gui.hub import CheckpointLoaded, hub_of

    panel = window.panel_host.show_panel(CLASSICS[1])
    first, second = tmp_path / "a.pt", tmp_path / "b.pt"
    hub = hub_of(window)
    hub.publish(CheckpointLoaded(first))
    hub.publish(CheckpointLoaded(second))
    assert panel.roi_page.model_combo.currentData() == f"ckpt:{second}"
    assert panel._rpn_page is None
    combo = panel.rpn_page.model_combo  # built now
    keys = [combo.itemData(i) for i in range(combo.count())]
    assert keys[:2] == [f"ckpt:{second}", f"ckpt:{first}"]
    assert combo.currentData() == f"ckpt:{second}"
    assert panel.rpn_page.note.text() == ""  # a checkpoint: no "random weights" warning


def test_metrics_and_runs_plots_built_after_the_panel(window, qtbot) -> None:  # noqa: ANN001
    metrics = window.panel_host.show_panel(METRICS[1])
    runs = window.panel_host.show_panel(RUNS[1])
    assert not metrics._plot_box.built  # the panel is on screen before its plot is made
    plot = metrics.plot  # asked for: made now
    assert metrics._plot_box.built and plot.parentWidget() is metrics._plot_box
    assert metrics.legend is not None
    qtbot.waitUntil(lambda: runs.plots.builds.pending == 0, timeout=5000)
    assert runs.plots.loss_plot.parentWidget() is runs.plots._loss
    assert runs.plots.map_plot.getViewBox().viewRange()[1][0] == pytest.approx(0, abs=0.05)
    assert runs.plots.curves(runs.plots.loss_plot) == []


def test_priors_tables_behind_another_panel_filled_when_in_front(window, qtbot) -> None:  # noqa: ANN001
    """Tabbed behind another panel, the Priors panel does no matching on an image change (its
    layers are off the canvas; the image before's are emptied, as the IoU panel lists them) and
    matches and fills its tables when back in front."""
    from PySide6.QtTest import QTest

    host = window.panel_host
    priors = host.show_panel(PRIORS[1])
    click_tab(qtbot, priors.tabs, 2)  # Matching
    assert priors.objects_table.item(0, 0).text() == "1. cat"
    host.show_panel(METRICS[1])  # in front of it
    qtbot.waitUntil(lambda: not host.layers.owner_shown(priors), timeout=3000)
    QTest.keyClick(window.canvas, Qt.Key.Key_D)  # next image: b.png
    assert window.current_image_path().name == "b.png"
    assert priors.gt is None and priors.match is None  # not matched while behind
    assert len(priors.overlay.match) == 0               # a.png's matches emptied
    host.show_panel(PRIORS[1])
    qtbot.waitUntil(lambda: priors.objects_table.rowCount() == 1, timeout=3000)
    assert priors.gt.tolist() == [[50.0, 60.0, 150.0, 160.0]]  # matched for b.png in front
    assert priors.match is not None and priors.match.num_positive > 0
    assert priors.objects_table.item(0, 0).text() == "1. dog"
    assert priors.maps_table.item(6, 3).text() == "8,732"


def test_classics_yolo_page_catches_up_when_picked(window, qtbot) -> None:  # noqa: ANN001
    """On another page the YOLO targets are not recomputed per image; picking the YOLO tab
    (a real click) shows the current image's."""
    from PySide6.QtTest import QTest

    panel = window.panel_host.show_panel(CLASSICS[1])
    assert panel.tabs.currentIndex() == 0
    QTest.keyClick(window.canvas, Qt.Key.Key_D)  # b.png: a dog centred at (100, 110)
    assert window.current_image_path().name == "b.png"
    click_tab(qtbot, panel.tabs, 1)
    table = panel.yolo_page.table
    assert [[table.item(r, c).text() for c in range(7)] for r in range(table.rowCount())] == [
        ["2,2", "1", "0.333", "0.567", "2.333", "2.333", "dog"]]
    assert len(panel.yolo_page.cell_layer) == 1


def test_runs_plots_empty_listing_leaves_the_plots_to_their_turns(qtbot) -> None:  # noqa: ANN001
    """An empty runs list does not build both plots at once (the list is read before their
    turns); the mAP plot built later is titled for the metric asked for."""
    from workbench.gui.panels.runs_plots import RunsPlots

    plots = RunsPlots()
    qtbot.addWidget(plots)
    plots.show_runs([], "voc")
    assert not plots._loss.built and not plots._map.built
    title = plots.map_plot.getPlotItem().titleLabel.text
    assert "all-point" in title
    plots.show_runs([], "voc07")
    assert "11-point" in plots.map_plot.getPlotItem().titleLabel.text


def test_deferred_widget_shown_a_turn_after_it_is_built(qtbot) -> None:  # noqa: ANN001
    """Built by the queue, the content is shown in the queue's next turn (its first paint not
    in the same pass as its construction); asked for meanwhile, it is shown at once."""
    from PySide6.QtWidgets import QVBoxLayout

    owner = QWidget()
    qtbot.addWidget(owner)
    queue = BuildQueue(owner)
    one = Deferred(lambda: QLabel("one"), queue)
    two = Deferred(lambda: QLabel("two"), queue)
    layout = QVBoxLayout(owner)
    layout.addWidget(one)
    layout.addWidget(two)
    owner.show()
    qtbot.waitUntil(lambda: one.built, timeout=3000)
    first = one._widget
    assert first is not None and first.isHidden()  # built, not shown yet
    qtbot.waitUntil(lambda: first.isVisible(), timeout=3000)
    qtbot.waitUntil(lambda: two.built, timeout=3000)
    second = two._widget
    if second.isHidden():  # asked for before its reveal: shown now
        assert two.widget() is second and second.isVisible()
    qtbot.waitUntil(lambda: queue.pending == 0, timeout=3000)
    assert first.isVisible() and second.isVisible()


def test_classics_behind_another_panel_catches_up_when_in_front(window, qtbot) -> None:  # noqa: ANN001
    """Tabbed behind another panel, the Classics panel does no per-image work on an image
    change (real D key); back in front, its RoI page lists the new image's boxes and asks for
    its feature maps."""
    from PySide6.QtTest import QTest

    host = window.panel_host
    panel = host.show_panel(CLASSICS[1])
    qtbot.waitUntil(lambda: panel._roi_page is not None
                    and panel.roi_page.index_spin.maximum() == 1, timeout=3000)  # a.png: 2
    host.show_panel(METRICS[1])  # in front of it
    qtbot.waitUntil(lambda: not host.layers.owner_shown(panel), timeout=3000)
    calls: list[int] = []
    panel.roi_page.refresh_sources = lambda: calls.append(1)  # type: ignore[method-assign]
    QTest.keyClick(window.canvas, Qt.Key.Key_D)  # next image: b.png, one dog
    assert window.current_image_path().name == "b.png"
    qtbot.wait(100)
    assert calls == [] and panel._features_key is None
    del panel.roi_page.refresh_sources  # the page's own again
    host.show_panel(CLASSICS[1])
    qtbot.waitUntil(lambda: panel.roi_page.index_spin.maximum() == 0, timeout=3000)
    assert panel._features_key is not None and panel._features_key[1].endswith("b.png")
