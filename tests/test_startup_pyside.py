"""PySide6 imported at a lower start-up cost (issue 14; :mod:`workbench.gui.pyside_startup`):
shiboken's embedded support modules come from a bytecode cache, and PySide6's per-import
"does this module use PySide6?" check reads a file's bytes instead of its source through
``inspect`` — with the same answers."""

from __future__ import annotations

import builtins
import json
import marshal
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "workbench" / "gui" / "pyside_startup.py"

#: A fresh interpreter: pyside_startup loaded from its file (importing ``workbench.gui`` would
#: import PySide6 first), then PySide6 inside ``support_bytecode(cache)``.
CHILD = textwrap.dedent(r"""
    import importlib.util, json, sys
    spec = importlib.util.spec_from_file_location("pyside_startup", sys.argv[1])
    ps = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ps)
    from pathlib import Path
    with ps.support_bytecode(Path(sys.argv[2])) as cache:
        from PySide6 import QtCore
    from PySide6.support.signature import get_signature
    try:
        QtCore.QObject().setObjectName(1, 2)
    except TypeError as exc:  # worded by shiboken's error handler (support code)
        error = str(exc)
    print(json.dumps({"hits": cache.hits, "misses": cache.misses,
                      "pattern_hits": cache.pattern_hits,
                      "pattern_misses": cache.pattern_misses,
                      "signature": str(get_signature(QtCore.QObject.setObjectName)),
                      "error": error,
                      "feature": "PySide6.support.feature" in sys.modules,
                      "compile_restored": compile is __builtins__.compile
                      and compile.__module__ == "builtins"}))
""")


def _child(cache: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(MODULE), str(cache)], env=env,
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load_module() -> types.ModuleType:
    from workbench.gui import pyside_startup

    return pyside_startup


def test_support_modules_compile_once_then_come_from_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "support.bin"
    first = _child(cache)
    assert first["hits"] == []
    assert "shibokensupport/signature/loader.py" in first["misses"]
    assert "shibokensupport/signature/parser.py" in first["misses"]
    assert all(n.startswith("shibokensupport/") or n == "signature_bootstrap.py"
               for n in first["misses"])
    assert cache.is_file()
    second = _child(cache)
    assert second["misses"] == []
    assert second["hits"] == first["misses"]  # every one, in the same order
    assert first["pattern_hits"] == 0 and first["pattern_misses"] >= 3  # the brace towers…
    assert second["pattern_misses"] == 0
    assert second["pattern_hits"] == first["pattern_misses"]
    # PySide6's signature machinery runs from the cached code as from its own
    assert second["signature"] == first["signature"] == "(self, name: str, /) -> None"
    assert second["error"] == first["error"]
    assert "setObjectName" in first["error"]
    assert first["feature"] and second["feature"]
    assert first["compile_restored"] and second["compile_restored"]


def test_a_changed_source_or_a_damaged_cache_is_compiled_again(tmp_path: Path) -> None:
    import importlib.util

    cache = tmp_path / "support.bin"
    names = _child(cache)["misses"]
    magic = importlib.util.MAGIC_NUMBER
    tables = marshal.loads(cache.read_bytes()[len(magic):])
    entries = tables["code"]
    length, crc, flags, code = entries["shibokensupport/feature.py"]
    entries["shibokensupport/feature.py"] = (length, crc ^ 1, flags, code)  # another source
    cache.write_bytes(magic + marshal.dumps(tables))
    again = _child(cache)
    assert again["misses"] == ["shibokensupport/feature.py"]
    assert len(again["hits"]) == len(names) - 1
    assert _child(cache)["misses"] == []  # written back

    cache.write_bytes(b"not a cache")
    assert _child(cache)["misses"] == names
    assert cache.read_bytes().startswith(magic)


def test_compile_keeps_its_semantics_inside_the_cache_window(tmp_path: Path) -> None:
    """Inherited ``from __future__`` flags, other modes and file names pass through; the
    builtin is restored afterwards."""
    ps = _load_module()
    source = b"def f(a: undefined_name) -> None: pass\n"
    real = builtins.compile
    with ps.support_bytecode(tmp_path / "c.bin") as cache:
        assert builtins.compile is not real
        # this test module has `from __future__ import annotations`: inherited, as the
        # builtin does, so the annotation is not evaluated
        code = compile(source, "shibokensupport/fake.py", "exec")
        namespace: dict = {}
        exec(code, namespace)  # noqa: S102
        assert namespace["f"].__annotations__["a"] == "undefined_name"
        assert compile(source, "shibokensupport/fake.py", "exec") is code  # a hit
        # the same source without inheriting: other flags, so compiled (and kept) anew
        plain = compile(source, "shibokensupport/fake.py", "exec", dont_inherit=True)
        assert plain.co_flags != code.co_flags
        assert eval(compile("6 * 7", "<string>", "eval")) == 42  # noqa: S307
        assert compile("x = 1", "other.py", "exec").co_filename == "other.py"
    assert builtins.compile is real
    assert cache.misses == ["shibokensupport/fake.py", "shibokensupport/fake.py"]
    assert cache.hits == ["shibokensupport/fake.py"]


def test_fast_feature_check_gives_pysides_answers(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    ps = _load_module()
    import PySide6  # noqa: F401  (the feature module is loaded with it)

    feature = sys.modules["PySide6.support.feature"]
    fast = feature._mod_uses_pyside  # noqa: SLF001
    original = getattr(fast, "original", None)
    assert original is not None, "import_pyside() did not install the fast check"
    assert original.__name__ == "_mod_uses_pyside"
    assert ps.speed_up_feature_check() is False  # installed once only

    def outcome(check, module):  # noqa: ANN001, ANN202
        """The answer, or the exception's type: PySide's own check raises on some modules
        (torch._classes, loaded by other tests, answers every attribute with a RuntimeError)
        and the fast one must then do the same."""
        try:
            return check(module)
        except Exception as exc:  # noqa: BLE001 (compared, not swallowed)
            return type(exc)

    checked = 0
    for name, module in list(sys.modules.items()):
        if isinstance(module, types.ModuleType):
            assert outcome(fast, module) == outcome(original, module), name
            checked += 1
    assert checked > 300

    # a module that names PySide6 in a comment only, one that does not, one without a file
    (tmp_path / "wb_uses_qt.py").write_text("# built on PySide6\nX = 1\n", encoding="utf-8")
    (tmp_path / "wb_plain.py").write_text("Y = 2\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    import wb_plain  # type: ignore[import-not-found]
    import wb_uses_qt  # type: ignore[import-not-found]

    assert fast(wb_uses_qt) is original(wb_uses_qt) is True
    assert fast(wb_plain) is original(wb_plain) is False
    assert feature.pyside_feature_dict["wb_uses_qt"] == 0  # PySide's own bookkeeping
    assert feature.pyside_feature_dict["wb_plain"] == -1
    gone = types.ModuleType("wb_gone")
    gone.__file__ = str(tmp_path / "missing.py")
    assert fast(gone) is original(gone) is False
    for name in ("wb_uses_qt", "wb_plain"):
        sys.modules.pop(name, None)
        feature.pyside_feature_dict.pop(name, None)


def test_cached_patterns_are_the_patterns_re_makes(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import re

    ps = _load_module()
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    sources = [(r"(?P<name>\w+)\s*=\s*(?P<value>[^,]+)", 0), (r"[a-z]+(\d+)?", re.IGNORECASE),
               (r"""
                \b (typing\.Optional | typing\.Union) \s* (?= \[ )   # a word, a bracket
                """, re.VERBOSE)]
    samples = ["a = 1, b=xyz", "ABC12 def", "x: typing.Optional[int]", "é = ü"]
    path = tmp_path / "c.bin"
    for round_ in ("record", "replay"):
        re.purge()
        with ps.support_bytecode(path) as cache:
            made = [re.compile(p, f) for p, f in sources]
        assert (cache.pattern_misses, cache.pattern_hits) == (
            (3, 0) if round_ == "record" else (0, 3)), round_
        re.purge()
        for (p, f), pattern in zip(sources, made):
            fresh = re.compile(p, f)
            assert (pattern.pattern, pattern.flags, pattern.groups, pattern.groupindex) == (
                fresh.pattern, fresh.flags, fresh.groups, fresh.groupindex)
            for text in samples:
                assert [m.groupdict() or m.groups() for m in pattern.finditer(text)] == \
                    [m.groupdict() or m.groups() for m in fresh.finditer(text)]
    import re._compiler as compiler  # noqa: PLC0415

    assert compiler.compile.__module__ == "re._compiler"  # put back
    assert compiler._sre.__name__ == "_sre"  # noqa: SLF001

    # a damaged entry (code that _sre refuses) is made again, not trusted
    tables = ps._read(path)  # noqa: SLF001
    key = next(iter(tables["re"]))
    args = list(tables["re"][key])
    args[2] = [255, 255, 255]
    tables["re"][key] = tuple(args)
    ps._write(path, tables)  # noqa: SLF001
    re.purge()
    with ps.support_bytecode(path) as cache:
        again = re.compile(*key)
    assert (cache.pattern_misses, cache.pattern_hits) == (1, 0)
    assert again.pattern == key[0]

    # patterns made by another Python release are not replayed (bytecode is, by its magic)
    tables = ps._read(path)  # noqa: SLF001
    assert tables["re"]
    tables["python"] = "3.0.0 (elsewhere)"
    ps._write(path, tables)  # noqa: SLF001
    assert ps._read(path)["re"] == {}  # noqa: SLF001


def test_dataclass_functions_come_from_the_cache_with_the_same_behaviour(
        tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The functions ``dataclasses`` generates are compiled once and reused by their source
    text; the classes behave as freshly made ones (defaults, frozen, eq, repr, order)."""
    import dataclasses

    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    ps = _load_module()
    path = tmp_path / "c.bin"

    def make() -> type:
        @dataclasses.dataclass(frozen=True, order=True)
        class Point:
            x: int
            y: int = 2
            tags: tuple = dataclasses.field(default_factory=tuple)
        return Point

    made = []
    for round_ in ("record", "replay"):
        with ps.support_bytecode(path) as cache:
            made.append(make())
        assert "exec" not in vars(dataclasses)  # put back
        assert (cache.function_misses > 0, cache.function_hits) == (
            (True, 0) if round_ == "record" else (False, cache.function_hits)), round_
    assert cache.function_hits >= 4  # __init__, __repr__, __eq__, the order methods, …
    fresh = make()  # outside any window
    for cls in (*made, fresh):
        p = cls(1)
        assert (p.x, p.y, p.tags) == (1, 2, ()) and repr(p).endswith("(x=1, y=2, tags=())")
        assert cls(1, 3) > cls(1, 2) and cls(5) == cls(5) and hash(cls(5)) == hash(cls(5))
        try:
            p.x = 3  # type: ignore[misc]
        except dataclasses.FrozenInstanceError:
            pass
        else:
            raise AssertionError("not frozen")


def test_the_start_up_window_closes_at_its_deadline(tmp_path: Path) -> None:
    """Past its deadline the first pattern or dataclass made ends the window: re and
    dataclasses are put back (and the window is not reopened by later calls)."""
    import dataclasses
    import re
    import re._compiler as compiler  # noqa: PLC0415

    ps = _load_module()
    ps.end_startup()
    real_re = compiler.compile
    window = ps.StartupWindow(ps.SupportCache(tmp_path / "c.bin", ps._read(tmp_path / "x")),  # noqa: SLF001
                              deadline_s=0.0)
    window.end_pyside()
    assert compiler.compile is not real_re and "exec" in vars(dataclasses)
    re.purge()
    assert re.compile(r"late (\d+)").match("late 42").group(1) == "42"  # made as usual
    assert not window.open and compiler.compile is real_re and "exec" not in vars(dataclasses)
    assert window.cache.pattern_misses == 0 and window.cache.pattern_hits == 0


def test_what_re_hands_sre_is_kept_per_thread() -> None:
    import threading

    ps = _load_module()
    import _sre

    recorder = ps._SreRecorder(_sre)  # noqa: SLF001
    recorder.last = ("main",)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(recorder.last))
    thread.start()
    thread.join()
    assert seen == [None] and recorder.last == ("main",)
