"""core.runs_compare: two hand-written run folders → exact curves, per-class table, differences."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from workbench.core.runs_compare import compare_ap, find_runs, read_run


def _write(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def _steps(epoch: int, losses: list[float]) -> list[dict]:
    return [{"type": "step", "epoch": epoch, "step": i, "loss": v} for i, v in enumerate(losses)]


def _epoch(epoch: int, m07: float, m10: float, ap07: dict, ap10: dict) -> dict:
    return {"type": "epoch", "epoch": epoch, "map_voc07": m07, "map_voc": m10, "ap_voc07": ap07,
            "ap_voc": ap10, "train_loss": 0.0}


def _ckpt(epoch: int, best: bool) -> dict:
    return {"type": "checkpoint", "epoch": epoch, "path": "x", "is_best": best, "metric": 0.0}


START = {"type": "start", "model": "demo_ssdlite_cpu", "classes": ["cat", "dog"],
         "first_epoch": 1, "epochs": 3}


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    a = _write(tmp_path / "runs" / "a-run", [
        START,
        *_steps(1, [4.0, 2.0]), _epoch(1, 0.25, 0.5, {"cat": 0.5, "dog": 0.0},
                                       {"cat": 0.5, "dog": 0.5}), _ckpt(1, True),
        *_steps(2, [1.0, 2.0]), _epoch(2, 0.75, 0.5, {"cat": 1.0, "dog": 0.5},
                                       {"cat": 0.75, "dog": 0.25}), _ckpt(2, True),
        *_steps(3, [0.5, None, 1.5]), _epoch(3, 0.5, 0.5, {"cat": 0.5, "dog": 0.5},
                                             {"cat": 0.5, "dog": 0.5}), _ckpt(3, False),
        {"type": "finished", "epochs_completed": 3},
    ])
    b = _write(tmp_path / "runs" / "b-run", [
        {**START, "classes": ["cat", "dog", "fox"], "epochs": 4},
        *_steps(1, [3.0]), _ckpt(1, True),                       # epoch 1 not evaluated
        *_steps(2, [2.0]), _epoch(2, 0.5, 0.25, {"cat": 0.25, "dog": 0.75, "fox": None},
                                  {"cat": 0.5, "dog": 0.0, "fox": 0.0}), _ckpt(2, True),
        *_steps(3, [9.0, 9.0]),                                  # stopped inside epoch 3
    ])
    return a, b


def test_curves_of_a_run(runs) -> None:
    a, b = (read_run(p) for p in runs)
    assert (a.name, a.model, a.classes, a.finished) == ("a-run", "demo_ssdlite_cpu",
                                                         ("cat", "dog"), True)
    assert (a.loss_epochs, a.loss) == ([1, 2, 3], [3.0, 1.5, 1.0])  # null step loss left out
    assert (a.map_epochs, a.map_voc07, a.map_voc) == ([1, 2, 3], [0.25, 0.75, 0.5],
                                                      [0.5, 0.5, 0.5])
    assert (a.best_epoch(), a.last_epoch()) == (2, 3)
    # b: the partial epoch 3 is not a point; only epoch 2 was evaluated
    assert (b.loss_epochs, b.loss, b.finished) == ([1, 2], [3.0, 2.0], False)
    assert (b.map_epochs, b.map_voc07) == ([2], [0.5])
    assert math.isnan(b.ap["voc07"][2]["fox"])


def test_per_class_table_and_differences(runs) -> None:
    a, b = (read_run(p) for p in runs)
    best = compare_ap([a, b], "best", "voc07")
    assert (best.runs, best.epochs, best.classes) == (("a-run", "b-run"), (2, 2),
                                                      ("cat", "dog", "fox", "mAP"))
    assert best.text_rows() == [
        ["cat", "1.000", "0.250", "-0.750"],
        ["dog", "0.500", "0.750", "+0.250"],
        ["fox", "—", "—", "—"],
        ["mAP", "0.750", "0.500", "-0.250"],
    ]
    last = compare_ap([b, a], "last", "voc")
    assert last.epochs == (2, 3)
    assert last.text_rows() == [
        ["cat", "0.500", "0.500", "+0.000"],
        ["dog", "0.000", "0.500", "+0.500"],
        ["fox", "0.000", "—", "—"],
        ["mAP", "0.250", "0.500", "+0.250"],
    ]
    assert last.diffs[1] == (0.5,)


def test_three_runs_diff_against_the_first(runs, tmp_path: Path) -> None:
    c = _write(tmp_path / "runs" / "c-run", [START, *_steps(1, [1.0]), _ckpt(1, True)])
    runs3 = [read_run(p) for p in (*runs, c)]
    table = compare_ap(runs3, "best")
    assert table.epochs == (2, 2, None)  # c was never evaluated
    assert table.text_rows()[0] == ["cat", "1.000", "0.250", "—", "-0.750", "—"]
    assert [p.name for p in find_runs(tmp_path)] == ["a-run", "b-run", "c-run"]


def test_resume_replaces_the_retrained_epochs(tmp_path: Path) -> None:
    run = _write(tmp_path / "r", [
        START, *_steps(1, [2.0]), _epoch(1, 0.1, 0.1, {"cat": 0.1}, {"cat": 0.1}), _ckpt(1, True),
        *_steps(2, [8.0]), _epoch(2, 0.9, 0.9, {"cat": 0.9}, {"cat": 0.9}), _ckpt(2, True),
        {**START, "first_epoch": 2},  # resumed from epoch 1's last.pt: epoch 2 again
        *_steps(2, [1.0]), _epoch(2, 0.3, 0.3, {"cat": 0.3}, {"cat": 0.3}), _ckpt(2, True),
    ])
    curves = read_run(run)
    assert (curves.loss_epochs, curves.loss) == ([1, 2], [2.0, 1.0])
    assert curves.map_voc07 == [0.1, 0.3]


def test_bad_files_name_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no metrics.jsonl"):
        read_run(tmp_path)
    (tmp_path / "metrics.jsonl").write_text('{"type": "start"}\nnot json\n{"type": "finished"}\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl: line 2 is not JSON"):
        read_run(tmp_path)
    (tmp_path / "metrics.jsonl").write_text('{"type": "step", "epoch": 0, "loss": 1}\n')
    with pytest.raises(ValueError, match=r"row 1 \(step\) has no epoch >= 1: 0"):
        read_run(tmp_path)
    # a cut-off last line (the run is writing it) is skipped
    (tmp_path / "metrics.jsonl").write_text(
        '{"type": "step", "epoch": 1, "loss": 1}\n{"type": "checkpoint", "epoch": 1}\n{"type": "st')
    assert read_run(tmp_path).loss == [1.0]
    with pytest.raises(ValueError, match="epoch choice"):
        read_run(tmp_path).epoch_for("first")
