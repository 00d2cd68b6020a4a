"""The on-disk selective-search cache: keyed by pixels + parameters, atomic, self-healing."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from workbench.core.proposal_cache import ProposalCache, default_cache_dir, proposal_key
from workbench.core.proposals import ProposalParams, selective_search


def _image(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((60, 80, 3), 40, np.uint8)
    img[10:40, 15:50] = (200, 30, 30)
    img[30:55, 45:75] = (30, 200, 90)
    return np.clip(img + rng.integers(0, 6, img.shape), 0, 255).astype(np.uint8)


PARAMS = ProposalParams(mode="single", max_side=80)


def _rows(boxes: np.ndarray) -> list[tuple[float, ...]]:
    return sorted(tuple(float(v) for v in row) for row in np.asarray(boxes, np.float32))


def test_second_call_is_served_from_disk(tmp_path: Path) -> None:
    cache = ProposalCache(tmp_path)
    first, cached = cache.proposals(_image(), PARAMS)
    assert not cached and (cache.hits, cache.misses) == (0, 1)
    again, cached = ProposalCache(tmp_path).proposals(_image(), PARAMS)  # a new process
    assert cached
    np.testing.assert_array_equal(again.boxes, first.boxes.astype(np.float32))
    assert again.work_size == first.work_size and again.image_size == (60, 80)
    assert len(list(tmp_path.glob("??/*.npz"))) == 1
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".npz"]
    # OpenCV ranks by random x level: the same boxes, another order on every fresh run — the
    # cache also makes the proposals a run trains on reproducible.
    direct = selective_search(_image(), PARAMS).boxes
    assert _rows(again.boxes) == _rows(direct)


def test_key_follows_pixels_and_parameters_not_names() -> None:
    a, b = _image(0), _image(1)
    assert proposal_key(a, PARAMS) == proposal_key(a.copy(), PARAMS)
    assert proposal_key(a, PARAMS) != proposal_key(b, PARAMS)
    assert proposal_key(a, PARAMS) != proposal_key(a, ProposalParams(mode="single", max_side=64))
    assert proposal_key(a, PARAMS) != proposal_key(a[:, ::-1], PARAMS)  # a flipped copy


def test_unreadable_entry_is_reported_removed_and_recomputed(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = ProposalCache(tmp_path)
    result, _ = cache.proposals(_image(), PARAMS)
    path = cache.path_of(proposal_key(_image(), PARAMS))
    path.write_bytes(path.read_bytes()[:40])  # truncated by a full disk
    with caplog.at_level(logging.WARNING):
        again, cached = cache.proposals(_image(), PARAMS)
    assert not cached and str(path) in caplog.text and "unreadable" in caplog.text
    assert _rows(again.boxes) == _rows(result.boxes)
    assert cache.get(proposal_key(_image(), PARAMS)) is not None  # stored whole again
    assert cache.clear() == 1 and cache.get(proposal_key(_image(), PARAMS)) is None


def test_cache_folder_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_PROPOSAL_CACHE", str(tmp_path / "pc"))
    assert default_cache_dir() == tmp_path / "pc"
    monkeypatch.delenv("WORKBENCH_PROPOSAL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "workbench" / "proposals"
