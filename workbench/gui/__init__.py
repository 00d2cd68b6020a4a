"""PySide6 GUI. Only ``workbench.gui.workers`` imports ``workbench.engine`` (lazily)."""

from workbench.gui.pyside_compat import make_none_immortal
from workbench.gui.pyside_startup import import_pyside

import_pyside()  # PySide6's support code from cached bytecode (start-up, issue 14)

make_none_immortal()  # PySide6 6.12 abi3 wheels on Python 3.11 drop references to None
