"""One detector per checkpoint file version, shared by the panels
(:mod:`workbench.gui.workers.detectors`; issue 14: the followers of a checkpoint each loaded it
again, on worker threads at once)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from workbench.engine.inference import RawDetector
from workbench.gui.workers import detectors


class _Loads:
    """RawDetector.from_checkpoint replaced: counts loads; ``gate`` holds them until set."""

    def __init__(self) -> None:
        self.paths: list[Path] = []
        self.started = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self.fail: str | None = None

    def __call__(self, _cls: type, path: Path, **_kw: object) -> object:
        self.paths.append(Path(path))
        self.started.set()
        assert self.gate.wait(10)
        if self.fail:
            raise ValueError(self.fail)
        return object()


@pytest.fixture
def loads(monkeypatch) -> _Loads:  # noqa: ANN001
    fake = _Loads()
    monkeypatch.setattr(RawDetector, "from_checkpoint", classmethod(fake))
    detectors.forget_detectors()
    return fake


def _ckpt(tmp_path: Path, name: str, data: bytes = b"weights") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_second_caller_waits_for_the_load_under_way(loads, tmp_path) -> None:  # noqa: ANN001
    path = _ckpt(tmp_path, "a.pt")
    loads.gate.clear()
    got: dict[str, object] = {}
    first = threading.Thread(target=lambda: got.update(first=detectors.shared_detector(path)))
    first.start()
    assert loads.started.wait(10)
    second = threading.Thread(target=lambda: got.update(second=detectors.shared_detector(path)))
    second.start()
    time.sleep(0.2)
    assert second.is_alive() and loads.paths == [path]  # waiting, not loading again
    loads.gate.set()
    first.join(10)
    second.join(10)
    assert got["first"] is got["second"] and loads.paths == [path]
    assert detectors.shared_detector(path) is got["first"] and loads.paths == [path]


def test_a_rewritten_file_is_another_checkpoint_and_two_are_kept(loads, tmp_path) -> None:  # noqa: ANN001
    a, b, c = (_ckpt(tmp_path, f"{n}.pt") for n in "abc")
    first_a = detectors.shared_detector(a)
    a.write_bytes(b"other weights")  # another size: another version
    second_a = detectors.shared_detector(a)
    assert second_a is not first_a and loads.paths == [a, a]
    detectors.shared_detector(b)
    assert detectors.shared_detector(a) is second_a  # a is now the most recent
    detectors.shared_detector(c)  # KEEP = 2: b goes
    assert detectors.KEEP == 2 and loads.paths == [a, a, b, c]
    detectors.shared_detector(a)
    detectors.shared_detector(b)
    assert loads.paths == [a, a, b, c, b]


def test_a_failed_load_fails_every_waiter_and_is_tried_again(loads, tmp_path) -> None:  # noqa: ANN001
    path = _ckpt(tmp_path, "bad.pt")
    loads.fail = "cannot read checkpoint bad.pt"
    with pytest.raises(ValueError, match="cannot read checkpoint bad.pt"):
        detectors.shared_detector(path)
    loads.fail = None
    assert detectors.shared_detector(path) is not None
    assert loads.paths == [path, path] and detectors._loading == {}


def test_a_missing_file_is_an_oserror(loads, tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(FileNotFoundError):
        detectors.shared_detector(tmp_path / "gone.pt")
    assert loads.paths == []
