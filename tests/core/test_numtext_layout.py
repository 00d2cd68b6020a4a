"""The per-layout decimal parser (core/numtext.py ``_by_layout``): printf-style columns are
read bit-identically to ``float()``; anything it does not take is left to the general path,
which still answers exactly (or refuses)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from workbench.core import numtext
from workbench.core.numtext import parse_decimals, tokens


def _cut(words: list[str]):
    buf = np.frombuffer((" ".join(words) + " " * 32).encode(), dtype=np.uint8)
    starts, ends, _ = tokens(buf, lines=False)
    return buf, starts, ends


def _floats(words: list[str]) -> np.ndarray:
    return np.array([float(w) for w in words])


def _identical(got: np.ndarray, want: np.ndarray) -> bool:
    return got.shape == want.shape and bool((got.view(np.int64) == want.view(np.int64)).all())


@pytest.mark.parametrize("fmt", ["%.0f", "%.1f", "%.2f", "%.6f", "%d", "%08.3f", "%.12f"])
def test_printf_columns_take_the_layout_path_and_equal_float(fmt):
    rng = np.random.default_rng(len(fmt))
    values = rng.uniform(-2000, 2000, 5000)
    if fmt == "%d":
        values = values.round()
    if fmt == "%.12f":
        values = values / 1000  # 15 digits at most: '-1.999999999999'
    words = [fmt % v for v in values]
    buf, starts, ends = _cut(words)
    got = numtext._by_layout(buf, starts, ends)
    assert got is not None  # one layout per length: this path answered
    assert _identical(got, _floats(words))
    assert _identical(parse_decimals(buf, starts, ends), _floats(words))


def test_signs_and_zeros():
    words = ["-0.0", "0.0", "-1.5", "1.5", "-9.9", "00.1", "-00.1", "10.0"]
    buf, starts, ends = _cut(words)
    got = numtext._by_layout(buf, starts, ends)
    assert got is not None and _identical(got, _floats(words))
    assert np.signbit(got).tolist() == [True, False, True, False, True, False, True, False]


@pytest.mark.parametrize("words", [
    ["1.5", "100"],            # two layouts of one length
    ["1.25", "12.5"],          # the dot elsewhere
    ["1.5", "1e5"],            # an exponent
    ["1234567890123456"],      # 16 digits
    ["1.5", "+1.5"],
])
def test_other_columns_are_left_to_the_general_path(words):
    buf, starts, ends = _cut(words)
    assert numtext._by_layout(buf, starts, ends) is None
    assert _identical(parse_decimals(buf, starts, ends), _floats(words))


@pytest.mark.parametrize("bad", ["-", "-.", ".", "1.2.3", "1-2", "--1", "1.5x", "1,5", "nan",
                                 "1_0"])
def test_tokens_float_refuses_are_refused(bad):
    # the same length as the good tokens, so that they share one layout group
    good = ["1" * len(bad)] * 3 if "." not in bad else ["1." + "1" * (len(bad) - 2)] * 3
    words = [*good, bad]
    buf, starts, ends = _cut(words)
    assert numtext._by_layout(buf, starts, ends) is None
    assert parse_decimals(buf, starts, ends) is None or bad == "1_0"  # float("1_0") is 10.0


def test_layouts_agree_with_clinger_on_random_widths():
    rng = np.random.default_rng(3)
    for _ in range(50):
        digits = int(rng.integers(0, 7))
        scale = 10.0 ** int(rng.integers(0, 8))
        words = [f"{v:.{digits}f}" for v in rng.uniform(-scale, scale, 300)]
        buf, starts, ends = _cut(words)
        got = numtext._by_layout(buf, starts, ends)
        want = numtext._clinger(buf, starts, ends)
        if got is not None:
            assert want is not None and _identical(got, want)
            assert _identical(got, _floats(words))


def test_ascii_tokens_equal_the_slices():
    words = ["a", "000123", "x%20y", "longer_name.v2", "b", "-", "Z" * 40]
    text = " ".join(words)
    buf = np.frombuffer(text.encode(), dtype=np.uint8)  # unpadded: the last token at the end
    starts, ends, _ = tokens(buf, lines=False)
    assert numtext.ascii_tokens(buf, starts, ends) == words
    assert numtext.ascii_tokens(buf, starts[:0], ends[:0]) == []


@pytest.mark.parametrize("content", [
    "a 0.9 1 1 10\n10 b 0.5 1 1 10 10\n",        # 12 tokens, but a row spans two lines
    "a 0.9 1 1 10 10 b\n0.5 1 1 10 10\n",        # two rows share a line
    "a 0.9 1 1 10 10  \n\n \tb 0.5 1 1 10 10\n",  # odd spacing: fine, found the slow way
])
def test_devkit_rows_must_be_lines(tmp_path, content):
    from workbench.core.detection_runs import DetectionRuns
    from workbench.core.results import ResultsError, _devkit_lines, read_devkit_file

    path = tmp_path / "comp4_det_test_cat.txt"
    path.write_text(content)
    try:
        slow = [(d.image_id, d.boxes.tolist()) for d in _devkit_lines(path, "cat")]
    except ResultsError as exc:
        with pytest.raises(ResultsError, match=re.escape(str(exc))):
            read_devkit_file(path)
        return
    got = read_devkit_file(path)
    assert isinstance(got, DetectionRuns)
    assert [(d.image_id, d.boxes.tolist()) for d in got] == slow


@pytest.mark.parametrize("piece", [1, 40, 97, 1 << 20])
def test_devkit_read_in_pieces_equals_the_line_reader(tmp_path, monkeypatch, piece):
    from workbench.core import results
    from workbench.core.detection_runs import DetectionRuns

    rng = np.random.default_rng(piece)
    lines = [f"{int(i) // 3:06d} {rng.uniform():.6f} {x:.1f} 5 {x + 9:.1f} 20"
             for i, x in zip(range(200), rng.uniform(1, 90, 200))]  # runs of 3 lines
    path = tmp_path / "comp4_det_test_cat.txt"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(results, "_DEVKIT_PIECE", piece)
    got = results.read_devkit_file(path)
    want = results._devkit_lines(path, "cat")
    assert isinstance(got, DetectionRuns)
    assert [d.image_id for d in got] == [d.image_id for d in want]  # runs joined across pieces
    assert all(np.array_equal(a.boxes, b.boxes) and np.array_equal(a.scores, b.scores)
               for a, b in zip(got, want))
