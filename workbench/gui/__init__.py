"""PySide6 GUI. Only ``workbench.gui.workers`` imports ``workbench.engine`` (lazily)."""

from workbench.gui.pyside_compat import make_none_immortal

make_none_immortal()  # PySide6 6.12 abi3 wheels on Python 3.11 drop references to None
