"""The ``workbench`` command: ``workbench`` alone opens the GUI; sub-commands run headless.

``workbench DIR [--annotations DIR]`` (LabelImg's ``labelImg DIR``) is short for
``workbench gui DIR …``: a first argument that is neither an option nor a command is a folder.

Each sub-command lives in its own module ``workbench.cli.<name>`` exposing
``register(subparsers) -> None`` which adds its parser and sets ``func=run`` where
``run(args) -> int`` returns the exit status. Modules must not import torch or Qt at import
time (start-up stays fast; torch loads when a command needs it).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from workbench import __version__

#: Sub-command modules, in the order ``--help`` lists them.
COMMAND_MODULES: list[str] = [
    "gui",
    "priors",
    "proposals",
    "yolo_targets",
    "detect",
    "export_onnx",
    "train",
    "eval",
    "validate",
    "export",
    "import_cmd",
    "demo",
    "frames",
]

#: Command name -> its module (a test checks it against what the modules register): ``main``
#: builds the parser of that one command, and ``workbench`` / ``workbench DIR`` the GUI's
#: alone — registering all of them imported NumPy and the readers of every format (~0.15 s
#: before the window could start: issue 14).
COMMANDS: dict[str, str] = {
    "gui": "gui",
    "priors": "priors",
    "proposals": "proposals",
    "yolo-targets": "yolo_targets",
    "detect": "detect",
    "export-onnx": "export_onnx",
    "train": "train",
    "eval": "eval",
    "validate": "validate",
    "export": "export",
    "import": "import_cmd",
    "demo": "demo",
    "frames": "frames",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``workbench`` parser; ``only``: register just that command module (what ``main``
    does for ``workbench eval …``: the other commands' imports are not paid)."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Detection Workbench: label, inspect, train and tune object detectors. "
        "Run without a command to open the window.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES if only is None else [only]:
        module = importlib.import_module(f"workbench.cli.{name}")
        module.register(sub)
    parser.epilog = "workbench DIR [--annotations DIR] is short for workbench gui DIR ..."
    return parser


def route(argv: list[str]) -> tuple[str | None, list[str]]:
    """The command module to register (None: all of them) and the arguments to parse.

    ``workbench`` alone and ``workbench DIR …`` (a first argument that is neither an option
    nor a command) are the GUI's; an option first (``--help``, ``--version``, ``-v``) needs
    every command."""
    if not argv:
        return "gui", argv
    first = argv[0]
    if first in COMMANDS:
        return COMMANDS[first], argv
    if first.startswith("-"):
        return None, argv
    return "gui", ["gui", *argv]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    only, argv = route(argv)
    args = build_parser(only).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        from workbench.gui.app import run_gui

        return run_gui()
    return int(args.func(args) or 0)
