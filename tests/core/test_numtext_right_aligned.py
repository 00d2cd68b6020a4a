"""numtext's right-aligned path (``_right_aligned``): tokens of up to 8 bytes with the dot the
same number of places before the end, any lengths — bit-identical to ``float()`` — and what it
refuses (then the per-length layouts or the general path answer, or the whole call refuses)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core import numtext
from workbench.core.numtext import parse_decimals, tokens


def _cut(words: list[str]):
    buf = np.frombuffer((" ".join(words) + " " * 32).encode(), dtype=np.uint8)
    starts, ends, _ = tokens(buf, lines=False)
    return buf, starts, ends


def _right(words: list[str]) -> np.ndarray | None:
    buf, starts, ends = _cut(words)
    return numtext._right_aligned(buf, starts, ends - starts)


def _bits(values) -> list[int]:
    return np.asarray(values, dtype=np.float64).view(np.int64).tolist()


@pytest.mark.parametrize("fmt", ["%.0f", "%.1f", "%.2f", "%.3f", "%.4f", "%d"])
def test_printf_columns_of_many_lengths_equal_float(fmt):
    rng = np.random.default_rng(len(fmt) * 7 + fmt.count("1"))
    scale = {"%.4f": 99.0, "%.3f": 999.0}.get(fmt, 9999.0)
    values = rng.uniform(-scale, scale, 4000) * rng.choice([1e-3, 1e-1, 1.0], 4000)
    words = [fmt % v for v in values]
    words = [w for w in words if len(w) <= 8]
    assert len({len(w) for w in words}) >= 3  # several lengths in one pass
    got = _right(words)
    assert got is not None
    assert _bits(got) == _bits([float(w) for w in words])


def test_literal_values_signs_and_the_float32_float64_boundary():
    for words in (["-0.0", "0.0", ".5", "-.5", "00.1", "-9.9"],
                  ["5.", "-5.", "1234567.", "9999999.", "0."]):
        assert _bits(_right(words)) == _bits([float(w) for w in words])
    assert np.signbit(_right(["-0.0", "0.0"])).tolist() == [True, False]
    # 8 digits: past float32's exact integers (2**24), read in float64
    eight = ["99999999", "16777217", "-9999999", "12345678"]
    assert _right(eight).tolist() == [99999999.0, 16777217.0, -9999999.0, 12345678.0]
    assert _right(["0.1", "12.3", "-1.2"]).tolist() == [0.1, 12.3, -1.2]


@pytest.mark.parametrize("words", [
    ["1.25", "12.5"],          # the dot at two places from the end
    ["1.5", "15"],             # a dot, then none
    ["15", "1.5"],
    ["123456789"],             # 9 bytes: two loads, the per-length path
    [".1234567"],              # 7 fraction digits
    ["1.5", "1e5"],
    ["1.5", "+1.5"],
])
def test_other_layouts_are_refused_and_read_elsewhere(words):
    if max(map(len, words)) <= 8:
        assert numtext._right_aligned(*_cut_lengths(words)) is None
    buf, starts, ends = _cut(words)
    assert _bits(parse_decimals(buf, starts, ends)) == _bits([float(w) for w in words])


def _cut_lengths(words):
    buf, starts, ends = _cut(words)
    return buf, starts, ends - starts


@pytest.mark.parametrize("bad", ["-", ".", "-.", "1.2.3", "1-2", "--1", "5-", "1.5x", "1,5",
                                 "1_0", "nan", "1 .5", "\x7f1"])
def test_malformed_tokens_are_refused(bad):
    words = ["1.5", "22.5", *bad.split(" "), "3.5"] if "." in bad else ["15", *bad.split(" ")]
    assert numtext._right_aligned(*_cut_lengths(words)) is None
    buf, starts, ends = _cut(words)
    got = parse_decimals(buf, starts, ends)
    if bad in ("1_0", "nan"):  # float() reads them; the parsers leave them out, as before
        assert got is None
    else:
        try:
            want = [float(w) for w in words]
        except ValueError:
            assert got is None
        else:
            assert _bits(got) == _bits(want)


def test_unpadded_buffer_is_read_safely():
    text = b"1.5 22.5 333.5"  # no padding after the last token
    buf = np.frombuffer(text, dtype=np.uint8)
    starts, ends, _ = tokens(buf, lines=False)
    assert numtext._right_aligned(buf, starts, ends - starts).tolist() == [1.5, 22.5, 333.5]


def _table(rows: list[list[str]]):
    buf = np.frombuffer(("\n".join(" ".join(r) for r in rows) + " " * 32).encode(),
                        dtype=np.uint8)
    starts, ends, _ = tokens(buf, lines=False)
    width = len(rows[0])
    return buf, starts.reshape(-1, width), ends.reshape(-1, width)


def test_columns_at_once_each_with_its_dot_place():
    rng = np.random.default_rng(11)
    rows = [[str(int(rng.integers(1, 99999))), "%.1f" % rng.uniform(0, 999),
             "%.1f" % rng.uniform(0, 9), "%.6f" % rng.uniform(0, 1), "%.0f" % rng.uniform(0, 9)]
            for _ in range(3000)]
    buf, starts, ends = _table(rows)
    got = numtext._right_aligned_columns(buf, starts, ends)
    assert got is not None and got.shape == (3000, 5)
    assert _bits(got) == _bits([[float(v) for v in r] for r in rows])
    assert _bits(numtext.parse_columns(buf, starts, ends)) == _bits(got)
    # eight digits in one column: float64 for the table, still exact
    rows8 = [["12345678", "0.5"], ["99999999", "1.5"]]
    assert numtext._right_aligned_columns(*_table(rows8)).tolist() == [[12345678.0, 0.5],
                                                                        [99999999.0, 1.5]]


@pytest.mark.parametrize("rows", [
    [["1", "-0.5"], ["2", "0.5"]],          # a minus: column by column
    [["1", "0.5"], ["2", "0.25"]],          # a column with two dot places
    [["1", "0.5"], ["123456789", "0.5"]],   # 9 bytes
    [["1", "0.5"], ["2", "1e5"]],
])
def test_other_tables_go_column_by_column(rows):
    buf, starts, ends = _table(rows)
    assert numtext._right_aligned_columns(buf, starts, ends) is None
    assert _bits(numtext.parse_columns(buf, starts, ends)) == _bits(
        [[float(v) for v in r] for r in rows])


def test_a_bad_token_in_a_table_refuses_the_whole_parse():
    buf, starts, ends = _table([["1", "0.5"], ["2", "0.x"]])
    assert numtext._right_aligned_columns(buf, starts, ends) is None
    assert numtext.parse_columns(buf, starts, ends) is None
