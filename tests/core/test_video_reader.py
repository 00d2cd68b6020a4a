"""core.video_reader.FrameReader: any frame, in any order, equals a straight decode."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from workbench.core.video import Selection, VideoError, iter_frames
from workbench.core.video_reader import FrameReader

_spec = importlib.util.spec_from_file_location(
    "video_helpers", Path(__file__).resolve().parents[1] / "video_helpers.py")
vh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vh)


def test_random_access_matches_a_straight_decode(tmp_path: Path) -> None:
    video = vh.write_shapes_video(tmp_path / "clip.avi", frames=20)
    straight = [f.image for f in iter_frames(video, Selection())]
    with FrameReader(video) as reader:
        assert reader.frame_count == 20 and reader.length_known
        for n in (0, 1, 2, 17, 5, 6, 19, 0, 11):
            assert np.array_equal(reader.read(n), straight[n]), n
        with pytest.raises(VideoError, match=r"clip\.avi.*frame 20"):
            reader.read(20)
        assert reader.frame_count == 20
        assert np.array_equal(reader.read(3), straight[3])  # still usable after the error
    with pytest.raises(VideoError, match="closed"):
        reader.read(0)


def test_a_missing_video_is_named(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="nope.avi: no such file"):
        FrameReader(tmp_path / "nope.avi")
