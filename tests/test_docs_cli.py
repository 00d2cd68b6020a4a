"""docs/cli.md is what docs/make_cli_reference.py generates from the argparse parsers."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def reference():  # noqa: ANN201 (the module)
    spec = importlib.util.spec_from_file_location("make_cli_reference",
                                                  ROOT / "docs" / "make_cli_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_cli_reference_is_current() -> None:
    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == reference().render(), (
        "docs/cli.md is stale: run .venv/bin/python docs/make_cli_reference.py")


def test_reference_names_every_command_and_option() -> None:
    from workbench.cli import build_parser

    text = reference().render()
    sub = next(a for a in build_parser()._actions  # noqa: SLF001
               if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    assert len(sub.choices) >= 13
    for name, parser in sub.choices.items():
        section = text.split(f"\n## workbench {name}\n", 1)[1].split("\n## ", 1)[0]
        assert section.startswith(f"\n```text\nusage: workbench {name} ")
        for action in parser._actions:  # noqa: SLF001
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):  # noqa: SLF001
                continue
            for flag in action.option_strings:
                assert f"`{flag}`" in section, (name, flag)


def test_check_mode_reports_a_stale_file(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    module = reference()
    stale = tmp_path / "cli.md"
    stale.write_text("# old\n", encoding="utf-8")
    monkeypatch.setattr(module, "OUT", stale)
    assert module.main(["--check"]) == 1
    assert module.main([]) == 0
    assert module.main(["--check"]) == 0
    assert stale.read_text(encoding="utf-8") == module.render()
