"""``workbench`` and ``workbench DIR`` build the GUI command's parser only (issue 14): the
other commands' modules (and what they import: NumPy, the format readers) are not loaded
before the window starts."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from workbench.cli import COMMAND_MODULES, COMMANDS, build_parser, route

ROOT = Path(__file__).resolve().parents[1]


def _names(parser: argparse.ArgumentParser) -> set[str]:
    sub = next(a for a in parser._actions  # noqa: SLF001
               if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    return set(sub.choices)


def test_command_table_matches_what_the_modules_register() -> None:
    assert _names(build_parser()) == set(COMMANDS)
    assert sorted(COMMANDS.values()) == sorted(COMMAND_MODULES)
    for name, module in COMMANDS.items():
        assert _names(build_parser(module)) == {name}, module


def test_route() -> None:
    assert route([]) == ("gui", [])
    assert route(["photos"]) == ("gui", ["gui", "photos"])
    assert route(["photos", "--annotations", "xml"]) == (
        "gui", ["gui", "photos", "--annotations", "xml"])
    assert route(["gui", "photos"]) == ("gui", ["gui", "photos"])
    assert route(["eval", "a", "b"]) == ("eval", ["eval", "a", "b"])
    assert route(["yolo-targets", "x"]) == ("yolo_targets", ["yolo-targets", "x"])
    assert route(["import", "x"]) == ("import_cmd", ["import", "x"])
    # an option first: every command (--help lists them)
    assert route(["--help"]) == (None, ["--help"])
    assert route(["-v", "train"]) == (None, ["-v", "train"])
    # a module name that is not a command name is a folder, as before
    assert route(["yolo_targets"]) == ("gui", ["gui", "yolo_targets"])


CHILD = r"""
import json, sys
import workbench.gui.app as app
calls = []
app.run_gui = lambda *a, **k: calls.append([str(x) if x is not None else None for x in a]) or 0
from workbench.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "calls": calls,
                  "cli": sorted(m for m in sys.modules if m.startswith("workbench.cli.")),
                  "numpy": "numpy" in sys.modules}))
"""


def _main(*argv: str) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", CHILD, *argv], env=env, capture_output=True,
                         text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_workbench_dir_and_workbench_alone_load_only_the_gui_command(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    result = _main(str(folder))
    assert result["code"] == 0
    assert result["calls"] == [[str(folder), None, None]]
    assert result["cli"] == ["workbench.cli.gui"]
    assert result["numpy"] is False
    alone = _main()
    assert alone["calls"] == [[]]
    assert alone["cli"] == ["workbench.cli.gui"]
    assert alone["numpy"] is False
