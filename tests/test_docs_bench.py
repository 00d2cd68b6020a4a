"""bench/run_all.py knows every bench script, bench/README.md documents each, and the summary's
figures are read correctly out of a script's output."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_all():  # noqa: ANN201 (the module)
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "bench" / "run_all.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_all"] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["run_all"]
    return module


def test_every_bench_script_is_run_and_documented() -> None:
    module = run_all()
    scripts = sorted(p.name for p in (ROOT / "bench").glob("bench_*.py"))
    assert sorted(b.script for b in module.BENCHES) == scripts
    readme = (ROOT / "bench" / "README.md").read_text(encoding="utf-8")
    for name in scripts:
        assert f"\n## `{name}`\n" in readme, f"bench/README.md has no section for {name}"
        assert f"[`{name}`](#" in readme, f"the run_all table in bench/README.md lacks {name}"


def test_figures_are_read_from_tables_and_named_lines() -> None:
    module = run_all()
    bench = module.Bench("bench_x.py", (), (), 1, 1, "x",
                         figures=(("max stall ms", r"max stall ([\d.]+) ms"),
                                  ("s, MiB", r"^(?P<label>\S.*?)\s{2,}([\d.]+)\s+(\d+) MiB")))
    text = """header line
| setting | zoom | p95 ms | ratio |
|---|---:|---:|---:|
| moves | fit | 7.5 (7.3–9.9) | 79x |
| moves | 3x | 9.0 | 1,234.5 |
| worst | fit | n/a | 2.0 |

canvas: 100 % tiles      3.42    1192 MiB
max stall 272 ms
"""
    assert module.figures_of(text, bench) == {
        ("moves / fit", "p95 ms"): 7.5, ("moves / fit", "ratio"): 79.0,
        ("moves", "zoom"): 3.0, ("moves", "p95 ms"): 9.0, ("moves", "ratio"): 1234.5,
        ("worst / fit", "ratio"): 2.0,
        ("s, MiB: canvas: 100 % tiles", "#1"): 3.42, ("s, MiB: canvas: 100 % tiles", "#2"): 1192.0,
        ("max stall ms", "value"): 272.0,
    }
    assert module.spread([9.0, 7.5, 8.0]) == "8.00 (7.50–9.00)"
    assert module.spread([1192.0, 1036.0]) == "1,114 (1,036–1,192)"
    assert module.spread([272.0]) == "272"


def test_dry_run_names_every_default_script(capsys) -> None:  # noqa: ANN001
    module = run_all()
    assert module.main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    for bench in module.BENCHES:
        assert (f"bench/{bench.script}" in out) == (not bench.long), bench.script
    assert module.main(["--dry-run", "--quick", "--only", "voc"]) == 0
    assert "bench_voc.py --repeat 1" in capsys.readouterr().out
