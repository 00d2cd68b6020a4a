"""The fast paths of issue 13 ("reading and writing at scale") give exactly what the reference
code gives: vectorised numbers (core/numtext.py), devkit and COCO results readers
(core/results.py, DetectionRuns), the plain-layout VOC reader (core/voc_plain.py), the metrics
on DetectionRuns, and the streamed COCO export. Speed and linearity are bench/bench_scale.py's
business, not timed here."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from workbench.core import voc
from workbench.core.annotation import Annotation, ImageSize, VocObject
from workbench.core.detection_runs import DetectionRuns
from workbench.core.metrics import evaluate_coco, evaluate_voc
from workbench.core.metrics_data import class_list, flatten_detections
from workbench.core.numtext import parse_decimals, plain_separators, tokens
from workbench.core.results import (
    ResultsError, _coco_entries, _coco_mappings, _devkit_lines, read_coco_results,
    read_devkit_file, read_results,
)
from workbench.core.voc_plain import read_plain

# --------------------------------------------------------------------------- numbers


def _parse(text: str) -> np.ndarray | None:
    buf = np.frombuffer(text.encode(), dtype=np.uint8)
    starts, ends, _ = tokens(buf)
    return parse_decimals(buf, starts, ends)


def test_decimals_are_bit_identical_to_float():
    rng = np.random.default_rng(7)
    words = [f"{v:.{d}f}" for v, d in zip(rng.uniform(-5000, 5000, 3000),
                                          rng.integers(0, 9, 3000))]
    words += [repr(float(v)) for v in rng.uniform(0, 1, 2000)]  # 17 digits: general path
    words += ["0", "-0", "-0.0", "5.", ".5", "-.5", "007", "123456789012345", "0.1", "0.3",
              "999999999999999", "1e-05", "1E+3", "2.5e10", "+4"]
    got = _parse(" ".join(words))
    want = np.array([float(w) for w in words])
    assert got is not None
    assert np.array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))  # -0 stays -0


@pytest.mark.parametrize("bad", ["1.2.3", "--1", "1-", "0x10", "nan", "inf", "1_0", "1e",
                                 ".", "-", "abc", "1,5"])
def test_a_token_float_refuses_makes_the_whole_parse_refuse(bad):
    assert _parse(f"1 {bad} 2") is None


def test_plain_separators():
    assert plain_separators(b"a 1\r\nb 2\n") == b"a 1\nb 2\n"
    for odd in (b"a\r1", b"a\x0b1", b"a\x0c1", b"a\x1c1", b"a\x00", "a\u00a01".encode(),
                "a\u20281".encode(), b"\xff"):
        assert plain_separators(odd) is None, odd


# --------------------------------------------------------------------------- devkit


def _same(a, b) -> None:
    a, b = list(a), list(b)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.image_id == y.image_id
        assert x.boxes.dtype == y.boxes.dtype and x.boxes.shape == y.boxes.shape
        assert np.array_equal(x.boxes, y.boxes) and np.array_equal(x.scores, y.scores)
        assert x.labels.tolist() == y.labels.tolist()


def _devkit_text(rng, n=400) -> str:
    lines = []
    for i in range(n):
        stem = f"{rng.integers(0, 30):06d}" if i % 7 else "imgéx"[: 3 + i % 3]
        x, y = rng.uniform(1, 300, 2).round(rng.integers(0, 4))
        lines.append(f"{stem} {rng.uniform():.6f} {x} {y} {x + rng.integers(1, 50)} "
                     f"{y + rng.integers(1, 50)}")
    return "\n".join(lines)


def test_devkit_fast_path_equals_the_line_reader(tmp_path):
    rng = np.random.default_rng(1)
    text = _devkit_text(rng)
    variants = {
        "plain": text + "\n",
        "crlf_blank_tabs": "\r\n".join(("  \t" if i % 50 == 0 else "") + line.replace(" ", "\t", 1)
                                       for i, line in enumerate(text.split("\n"))) + "\r\n\r\n",
        "no_final_newline": text,
        "empty": "",
    }
    for name, content in variants.items():
        path = tmp_path / f"comp4_det_test_{name}.txt"
        path.write_bytes(content.encode())
        fast = read_devkit_file(path)
        assert isinstance(fast, DetectionRuns), name  # the vectorised path took it
        _same(fast, _devkit_lines(path, name))


def test_devkit_files_the_fast_path_refuses_read_as_before(tmp_path):
    path = tmp_path / "comp4_det_test_cat.txt"
    path.write_bytes(b"a 0.5 1 1 5 5\rb 0.25 1 1 5 5\n")  # a lone CR ends a line too
    got = read_devkit_file(path)
    assert not isinstance(got, DetectionRuns)
    assert [d.image_id for d in got] == ["a", "b"]
    path.write_text("a\u00a00.5 1 1 5 5\n")  # NBSP separates fields for str.split
    assert [d.image_id for d in read_devkit_file(path)] == ["a"]


@pytest.mark.parametrize("content, message", [
    ("a 0.9 1 1 10 10\nb 0.5 1 1 10\n", r"comp4_det_test_cat\.txt:2: expected 'image_id score "
                                        r"xmin ymin xmax ymax', got 5 fields$"),
    ("a 0.9 1 1 10 10\n\nb 0.5 1 1 10 10 11\n", r"\.txt:3: expected .*got 7 fields$"),
    ("a 0.9 1 1 10 10\nb high 1 1 10 10\n", r"\.txt:2: not a number \(could not convert "
                                            r"string to float: 'high'\)$"),
    ("a 0.9 1 1 10 10\na 0.8 1 1 nan 10\n", r"\.txt:2: non-finite value$"),
    ("a 0.9 1 1 10 10\na 0.8 1 1 1e999 10\n", r"\.txt:2: non-finite value$"),
    ("a 0.9 1 1 10 10\nb 0x1 1 1 10 10\n", r"\.txt:2: not a number"),
])
def test_devkit_bad_line_named_with_file_and_line(tmp_path, content, message):
    path = tmp_path / "comp4_det_test_cat.txt"
    path.write_text(content)
    with pytest.raises(ResultsError, match=message) as err:
        read_results(tmp_path)
    assert str(err.value).startswith(str(path))


# --------------------------------------------------------------------------- COCO results


def _coco_items(rng, n=300) -> list[dict]:
    items = []
    for _ in range(n):
        x, y = rng.uniform(0, 300, 2).round(int(rng.integers(0, 5)))
        items.append({"image_id": int(rng.integers(1, 6)), "category_id": int(rng.integers(1, 4)),
                      "bbox": [float(x), float(y), float(rng.uniform(1, 50)), int(rng.integers(1, 9))],
                      "score": float(rng.uniform())})
    items.sort(key=lambda it: it["image_id"])
    return items


IDS = ["a", "b", "c", "d", "e"]
CLASSES = ["cat", "dog", "potted plant"]


@pytest.mark.parametrize("dump", [
    lambda items: json.dumps(items),
    lambda items: json.dumps(items, indent=2),
    lambda items: json.dumps(items, separators=(",", ":")),
    lambda items: json.dumps([{"score": it["score"], "bbox": it["bbox"], "extra": [1, 2],
                               "category_id": it["category_id"], "image_id": it["image_id"]}
                              for it in items]),
    lambda items: json.dumps([dict(it, image_id=float(it["image_id"]), score=1e-7)
                              for it in items]),
])
def test_coco_results_fast_path_equals_the_entry_reader(tmp_path, dump):
    path = tmp_path / "res.json"
    path.write_text(dump(_coco_items(np.random.default_rng(3))))
    fast = read_coco_results(path, image_ids=IDS, classes=CLASSES)
    assert isinstance(fast, DetectionRuns)
    _same(fast, _coco_entries(path, *_coco_mappings(IDS, CLASSES, None)))


@pytest.mark.parametrize("size", [1, 150, 333, 10_000])
def test_coco_results_read_in_slices_equal_the_entry_reader(tmp_path, monkeypatch, size):
    import workbench.core.results as results

    monkeypatch.setattr(results, "_JSON_SLICE", size)  # many slices, boundaries everywhere
    path = tmp_path / "res.json"
    path.write_text(json.dumps(_coco_items(np.random.default_rng(4), n=120), indent=1))
    fast = read_coco_results(path, image_ids=IDS, classes=CLASSES)
    assert isinstance(fast, DetectionRuns)
    _same(fast, _coco_entries(path, *_coco_mappings(IDS, CLASSES, None)))
    items = json.loads(path.read_text())
    items[77]["score"] = "x"  # a bad entry in a later slice: the entry reader names it
    path.write_text(json.dumps(items))
    with pytest.raises(ResultsError, match="entry 77 is not"):
        read_coco_results(path, image_ids=IDS, classes=CLASSES)


@pytest.mark.parametrize("items, message", [
    ([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5},
      {"image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1]}],
     r"res\.json: entry 1 is not \{image_id, category_id, bbox, score\} \('score'\)$"),
    ([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5},
      {"image_id": 9, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}],
     r"entry 1: image_id 9 is not in the image-id mapping \(1\.\.5\); pass the COCO ground "
     r"truth$"),
    ([{"image_id": 1, "category_id": 7, "bbox": [0, 0, 1, 1], "score": 0.5}],
     r"entry 0: category_id 7 is not in the class mapping \(1\.\.3\)"),
    ([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5},
      {"image_id": 1, "category_id": 1, "bbox": [0, 0, 1], "score": 0.5}],
     r"entry 1 is not .*\(not enough values to unpack"),
    ([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5},
      {"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "scor": 0.5}],
     r"entry 1 is not \{image_id"),
    ([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5},
      {"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": "x"}],
     r"entry 1 is not .*could not convert"),
])
def test_coco_results_bad_entry_named(tmp_path, items, message):
    path = tmp_path / "res.json"
    path.write_text(json.dumps(items))
    with pytest.raises(ResultsError, match=message):
        read_results(path, image_ids=IDS, classes=CLASSES)


def test_coco_results_unusual_files_take_the_entry_reader(tmp_path):
    path = tmp_path / "res.json"
    items = [{"image_id": "b", "category_id": "dog", "bbox": [1, 2, 3, 4], "score": 0.5},
             {"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": float("nan")}]
    path.write_text(json.dumps(items))
    got = read_coco_results(path, image_ids=IDS, classes=CLASSES)
    assert not isinstance(got, DetectionRuns)
    assert [d.image_id for d in got] == ["b", "a"]
    path.write_text("[]")
    assert list(read_coco_results(path, image_ids=IDS, classes=CLASSES)) == []
    path.write_text("{not json")
    with pytest.raises(ResultsError, match="not JSON"):
        read_results(path)


# --------------------------------------------------------------------------- metrics on runs


def _fixture():
    rng = np.random.default_rng(5)
    gt = {}
    for i, stem in enumerate(IDS):
        objs = []
        for j in range(4):
            x, y = rng.uniform(0, 200, 2)
            objs.append(VocObject(name=CLASSES[(i + j) % 3], box=(x, y, x + 40, y + 30),
                                  difficult=j == 3))
        gt[stem] = Annotation(filename=f"{stem}.jpg", size=ImageSize(320, 240),
                              objects=tuple(objs))
    items = []
    for n, (_stem, ann) in enumerate(gt.items(), start=1):
        for o in ann.objects:
            for _ in range(3):
                x1, y1, x2, y2 = np.asarray(o.box) + rng.normal(0, 6, 4)
                items.append({"image_id": n, "category_id": CLASSES.index(o.name) + 1,
                              "bbox": [x1, y1, x2 - x1, y2 - y1],
                              "score": round(float(rng.uniform()), 2)})  # ties on purpose
    return gt, items


def test_metrics_on_detection_runs_equal_the_list(tmp_path):
    gt, items = _fixture()
    path = tmp_path / "res.json"
    path.write_text(json.dumps(items))
    runs = read_coco_results(path, image_ids=IDS, classes=CLASSES)
    assert isinstance(runs, DetectionRuns)
    listed = list(runs)
    assert class_list(gt, runs, None) == class_list(gt, listed, None)
    a = flatten_detections(runs, IDS, CLASSES)
    b = flatten_detections(listed, IDS, CLASSES)
    for field in ("image", "cls", "boxes", "scores", "seq"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    for kwargs in ({"use_07_metric": True}, {"use_07_metric": False, "strict": True}):
        assert evaluate_voc(gt, runs, **kwargs).per_class == \
            evaluate_voc(gt, listed, **kwargs).per_class
    c_runs, c_list = evaluate_coco(gt, runs), evaluate_coco(gt, listed)
    assert c_runs.stats.tolist() == c_list.stats.tolist()
    assert np.array_equal(c_runs.precision, c_list.precision)
    # select keeps runs in order, label_counts counts rows
    picked = runs.select([d.image_id != "b" for d in runs])
    assert [d.image_id for d in picked] == [d.image_id for d in listed if d.image_id != "b"]
    assert runs.label_counts() == {c: sum(it["category_id"] == k + 1 for it in items)
                                   for k, c in enumerate(CLASSES)}


def test_flatten_runs_errors_as_the_list():
    runs = DetectionRuns(["a", "zz"], np.array([0, 1, 2]), np.zeros((2, 4)), np.array([0.5, 0.4]),
                         np.array([0, 0]), ["cat"])
    with pytest.raises(ValueError, match="detections for image 'zz', which has no ground truth"):
        flatten_detections(runs, ["a"], ["cat"])
    runs.scores[1] = np.nan
    with pytest.raises(ValueError, match="^zz: NaN detection score$"):
        flatten_detections(runs, ["a", "zz"], ["cat"])


# --------------------------------------------------------------------------- VOC plain layout

LABELIMG = """<annotation verified="yes">
\t<folder>imgs</folder>
\t<filename>a.jpg</filename>
\t<path>/data/imgs/a.jpg</path>
\t<source>
\t\t<database>Unknown</database>
\t</source>
\t<size>
\t\t<width>320</width>
\t\t<height>240</height>
\t\t<depth>3</depth>
\t</size>
\t<segmented>0</segmented>
\t<object>
\t\t<name>cat</name>
\t\t<pose>Unspecified</pose>
\t\t<truncated>0</truncated>
\t\t<difficult>1</difficult>
\t\t<bndbox>
\t\t\t<xmin>10</xmin>
\t\t\t<ymin>20.5</ymin>
\t\t\t<xmax>100</xmax>
\t\t\t<ymax>200</ymax>
\t\t</bndbox>
\t</object>
\t<object model_made="yes">
\t\t<name> dog é </name>
\t\t<bndbox><xmin>300</xmin><ymin>5</ymin><xmax>400</xmax><ymax>50</ymax></bndbox>
\t\t<score>0.75</score>
\t</object>
</annotation>
"""


def _full(data: bytes):
    """The lxml reader alone (what parse_annotation did before the plain path)."""
    saved = voc.read_plain
    voc.read_plain = lambda _data: None
    try:
        return voc.parse_annotation(data, name="x.xml")
    finally:
        voc.read_plain = saved


def _both(data: bytes):
    try:
        fast = voc.parse_annotation(data, name="x.xml")
    except voc.VocError as exc:
        fast = str(exc)
    try:
        full = _full(data)
    except voc.VocError as exc:
        full = str(exc)
    return fast, full


PLAIN_VARIANTS = {
    "labelimg": LABELIMG,
    "crlf": LABELIMG.replace("\n", "\r\n"),
    "declaration": "<?xml version='1.0' encoding='utf-8'?>\n" + LABELIMG,
    "bom": "\ufeff" + LABELIMG,
    "flags_words": LABELIMG.replace("<difficult>1<", "<difficult>true<").replace(
        "<truncated>0<", "<truncated> 0.0 <"),
    "no_size_no_objects": "<annotation><filename>a.jpg</filename></annotation>",
    "empty_values": LABELIMG.replace("<folder>imgs</folder>", "<folder></folder>").replace(
        "<segmented>0</segmented>", "<segmented> </segmented>"),
}
FULL_VARIANTS = {  # other layouts and anything worth a warning: the lxml reader decides
    "comment": LABELIMG.replace("<name>cat</name>", "<name>c<!--x-->at</name>"),
    "extra_child": LABELIMG.replace("<truncated>0</truncated>", "<occluded>1</occluded>"),
    "second_name": LABELIMG.replace("<name>cat</name>", "<name>cat</name><name>dog</name>"),
    "case": LABELIMG.replace("<pose>Unspecified</pose>", "<Pose>Left</Pose>"),
    "nested": LABELIMG.replace("<segmented>0</segmented>", "<objects><object><name>x</name>"
                               "</object></objects>"),
    "entity_ref": LABELIMG.replace("<name>cat</name>", "<name>c&amp;t</name>"),
    "bad_flag": LABELIMG.replace("<difficult>1<", "<difficult>maybe<"),
    "bad_coord": LABELIMG.replace("<xmin>10<", "<xmin>ten<"),
    "bad_score": LABELIMG.replace("<score>0.75<", "<score>high<"),
    "bad_size": LABELIMG.replace("<width>320<", "<width>0<"),
    "doctype": '<!DOCTYPE a [<!ENTITY e "x">]>' + LABELIMG,
    "not_wellformed": LABELIMG.replace("</annotation>", ""),
    "cdata": LABELIMG.replace("<name>cat</name>", "<name><![CDATA[cat]]></name>"),
    "namespaced": LABELIMG.replace("<annotation verified", '<annotation xmlns:v="u" verified'),
    "wrong_root": LABELIMG.replace("annotation", "annotations"),
    "control_char": LABELIMG.replace("<name>cat", "<name>c\x01at"),
}


@pytest.mark.parametrize("name", sorted(PLAIN_VARIANTS))
def test_plain_layout_read_as_the_full_reader_reads_it(name):
    data = PLAIN_VARIANTS[name].encode()
    assert read_plain(data) is not None  # the fast path took it
    (fast, fast_problems), (full, full_problems) = _both(data)
    assert fast == full and fast_problems == full_problems
    assert fast.raw == full.raw
    assert [o.raw for o in fast.objects] == [o.raw for o in full.objects]  # lxml's bytes
    assert [o.__dict__ for o in fast.objects] == [o.__dict__ for o in full.objects]
    # re-saving is unchanged: the writer reads the fast path's raw bytes
    assert voc.annotation_to_bytes(fast) == voc.annotation_to_bytes(full)


@pytest.mark.parametrize("name", sorted(FULL_VARIANTS))
def test_other_files_take_the_full_reader(name):
    data = FULL_VARIANTS[name].encode()
    assert read_plain(data) is None or name in ("bad_flag", "bad_coord", "bad_score",
                                                "bad_size")
    fast, full = _both(data)
    assert fast == full


def test_hostile_files_still_refused():
    with pytest.raises(voc.HostileXmlError):
        voc.parse_annotation(FULL_VARIANTS["doctype"].encode(), name="x.xml")
    big = LABELIMG.replace("<segmented>0</segmented>",
                           "<segmented>0</segmented>" + " " * (voc.MAX_XML_BYTES + 1))
    with pytest.raises(voc.HostileXmlError, match="over the"):
        voc.parse_annotation(big.encode(), name="x.xml")


def test_edited_plain_annotation_rewrites_like_the_full_one(tmp_path):
    import dataclasses

    data = LABELIMG.encode()
    fast, _ = voc.parse_annotation(data, name="x.xml")
    full, _ = _full(data)
    moved = [dataclasses.replace(o, box=(1.0, 2.0, 30.0, 40.0)) if i == 0 else o
             for i, o in enumerate(fast.objects)]
    moved_full = [dataclasses.replace(o, box=(1.0, 2.0, 30.0, 40.0)) if i == 0 else o
                  for i, o in enumerate(full.objects)]
    assert voc.annotation_to_bytes(dataclasses.replace(fast, objects=tuple(moved))) == \
        voc.annotation_to_bytes(dataclasses.replace(full, objects=tuple(moved_full)))


# --------------------------------------------------------------------------- COCO export


def test_streamed_coco_export_holds_what_was_exported(tmp_path):
    from PIL import Image

    from workbench.core.export import export_project, read_export, same_records
    from workbench.core.project import Project

    src = tmp_path / "src"
    src.mkdir()
    for i, body in enumerate((LABELIMG, LABELIMG.replace("a.jpg", "b.jpg"))):
        stem = "ab"[i]
        Image.new("RGB", (320, 240), (90, 90, 90)).save(src / f"{stem}.jpg")
        (src / f"{stem}.xml").write_text(body)
    Image.new("RGB", (320, 240)).save(src / "c.jpg")  # unlabelled: not exported
    out = tmp_path / "out"
    summary = export_project(Project.open(src), out, "coco")
    doc = json.loads((out / "instances.json").read_text())
    assert [im["id"] for im in doc["images"]] == [1, 2]
    assert [a["id"] for a in doc["annotations"]] == list(range(1, summary.objects + 1))
    assert doc["info"] == {"description": "exported by Detection Workbench"}
    assert {c["name"] for c in doc["categories"]} == set(summary.classes)
    assert same_records(read_export(out, "coco"), summary.source)
    assert not [p for p in out.iterdir() if re.match(r"^\..*\.tmp$", p.name)]
    first = doc["annotations"][0]
    assert first["bbox"] == [9.0, 19.5, 91.0, 180.5] and first["difficult"] == 1


def test_mutated_labelimg_files_read_the_same_both_ways():
    """Random one-edit mutations of a LabelImg file: whenever the plain path takes one, the
    lxml reader gives the same annotation, problems and bytes (or the same refusal)."""
    rng = np.random.default_rng(13)
    pieces = ["<", ">", "&", " ", "\n", "\r", "x", "0", "1", "-", ".", "e", '"', "'", "é",
              "\x01", "<b>", "</b>", "<!--c-->", "</name>", "<object>", "&amp;", "\t"]
    taken = 0
    for _ in range(2000):
        text = LABELIMG
        for _ in range(int(rng.integers(1, 3))):
            at = int(rng.integers(0, len(text)))
            if rng.random() < 0.4:
                text = text[:at] + text[at + int(rng.integers(1, 6)):]
            else:
                text = text[:at] + pieces[int(rng.integers(0, len(pieces)))] + text[at:]
        data = text.encode()
        if read_plain(data) is None:
            continue
        taken += 1
        fast, full = _both(data)
        assert fast == full, text
        if isinstance(fast, tuple):
            assert fast[0].raw == full[0].raw
            assert [o.raw for o in fast[0].objects] == [o.raw for o in full[0].objects], text
    assert taken > 60  # the plain path was exercised, not just refused
