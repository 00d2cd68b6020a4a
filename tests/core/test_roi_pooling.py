"""RoI pooling / RoI Align in numpy: literal values by hand, and torchvision's ops value by value."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.roi_pooling import c_round, roi_align, roi_pool, roi_pool_bins

# A 1-channel 4 x 4 map: value = 4 * row + col.
MAP = np.arange(16, dtype=np.float64).reshape(1, 4, 4)


def test_c_round_takes_halves_away_from_zero() -> None:
    assert [c_round(v) for v in (0.5, 1.5, 2.5, -0.5, 2.49)] == [1, 2, 3, -1, 2]


def test_roi_pool_by_hand() -> None:
    # Box (0, 0)-(3, 3) at scale 1: cells 0..3 both ways (x2' = 3 inclusive), 2 x 2 bins of 2.
    out, pb = roi_pool(MAP, (0, 0, 3, 3), (2, 2), 1.0)
    assert out[0].tolist() == [[5.0, 7.0], [13.0, 15.0]]
    assert pb.roi == (0.0, 0.0, 4.0, 4.0)
    assert pb.bins[0, 1].tolist() == [2, 0, 4, 2]
    # A 3-cell RoI in 2 bins: bin size 1.5, rows 0..1 and 1..2 (row 1 shared).
    out, pb = roi_pool(MAP, (0, 0, 2, 2), (2, 2), 1.0)
    assert pb.bins[:, 0, 1].tolist() == [0, 1] and pb.bins[:, 0, 3].tolist() == [2, 3]
    assert out[0].tolist() == [[5.0, 6.0], [9.0, 10.0]]
    # Scale 1/2: image box (2, 2)-(5, 6) -> cells round(1), round(1) .. round(2.5)=3, 3.
    pb = roi_pool_bins((2, 2, 5, 6), (4, 4), (1, 1), 0.5)
    assert pb.bins[0, 0].tolist() == [1, 1, 4, 4]


def test_roi_pool_bin_outside_the_map_is_zero() -> None:
    out, pb = roi_pool(MAP, (2, 2, 9, 9), (2, 2), 1.0)
    assert pb.bins[1, 1].tolist() == [4, 4, 4, 4]  # clipped to the map: empty
    assert out[0].tolist() == [[15.0, 0.0], [0.0, 0.0]]


def test_roi_align_by_hand() -> None:
    # RoI (0, 0)-(2, 2), one bin, 2 x 2 samples at (0.5, 0.5), (1.5, 0.5), (0.5, 1.5), (1.5, 1.5):
    # bilinear values 2.5, 3.5, 6.5, 7.5 -> mean 5.0.
    out, pb = roi_align(MAP, (0, 0, 2, 2), (1, 1), 1.0, sampling_ratio=2)
    assert pb.samples is not None
    assert pb.samples[0, 0].tolist() == [[0.5, 0.5], [1.5, 0.5], [0.5, 1.5], [1.5, 1.5]]
    assert out[0, 0, 0] == pytest.approx(5.0)
    # aligned: the box moves by half a cell: samples at 0 and 1 -> values 0, 1, 4, 5 -> 2.5.
    out, _ = roi_align(MAP, (0, 0, 2, 2), (1, 1), 1.0, sampling_ratio=2, aligned=True)
    assert out[0, 0, 0] == pytest.approx(2.5)


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.25, 1 / 16])
def test_same_as_torchvision(scale: float) -> None:
    torch = pytest.importorskip("torch")
    from torchvision.ops import roi_align as tv_align
    from torchvision.ops import roi_pool as tv_pool

    rng = np.random.default_rng(7)
    feats = rng.normal(size=(3, 11, 13))
    side = 13 / scale
    boxes = [(0, 0, side, side), (1.3, 2.7, 0.6 * side, 0.9 * side), (5.5, 4.5, 6.5, 5.5),
             (-3, -2, 0.4 * side, 0.3 * side), (0.8 * side, 0.8 * side, 1.4 * side, 1.2 * side)]
    t = torch.from_numpy(feats)[None]
    for box in boxes:
        rois = torch.tensor([[0.0, *box]], dtype=torch.float64)
        ours, _ = roi_pool(feats, box, (7, 7), scale)
        np.testing.assert_allclose(ours, tv_pool(t, rois, (7, 7), scale)[0].numpy(),
                                   atol=1e-9, err_msg=f"roi_pool {box}")
        for ratio in (0, 2):
            for aligned in (False, True):
                ours, _ = roi_align(feats, box, (7, 7), scale, ratio, aligned)
                theirs = tv_align(t, rois, (7, 7), scale, ratio, aligned)[0].numpy()
                np.testing.assert_allclose(ours, theirs, atol=1e-9,
                                           err_msg=f"roi_align {box} {ratio} {aligned}")


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="features must be"):
        roi_pool(np.zeros((4, 4)), (0, 0, 1, 1))
    with pytest.raises(ValueError, match="spatial scale"):
        roi_align(MAP, (0, 0, 1, 1), spatial_scale=0)
