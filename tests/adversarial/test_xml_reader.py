"""The VOC reader never silently ignores object-like content (issue 12).

Before: ``<object>`` inside ``<objects>``, ``<Object>``, a namespaced ``<v:object>``, a second
``<bndbox>``/``<name>``/``<xmin>``/``<size>`` and a comment inside a number (``1<!--c-->0``
read as 1) were all dropped without a word.
"""

from __future__ import annotations

import pytest

from workbench.core.annotation import Problem
from workbench.core.voc import annotation_to_bytes, parse_annotation

GOOD = ("<object><name>cat</name><bndbox><xmin>11</xmin><ymin>21</ymin><xmax>40</xmax>"
        "<ymax>50</ymax></bndbox></object>")


def _doc(body: str, head: str = "<annotation>") -> bytes:
    return (f"{head}\n<filename>a.jpg</filename>\n<size><width>100</width><height>80</height>"
            f"<depth>3</depth></size>\n{body}\n</annotation>\n").encode()


def _read(data: bytes) -> tuple[list, list[Problem]]:
    ann, problems = parse_annotation(data, name="t.xml")
    return list(ann.objects), problems


def _warnings(problems: list[Problem], *needles: str) -> list[Problem]:
    return [p for p in problems if p.severity == "warning"
            and all(n in p.message for n in needles)]


def test_clean_file_has_no_problems() -> None:
    objects, problems = _read(_doc(GOOD))
    assert len(objects) == 1 and problems == []


CASES = {
    "object inside objects": (f"<objects>{GOOD}</objects>", 0,
                              ("<object> at /annotation/objects/object", "inside <objects>")),
    "capitalised Object": (GOOD.replace("<object>", "<Object>").replace("</object>",
                                                                        "</Object>"), 0,
                           ("<Object>", "not read")),
    "namespaced v:object": (GOOD.replace("<object>", "<v:object>").replace(
        "</object>", "</v:object>"), 0, ("<v:object>", "not read")),
    "default-namespace object": (GOOD.replace("<object>", '<object xmlns="urn:x">'), 0,
                                 ("xmlns='urn:x'", "not read")),
    "object inside object": (GOOD.replace("</object>", f"{GOOD}</object>"), 1,
                             ("inside <object>",)),
    "second bndbox": (GOOD.replace("</object>", "<bndbox><xmin>1</xmin><ymin>1</ymin>"
                                   "<xmax>5</xmax><ymax>5</ymax></bndbox></object>"), 1,
                      ("second <bndbox>", "ignored")),
    "second name": (GOOD.replace("</object>", "<name>dog</name></object>"), 1,
                    ("second <name>",)),
    "second xmin": (GOOD.replace("</bndbox>", "<xmin>3</xmin></bndbox>"), 1,
                    ("second <xmin>",)),
    "capitalised BndBox": (GOOD.replace("bndbox>", "BndBox>"), 0,
                           ("<BndBox>", "expects <bndbox>")),
    "capitalised Name": (GOOD.replace("name>", "Name>"), 1, ("<Name>", "expects <name>")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unused_object_like_content_is_reported(case: str) -> None:
    body, loaded, needles = CASES[case]
    objects, problems = _read(_doc(body, '<annotation xmlns:v="urn:v">'))
    assert len(objects) == loaded
    assert _warnings(problems, *needles), [p.message for p in problems]


def test_second_size_is_reported() -> None:
    data = _doc(GOOD).replace(b"<size>", b"<size><width>7</width></size><size>", 1)
    objects, problems = _read(data)
    assert _warnings(problems, "second <size>")
    # and the first <size> is what is read (documented)
    ann, _ = parse_annotation(data, name="t.xml")
    assert ann.size is None or ann.size.width == 7


def test_comment_inside_a_number_is_read_as_the_text_around_it_and_reported() -> None:
    data = _doc(GOOD.replace("<xmin>11</xmin>", "<xmin>1<!--c-->1</xmin>"))
    objects, problems = _read(data)
    assert objects[0].box[0] == 10.0  # xmin 11 → pixel edge 10, not 1 → 0
    assert _warnings(problems, "<xmin>", "comment", "'11'")


def test_comment_inside_a_name_is_reported() -> None:
    objects, problems = _read(_doc(GOOD.replace("<name>cat</name>", "<name>c<!--x-->at</name>")))
    assert objects[0].name == "cat"
    assert _warnings(problems, "<name>", "comment")


def test_rewriting_a_value_that_held_a_comment_replaces_all_of_it() -> None:
    import dataclasses

    data = _doc(GOOD.replace("<xmin>11</xmin>", "<xmin>1<!--c-->1</xmin>"))
    ann, _ = parse_annotation(data, name="t.xml")
    moved = dataclasses.replace(ann.objects[0], box=(4.0, 20.0, 40.0, 50.0))
    again, problems = parse_annotation(
        annotation_to_bytes(dataclasses.replace(ann, objects=(moved,))), name="t.xml")
    assert again.objects[0].box == (4.0, 20.0, 40.0, 50.0)
    assert not _warnings(problems, "comment")


def test_voc_parts_are_not_reported() -> None:
    """VOC person layout: <part> holds its own <name> and <bndbox> — legitimate, no warning."""
    part = ("<part><name>head</name><bndbox><xmin>12</xmin><ymin>22</ymin><xmax>20</xmax>"
            "<ymax>30</ymax></bndbox></part>")
    objects, problems = _read(_doc(GOOD.replace("</object>", f"{part}</object>")))
    assert len(objects) == 1 and problems == []
