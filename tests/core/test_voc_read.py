"""VOC reading: the quirks real tools write, and every problem reported (never dropped)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from workbench.core.annotation import ImageSize
from workbench.core.imageinfo import image_info
from workbench.core.voc import VocReadError, parse_annotation, read_annotation


def _xml(objects: str, size: str = "<size><width>100</width><height>80</height><depth>3</depth></size>",
         head: str = "") -> bytes:
    return (f"{head}<annotation><folder>f</folder><filename>a.jpg</filename>{size}"
            f"<segmented>0</segmented>{objects}</annotation>").encode()


def _obj(xmin="11", ymin="21", xmax="50", ymax="60", rest="<difficult>0</difficult>") -> str:
    return (f"<object><name>cat</name>{rest}<bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin>"
            f"<xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>")


def _messages(problems) -> list[tuple[int | None, str, str]]:
    return [(p.object, p.severity, p.message) for p in problems]


def test_voc_coordinates_become_pixel_edges() -> None:
    ann, problems = parse_annotation(_xml(_obj()), name="a.xml")
    assert ann.objects[0].box == (10.0, 20.0, 50.0, 60.0)
    assert ann.size == ImageSize(100, 80, 3)
    assert (ann.filename, ann.folder, ann.verified) == ("a.jpg", "f", False)
    assert problems == []


def test_float_coordinates_and_float_flags() -> None:
    obj = _obj("123.6", "20.2", "150.5", "70", "<difficult>1.0</difficult><truncated>0.0</truncated>")
    ann, problems = parse_annotation(_xml(obj, size="<size><width>200</width><height>100</height></size>"),
                                     name="a.xml")
    o = ann.objects[0]
    assert o.box == pytest.approx((122.6, 19.2, 150.5, 70.0))
    assert (o.difficult, o.truncated) == (True, False)
    assert ann.size == ImageSize(200, 100, 3)  # missing depth → 3
    assert problems == []


def test_missing_pose_truncated_difficult_take_defaults() -> None:
    ann, problems = parse_annotation(_xml(_obj(rest="")), name="a.xml")
    o = ann.objects[0]
    assert (o.pose, o.truncated, o.difficult) == ("Unspecified", False, False)
    assert problems == []


def test_stray_whitespace_bom_and_declared_encoding() -> None:
    body = ("\n  <?xml version='1.0' encoding='ISO-8859-1'?>\n<annotation>\n <filename> caf\xe9.jpg \n"
            "</filename><size><width> 100 </width><height>80\n</height><depth>3</depth></size>"
            "<object><name>\n  cat \t</name><bndbox><xmin> 11</xmin><ymin>21 </ymin><xmax>\t50</xmax>"
            "<ymax>60</ymax></bndbox></object></annotation>")
    data = b"\xef\xbb\xbf" + body.encode("latin-1")
    ann, problems = parse_annotation(data, name="a.xml")
    assert ann.filename == "caf\xe9.jpg"
    assert ann.objects[0].name == "cat"
    assert ann.objects[0].box == (10.0, 20.0, 50.0, 60.0)
    assert problems == []


def test_utf16_file_with_bom() -> None:
    data = '<?xml version="1.0" encoding="UTF-16"?>\n'.encode("utf-16") + \
        _xml(_obj()).decode().encode("utf-16")[2:]
    ann, _ = parse_annotation(data, name="a.xml")
    assert ann.objects[0].name == "cat"


def test_object_without_bndbox_is_reported_not_dropped_silently() -> None:
    ann, problems = parse_annotation(_xml("<object><name>dog</name></object>" + _obj()), name="a.xml")
    assert [o.name for o in ann.objects] == ["cat"]
    assert _messages(problems) == [
        (None, "warning", "<object> #1 ('dog') has no <bndbox>; kept in the file but not loaded")]


def test_box_problems_with_severities() -> None:
    objs = (_obj("50", "10", "40", "20")  # inverted
            + _obj("11", "11", "10", "30")  # zero width in pixel edges
            + _obj("0", "5", "101", "30")  # partly outside 100x80
            + _obj("200", "5", "300", "30")  # wholly outside
            + _obj("abc", "1", "2", "3")  # unreadable: not loaded
            + "<object><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>")
    ann, problems = parse_annotation(_xml(objs), name="a.xml")
    assert len(ann.objects) == 5
    assert _messages(problems) == [
        (0, "error", "inverted box (50, 10, 40, 20) (xmin > xmax or ymin > ymax)"),
        (1, "error", "zero-area box (11, 11, 10, 30)"),
        (2, "warning", "box (0, 5, 101, 30) extends outside the 100x80 image"),
        (3, "error", "box (200, 5, 300, 30) lies outside the 100x80 image"),
        (None, "error", "<object> #5 ('cat') unreadable <bndbox> (xmin='abc'); kept in the file "
         "but not loaded"),
        (4, "error", "object has no <name>"),
    ]
    assert ann.objects[2].box == (-1.0, 4.0, 101.0, 30.0)  # not clamped unless asked


def test_clamp_only_when_asked_and_reported() -> None:
    ann, problems = parse_annotation(_xml(_obj("0", "5", "101", "30")), name="a.xml", clamp=True)
    assert ann.objects[0].box == (0.0, 4.0, 100.0, 30.0)
    assert _messages(problems) == [
        (0, "warning", "box (0, 5, 101, 30) extends outside the 100x80 image; clamped to (1, 5, 100, 30)")]


def test_bad_flag_value_is_a_warning() -> None:
    ann, problems = parse_annotation(_xml(_obj(rest="<difficult>maybe</difficult>")), name="a.xml")
    assert ann.objects[0].difficult is False
    assert _messages(problems) == [(0, "warning", "<difficult> value 'maybe' is not 0/1; read as 0")]


def test_missing_size_is_taken_from_the_image(tmp_path: Path) -> None:
    img = tmp_path / "a.jpg"
    Image.new("RGB", (64, 48)).save(img)
    xml = tmp_path / "a.xml"
    xml.write_bytes(_xml(_obj("1", "1", "64", "48"), size=""))
    ann, problems = read_annotation(xml, img, display_name="a.xml")
    assert ann.size == ImageSize(64, 48, 3)
    assert _messages(problems) == [(None, "warning", "has no <size>; taken from the image (64x48)")]
    _, problems = read_annotation(xml, display_name="a.xml")
    assert _messages(problems) == [
        (None, "warning", "has no <size>; boxes cannot be checked against the image")]


def test_size_mismatch_unreadable_and_missing_image(tmp_path: Path) -> None:
    img = tmp_path / "a.jpg"
    Image.new("L", (50, 40)).save(img)
    xml = tmp_path / "a.xml"
    xml.write_bytes(_xml(_obj("1", "1", "10", "10")))
    _, problems = read_annotation(xml, img, display_name="a.xml")
    assert _messages(problems) == [(None, "warning", "<size> 100x80 differs from the image (50x40)")]
    img.write_bytes(b"not an image")
    _, problems = read_annotation(xml, img, display_name="a.xml")
    assert (problems[0].severity, problems[0].object) == ("error", None)
    assert problems[0].message.startswith("image a.jpg: unreadable image (")
    _, problems = read_annotation(xml, tmp_path / "gone.jpg", display_name="a.xml")
    assert _messages(problems) == [(None, "error", "image gone.jpg: image file not found")]


def test_exif_orientation_swaps_width_and_height(tmp_path: Path) -> None:
    img = tmp_path / "r.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    Image.new("RGB", (60, 40)).save(img, exif=exif)
    info = image_info(img)
    assert (info.width, info.height, info.raw_width, info.raw_height) == (40, 60, 60, 40)
    assert info.orientation == 6
    xml = tmp_path / "r.xml"
    xml.write_bytes(_xml(_obj("1", "1", "10", "10"),
                         size="<size><width>60</width><height>40</height><depth>3</depth></size>"))
    _, problems = read_annotation(xml, img, display_name="r.xml")
    assert [p.severity for p in problems] == ["warning"]
    assert "EXIF orientation 6" in problems[0].message


def test_grey_png_depth_is_one(tmp_path: Path) -> None:
    Image.new("L", (7, 5)).save(tmp_path / "g.PNG")
    assert image_info(tmp_path / "g.PNG").size == ImageSize(7, 5, 1)


def test_not_an_annotation_and_malformed_xml_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(VocReadError, match=r"b\.xml: root element is <html>"):
        parse_annotation(b"<html/>", name="b.xml")
    bad = tmp_path / "c.xml"
    bad.write_bytes(b"<annotation><object></annotation>")
    with pytest.raises(VocReadError, match=r"c\.xml: not well-formed XML"):
        read_annotation(bad)
    with pytest.raises(VocReadError, match=r"missing\.xml: cannot read"):
        read_annotation(tmp_path / "missing.xml")


def test_verified_attribute_and_score_and_model_made() -> None:
    data = (b'<annotation verified="yes"><filename>a.jpg</filename><size><width>100</width>'
            b'<height>80</height><depth>3</depth></size><object model_made="yes"><name>cat</name>'
            b'<score>0.25</score><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax>'
            b'</bndbox></object></annotation>')
    ann, problems = parse_annotation(data, name="a.xml")
    assert ann.verified is True
    assert (ann.objects[0].score, ann.objects[0].model_made) == (0.25, True)
    assert problems == []
