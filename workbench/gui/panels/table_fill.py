"""Fill a table whose columns fit their contents without re-measuring it after every cell.

A ``QHeaderView`` section in ``ResizeToContents`` mode measures the whole column again on every
``dataChanged``: ``QTableWidget.setItem`` cost ~1 ms per cell, a 7 x 9 table of the Priors panel
~25 ms — on every image shown (``bench/bench_gui_stalls.py --profile``, issue 14). Inside
:func:`filling` those sections are ``Interactive``; on exit they fit their contents again, once,
to the same widths.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtWidgets import QHeaderView, QTableView

_FIT = QHeaderView.ResizeMode.ResizeToContents


@contextmanager
def filling(table: QTableView) -> Iterator[QTableView]:
    """Set many cells of ``table``; its content-fitted columns are measured once, at the end."""
    headers = [table.horizontalHeader(), table.verticalHeader()]
    fitted = [(h, [c for c in range(h.count()) if h.sectionResizeMode(c) == _FIT])
              for h in headers]
    for header, sections in fitted:
        for c in sections:
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.Interactive)
    try:
        yield table
    finally:
        for header, sections in fitted:
            for c in sections:
                if c < header.count():
                    header.setSectionResizeMode(c, _FIT)
