"""``lxml.etree``, imported at its first use (:data:`etree`).

The VOC modules (:mod:`workbench.core.voc_xml`, :mod:`workbench.core.voc_write`) need lxml
only for the files their plain-layout reader (:mod:`workbench.core.voc_plain`) does not read,
and for writing; importing it costs ~6-9 ms of every process that reads VOC ground truth
(``workbench eval`` on a cold cache, ``Project.load``). :data:`etree` stands for the module:
its first attribute looked up imports ``lxml.etree``; each attribute is then kept on the
stand-in (a plain instance attribute: later look-ups cost what a module's do).
"""

from __future__ import annotations

from typing import Any


class _LazyEtree:
    def __getattr__(self, name: str) -> Any:
        from lxml import etree as module

        value = getattr(module, name)
        setattr(self, name, value)
        return value


#: ``lxml.etree`` (imported when one of its names is first used).
etree: Any = _LazyEtree()
