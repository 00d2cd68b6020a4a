"""Tiled inference: grid geometry, box shifting, cross-tile merge, small objects found only
with tiles, and a real checkpoint through the raw cache."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from workbench.engine.postprocess import PostprocessSettings, RawDetections, postprocess
from workbench.engine.tiling import (
    Tiling, merge, overlap_px, parse_overlap, shift_boxes, tile_grid, tile_starts, tiled_raw,
)


# -- geometry -----------------------------------------------------------------------------------
def test_tile_starts_literal() -> None:
    assert tile_starts(1000, 400, 100) == [0, 300, 600]          # exact fit
    assert tile_starts(1100, 400, 100) == [0, 300, 600, 700]     # last tile flush with the edge
    assert tile_starts(400, 400, 100) == [0]
    assert tile_starts(250, 400, 100) == [0]                     # shorter than a tile
    assert tile_starts(401, 400, 0) == [0, 1]


def test_tile_grid_covers_the_image_with_the_asked_overlap() -> None:
    tiles = tile_grid(1100, 500, 400, 100)
    assert tiles == [(0, 0, 400, 400), (300, 0, 700, 400), (600, 0, 1000, 400),
                     (700, 0, 1100, 400),
                     (0, 100, 400, 500), (300, 100, 700, 500), (600, 100, 1000, 500),
                     (700, 100, 1100, 500)]
    covered = np.zeros((500, 1100), np.int32)
    for x0, y0, x1, y1 in tiles:
        assert (x1 - x0, y1 - y0) == (400, 400)
        covered[y0:y1, x0:x1] += 1
    assert covered.min() >= 1
    # neighbours overlap by the asked 100 px (the flush last column by more)
    assert tiles[1][0] - tiles[0][0] == 300 and tiles[0][2] - tiles[1][0] == 100
    assert tile_grid(250, 120, 400, 100) == [(0, 0, 250, 120)]


def test_overlap_in_pixels_or_fraction() -> None:
    assert overlap_px(640, 0.2) == 128
    assert overlap_px(640, 128) == 128
    assert overlap_px(640, 0) == 0
    assert parse_overlap("0.25") == 0.25 and parse_overlap("96") == 96
    assert Tiling(512, 0.25).overlap_pixels == 128
    for bad in (640, 700, -1, 12.5):
        with pytest.raises(ValueError):
            overlap_px(640, bad)
    with pytest.raises(ValueError):
        Tiling(tile=8)


# -- shifting and merging -----------------------------------------------------------------------
def test_shift_boxes_to_full_image_pixels() -> None:
    boxes = torch.tensor([[10.0, 20.0, 30.0, 40.0]])
    assert shift_boxes(boxes, 300, 100).tolist() == [[310.0, 120.0, 330.0, 140.0]]
    # a whole-image pass at scale 0.25: pixel edges scale exactly
    assert shift_boxes(torch.tensor([[0.0, 0.0, 250.0, 125.0]]), 0, 0, 0.25).tolist() == \
        [[0.0, 0.0, 1000.0, 500.0]]


def test_merge_dedups_one_object_seen_by_two_tiles() -> None:
    # Tiles (0,0,400,400) and (300,0,700,400); one object at x 320..380 in the overlap: tile A
    # sees it at 320..380, tile B at 20..80 (tile pixels); a second class at the same place and
    # a different object elsewhere in tile B stay.
    a = (shift_boxes(torch.tensor([[320.0, 50.0, 380.0, 90.0], [100.0, 100.0, 150.0, 150.0]]),
                     0, 0), torch.tensor([0.9, 0.6]), torch.tensor([1, 1]))
    b = (shift_boxes(torch.tensor([[21.0, 50.0, 80.0, 91.0], [20.0, 50.0, 80.0, 90.0],
                                   [300.0, 300.0, 350.0, 350.0]]), 300, 0),
         torch.tensor([0.8, 0.7, 0.5]), torch.tensor([1, 2, 1]))
    raw = merge([a, b], 0.5, image_size=(700, 400))
    assert raw.boxes.tolist() == [[320.0, 50.0, 380.0, 90.0], [320.0, 50.0, 380.0, 90.0],
                                  [100.0, 100.0, 150.0, 150.0], [600.0, 300.0, 650.0, 350.0]]
    assert raw.labels.tolist() == [1, 2, 1, 1]
    assert raw.scores.tolist() == pytest.approx([0.9, 0.7, 0.6, 0.5])
    assert raw.image_size == (700, 400)
    # merge IoU 1.0 keeps all five
    assert len(merge([a, b], 1.0, image_size=(700, 400))) == 5


def test_boxes_cut_by_an_inner_tile_edge_go_when_another_pass_saw_the_object_whole() -> None:
    from workbench.engine.tiling import cut_by_inner_edges

    # Tile (300, 0, 700, 400) of a 1100 x 400 image: its left and right edges are inner edges,
    # its top and bottom are the image border.
    boxes = torch.tensor([[300.0, 10.0, 350.0, 60.0],    # touches x0 = 300: cut
                          [400.0, 0.0, 450.0, 400.0],    # touches top/bottom border: not cut
                          [650.0, 10.0, 699.0, 60.0],    # within 2 px of x1 = 700: cut
                          [302.5, 10.0, 350.0, 60.0]])   # 2.5 px inside: not cut
    assert cut_by_inner_edges(boxes, (300, 0, 700, 400), (1100, 400)).tolist() == \
        [True, False, True, False]
    # An object at x 250..350 cut by the tile (seen at 300..350) and seen whole by the
    # previous tile; a second cut box with no whole view stays.
    tile_b = (torch.tensor([[300.0, 10.0, 350.0, 60.0], [650.0, 100.0, 700.0, 150.0]]),
              torch.tensor([0.9, 0.8]), torch.tensor([1, 1]))
    tile_a = (torch.tensor([[250.0, 10.0, 350.0, 60.0]]), torch.tensor([0.6]),
              torch.tensor([1]))
    cuts = [torch.tensor([True, True]), torch.tensor([False])]
    raw = merge([tile_b, tile_a], 0.5, image_size=(1100, 400), cuts=cuts)
    assert raw.boxes.tolist() == [[650.0, 100.0, 700.0, 150.0], [250.0, 10.0, 350.0, 60.0]]
    # a covering box with less than half the cut box's score does not explain it
    weak = (tile_a[0], torch.tensor([0.4]), tile_a[2])
    assert len(merge([tile_b, weak], 0.5, image_size=(1100, 400), cuts=cuts)) == 3


def test_each_tile_keeps_the_boxes_whose_centre_it_owns() -> None:
    from workbench.engine.tiling import owned_by_tile, owned_intervals

    # tiles at x 0, 300, 600, 700 (400 px): each owns up to the middle of its overlaps
    assert owned_intervals([0, 300, 600, 700], 400, 1100) == \
        [(0.0, 350.0), (350.0, 650.0), (650.0, 850.0), (850.0, 1100.0)]
    assert owned_intervals([0], 400, 250) == [(0.0, 250.0)]
    # One object at x 300..340 lies whole in tiles A (0..400) and B (300..700); B's view of
    # it is shifted (IoU 0.38 with A's: NMS at 0.5 would keep both). Its centre (338) is A's
    # to own, and A saw the object: B's view goes. B's view of another object at 310..350
    # (centre A's too) stays, because A found nothing there; B's own objects stay.
    a_box = torch.tensor([[300.0, 50.0, 340.0, 90.0]])
    b_boxes = torch.tensor([[318.0, 50.0, 358.0, 90.0], [310.0, 150.0, 350.0, 190.0],
                            [500.0, 50.0, 540.0, 90.0]])
    own_a, own_b = (0.0, 0.0, 350.0, 400.0), (350.0, 0.0, 700.0, 400.0)
    assert owned_by_tile(a_box, own_a).tolist() == [True]
    assert owned_by_tile(b_boxes, own_b).tolist() == [False, False, True]
    parts = [(a_box, torch.tensor([0.6]), torch.tensor([1])),
             (b_boxes, torch.tensor([0.9, 0.7, 0.5]), torch.tensor([1, 1, 1]))]
    owned = [owned_by_tile(a_box, own_a), owned_by_tile(b_boxes, own_b)]
    raw = merge(parts, 0.5, image_size=(700, 400), owned=owned)
    assert raw.boxes.tolist() == [[310.0, 150.0, 350.0, 190.0], [300.0, 50.0, 340.0, 90.0],
                                  [500.0, 50.0, 540.0, 90.0]]
    assert len(merge(parts, 0.5, image_size=(700, 400))) == 4  # without ownership
    # a witness with less than half the doubtful box's score does not count
    weak = [(a_box, torch.tensor([0.4]), torch.tensor([1])), parts[1]]
    assert len(merge(weak, 0.5, image_size=(700, 400), owned=owned)) == 4


def test_an_image_within_one_tile_is_the_untiled_pass() -> None:
    image = np.full((300, 400, 3), 90, np.uint8)
    image[100:140, 200:240] = 255
    net = BrightSquareNet(input_size=320)
    plain = net.raw_for_array(image)
    net.calls = 0
    tiled = tiled_raw(net, image, Tiling(tile=512))
    assert net.calls == 1
    assert tiled.boxes.tolist() == plain.boxes.tolist() and tiled.image_size == (400, 300)


def test_merge_clips_to_the_image() -> None:
    part = (torch.tensor([[-3.0, 5.0, 720.0, 410.0]]), torch.tensor([0.5]), torch.tensor([1]))
    assert merge([part], 0.5, image_size=(700, 400)).boxes.tolist() == [[0.0, 5.0, 700.0, 400.0]]
    assert len(merge([], 0.5, image_size=(10, 10))) == 0


# -- a small object in a big image -----------------------------------------------------------
class BrightSquareNet:
    """Test double of a detector's raw prediction (what :class:`RawDetector` returns): like SSD
    it resizes every input to ``input_size`` × ``input_size``, and it "detects" a bright blob
    only when the blob covers at least ``min_pixels`` pixels of that network input. Boxes come
    back in the input image's pixels, as :meth:`RawDetector.raw_for_array` returns them."""

    score_floor = 0.001

    def __init__(self, input_size: int = 320, min_pixels: int = 16) -> None:
        self.input_size, self.min_pixels = input_size, min_pixels
        self.calls = 0

    def raw_for_array(self, image: np.ndarray, key: object = None) -> RawDetections:
        self.calls += 1
        height, width = image.shape[:2]
        small = cv2.resize(image, (self.input_size, self.input_size),
                           interpolation=cv2.INTER_AREA)
        mask = (small.min(axis=2) > 200).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        sx, sy = width / self.input_size, height / self.input_size
        boxes, scores = [], []
        for x, y, w, h, area in stats[1:n]:
            if area >= self.min_pixels:
                boxes.append([x * sx, y * sy, (x + w) * sx, (y + h) * sy])
                scores.append(min(0.99, 0.5 + area / 1000))
        return RawDetections.from_unsorted(np.asarray(boxes, np.float32).reshape(-1, 4),
                                           np.asarray(scores, np.float32),
                                           np.ones(len(scores), np.int64),
                                           score_floor=self.score_floor,
                                           image_size=(width, height))


def _big_scene() -> tuple[np.ndarray, list[list[int]]]:
    rng = np.random.default_rng(0)
    image = rng.integers(60, 120, size=(2400, 3200, 3), dtype=np.uint8)
    squares = [[2500, 1700, 2524, 1724],   # inside one tile
               [420, 900, 444, 924]]       # inside the overlap of two tile columns
    for x1, y1, x2, y2 in squares:
        image[y1:y2, x1:x2] = 255
    return image, squares


def test_small_objects_are_found_only_with_tiles() -> None:
    image, squares = _big_scene()
    net = BrightSquareNet()
    settings = PostprocessSettings(score_threshold=0.3, nms_iou=0.45)

    # The whole image at 320 px: a 24 px square is 2.4 x 3.2 px -> below what the net sees.
    whole = net.raw_for_array(image)
    assert len(postprocess(whole, settings).kept) == 0

    tiling = Tiling(tile=512, overlap=0.2)
    assert tiling.overlap_pixels == 102
    # square 2 (x 420..444) lies in both tile columns starting at x 0 and x 410
    assert any(x0 <= 420 and x1 >= 444 and x0 > 0 for x0, _, x1, _ in
               tile_grid(3200, 2400, 512, 102))
    net.calls = 0
    raw = tiled_raw(net, image, tiling)
    assert net.calls == len(tile_grid(3200, 2400, 512, 102)) + 1  # tiles + whole image
    assert raw.image_size == (3200, 2400)
    kept = postprocess(raw, settings).kept
    found = sorted(raw.boxes[kept].tolist())
    assert len(found) == 2, found  # each square once: the overlap duplicate was merged
    for box, truth in zip(found, sorted(squares)):
        assert box == pytest.approx(truth, abs=2.0)  # full-image pixels (1.6 px per net px)


def test_large_objects_come_from_the_whole_image_pass() -> None:
    image = np.full((1600, 2000, 3), 90, np.uint8)
    image[200:1400, 300:1800] = 255  # larger than any tile
    net = BrightSquareNet()
    with_whole = tiled_raw(net, image, Tiling(tile=512, overlap=64))
    best = with_whole.boxes[0].tolist()
    assert best == pytest.approx([300, 200, 1800, 1400], abs=8.0)
    without = tiled_raw(net, image, Tiling(tile=512, overlap=64, whole_image=False))
    assert all((b[2] - b[0]) <= 512 for b in without.boxes.tolist())


# -- a real checkpoint through RawDetector ---------------------------------------------------
def _helpers():  # tests/detections_helpers.py (tests are not a package)
    spec = importlib.util.spec_from_file_location(
        "detections_helpers", Path(__file__).resolve().parents[1] / "detections_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_real_checkpoint_tiled_through_the_raw_cache(tmp_path: Path) -> None:
    from workbench.engine.inference import RawDetector
    from workbench.engine.tiling import is_tiled_cached, tiled_raw_for_path

    ckpt, paths = _helpers().make_checkpoint(tmp_path, steps=2)
    image = cv2.imread(str(paths[0]))
    big = cv2.resize(image, (600, 450), interpolation=cv2.INTER_NEAREST)
    path = tmp_path / "big.png"
    cv2.imwrite(str(path), big)
    detector = RawDetector.from_checkpoint(ckpt, device="cpu")
    tiling = Tiling(tile=256, overlap=32, whole_side=300)
    raw = tiled_raw_for_path(detector, path, tiling)
    n_tiles = len(tile_grid(600, 450, 256, 32))
    assert detector.forward_images == n_tiles + 1
    assert raw.image_size == (600, 450)
    assert len(raw) > 0
    assert float(raw.boxes[:, 0::2].min()) >= 0 and float(raw.boxes[:, 2].max()) <= 600
    assert float(raw.boxes[:, 3].max()) <= 450
    assert raw.score_floor == detector.score_floor
    assert bool((raw.scores[:-1] >= raw.scores[1:]).all())
    # the second call is a cache hit; the plain (untiled) result is cached separately
    assert is_tiled_cached(detector, path, tiling)
    assert tiled_raw_for_path(detector, path, tiling) is raw
    assert detector.forward_images == n_tiles + 1
    assert not detector.is_cached(path)
    postprocess(raw, detector.settings)  # the sliders work on it unchanged


def test_cli_detect_with_tiles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from workbench.cli import main

    ckpt, paths = _helpers().make_checkpoint(tmp_path, steps=2)
    image = cv2.resize(cv2.imread(str(paths[1])), (500, 380), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(tmp_path / "big.png"), image)
    out = tmp_path / "out"
    assert main(["detect", str(ckpt), str(tmp_path / "big.png"), "--out", str(out),
                 "--tile", "200", "--tile-overlap", "40", "--score", "0.01",
                 "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "tiles of 200 px, overlap 40 px" in err
    boxes = [d["box"] for d in json.loads((out / "big.json").read_text())]
    assert boxes and all(0 <= x1 < x2 <= 500 and 0 <= y1 < y2 <= 380
                         for x1, y1, x2, y2 in boxes)
    # a fraction overlap, and --tile-overlap alone is refused
    assert main(["detect", str(ckpt), str(tmp_path / "big.png"), "--out", str(out),
                 "--tile", "200", "--tile-overlap", "0.25", "--device", "cpu"]) == 0
    assert "overlap 50 px" in capsys.readouterr().err
    assert main(["detect", str(ckpt), str(tmp_path / "big.png"), "--out", str(out),
                 "--tile-overlap", "0.25", "--device", "cpu"]) == 2
    assert "--tile-overlap needs --tile" in capsys.readouterr().err
