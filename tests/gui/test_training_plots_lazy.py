"""The Train panel's plots (issue 14, GUI stalls): only the plot in front is built after the
panel, in a later turn; the others when their tab is picked (a real click) or asked for; a plot's
context menu comes a few hundred ms after it is built."""

from __future__ import annotations

from PySide6.QtCore import Qt


def test_front_plot_built_later_others_when_picked(qtbot) -> None:  # noqa: ANN001
    from workbench.gui.panels.training_plots import TrainingPlots

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    assert plots._built == {}                 # nothing in the turn that makes the widget
    plots.resize(380, 300)
    plots.show()
    qtbot.waitExposed(plots)
    qtbot.waitUntil(lambda: "loss" in plots._built, timeout=3000)
    qtbot.wait(plots.BUILD_GAP_MS * 3)
    assert set(plots._built) == {"loss"}      # the hidden tabs' plots wait
    loss = plots._built["loss"]["plot"]
    qtbot.waitUntil(loss.isVisible, timeout=2000)
    bar = plots.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(1).center())
    assert plots.currentIndex() == 1 and set(plots._built) == {"loss", "lr"}
    qtbot.waitUntil(plots._built["lr"]["plot"].isVisible, timeout=2000)
    assert plots.map_plot is plots._built["map"]["plot"]   # asked for: built at once
    assert set(plots._built) == {"loss", "lr", "map"}
    # the view box's context menu joins later
    item = loss.getPlotItem()
    qtbot.waitUntil(lambda: item.getViewBox().menu is not None, timeout=3000)
    assert item.menuEnabled()
