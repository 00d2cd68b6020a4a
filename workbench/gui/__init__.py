"""PySide6 GUI. Only ``workbench.gui.workers`` imports ``workbench.engine`` (lazily)."""
