"""TaskRunner: result, progress on the GUI thread, failure, cancellation."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QThread

from workbench.gui.workers.tasks import TaskContext, TaskRunner


def test_result_and_progress_arrive_on_gui_thread(qtbot) -> None:  # noqa: ANN001
    runner = TaskRunner()
    worker_threads: list[object] = []
    seen: list[tuple[float, str, bool]] = []

    def job(ctx: TaskContext) -> int:
        worker_threads.append(threading.current_thread())
        for i in range(3):
            ctx.progress(i / 3, f"step {i}")
        return 42

    task = runner.submit(job, key="k")
    gui = QThread.currentThread()
    task.progressed.connect(lambda f, m: seen.append((f, m, QThread.currentThread() is gui)))
    with qtbot.waitSignal(task.finished, timeout=5000) as blocker:
        pass
    assert blocker.args == [42]
    assert task.key == "k" and task.result == 42 and task.seconds is not None
    assert worker_threads[0] is not threading.main_thread()
    assert [(f, m) for f, m, _ in seen] == [(0.0, "step 0"), (1 / 3, "step 1"), (2 / 3, "step 2")]
    assert all(on_gui for _, _, on_gui in seen)


def test_failure_is_a_message(qtbot) -> None:  # noqa: ANN001
    runner = TaskRunner()

    def job(ctx: TaskContext) -> None:
        raise ValueError("bad image")

    task = runner.submit(job)
    with qtbot.waitSignal(task.failed, timeout=5000) as blocker:
        pass
    assert blocker.args == ["ValueError: bad image"]


def test_cancel_cooperative_and_ignored(qtbot) -> None:  # noqa: ANN001
    runner = TaskRunner()
    started = threading.Event()

    def polite(ctx: TaskContext) -> str:
        started.set()
        while True:
            ctx.check()
            time.sleep(0.005)

    task = runner.submit(polite)
    assert started.wait(5)
    finished: list[object] = []
    task.finished.connect(finished.append)
    with qtbot.waitSignal(task.cancelled, timeout=5000):
        task.cancel()
    assert finished == [] and task.done

    # A job that ignores the request still ends as cancelled; its result is dropped.
    gate = threading.Event()

    def stubborn(ctx: TaskContext) -> str:
        gate.wait(5)
        return "late"

    task2 = runner.submit(stubborn)
    task2.finished.connect(finished.append)
    task2.cancel()
    with qtbot.waitSignal(task2.cancelled, timeout=5000):
        gate.set()
    assert finished == []
    assert runner.wait(5000)


def test_jobs_run_one_at_a_time_by_default(qtbot) -> None:  # noqa: ANN001
    runner = TaskRunner()
    running = {"now": 0, "max": 0}
    lock = threading.Lock()

    def job(ctx: TaskContext) -> None:
        with lock:
            running["now"] += 1
            running["max"] = max(running["max"], running["now"])
        time.sleep(0.02)
        with lock:
            running["now"] -= 1

    tasks = [runner.submit(job) for _ in range(3)]
    with qtbot.waitSignals([t.finished for t in tasks], timeout=5000):
        pass
    assert running["max"] == 1
