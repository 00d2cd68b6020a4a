"""core.heap: glibc heap thresholds for the big readers, set once per process."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from workbench.core import heap


def test_set_once_and_answers_the_same():
    first = heap.keep_freed_memory()
    assert heap.keep_freed_memory() is first
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert first is True


@pytest.mark.skipif(not (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"),
                    reason="glibc only")
def test_freed_slices_are_reused_not_faulted_in_again():
    # 40 rounds of 8 MB of temporaries: with glibc's defaults each round is trimmed away and
    # faulted in again (~2000 page faults a round); kept, only the first round faults.
    code = (
        "import resource, sys, numpy as np\n"
        "from workbench.core import heap\n"
        "if sys.argv[1] == 'keep': heap.keep_freed_memory()\n"
        "np.ones(1 << 17)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(40):\n"
        "    parts = [np.ones(1 << 17) for _ in range(8)]\n"
        "    del parts\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n")
    faults = {mode: int(subprocess.run([sys.executable, "-c", code, mode], check=True,
                                       capture_output=True, text=True).stdout)
              for mode in ("keep", "default")}
    assert faults["keep"] * 5 < faults["default"], faults
