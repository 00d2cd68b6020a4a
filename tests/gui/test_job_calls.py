"""JobRunner's plain calls (:meth:`workbench.gui.jobs.JobRunner.call`): futures on the runner's
pool, from any thread, in order on a one-thread runner, never cancelled by ``cancel_all`` — what
the image prefetch, the large-image decode/tiles and the save queue use instead of
``ThreadPoolExecutor``s of their own (issue 14: one background-job mechanism)."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest

from workbench.gui.jobs import JobRunner

ROOT = Path(__file__).resolve().parents[2]


def test_result_exception_and_order(qtbot) -> None:  # noqa: ANN001
    runner = JobRunner(max_threads=1)
    gate = threading.Event()
    order: list[int] = []

    def step(i: int) -> int:
        gate.wait(5)
        order.append(i)
        return i * i

    futures = [runner.call(step, i) for i in range(5)]
    gate.set()
    assert [f.result(5) for f in futures] == [0, 1, 4, 9, 16]
    assert order == [0, 1, 2, 3, 4]  # one thread: submission order

    def boom() -> None:
        raise ValueError("bad file x.xml")

    with pytest.raises(ValueError, match="bad file x.xml"):
        runner.call(boom).result(5)
    assert runner.wait(5000)


def test_cancelled_while_queued_never_runs_and_cancel_all_leaves_calls_alone(qtbot) -> None:  # noqa: ANN001
    runner = JobRunner(max_threads=1)
    gate = threading.Event()
    ran: list[str] = []
    first = runner.call(lambda: (gate.wait(5), ran.append("first")))
    queued = runner.call(lambda: ran.append("queued"))
    kept = runner.call(lambda: ran.append("kept"))
    assert queued.cancel()
    runner.cancel_all()  # Jobs only: a queued write must still happen
    gate.set()
    assert runner.wait(5000)
    first.result(5)
    kept.result(5)
    assert queued.cancelled()
    assert ran == ["first", "kept"]


def test_call_from_another_thread_and_done_callback(qtbot) -> None:  # noqa: ANN001
    runner = JobRunner()
    seen: list[tuple[int, bool]] = []
    done = threading.Event()

    def submit() -> None:
        future = runner.call(lambda: threading.get_ident())
        future.add_done_callback(lambda f: (seen.append((f.result(), f.done())), done.set()))

    caller = threading.Thread(target=submit)
    caller.start()
    caller.join(5)
    assert done.wait(5)
    worker, finished = seen[0]
    assert finished and worker not in (caller.ident, threading.get_ident())
    assert runner.wait(5000)


def test_gui_has_no_thread_pool_of_its_own() -> None:
    """Every worker thread of the GUI is a JobRunner's (or a QThread bridge's): no module
    under workbench/gui makes a concurrent.futures executor."""
    offenders = []
    for path in sorted((ROOT / "workbench" / "gui").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            name = (node.attr if isinstance(node, ast.Attribute)
                    else node.id if isinstance(node, ast.Name) else "")
            if name in ("ThreadPoolExecutor", "ProcessPoolExecutor"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
