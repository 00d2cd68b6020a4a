"""The VOC reader's plain-layout fast path (core/voc_plain.py) against the full lxml reader on
tricky inputs: whatever the fast path takes it reads exactly as the full reader does (same
annotation, objects' raw bytes, problems); what it does not take is left to the full reader,
whose result and error messages (naming the file) are what the caller sees."""

from __future__ import annotations

import pytest

from workbench.core import voc
from workbench.core.voc_plain import read_plain

HEAD = "<annotation>\n\t<folder>f</folder>\n\t<filename>a.jpg</filename>\n" \
       "\t<size>\n\t\t<width>100</width>\n\t\t<height>80</height>\n\t\t<depth>3</depth>\n" \
       "\t</size>\n\t<segmented>0</segmented>\n"
OBJ = "\t<object>\n\t\t<name>cat</name>\n\t\t<pose>Unspecified</pose>\n" \
      "\t\t<truncated>0</truncated>\n\t\t<difficult>0</difficult>\n\t\t<bndbox>\n" \
      "\t\t\t<xmin>10</xmin>\n\t\t\t<ymin>20</ymin>\n\t\t\t<xmax>50</xmax>\n" \
      "\t\t\t<ymax>60</ymax>\n\t\t</bndbox>\n\t</object>\n"
DOC = HEAD + OBJ + OBJ.replace(">cat<", ">dog<") + "</annotation>\n"


def _full(data: bytes, name: str = "d/x.xml"):
    saved = voc.read_plain
    voc.read_plain = lambda _data: None
    try:
        return voc.parse_annotation(data, name=name)
    except voc.VocError as exc:
        return str(exc)
    finally:
        voc.read_plain = saved


def _fast(data: bytes, name: str = "d/x.xml"):
    try:
        return voc.parse_annotation(data, name=name)
    except voc.VocError as exc:
        return str(exc)


def _same(data: bytes) -> None:
    fast, full = _fast(data), _full(data)
    assert fast == full
    if isinstance(fast, tuple):
        assert fast[0].raw == full[0].raw
        assert [o.raw for o in fast[0].objects] == [o.raw for o in full[0].objects]
        assert [o.__dict__ for o in fast[0].objects] == [o.__dict__ for o in full[0].objects]


TAKEN = {  # the fast path reads these itself
    "plain": DOC,
    "crlf": DOC.replace("\n", "\r\n"),
    "cr_only": DOC.replace("\n", "\r"),
    "bom": "\ufeff" + DOC,
    "declaration_dq": '<?xml version="1.0" encoding="UTF-8"?>\n' + DOC,
    "declaration_sq": "<?xml version='1.0'?>" + DOC,
    "leading_space": "  \n\t" + DOC,
    "trailing_space": DOC + "\n\n  \t",
    "no_whitespace": DOC.replace("\n", "").replace("\t", ""),
    "spaces_in_values": DOC.replace("<name>cat</name>", "<name>  cat \t</name>").replace(
        "<xmin>10</xmin>", "<xmin> 10.5\n</xmin>"),
    "verified": DOC.replace("<annotation>", '<annotation verified="yes">'),
    "model_made": DOC.replace("\t<object>", '\t<object model_made="yes">', 1),
    "score": DOC.replace("</bndbox>\n\t</object>", "</bndbox>\n\t\t<score>0.5</score>\n"
                         "\t</object>", 1),
    "no_flags": DOC.replace("\t\t<truncated>0</truncated>\n\t\t<difficult>0</difficult>\n", ""),
    "flag_words": DOC.replace("<difficult>0<", "<difficult>true<"),
    "non_ascii": DOC.replace("<name>cat</name>", "<name>chat noir é</name>"),
    "no_objects": HEAD + "</annotation>",
    "negative_box": DOC.replace("<xmin>10</xmin>", "<xmin>-5</xmin>"),  # a problem, same words
    "blank_name": DOC.replace("<name>cat</name>", "<name> </name>"),  # an error, same words
    "zero_area": DOC.replace("<xmax>50</xmax>", "<xmax>11</xmax>").replace(
        "<xmin>10</xmin>", "<xmin>12</xmin>"),
}
LEFT = {  # the fast path declines; the full reader answers
    # an empty element inside an object: lxml writes it back as <pose/> in the object's raw
    "empty_pose": DOC.replace("<pose>Unspecified</pose>", "<pose></pose>"),
    "empty_name": DOC.replace("<name>cat</name>", "<name></name>"),
    "empty_score": DOC.replace("</bndbox>\n\t</object>", "</bndbox><score></score></object>", 1),
    "comment": DOC.replace("<name>cat</name>", "<name>ca<!-- x -->t</name>"),
    "comment_between": DOC.replace("\t<object>", "<!-- c -->\t<object>", 1),
    "cdata": DOC.replace("<name>cat</name>", "<name><![CDATA[cat]]></name>"),
    "entity": DOC.replace("<name>cat</name>", "<name>c&amp;t</name>"),
    "char_ref": DOC.replace("<name>cat</name>", "<name>c&#97;t</name>"),
    "namespace": DOC.replace("<annotation>", '<annotation xmlns="urn:x">'),
    "prefixed": DOC.replace("<object>", "<v:object xmlns:v='urn:v'>", 1).replace(
        "</object>", "</v:object>", 1),
    "attribute": DOC.replace("<name>cat</name>", '<name lang="en">cat</name>'),
    "single_quoted_attribute": DOC.replace("<annotation>", "<annotation verified='yes'>"),
    "processing_instruction": DOC.replace("<folder>", "<?pi x?><folder>"),
    "latin1": '<?xml version="1.0" encoding="ISO-8859-1"?>' + DOC,
    "nbsp_between": DOC.replace("\t<object>", "\u00a0<object>", 1),
    "extra_element": DOC.replace("<pose>", "<occluded>0</occluded><pose>", 1),
    "order": DOC.replace("\t\t<truncated>0</truncated>\n\t\t<difficult>0</difficult>\n",
                         "\t\t<difficult>0</difficult>\n\t\t<truncated>0</truncated>\n", 1),
    "text_between": DOC.replace("\t<object>", "stray\t<object>", 1),
    "nan": DOC.replace("<xmin>10</xmin>", "<xmin>nan</xmin>"),
    "huge": DOC.replace("<xmin>10</xmin>", "<xmin>1e999</xmin>"),
    "bad_flag": DOC.replace("<difficult>0<", "<difficult>2x<"),
}
BROKEN = {  # not well-formed or refused: the same error, naming the file
    "truncated_in_object": DOC[: DOC.index("<bndbox>", DOC.index("dog"))],
    "truncated_in_tag": DOC[:-5],
    "no_end": DOC.replace("</annotation>\n", ""),
    "unclosed_value": DOC.replace("</name>", "", 1),
    "mismatched": DOC.replace("</pose>", "</posse>", 1),
    "doctype": '<!DOCTYPE annotation [<!ENTITY e "cat">]>' + DOC,
    "wrong_root": DOC.replace("annotation>", "annotations>"),
    "two_roots": DOC + "<annotation></annotation>",
    "empty": "",
    "bad_utf8": DOC.replace(">cat<", ">c\udcffat<"),
    "nonchar_fffe_in_value": DOC.replace(">cat<", ">c\ufffeat<"),
    "nonchar_ffff_in_filename": DOC.replace(">a.jpg<", ">a\uffff.jpg<"),
}


@pytest.mark.parametrize("name", sorted(TAKEN))
def test_taken_by_the_fast_path_and_read_the_same(name):
    data = TAKEN[name].encode("utf-8", "surrogateescape")
    assert read_plain(data) is not None
    _same(data)


@pytest.mark.parametrize("name", sorted(LEFT))
def test_left_to_the_full_reader(name):
    data = LEFT[name].encode("utf-8")
    assert read_plain(data) is None
    _same(data)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_files_give_the_full_readers_error_with_the_file_name(name):
    data = BROKEN[name].encode("utf-8", "surrogateescape")
    assert read_plain(data) is None
    fast, full = _fast(data), _full(data)
    assert isinstance(fast, str) and fast == full
    assert fast.startswith("d/x.xml: ")


def test_every_cut_of_a_file_agrees():
    data = DOC.encode()
    for n in range(len(data)):
        _same(data[:n])


@pytest.mark.parametrize("box,name", [
    ((10, 20, 50, 60), "cat"), ((1, 1, 100, 80), "cat"), ((0, 20, 50, 60), "cat"),
    ((10, 20, 101, 60), "cat"), ((10, 20, 50, 81), "cat"), ((50, 20, 50, 60), "cat"),
    ((10, 60, 50, 20), "cat"), ((1.5, 1, 99.5, 79.9), "cat"), ((10, 20, 50, 60), " "),
    ((-3, 20, 50, 60), "cat"), ((10, 20, 50, 60), " dog ")])
@pytest.mark.parametrize("encode", [False, True])
def test_inside_is_all_clean_of_the_size(box: tuple, name: str, encode: bool) -> None:
    """``Plain.inside`` (found while reading) = ``voc._all_clean`` of the objects and size;
    ``encoded`` holds each object's fields but raw, in field order."""
    x1, y1, x2, y2 = box
    other = OBJ.replace(">cat<", f">{name}<").replace(">10<", f">{x1}<").replace(
        ">20<", f">{y1}<").replace(">50<", f">{x2}<").replace(">60<", f">{y2}<")
    for doc in (HEAD + OBJ + other + "</annotation>\n", HEAD + other + OBJ + "</annotation>\n"):
        plain = read_plain(doc.encode(), False, encode)
        assert plain is not None and plain.size is not None
        assert plain.inside == voc._all_clean(plain.objects,
                                              (plain.size.width, plain.size.height))
        assert plain.encoded == ([tuple(o.__dict__[f] for f in (
            "name", "box", "difficult", "truncated", "pose", "extra", "score", "model_made"))
            for o in plain.objects] if encode else None)
    assert read_plain((HEAD + "</annotation>\n").encode()).inside is True  # type: ignore[union-attr]
    no_size = (HEAD.split("\t<size>")[0] + "\t<segmented>0</segmented>\n" + OBJ
               + "</annotation>\n").encode()
    assert read_plain(no_size).inside is False  # type: ignore[union-attr]
