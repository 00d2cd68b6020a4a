"""VOC writing: LabelImg-exact text, lossless re-save, only edited values change."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from workbench.core.annotation import Annotation, ImageSize, VocObject
from workbench.core.voc import annotation_to_bytes, parse_annotation, read_annotation, write_annotation

LABELIMG_TEXT = """<annotation verified="yes">
\t<folder>images</folder>
\t<filename>cat.jpg</filename>
\t<path>/data/images/cat.jpg</path>
\t<source>
\t\t<database>Unknown</database>
\t</source>
\t<size>
\t\t<width>640</width>
\t\t<height>480</height>
\t\t<depth>3</depth>
\t</size>
\t<segmented>0</segmented>
\t<object>
\t\t<name>cat</name>
\t\t<pose>Unspecified</pose>
\t\t<truncated>0</truncated>
\t\t<difficult>1</difficult>
\t\t<bndbox>
\t\t\t<xmin>11</xmin>
\t\t\t<ymin>21</ymin>
\t\t\t<xmax>110</xmax>
\t\t\t<ymax>220</ymax>
\t\t</bndbox>
\t</object>
\t<object>
\t\t<name>dog</name>
\t\t<pose>Left</pose>
\t\t<truncated>1</truncated>
\t\t<difficult>0</difficult>
\t\t<bndbox>
\t\t\t<xmin>1</xmin>
\t\t\t<ymin>1</ymin>
\t\t\t<xmax>640</xmax>
\t\t\t<ymax>480</ymax>
\t\t</bndbox>
\t</object>
</annotation>
"""


def _known() -> Annotation:
    return Annotation(
        filename="cat.jpg", size=ImageSize(640, 480, 3), verified=True, folder="images",
        path="/data/images/cat.jpg",
        objects=(
            VocObject("cat", (10.0, 20.0, 110.0, 220.0), difficult=True),
            VocObject("dog", (0.0, 0.0, 640.0, 480.0), truncated=True, pose="Left"),
        ),
    )


def test_new_annotation_is_written_exactly_as_labelimg_writes_it(tmp_path: Path) -> None:
    out = tmp_path / "cat.xml"
    written = write_annotation(_known(), out)
    assert out.read_text(encoding="utf-8") == LABELIMG_TEXT
    assert written.raw == LABELIMG_TEXT.encode()


def test_unverified_annotation_has_no_verified_attribute() -> None:
    text = annotation_to_bytes(dataclasses.replace(_known(), verified=False)).decode()
    assert text.startswith("<annotation>\n\t<folder>images</folder>")


def test_raccoon_files_are_reproduced_byte_for_byte(raccoon_dir: Path) -> None:
    same = 0
    for xml in sorted((raccoon_dir / "annotations").glob("*.xml")):
        data = xml.read_bytes()
        ann, problems = read_annotation(xml)
        assert problems == []
        assert annotation_to_bytes(ann) == data  # unchanged → verbatim
        if b'verified="no"' in data:  # LabelImg 1.8.6 never writes verified="no"
            continue
        fresh = dataclasses.replace(
            ann, raw=None, objects=tuple(dataclasses.replace(o, raw=None) for o in ann.objects))
        assert annotation_to_bytes(fresh) == data, xml.name
        same += 1
    assert same == 199


def test_round_trip_of_every_field(tmp_path: Path) -> None:
    ann = dataclasses.replace(
        _known(), verified=False, database="VOC2007", segmented="1", folder="VOC2007",
        objects=_known().objects + (
            VocObject("car", (5.0, 6.0, 7.0, 8.0), extra=(("occluded", "1"),), score=0.875,
                      model_made=True),
        ),
    )
    out = tmp_path / "a.xml"
    write_annotation(ann, out)
    back, problems = read_annotation(out)
    assert back == ann
    assert problems == []
    text = out.read_text()
    assert '<object model_made="yes">' in text
    assert "<score>0.875</score>" in text
    assert "<occluded>1</occluded>" in text


UNKNOWN_RICH = b"""<?xml version="1.0" encoding="utf-8"?>
<!-- made by a converter -->
<annotation verified="yes" tool="cvat">
  <folder>VOC2012</folder>
  <filename>2008_000008.jpg</filename>
  <source><database>The VOC2008 Database</database><annotation>PASCAL VOC2008</annotation>
    <image>flickr</image></source>
  <owner><flickrid>someone</flickrid></owner>
  <size><width>500</width><height>442</height><depth>3</depth></size>
  <segmented>0</segmented>
  <custom a="1">keep me</custom>
  <object id="7">
    <name>horse</name>
    <pose>Left</pose>
    <truncated>0</truncated>
    <occluded>1</occluded>
    <bndbox><xmin>53.4</xmin><ymin>87</ymin><xmax>471</xmax><ymax>420.0</ymax></bndbox>
    <difficult>0.0</difficult>
    <part><name>head</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></part>
  </object>
  <object>
    <name>person</name>
    <polygon><pt x="1" y="2"/></polygon>
  </object>
  <object>
    <name>person</name>
    <bndbox><xmin>158</xmin><ymin>44</ymin><xmax>289</xmax><ymax>167</ymax></bndbox>
  </object>
</annotation>
"""


def test_unchanged_file_is_written_back_verbatim() -> None:
    ann, _ = parse_annotation(UNKNOWN_RICH, name="x.xml")
    assert annotation_to_bytes(ann) == UNKNOWN_RICH


def test_edit_keeps_unknown_elements_attributes_and_original_text() -> None:
    ann, problems = parse_annotation(UNKNOWN_RICH, name="x.xml")
    assert [p.message for p in problems] == [
        "<object> #2 ('person') has no <bndbox>; kept in the file but not loaded"]
    horse, person = ann.objects
    assert horse.box == (52.4, 86.0, 471.0, 420.0)
    assert horse.extra == (("occluded", "1"),)
    moved = dataclasses.replace(person, box=(100.0, 43.0, 289.0, 167.0))
    edited = dataclasses.replace(ann, objects=(horse, moved), verified=False)
    out = annotation_to_bytes(edited).decode()
    for kept in ('tool="cvat"', "<!-- made by a converter -->", "<flickrid>someone</flickrid>",
                 '<custom a="1">keep me</custom>', '<object id="7">', "<xmin>53.4</xmin>",
                 "<ymax>420.0</ymax>", "<difficult>0</difficult>", "<occluded>1</occluded>",
                 "<part>", "<name>head</name>", "<polygon>", '<pt x="1" y="2"/>',
                 "<annotation>PASCAL VOC2008</annotation>", "<image>flickr</image>"):
        assert kept in out, kept
    assert "verified" not in out
    assert "<xmin>101</xmin>" in out and "<ymin>44</ymin>" in out and "<xmin>158</xmin>" not in out
    back, _ = parse_annotation(out.encode(), name="x.xml")
    assert back == edited
    assert out.count("<object") == 3


def test_adding_and_removing_objects_keeps_the_others() -> None:
    ann, _ = parse_annotation(UNKNOWN_RICH, name="x.xml")
    horse, _person = ann.objects
    new = VocObject("cat", (0.0, 0.0, 10.0, 10.0))
    edited = dataclasses.replace(ann, objects=(horse, new))
    back, _ = parse_annotation(annotation_to_bytes(edited), name="x.xml")
    assert [o.name for o in back.objects] == ["horse", "cat"]
    assert back.objects[1].box == (0.0, 0.0, 10.0, 10.0)
    assert b"<part>" in annotation_to_bytes(edited)


def test_renaming_one_object_changes_only_its_name() -> None:
    ann, _ = parse_annotation(UNKNOWN_RICH, name="x.xml")
    horse, person = ann.objects
    edited = dataclasses.replace(ann, objects=(dataclasses.replace(horse, name="pony"), person))
    out = annotation_to_bytes(edited).decode()
    assert "<name>pony</name>" in out and "<name>horse</name>" not in out
    assert "<xmin>53.4</xmin>" in out and "<truncated>0</truncated>" in out
    assert "<difficult>0.0</difficult>" not in out  # normalised for LabelImg's int() reader
    assert "<difficult>0</difficult>" in out


def test_score_and_model_made_can_be_removed() -> None:
    obj = VocObject("cat", (0.0, 0.0, 4.0, 4.0), score=0.5, model_made=True)
    ann, _ = parse_annotation(annotation_to_bytes(Annotation("a.jpg", ImageSize(9, 9, 3), (obj,))),
                              name="a.xml")
    reviewed = dataclasses.replace(ann.objects[0], score=None, model_made=False)
    out = annotation_to_bytes(dataclasses.replace(ann, objects=(reviewed,)))
    assert b"score" not in out and b"model_made" not in out


def test_missing_size_is_added_when_the_annotation_gains_one() -> None:
    data = b"<annotation><filename>a.jpg</filename><object><name>a</name><bndbox><xmin>1</xmin>" \
           b"<ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>"
    ann, _ = parse_annotation(data, name="a.xml")
    out = annotation_to_bytes(dataclasses.replace(ann, size=ImageSize(30, 20, 3))).decode()
    assert out == (
        "<annotation>\n\t<filename>a.jpg</filename>\n\t<size>\n\t\t<width>30</width>\n"
        "\t\t<height>20</height>\n\t\t<depth>3</depth>\n\t</size>\n\t<object>\n\t\t<name>a</name>\n"
        "\t\t<bndbox>\n\t\t\t<xmin>1</xmin>\n\t\t\t<ymin>1</ymin>\n\t\t\t<xmax>2</xmax>\n"
        "\t\t\t<ymax>2</ymax>\n\t\t</bndbox>\n\t</object>\n</annotation>\n")


def test_empty_elements_from_converters_and_rotated_boxes() -> None:
    data = (b"<annotation><filename>a.jpg</filename><size><width>20</width><height>20</height>"
            b"<depth>3</depth></size><object><name>cat</name><pose/><truncated/><difficult/>"
            b"<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>"
            b"<object><type>robndbox</type><name>car</name><robndbox><cx>5</cx><cy>5</cy><w>4</w>"
            b"<h>2</h><angle>0.3</angle></robndbox></object></annotation>")
    ann, problems = parse_annotation(data, name="a.xml")
    (cat,) = ann.objects
    assert (cat.pose, cat.truncated, cat.difficult) == ("", False, False)
    assert [p.severity for p in problems] == ["warning"]  # the rotated box: not loaded
    edited = dataclasses.replace(ann, objects=(dataclasses.replace(cat, name="kitten"),))
    out = annotation_to_bytes(edited).decode()
    assert "<robndbox>" in out and "<angle>0.3</angle>" in out
    assert "<pose/>" in out  # unchanged empty value stays as it was
    assert "<truncated>0</truncated>" in out and "<difficult>0</difficult>" in out  # LabelImg-safe
