"""The Layers list (View → Panels → Layers): every overlay on the canvas, with a checkbox and an
opacity, grouped by the panel that draws it.

A thin view of the canvas's :class:`~workbench.gui.canvas.layer_list.LayerList`: the checkbox
is the user's visibility of the layer, the spin box its opacity. A layer whose panel is tabbed
behind another one (or closed) is listed greyed: it comes back when its panel is shown.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QBrush, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView, QHeaderView, QLabel, QSpinBox, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
    QWidget,
)

from workbench.gui.canvas.layer_list import Layer, LayerList

NAME_ROLE = Qt.ItemDataRole.UserRole + 1


class LayersPanel(QWidget):
    """The list; ``layer_list`` is the canvas's registry."""

    def __init__(self, layer_list: LayerList, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer_list = layer_list
        self.hint = QLabel("Overlays of the open panels. A panel's layers hide while another "
                           "panel is in front of it.")
        self.hint.setWordWrap(True)
        self.hint.setObjectName("muted")
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Layer", "Opacity"])
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(10)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.empty = QLabel("No overlays yet: open a panel (Priors, Proposals, IoU, "
                            "Detections …) from View → Panels.")
        self.empty.setWordWrap(True)
        self.empty.setObjectName("muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.hint)
        layout.addWidget(self.empty)
        layout.addWidget(self.tree, 1)
        self.rows: dict[str, QTreeWidgetItem] = {}
        self.spins: dict[str, QSpinBox] = {}
        self._shape: tuple = ()
        self.tree.itemChanged.connect(self._on_item_changed)
        layer_list.changed.connect(self.sync)
        # Box counts change without the list hearing of it: refresh them while shown.
        self._timer = QTimer(self, interval=500)
        self._timer.timeout.connect(self.sync)
        self.sync()

    # -- from the registry ----------------------------------------------------------------
    def sync(self) -> None:
        layers = self.layer_list.layers()
        shape = tuple((self.layer_list.owner_title(la), la.name) for la in layers)
        if shape != self._shape:
            self._rebuild(layers)
            self._shape = shape
        self.tree.blockSignals(True)
        for layer in layers:
            self._update_row(layer)
        self.tree.blockSignals(False)
        self.empty.setVisible(not layers)
        self.tree.setVisible(bool(layers))

    def _rebuild(self, layers: list[Layer]) -> None:
        self.tree.blockSignals(True)
        self.tree.clear()
        self.rows.clear()
        self.spins.clear()
        groups: dict[str, QTreeWidgetItem] = {}
        # Topmost first, as in napari and image editors.
        for layer in reversed(layers):
            title = self.layer_list.owner_title(layer)
            group = groups.get(title)
            if group is None:
                group = QTreeWidgetItem(self.tree, [title])
                group.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable
                               | Qt.ItemFlag.ItemIsAutoTristate)
                font = group.font(0)
                font.setBold(True)
                group.setFont(0, font)
                group.setFirstColumnSpanned(False)
                groups[title] = group
            row = QTreeWidgetItem(group, [layer.title])
            row.setData(0, NAME_ROLE, layer.name)
            row.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            row.setCheckState(0, Qt.CheckState.Checked)
            spin = QSpinBox()
            spin.setRange(0, 100)
            spin.setSingleStep(10)
            spin.setSuffix(" %")
            spin.setFrame(False)
            spin.setToolTip(f"Opacity of “{layer.title}”")
            # "100 %" and its arrows; sized to its hint the column left the names elided
            # ("selected de…") in a 260 px Layers dock (issue 14)
            spin.setFixedWidth(spin.fontMetrics().horizontalAdvance("100 %") + 40)
            row.setToolTip(0, layer.title)
            spin.valueChanged.connect(
                lambda v, n=layer.name: self.layer_list.set_opacity(n, v / 100.0))
            self.tree.setItemWidget(row, 1, spin)
            # rows as tall as the spin box (the tree's own rows are shorter: its text was cut)
            row.setSizeHint(0, QSize(0, spin.sizeHint().height()))
            self.rows[layer.name] = row
            self.spins[layer.name] = spin
        self.tree.expandAll()
        self.tree.blockSignals(False)

    def _update_row(self, layer: Layer) -> None:
        row = self.rows.get(layer.name)
        if row is None:
            return
        row.setCheckState(0, Qt.CheckState.Checked if layer.user_visible
                          else Qt.CheckState.Unchecked)
        n = layer.count()
        row.setText(0, f"{layer.title} ({n:,})" if n else layer.title)
        shown = self.layer_list.is_shown(layer)
        role = QPalette.ColorRole.Text if shown or not layer.user_visible \
            else QPalette.ColorRole.PlaceholderText
        row.setForeground(0, QBrush(self.palette().color(role)))
        if not layer.user_visible:
            why = "hidden (unchecked)"
        elif not layer.wanted:
            why = "hidden by its panel's own setting"
        elif not shown:
            why = "hidden with its panel (closed, or another panel is in front)"
        else:
            why = "on the canvas"
        row.setToolTip(0, f"{layer.name}: {why}")
        spin = self.spins[layer.name]
        value = round(layer.opacity * 100)
        if spin.value() != value:
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)

    # -- from the user --------------------------------------------------------------------
    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        name = item.data(0, NAME_ROLE)
        if column != 0 or not name:
            return
        self.layer_list.set_visible(name, item.checkState(0) == Qt.CheckState.Checked)

    def set_checked(self, name: str, on: bool) -> None:
        """Tick or untick the row of layer ``name`` (what a click on its checkbox does)."""
        self.rows[name].setCheckState(0, Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def showEvent(self, event) -> None:  # noqa: ANN001,N802 (Qt API)
        self.sync()
        self._timer.start()
        super().showEvent(event)

    def hideEvent(self, event) -> None:  # noqa: ANN001,N802 (Qt API)
        self._timer.stop()
        super().hideEvent(event)
