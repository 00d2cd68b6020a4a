"""Work around a reference-count bug of the PySide6 6.12.0 ``abi3`` wheels on Python < 3.12.

Every call of a C++ method returning ``void`` (``QRect.moveTopLeft``, ``QLabel.setText``,
``QPainter.drawRects``, ...) returns ``None`` without taking a reference to it: the wheels are
built for Python 3.12+, where ``None`` is immortal (PEP 683) and ``Py_RETURN_NONE`` no longer
increments its count. On Python 3.11 each such call therefore *drops* one reference to
``None``, and after a few thousand calls (a few repaints of a canvas with labelled boxes) the
interpreter aborts with ``Fatal Python error: none_dealloc: deallocating None``. The same holds
for ``True``/``False`` (``Py_RETURN_TRUE``: every ``Signal.emit()`` returns ``True`` without a
reference, so a few hundred mouse moves abort with ``bool_dealloc``) and, for completeness, the
other singletons Python 3.12 made immortal (``Ellipsis``, ``NotImplemented``).

:func:`make_none_immortal` gives ``None`` a reference count so large that no session can use it
up (2**40 calls), which is what Python 3.12 does for every immortal object. ``None`` is a static
object that is never freed, so the only effect is that the fatal error cannot happen. It does
nothing on Python 3.12+ and is idempotent.
"""

from __future__ import annotations

import sys

_BOOST = 1 << 40


#: PySide6 releases known to have the bug. pyproject.toml excludes them, so this guard only
#: matters where PySide6 was installed by other means (a system or conda package).
AFFECTED_VERSIONS = frozenset({"6.12.0"})


def make_none_immortal(pyside_version: str | None = None) -> bool:
    """Raise the singletons' reference counts far out of reach; True if done.

    Only on CPython < 3.12 with an affected PySide6 release (``pyside_version`` defaults to the
    installed one); everywhere else this does nothing.
    """
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if pyside_version is None:
        import PySide6

        pyside_version = PySide6.__version__
    if pyside_version not in AFFECTED_VERSIONS:
        return False
    import ctypes  # (here: ~4 ms of start-up everywhere else)

    for singleton in (None, True, False, Ellipsis, NotImplemented):
        refcnt = ctypes.c_ssize_t.from_address(id(singleton))  # PyObject.ob_refcnt, 1st field
        if refcnt.value < _BOOST // 2:
            refcnt.value += _BOOST
    return True
