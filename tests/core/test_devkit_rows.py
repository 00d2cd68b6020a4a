"""The devkit fast path's row checks and run ids (results._six_per_line, numtext.run_starts,
numtext.ascii_tokens): six tokens on each line, one row per line, runs of equal ids found 8
bytes at a time — else the line reader answers (and names file and line)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.detection_runs import DetectionRuns
from workbench.core.numtext import ascii_tokens, run_starts, tokens
from workbench.core.results import ResultsError, _devkit_lines, read_devkit_file


@pytest.mark.parametrize("content, message", [
    ("a 0.5 1 1\n5 5\n", r"\.txt:1: expected .*got 4 fields$"),          # 6 tokens, 2 lines
    ("a 0.5 1 1 5 5 b 0.5 1 1 5 5\n", r"\.txt:1: expected .*got 12 fields$"),  # 2 rows, 1 line
    ("a 0.5 1 1 5 5\nb 0.5 1\n1 5 5\n", r"\.txt:2: expected .*got 3 fields$"),
    ("a 0.5 1 1 5 5\n\nb 0.5 1 1 5\n5\n", r"\.txt:3: expected .*got 5 fields$"),
])
def test_rows_across_lines_are_refused_with_the_line(tmp_path, content, message):
    path = tmp_path / "comp4_det_test_cat.txt"
    path.write_text(content)
    with pytest.raises(ResultsError, match=message):
        read_devkit_file(path)


@pytest.mark.parametrize("content", [
    "a 0.5 1 1 5 5\nb 0.25 2 2 6 6\n",
    "a 0.5 1 1 5 5\nb 0.25 2 2 6 6",          # no final newline
    "\n\na 0.5 1 1 5 5\n\n\nb 0.25 2 2 6 6\n\n",  # blank lines: the newline positions decide
    "a 0.5 1 1 5 5\n   \nb 0.25 2 2 6 6\n",
])
def test_one_row_per_line_read_fast_and_as_the_line_reader(tmp_path, content):
    path = tmp_path / "comp4_det_test_cat.txt"
    path.write_text(content)
    got = read_devkit_file(path)
    assert isinstance(got, DetectionRuns)
    want = _devkit_lines(path, "cat")
    assert [d.image_id for d in got] == [d.image_id for d in want] == ["a", "b"]
    assert got.boxes.tolist() == [[0.0, 0.0, 5.0, 5.0], [1.0, 1.0, 6.0, 6.0]]
    assert got.scores.tolist() == [0.5, 0.25]


def test_run_starts_compare_every_byte_of_long_ids():
    words = ["2008_000123", "2008_000123", "2008_000124",  # differ in byte 11
             "2008_00012", "2008_000124",                   # a prefix, then longer
             "aaaaaaaabbbbbbbbc", "aaaaaaaabbbbbbbbd",      # differ in byte 17 (third word)
             "aaaaaaaabbbbbbbbd", "x", "x", "y"]
    buf = np.frombuffer(" ".join(words).encode(), dtype=np.uint8)  # no padding after the end
    starts, ends, _ = tokens(buf, lines=False)
    want = [i for i in range(len(words)) if i == 0 or words[i] != words[i - 1]]
    assert run_starts(buf, starts, ends).tolist() == want == [0, 2, 3, 4, 5, 6, 8, 10]
    assert ascii_tokens(buf, starts, ends) == words
