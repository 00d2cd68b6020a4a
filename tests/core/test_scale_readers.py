"""Fast paths of the readers at scale (issue 13) against their slow paths on the same input:
the VOC plain-layout loop with its flag memo (core/voc_plain.py) against the full lxml reader
on random and hostile object values, and ``read_bytes`` (core/voc_xml.py, plain ``os`` calls)
against what a file object reads."""

from __future__ import annotations

import os
import random

import pytest

from workbench.core import voc, voc_plain, voc_xml
from workbench.core.voc_plain import read_plain

HEAD = ("<annotation>\n\t<folder>f</folder>\n\t<filename>a.jpg</filename>\n"
        "\t<size>\n\t\t<width>100</width>\n\t\t<height>80</height>\n\t\t<depth>3</depth>\n"
        "\t</size>\n\t<segmented>0</segmented>\n")

POSES = ["", "<pose>Unspecified</pose>", "<pose>Left</pose>", "<pose> Frontal </pose>",
         "<pose></pose>"]
FLAGS = ["", "0", "1", "0.0", "1.0", " 1 ", "true", "False", "yes", "no", "2x", "", "nan",
         "-0", "1e0", "inf"]
NUMBERS = ["10", "20", "50", "60", "10.5", " 12 ", "-5", "0", "-0.0", "1e1", "1E2", "99.",
           ".5", "1e308", "1.7e308", "inf", "-inf", "nan", "1_0", "0x10", "", "x", "+3",
           "100", "80", "1e-320", "\t7\n"]
SCORES = ["", "0.5", "1", "nan", "", "x", " 0.25 "]


def _object(rng: random.Random) -> str:
    parts = ["\t<object%s>\n" % rng.choice(["", ' model_made="yes"', ' model_made="NO"']),
             "\t\t<name>%s</name>\n" % rng.choice(["cat", "dog", " cat ", "", "chat é"])]
    pose = rng.choice(POSES)
    if pose:
        parts.append(f"\t\t{pose}\n")
    for tag in ("truncated", "difficult"):
        flag = rng.choice(FLAGS)
        if flag or rng.random() < 0.3:
            parts.append(f"\t\t<{tag}>{flag}</{tag}>\n")
    parts.append("\t\t<bndbox>\n")
    for tag in ("xmin", "ymin", "xmax", "ymax"):
        common = {"xmin": "10", "ymin": "20", "xmax": "50", "ymax": "60"}[tag]
        value = rng.choice(NUMBERS) if rng.random() < 0.3 else common
        parts.append(f"\t\t\t<{tag}>{value}</{tag}>\n")
    parts.append("\t\t</bndbox>\n")
    score = rng.choice(SCORES) if rng.random() < 0.3 else ""
    if score or rng.random() < 0.05:
        parts.append(f"\t\t<score>{score}</score>\n")
    parts.append("\t</object>\n")
    return "".join(parts)


def _full(data: bytes):
    saved = voc.read_plain
    voc.read_plain = lambda _data: None
    try:
        return voc.parse_annotation(data, name="d/x.xml")
    except voc.VocError as exc:
        return str(exc)
    finally:
        voc.read_plain = saved


def _same(data: bytes) -> bool:
    """The fast reader's answer equals the full reader's; True when the fast path took it."""
    try:
        fast = voc.parse_annotation(data, name="d/x.xml")
    except voc.VocError as exc:
        fast = str(exc)
    full = _full(data)
    assert fast == full
    if isinstance(fast, tuple):
        assert [o.__dict__ for o in fast[0].objects] == [o.__dict__ for o in full[0].objects]
    return read_plain(data) is not None


@pytest.mark.parametrize("memo_size", [4096, 2])
def test_random_objects_read_as_the_full_reader_reads_them(monkeypatch, memo_size):
    # memo_size 2: the pose/flag memo is cleared over and over while files are read
    monkeypatch.setattr(voc_plain, "_FLAG_MEMO_SIZE", memo_size)
    voc_plain._FLAG_MEMO.clear()
    rng = random.Random(13)
    taken = 0
    for _ in range(400):
        objects = "".join(_object(rng) for _ in range(rng.randint(0, 4)))
        taken += _same((HEAD + objects + "</annotation>\n").encode("utf-8"))
    assert 40 < taken < 400  # both paths were exercised
    assert len(voc_plain._FLAG_MEMO) <= max(memo_size, 1)


def test_a_flag_memo_entry_is_the_values_of_its_own_groups():
    voc_plain._FLAG_MEMO.clear()
    doc = (HEAD + "\t<object>\n\t\t<name>a</name>\n\t\t<pose>Left</pose>\n"
           "\t\t<truncated>yes</truncated>\n\t\t<difficult>0.0</difficult>\n\t\t<bndbox>\n"
           "\t\t\t<xmin>1</xmin>\n\t\t\t<ymin>2</ymin>\n\t\t\t<xmax>3</xmax>\n"
           "\t\t\t<ymax>4</ymax>\n\t\t</bndbox>\n\t</object>\n</annotation>\n")
    plain = read_plain(doc.encode())
    assert plain is not None
    obj = plain.objects[0]
    assert (obj.pose, obj.truncated, obj.difficult, obj.box) == ("Left", True, False,
                                                                (0.0, 1.0, 3.0, 4.0))
    # (keyed by the object's whole pose/truncated/difficult run of elements, whitespace kept)
    assert voc_plain._FLAG_MEMO == {
        "<pose>Left</pose>\n\t\t<truncated>yes</truncated>\n\t\t<difficult>0.0</difficult>"
        "\n\t\t": ("Left", True, False)}
    # the same groups again come from the memo, with the same values
    again = read_plain(doc.replace("<name>a<", "<name>b<").encode())
    assert again is not None and again.objects[0].pose == "Left"
    assert again.objects[0].truncated is True and again.objects[0].difficult is False


def test_a_finite_box_whose_sum_overflows_is_left_to_the_full_reader():
    doc = (HEAD + "\t<object>\n\t\t<name>a</name>\n\t\t<bndbox>\n"
           "\t\t\t<xmin>1e308</xmin>\n\t\t\t<ymin>1e308</ymin>\n\t\t\t<xmax>1.7e308</xmax>\n"
           "\t\t\t<ymax>1.7e308</ymax>\n\t\t</bndbox>\n\t</object>\n</annotation>\n").encode()
    assert read_plain(doc) is None
    ann, problems = _full(doc)
    assert ann.objects[0].box == (1e308 - 1, 1e308 - 1, 1.7e308, 1.7e308)
    assert _same(doc) is False


@pytest.mark.parametrize("size", [0, 1, 100, 4095, 4096, 4097, 70_000])
def test_read_bytes_gives_the_files_bytes(tmp_path, size):
    path = tmp_path / "a.xml"
    data = os.urandom(size)
    path.write_bytes(data)
    assert voc_xml.read_bytes(path, "a.xml") == data
    assert voc_xml.read_bytes(str(path), "a.xml") == data


def test_read_bytes_limit_and_errors_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(voc_xml, "MAX_XML_BYTES", 100)
    path = tmp_path / "a.xml"
    path.write_bytes(b"x" * 100)
    assert voc_xml.read_bytes(path, "shown/a.xml") == b"x" * 100
    path.write_bytes(b"x" * 101)
    with pytest.raises(voc_xml.HostileXmlError, match=r"^shown/a\.xml: file is over the 100 "):
        voc_xml.read_bytes(path, "shown/a.xml")
    with pytest.raises(voc_xml.VocReadError,
                       match=r"^shown/b\.xml: cannot read \(No such file or directory\)$"):
        voc_xml.read_bytes(tmp_path / "b.xml", "shown/b.xml")
    with pytest.raises(voc_xml.VocReadError, match=r"^shown/d: cannot read \(Is a directory\)$"):
        voc_xml.read_bytes(tmp_path, "shown/d")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_read_bytes_reads_a_pipe_to_its_end(tmp_path):
    import threading

    path = tmp_path / "p.xml"
    os.mkfifo(path)
    data = b"<annotation/>" * 10_000  # more than one pipe buffer: several short reads

    def write() -> None:
        with open(path, "wb") as fh:
            fh.write(data)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert voc_xml.read_bytes(path, "p.xml") == data
    finally:
        writer.join(timeout=10)
