"""Import PySide6 at a lower start-up cost (issue 14: start-up beside LabelImg).

Costs of ``import PySide6`` that plain Python programs do not pay, all in PySide6's own
support code (``shibokensupport``), and what :func:`import_pyside` does about them:

* **Bytecode.** ``shiboken6`` carries its support package (the signature loader, the
  ``__feature__`` switch, the ``.pyi`` generator …: 13 modules, ~120 KB of source) zipped
  inside its binary and *compiles it from source at every start* (its importer calls
  ``compile()``; nothing is cached the way ``.pyc`` files are): ~20 ms of CPU per start.
  While PySide6 is imported, ``compile`` answers those calls from a cache of the code objects
  (:func:`support_bytecode`), kept where Python keeps this package's bytecode (``__pycache__``
  or ``sys.pycache_prefix``; not written when ``sys.dont_write_bytecode``). Each entry holds
  the length and CRC-32 of the source it was compiled from and the compiler flags; anything
  else (another PySide6 release, another Python) compiles as before and replaces it.
* **Regular expressions.** The same support code compiles a few large regular expressions
  at import (the ``.pyi`` generator's and the signature parser's "brace towers", ~6 KB each):
  ~12 ms in ``re``'s pure-Python parser and code generator at every start. Inside the same
  window, ``re``'s compiler records the arguments it hands to ``_sre.compile`` (the pattern,
  its flags, the generated SRE code, its groups) in the same cache and replays them on the
  next start — the pattern object ``_sre`` builds from them is the one ``re.compile`` would
  build (same inputs to the same C function; it validates the code). Only ``str`` patterns
  compiled while PySide6 is imported; anything unusual goes the usual way.
* **The feature hook.** Once PySide6 is loaded, every module imported afterwards is checked
  for whether it uses PySide (``shibokensupport.feature._mod_uses_pyside``: its *source* is
  read through ``inspect.getsource`` — linecache, tokenizer, the whole file kept in memory —
  only to look for the word ``PySide6``), ~0.15 ms a module: ~30 ms for the ~200 modules a
  start loads. :func:`_uses_pyside` gives the same answer for a module with a plain ``.py``
  file by searching the file's bytes, and asks the original check for everything else (zip
  imports, ``.pyc``-only modules, extension modules, files that cannot be read).

* **The rest of the start.** The regular expressions and dataclasses made until the window
  shows its first project (:func:`end_startup`; at most :data:`STARTUP_WINDOW_S` seconds)
  come from the same cache: the patterns replayed as above (~10 ms: 33 patterns of the
  project's readers and the standard library), and the functions ``dataclasses`` generates
  for each dataclass (``__init__``, ``__repr__``, ``__eq__`` … compiled from source text at
  every start: ~142 functions, ~18 ms) reused by their exact source text (the same text
  compiled with the same flags gives the same code). Worker threads may compile meanwhile:
  what a compile hands ``_sre`` is recorded per thread.

None changes what PySide6 does: the same code objects run, the same patterns match, the same
modules are marked as using PySide (0) or not (-1) in ``pyside_feature_dict``
(``tests/test_startup_pyside.py`` compares both checks over every module loaded, and cached
patterns with fresh ones). Patterns are replayed only by the Python release that recorded
them.
"""

from __future__ import annotations

import __future__
import builtins
import marshal
import os
import sys
import threading
import time
import types
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

#: Names of the files shiboken compiles from its embedded zip (its bootstrap, then the
#: support package through its importer).
_SUPPORT_FILES = ("shibokensupport/", "signature_bootstrap.py")

#: The ``from __future__`` flags ``compile`` inherits from the code calling it
#: (CPython's ``PyCF_MASK``).
_FUTURE_FLAGS = 0
for _name in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _name).compiler_flag
del _name

#: Bumped when the layout of the cache file changes.
CACHE_VERSION = 3
#: The start-up window (patterns and dataclasses cached) ends at the latest this long after
#: ``import_pyside``, at the first pattern or dataclass made after it.
STARTUP_WINDOW_S = 10.0
#: Past this many patterns or dataclass functions, a table keeps only what this start used.
MAX_ENTRIES = 4000


def cache_path() -> Path:
    """Where the support bytecode is kept: beside this package's own bytecode."""
    import importlib.util

    pyc = Path(importlib.util.cache_from_source(__file__))
    return pyc.with_name(f"shibokensupport-v{CACHE_VERSION}.{sys.implementation.cache_tag}.bin")


def _read(path: Path) -> dict:
    """``{"code": {...}, "re": {...}, "dc": {...}}`` from ``path`` (empty tables if missing or
    damaged)."""
    import importlib.util

    empty: dict = {"code": {}, "re": {}, "dc": {}}
    try:
        data = path.read_bytes()
    except OSError:
        return empty
    magic = importlib.util.MAGIC_NUMBER
    if not data.startswith(magic):
        return empty
    try:
        tables = marshal.loads(data[len(magic):])
    except (EOFError, ValueError, TypeError):
        return empty
    if not isinstance(tables, dict) or not all(isinstance(tables.get(k), dict) for k in empty):
        return empty
    if tables.get("python") != sys.version:  # re's code generator may differ between releases
        tables["re"] = {}
        tables["dc"] = {}
    return tables


def _write(path: Path, tables: dict) -> None:
    import importlib.util

    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(importlib.util.MAGIC_NUMBER + marshal.dumps(tables))
        os.replace(tmp, path)
    except (OSError, ValueError):  # a read-only install: compiled again next time, as before
        tmp.unlink(missing_ok=True)


class SupportCache:
    """What :func:`support_bytecode` used: the cached ``entries`` (``{filename: (length,
    crc32, flags, code)}``) and ``patterns`` (``{(pattern, flags): _sre.compile arguments}``),
    and what was answered from them (``hits``, ``pattern_hits``) or made anew (``misses``,
    ``pattern_misses``)."""

    def __init__(self, path: Path, tables: dict) -> None:
        self.path = path
        self.entries: dict = tables["code"]
        self.patterns: dict = tables["re"]
        #: ``{source text: code}`` of the functions ``dataclasses`` generated
        self.functions: dict = tables["dc"]
        self.hits: list[str] = []
        self.misses: list[str] = []
        self.pattern_hits = 0
        self.pattern_misses = 0
        self.function_hits = 0
        self.function_misses = 0
        self._used_patterns: set = set()
        self._used_functions: set = set()

    def tables(self) -> dict:
        # (copies, made in one step each: a worker may still be adding to the tables)
        patterns, functions = dict(self.patterns), dict(self.functions)
        if len(patterns) > MAX_ENTRIES:
            patterns = {k: v for k, v in patterns.items() if k in self._used_patterns}
        if len(functions) > MAX_ENTRIES:
            functions = {k: v for k, v in functions.items() if k in self._used_functions}
        return {"code": self.entries, "re": patterns, "dc": functions, "python": sys.version}

    @property
    def changed(self) -> bool:
        return bool(self.misses or self.pattern_misses or self.function_misses)


def _compile_hook(cache: SupportCache, real: Callable) -> Callable:
    """``compile`` answering shiboken's support files from ``cache``."""
    entries = cache.entries

    def compile(source, filename, mode, flags=0, dont_inherit=False,  # noqa: A001, ANN001, ANN202
                optimize=-1, **kwargs):
        if not dont_inherit:  # what the builtin would inherit from *its* caller
            try:
                flags |= sys._getframe(1).f_code.co_flags & _FUTURE_FLAGS  # noqa: SLF001
            except ValueError:  # called from C with no Python frame: nothing to inherit
                pass
        if (mode != "exec" or optimize != -1 or kwargs or not isinstance(source, bytes)
                or not isinstance(filename, str) or not filename.startswith(_SUPPORT_FILES)):
            return real(source, filename, mode, flags, True, optimize, **kwargs)
        key = (len(source), zlib.crc32(source), flags)
        found = entries.get(filename)
        if isinstance(found, tuple) and len(found) == 4 and found[:3] == key \
                and isinstance(found[3], types.CodeType):
            cache.hits.append(filename)
            return found[3]
        code = real(source, filename, mode, flags, True)
        entries[filename] = (*key, code)
        cache.misses.append(filename)
        return code

    return compile


class _SreRecorder:
    """Stands in for the ``_sre`` module inside ``re._compiler``: keeps the arguments of the
    last ``compile`` call of each thread; everything else is the module's."""

    def __init__(self, sre: types.ModuleType) -> None:
        self._sre = sre
        self._local = threading.local()

    @property
    def last(self) -> tuple | None:
        return getattr(self._local, "last", None)

    @last.setter
    def last(self, args: tuple | None) -> None:
        self._local.last = args

    def __getattr__(self, name: str) -> object:
        return getattr(self._sre, name)

    def compile(self, *args: object) -> object:
        self._local.last = args
        return self._sre.compile(*args)


def _regex_hook(cache: SupportCache, real: Callable, recorder: _SreRecorder) -> Callable:
    """``re._compiler.compile`` replaying the ``_sre.compile`` arguments kept in ``cache``."""
    sre = recorder._sre  # noqa: SLF001
    patterns = cache.patterns
    debug = getattr(sre, "SRE_FLAG_DEBUG", 128)

    used = cache._used_patterns  # noqa: SLF001

    def compile(p, flags=0):  # noqa: A001, ANN001, ANN202
        if type(p) is not str or type(flags) is not int or flags & debug:
            return real(p, flags)
        key = (p, flags)
        used.add(key)
        args = patterns.get(key)
        if isinstance(args, tuple) and len(args) == 6 and args[0] == p:
            try:
                pattern = sre.compile(*args)
            except (RuntimeError, TypeError, ValueError, OverflowError):  # damaged: remake
                pass
            else:
                cache.pattern_hits += 1
                return pattern
        recorder.last = None
        pattern = real(p, flags)
        args = recorder.last
        if args is not None and len(args) == 6 and args[0] == p \
                and int(args[1]) & flags == flags:  # type: ignore[call-overload]
            pattern_, final_flags, code, groups, groupindex, indexgroup = args
            # (the code holds re's named int constants: kept as plain ints)
            patterns[key] = (pattern_, int(final_flags),  # type: ignore[call-overload]
                             [int(c) for c in code],  # type: ignore[attr-defined]
                             int(groups), dict(groupindex), tuple(indexgroup))  # type: ignore[call-overload]
            cache.pattern_misses += 1
        return pattern

    return compile


def _dataclass_exec_hook(cache: SupportCache) -> Callable:
    """``exec`` for the ``dataclasses`` module (its only use: ``exec(text, globals, ns)`` of a
    generated function): the code of a text compiled before is reused. ``dataclasses`` has no
    ``from __future__`` import, so its ``exec`` compiles with no inherited flags — as
    ``dont_inherit=True`` does here."""
    functions = cache.functions
    used = cache._used_functions  # noqa: SLF001
    real_exec, real_compile = builtins.exec, builtins.compile

    def exec(source, globals=None, locals=None, /):  # noqa: A001, A002, ANN001, ANN202
        if type(source) is str:
            used.add(source)
            code = functions.get(source)
            if not isinstance(code, types.CodeType):
                code = real_compile(source, "<string>", "exec", dont_inherit=True)
                functions[source] = code
                cache.function_misses += 1
            else:
                cache.function_hits += 1
            return real_exec(code, globals, locals)
        return real_exec(source, globals, locals)

    return exec


class StartupWindow:
    """The cache's hooks: shiboken's support files (:meth:`end_pyside`), regular expressions
    and dataclass functions (:meth:`close`), from a :class:`SupportCache`; written back on
    :meth:`close` when something was made anew."""

    def __init__(self, cache: SupportCache, deadline_s: float | None = None) -> None:
        self.cache = cache
        self._lock = threading.Lock()
        self._deadline = None if deadline_s is None else time.monotonic() + deadline_s
        self._real_compile: Callable | None = builtins.compile
        builtins.compile = _compile_hook(cache, builtins.compile)
        self._regex = _regex_parts()
        if self._regex is not None:
            compiler, real_re, recorder = self._regex
            hook = _regex_hook(cache, real_re, recorder)
            setattr(compiler, "compile", self._until_deadline(hook, real_re))  # noqa: B010
            setattr(compiler, "_sre", recorder)  # noqa: B010
        import dataclasses

        self._dataclasses: types.ModuleType | None = dataclasses
        dataclasses.exec = self._until_deadline(  # type: ignore[attr-defined]
            _dataclass_exec_hook(cache), builtins.exec)
        self.open = True

    def _until_deadline(self, hook: Callable, real: Callable) -> Callable:
        if self._deadline is None:
            return hook
        deadline, window = self._deadline, self

        def call(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            if time.monotonic() > deadline:
                window.close()
                return real(*args, **kwargs)
            return hook(*args, **kwargs)

        return call

    def end_pyside(self) -> None:
        """Put the builtin ``compile`` back (PySide6 is imported)."""
        if self._real_compile is not None:
            builtins.compile = self._real_compile
            self._real_compile = None

    def close(self) -> None:
        """Put everything back; write the cache if something was made anew (once)."""
        with self._lock:
            if not self.open:
                return
            self.open = False
            self.end_pyside()
            if self._regex is not None:
                compiler, real_re, recorder = self._regex
                setattr(compiler, "compile", real_re)  # noqa: B010
                setattr(compiler, "_sre", recorder._sre)  # noqa: B010, SLF001
            if self._dataclasses is not None:
                self._dataclasses.__dict__.pop("exec", None)
            if self.cache.changed and not sys.dont_write_bytecode:
                try:
                    _write(self.cache.path, self.cache.tables())
                except (RuntimeError, TypeError, ValueError):  # a cache is never worth a crash
                    pass


_WINDOW: StartupWindow | None = None


def end_startup() -> None:
    """End the start-up window of :func:`import_pyside` (the window shows its first project,
    or the process ends): patterns and dataclasses are made as usual from now on, and what
    was made anew in the window is written to the cache. Idempotent."""
    global _WINDOW
    window, _WINDOW = _WINDOW, None
    if window is not None:
        window.close()


@contextmanager
def support_bytecode(path: Path | None = None) -> Iterator[SupportCache]:
    """While inside, ``compile(source_bytes, "shibokensupport/…", "exec")`` returns the cached
    code object when the source's length, CRC-32 and the effective compiler flags match, and
    ``re`` replays the cached ``_sre.compile`` arguments of a ``str`` pattern compiled before
    with the same flags; misses are made the usual way and written back on exit. Every other
    call is passed through unchanged."""
    end_startup()  # (one window at a time)
    path = cache_path() if path is None else path
    window = StartupWindow(SupportCache(path, _read(path)))
    try:
        yield window.cache
    finally:
        window.close()


def _regex_parts() -> tuple[types.ModuleType, Callable, _SreRecorder] | None:
    """``re._compiler``, its ``compile`` and a recorder for its ``_sre`` (None where this
    Python's ``re`` is laid out otherwise: patterns are then compiled as usual)."""
    import re

    compiler = getattr(re, "_compiler", None)
    real = getattr(compiler, "compile", None)
    sre = getattr(compiler, "_sre", None)
    if not isinstance(real, types.FunctionType) or not isinstance(sre, types.ModuleType) \
            or not callable(getattr(sre, "compile", None)):
        return None
    return compiler, real, _SreRecorder(sre)  # type: ignore[return-value]


def _uses_pyside(module: types.ModuleType, original: Callable[[types.ModuleType], bool]) -> bool:
    """``shibokensupport.feature._mod_uses_pyside(module)`` ("PySide6" in its source), reading
    a ``.py`` file's bytes directly; anything else goes to ``original``."""
    file = getattr(module, "__file__", None)
    if isinstance(file, str) and file.endswith(".py"):
        try:
            with open(file, "rb") as f:
                return b"PySide6" in f.read()
        except OSError:
            pass
    return original(module)


def speed_up_feature_check() -> bool:
    """Replace PySide6's per-import source check by :func:`_uses_pyside` (same answers);
    True if done (False when this PySide6 has no such check, or it is replaced already)."""
    feature = sys.modules.get("PySide6.support.feature") \
        or sys.modules.get("shibokensupport.feature")
    original = getattr(feature, "_mod_uses_pyside", None)
    if not isinstance(original, types.FunctionType) or original.__name__ != "_mod_uses_pyside" \
            or hasattr(original, "original"):
        return False

    def _mod_uses_pyside(module: types.ModuleType) -> bool:
        return _uses_pyside(module, original)

    _mod_uses_pyside.original = original  # type: ignore[attr-defined]
    feature._mod_uses_pyside = _mod_uses_pyside  # type: ignore[union-attr]
    return True


def import_pyside() -> None:
    """``import PySide6`` (its support code from cached bytecode) and the faster feature
    check; the start-up window (patterns, dataclasses) stays open until :func:`end_startup`
    or :data:`STARTUP_WINDOW_S`. Idempotent; where PySide6 was imported before, only the
    check is replaced."""
    global _WINDOW
    if "shiboken6" not in sys.modules:
        window = StartupWindow(SupportCache(cache_path(), _read(cache_path())),
                               deadline_s=STARTUP_WINDOW_S)
        _WINDOW = window
        try:
            import PySide6  # noqa: F401
        except BaseException:
            end_startup()
            raise
        window.end_pyside()
    speed_up_feature_check()
