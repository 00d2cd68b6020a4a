"""The window's look: Fusion style, a dark palette and a small style sheet.

Dark because photos read best on a neutral dark surround (the choice of most labeling and photo
tools); one accent colour for focus and selection.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from workbench.gui.assets import resources_dir

BG = "#1b1d21"        # window / canvas surround
SURFACE = "#23262b"   # docks, toolbars
SURFACE_2 = "#2c3036"  # inputs, list rows hover
BORDER = "#363b43"
TEXT = "#e3e6eb"
TEXT_DIM = "#9aa1ad"
DISABLED_TEXT = "#5d636e"
ACCENT = "#4d8dff"

# Colours of the file states in the file dock (also used by its counters).
STATE_COLORS = {
    "unlabeled": "#6b7280",
    "labeled": "#4d8dff",
    "verified": "#34c17b",
    "problems": "#f05252",
    "suggestions": "#f5a524",
}

#: Folder of the spin box arrows (style sheets take image files, not QIcons).
_ICONS = (resources_dir() / "icons").as_posix()

STYLE_SHEET = f"""
QMainWindow, QDialog {{ background: {BG}; }}
QWidget {{ color: {TEXT}; font-size: 13px; }}
QToolTip {{ background: {SURFACE_2}; color: {TEXT}; border: 1px solid {BORDER}; padding: 4px; }}
QMenuBar {{ background: {SURFACE}; border-bottom: 1px solid {BORDER}; padding: 2px; }}
QMenuBar::item {{ padding: 4px 10px; border-radius: 4px; }}
QMenuBar::item:selected {{ background: {SURFACE_2}; }}
QMenu {{ background: {SURFACE}; border: 1px solid {BORDER}; padding: 4px; }}
QMenu::item {{ padding: 5px 28px 5px 26px; border-radius: 4px; }}
QMenu::item:selected {{ background: {ACCENT}; color: white; }}
QMenu::separator {{ height: 1px; background: {BORDER}; margin: 4px 8px; }}
QToolBar {{ background: {SURFACE}; border: none; border-bottom: 1px solid {BORDER};
            padding: 4px 6px; spacing: 2px; }}
QToolBar::separator {{ width: 1px; background: {BORDER}; margin: 4px 6px; }}
QToolButton {{ border: 1px solid transparent; border-radius: 6px; padding: 4px; }}
QToolButton:hover {{ background: {SURFACE_2}; border-color: {BORDER}; }}
QToolButton:checked {{ background: #2d4a7c; border-color: {ACCENT}; }}
QToolButton:pressed {{ background: {BORDER}; }}
QDockWidget {{ titlebar-close-icon: none; font-weight: 600; }}
QDockWidget::title {{ background: {SURFACE}; padding: 7px 10px; border-bottom: 1px solid {BORDER};
                      text-transform: uppercase; }}
QDockWidget > QWidget {{ background: {SURFACE}; }}
/* Docks carry panel_host.DockTitleBar: the title, or a switcher among the open docks of its tab
   group; Qt's own row of dock tabs (which elided eight titles to "Bo…", "Tr…") gets no height
   (panel_host.NO_TAB_ROW, set on the bars themselves). */
QWidget#dockTitle {{ background: {SURFACE}; border-bottom: 1px solid {BORDER}; }}
QLabel#dockTitleText {{ font-weight: 600; padding: 4px 2px; }}
QComboBox#panelSwitcher {{ font-weight: 600; padding: 3px 8px; }}
QScrollArea#panelScroll, QScrollArea#panelScroll > QWidget > QWidget {{ background: {SURFACE}; }}
QTabBar::tab {{ background: {SURFACE}; color: {TEXT_DIM}; padding: 6px 12px; border: none; }}
QTabBar::tab:selected {{ color: {TEXT}; border-bottom: 2px solid {ACCENT}; }}
QListView, QTreeView, QTableView, QListWidget {{
    background: {SURFACE}; border: none; outline: 0; }}
QListView::item, QListWidget::item {{ padding: 4px 6px; border-radius: 4px; }}
QListView::item:hover, QListWidget::item:hover {{ background: {SURFACE_2}; }}
QListView::item:selected, QListWidget::item:selected {{ background: #2d4a7c; color: white; }}
QLineEdit, QComboBox, QSpinBox, QDoubleSpinBox {{
    background: {SURFACE_2}; border: 1px solid {BORDER}; border-radius: 6px; padding: 5px 8px;
    selection-background-color: {ACCENT}; }}
QLineEdit:focus, QComboBox:focus {{ border-color: {ACCENT}; }}
QAbstractSpinBox {{ padding-right: 22px; }}
QAbstractSpinBox::up-button, QAbstractSpinBox::down-button {{
    subcontrol-origin: border; width: 20px; border: none; background: transparent; }}
QAbstractSpinBox::up-button {{ subcontrol-position: top right; border-top-right-radius: 6px; }}
QAbstractSpinBox::down-button {{ subcontrol-position: bottom right;
    border-bottom-right-radius: 6px; }}
QAbstractSpinBox::up-button:hover, QAbstractSpinBox::down-button:hover {{
    background: {BORDER}; }}
QAbstractSpinBox::up-arrow {{ image: url("{_ICONS}/spin-up.svg"); width: 10px; height: 10px; }}
QAbstractSpinBox::down-arrow {{ image: url("{_ICONS}/spin-down.svg"); width: 10px;
    height: 10px; }}
QAbstractSpinBox::up-arrow:disabled, QAbstractSpinBox::down-arrow:disabled {{ image: none; }}
QPushButton {{ background: {SURFACE_2}; border: 1px solid {BORDER}; border-radius: 6px;
               padding: 5px 12px; }}
QPushButton:hover {{ border-color: {ACCENT}; }}
/* The palette's disabled text colour is not used once the sheet styles QPushButton: without
   this a disabled button ("Best F1" before there are numbers) looked exactly like an enabled one. */
QPushButton:disabled {{ color: {DISABLED_TEXT}; border-color: {BORDER}; }}
QPushButton:default, QPushButton#primary {{ background: {ACCENT}; border-color: {ACCENT};
                                            color: white; }}
/* Bold only by name: a font set in a pseudo-state (:default follows the focus in a dialog) is
   not in the button's size hint, and it clipped "Cancel" in the delete-class dialog. */
QPushButton#primary {{ font-weight: 600; }}
QStatusBar {{ background: {SURFACE}; border-top: 1px solid {BORDER}; color: {TEXT_DIM}; }}
QStatusBar QLabel {{ color: {TEXT_DIM}; padding: 0 8px; }}
QScrollBar:vertical {{ background: transparent; width: 10px; margin: 0; }}
QScrollBar:horizontal {{ background: transparent; height: 10px; margin: 0; }}
QScrollBar::handle {{ background: #4a505a; border-radius: 4px; min-height: 24px; min-width: 24px; }}
QScrollBar::handle:hover {{ background: #5d6470; }}
QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: transparent; }}
QCheckBox::indicator, QListWidget::indicator {{ width: 13px; height: 13px; border-radius: 3px;
    border: 1px solid #5d636e; background: {SURFACE_2}; }}
QCheckBox::indicator:checked, QListWidget::indicator:checked {{ background: {ACCENT};
    border-color: {ACCENT}; }}
/* Radio buttons like the check boxes: the chosen one filled with the accent, a white dot in
   it (Fusion's own dot was a faint grey on the dark palette). */
QRadioButton::indicator {{ width: 13px; height: 13px; border-radius: 7px;
    border: 1px solid #5d636e; background: {SURFACE_2}; }}
QRadioButton::indicator:checked {{ border-color: {ACCENT}; background: qradialgradient(
    cx: 0.5, cy: 0.5, radius: 0.5, fx: 0.5, fy: 0.5, stop: 0 #ffffff, stop: 0.4 #ffffff,
    stop: 0.5 {ACCENT}, stop: 1 {ACCENT}); }}
QRadioButton::indicator:disabled {{ border-color: #3f444d; background: {SURFACE}; }}
QLabel#muted {{ color: {TEXT_DIM}; }}
QLabel#counter {{ color: {TEXT_DIM}; font-size: 12px; }}
QMainWindow::separator {{ background: {BORDER}; width: 1px; height: 1px; }}
"""


def apply_theme(app: QApplication) -> None:
    """Fusion + dark palette + style sheet, applied once to the application."""
    app.setStyle("Fusion")
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: BG, QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: SURFACE, QPalette.ColorRole.AlternateBase: SURFACE_2,
        QPalette.ColorRole.Text: TEXT, QPalette.ColorRole.Button: SURFACE_2,
        QPalette.ColorRole.ButtonText: TEXT, QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: SURFACE_2,
        QPalette.ColorRole.ToolTipText: TEXT, QPalette.ColorRole.PlaceholderText: TEXT_DIM,
        QPalette.ColorRole.Link: ACCENT,
    }
    for role, color in roles.items():
        pal.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(DISABLED_TEXT))
    app.setPalette(pal)
    app.setStyleSheet(STYLE_SHEET)
