"""workbench.core.usable: validate's verdict applied to an annotation and its problems."""

from __future__ import annotations

from workbench.core.annotation import Annotation, ImageSize, Problem, VocObject
from workbench.core.usable import Usable, usable

ANN = Annotation("a.jpg", ImageSize(10, 10), (VocObject("cat", (0.0, 0.0, 5.0, 5.0)),
                                             VocObject("dog", (1.0, 1.0, 2.0, 2.0))))
WARN = Problem("a.xml", 0, "warning", "box extends outside")
OBJ_ERR = Problem("a.xml", 1, "error", "zero-area box")
FILE_ERR = Problem("a.xml", None, "error", "image a.jpg: empty file")


def test_nothing_said_keeps_everything_in_any_container() -> None:
    for problems in ([], (), iter([]), (p for p in [])):
        got = usable(ANN, problems)
        assert got == Usable(ANN, ()) and got.annotation is ANN
        assert got.skipped_objects == 0
    assert usable(ANN, [WARN]) == Usable(ANN, ())


def test_errors_leave_out_the_object_or_the_image() -> None:
    got = usable(ANN, [WARN, OBJ_ERR])
    assert got.annotation is not None and got.left_out == (OBJ_ERR,)
    assert [o.name for o in got.annotation.objects] == ["cat"] and got.skipped_objects == 1
    assert usable(ANN, iter([OBJ_ERR, FILE_ERR])) == Usable(None, (FILE_ERR,))
    assert usable(None, []) == Usable(None, ())
    assert usable(None, [OBJ_ERR]) == Usable(None, (OBJ_ERR,))
