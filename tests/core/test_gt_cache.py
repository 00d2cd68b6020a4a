"""workbench.core.gt_cache: parsed VOC ground truth kept by path + size + mtime_ns."""

from __future__ import annotations

import contextlib
import io
import json
import marshal
import os
import time
from pathlib import Path

import pytest

from workbench.core import gt_cache
from workbench.core.gt_cache import GroundTruthCache, cache_enabled
from workbench.core.project import Project
from workbench.core.results import project_ground_truth

PIL = pytest.importorskip("PIL.Image")

XML = """<annotation>
  <folder>JPEGImages</folder>
  <filename>{stem}.jpg</filename>
  <size><width>64</width><height>48</height><depth>3</depth></size>
  <segmented>0</segmented>
{objects}</annotation>
"""
OBJ = """  <object>
    <name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>
    <difficult>{difficult}</difficult>
    <bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox>
  </object>
"""


def write_xml(path: Path, stem: str, boxes: list[tuple]) -> None:
    path.write_text(XML.format(stem=stem, objects="".join(
        OBJ.format(name=n, difficult=d, x1=a, y1=b, x2=c, y2=e) for n, d, a, b, c, e in boxes)))


@pytest.fixture()
def project_dir(tmp_path: Path) -> Path:
    root = tmp_path / "voc"
    (root / "JPEGImages").mkdir(parents=True)
    (root / "Annotations").mkdir()
    for i in range(3):
        PIL.new("RGB", (64, 48), (i * 40, 0, 0)).save(root / "JPEGImages" / f"im{i}.jpg")
        write_xml(root / "Annotations" / f"im{i}.xml", f"im{i}",
                  [("cat", 0, 2 + i, 3, 20, 30), ("dog", 1, 10, 10, 40 + i, 40)])
    # an inverted box: an error, left out (the cache must keep the problem)
    write_xml(root / "Annotations" / "im2.xml", "im2",
              [("cat", 0, 2, 3, 20, 30), ("dog", 0, 30, 10, 20, 40)])
    for i, path in enumerate(sorted(root.rglob("*.*"))):
        age(path, 1000 + i)
    return root


def age(path: Path, seconds: int) -> None:
    """Set ``path``'s mtime ``seconds`` back (files this recent are not cached)."""
    t = time.time_ns() - seconds * 1_000_000_000
    os.utime(path, ns=(t, t))


def read(root: Path, cache_dir: Path) -> tuple[dict, GroundTruthCache]:
    project = Project.open(root)
    store = GroundTruthCache(project, cache_dir)
    gt = project_ground_truth(project, load=store.load)
    store.save()
    return gt, store


def boxes(gt: dict) -> dict:
    return {k: [(o.name, o.box, o.difficult) for o in a.objects] for k, a in gt.items()}


def test_cached_equals_uncached_and_second_run_hits(project_dir: Path, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    plain = project_ground_truth(Project.open(project_dir))
    gt1, s1 = read(project_dir, tmp_path / "c")
    assert (s1.hits, s1.misses) == (0, 3)
    caplog.clear()
    gt2, s2 = read(project_dir, tmp_path / "c")
    assert (s2.hits, s2.misses) == (3, 0)
    assert gt1 == plain and gt2 == plain
    assert boxes(gt2) == {
        "im0": [("cat", (1.0, 2.0, 20.0, 30.0), False), ("dog", (9.0, 9.0, 40.0, 40.0), True)],
        "im1": [("cat", (2.0, 2.0, 20.0, 30.0), False), ("dog", (9.0, 9.0, 41.0, 40.0), True)],
        "im2": [("cat", (1.0, 2.0, 20.0, 30.0), False)]}
    # the left-out object is reported from the cache as from the file
    assert [r.getMessage() for r in caplog.records if "not evaluated" in r.getMessage()] == [
        "object not evaluated: error: Annotations/im2.xml (object 1): inverted box "
        "(30, 10, 20, 40) (xmin > xmax or ymin > ymax)"]
    assert len(list((tmp_path / "c").iterdir())) == 1


def test_edited_file_is_read_again(project_dir: Path, tmp_path: Path) -> None:
    read(project_dir, tmp_path / "c")
    write_xml(project_dir / "Annotations" / "im0.xml", "im0", [("bird", 0, 1, 1, 9, 9)])
    gt, store = read(project_dir, tmp_path / "c")
    assert (store.hits, store.misses) == (2, 1)
    assert boxes(gt)["im0"] == [("bird", (0.0, 0.0, 9.0, 9.0), False)]
    # just written: not kept (racy), read again
    gt, store = read(project_dir, tmp_path / "c")
    assert (store.hits, store.misses) == (2, 1)
    age(project_dir / "Annotations" / "im0.xml", 10)
    gt, store = read(project_dir, tmp_path / "c")
    assert (store.hits, store.misses) == (2, 1)
    gt, store = read(project_dir, tmp_path / "c")
    assert (store.hits, store.misses) == (3, 0)
    assert boxes(gt)["im0"] == [("bird", (0.0, 0.0, 9.0, 9.0), False)]


def test_mtime_alone_or_the_image_changing_reads_again(project_dir: Path,
                                                       tmp_path: Path) -> None:
    read(project_dir, tmp_path / "c")
    xml = project_dir / "Annotations" / "im1.xml"
    st = xml.stat()
    os.utime(xml, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    _, store = read(project_dir, tmp_path / "c")
    assert (store.hits, store.misses) == (2, 1)
    PIL.new("RGB", (32, 24)).save(project_dir / "JPEGImages" / "im0.jpg")  # smaller image
    age(project_dir / "JPEGImages" / "im0.jpg", 10)
    gt, store = read(project_dir, tmp_path / "c")
    assert (store.hits, store.misses) == (2, 1)
    project = Project.open(project_dir)
    entry = next(e for e in project.entries if e.image_id == "im0")
    messages = [p.message for p in store.load(entry)[1]]
    assert messages[0] == "<size> 64x48 differs from the image (32x24)"
    assert messages == [p.message for p in project.load(entry)[1]]
    assert len(gt) == 3


def test_same_size_and_mtime_set_back_is_noticed_by_the_ctime(project_dir: Path,
                                                               tmp_path: Path) -> None:
    xml = project_dir / "Annotations" / "im0.xml"
    read(project_dir, tmp_path / "c")
    st = xml.stat()
    time.sleep(0.02)  # past the file system's timestamp tick
    xml.write_text(xml.read_text().replace("<name>cat</name>", "<name>cow</name>"))
    os.utime(xml, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (xml.stat().st_size, xml.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert xml.stat().st_ctime_ns != st.st_ctime_ns  # utime cannot set the ctime back
    gt, store = read(project_dir, tmp_path / "c")
    assert store.misses == 1
    assert boxes(gt)["im0"][0][0] == "cow"


def test_a_file_replaced_by_a_rename_is_noticed_by_its_inode(project_dir: Path,
                                                             tmp_path: Path) -> None:
    xml = project_dir / "Annotations" / "im0.xml"
    read(project_dir, tmp_path / "c")
    st = xml.stat()
    other = xml.with_suffix(".new")
    other.write_text(xml.read_text().replace("<name>cat</name>", "<name>cow</name>"))
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, xml)
    gt, store = read(project_dir, tmp_path / "c")
    assert store.misses == 1
    assert boxes(gt)["im0"][0][0] == "cow"


@pytest.mark.parametrize("content", [b"", b"\x00garbage", marshal.dumps(("x", {})),
                                     marshal.dumps((("workbench-gt-cache", 999), {}))])
def test_unreadable_or_other_version_is_rebuilt(project_dir: Path, tmp_path: Path,
                                               content: bytes) -> None:
    _, store = read(project_dir, tmp_path / "c")
    store.path.write_bytes(content)
    gt, store = read(project_dir, tmp_path / "c")
    assert (store.hits, store.misses) == (0, 3)
    assert gt == project_ground_truth(Project.open(project_dir))
    _, store = read(project_dir, tmp_path / "c")
    assert (store.hits, store.misses) == (3, 0)


def test_never_trusted_across_folders(project_dir: Path, tmp_path: Path) -> None:
    _, a = read(project_dir, tmp_path / "c")
    other = tmp_path / "other"
    project_dir.rename(other)
    project_dir.mkdir()  # the old path exists again, empty of files
    b_project = Project.open(other)
    b = GroundTruthCache(b_project, tmp_path / "c")
    assert b.path != a.path
    b.path.write_bytes(a.path.read_bytes())  # a's entries under b's name: not used
    gt = project_ground_truth(b_project, load=b.load)
    assert (b.hits, b.misses) == (0, 3)
    assert len(gt) == 3


def run_eval(root: Path, *extra: str) -> dict:
    from workbench.cli import main

    res = root / "results"
    res.mkdir(exist_ok=True)
    (res / "comp4_det_test_cat.txt").write_text("im0 0.9 3 4 20 30\nim1 0.8 4 4 20 30\n")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["eval", str(root), "--results", str(res), "--metric", "voc07",
                     "--json", *extra]) == 0
    return json.loads(buf.getvalue())


def test_cli_no_cache_and_env(project_dir: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("WORKBENCH_GT_CACHE", raising=False)
    folder = tmp_path / "xdg" / "workbench" / "gt"
    first = run_eval(project_dir, "--no-cache")
    assert not folder.exists()
    monkeypatch.setenv("WORKBENCH_GT_CACHE", "0")
    assert not cache_enabled()
    assert run_eval(project_dir) == first
    assert not folder.exists()
    monkeypatch.delenv("WORKBENCH_GT_CACHE")
    assert run_eval(project_dir) == first
    assert len(list(folder.iterdir())) == 1
    assert run_eval(project_dir) == first  # from the cache
    assert first["voc07"]["map"] > 0.3  # detections matched the cached boxes
    assert gt_cache.default_cache_dir() == folder


def test_eval_of_a_results_folder_imports_no_torch_cv2_pil_or_coco(project_dir: Path,
                                                                     tmp_path: Path) -> None:
    import subprocess
    import sys

    res = project_dir / "results"
    res.mkdir()
    (res / "comp4_det_test_cat.txt").write_text("im0 0.9 2 3 20 30\n")
    code = ("import sys, io, contextlib\n"
            "from workbench.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    rc = main(['eval', {str(project_dir)!r}, '--results', {str(res)!r}, "
            "'--metric', 'voc07', '--json'])\n"
            "print(rc, sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'cv2', 'PIL', 'torchvision') or m.startswith('workbench.engine') "
            "or m == 'workbench.core.metrics_coco'))\n")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert out.strip().splitlines()[-1] == "0 []"


@pytest.mark.parametrize("variant", [
    "clean", "size differs", "no size", "png image", "other filename", "box partly outside",
    "empty name", "not plain", "grey jpeg"])
def test_a_cold_read_keeps_what_the_usual_read_gives(project_dir: Path, tmp_path: Path,
                                                      variant: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The cold path (``_read_clean``: files read once, keys from ``fstat``) keeps for each
    file exactly what the usual reading (``Project.load`` without ``voc.read_clean``) and
    ``_stat`` give, and returns the same annotation and problems; files with anything to
    say go the usual way. ``Project.load`` itself (with ``read_clean``) gives the same."""
    ann_dir, img_dir = project_dir / "Annotations", project_dir / "JPEGImages"
    xml = ann_dir / "im0.xml"
    if variant == "size differs":
        xml.write_text(xml.read_text().replace("<width>64</width>", "<width>65</width>"))
    elif variant == "no size":
        xml.write_text(xml.read_text().replace(
            "<size><width>64</width><height>48</height><depth>3</depth></size>\n", ""))
    elif variant == "png image":
        (img_dir / "im0.jpg").unlink()
        PIL.new("RGB", (64, 48)).save(img_dir / "im0.png")
        xml.write_text(xml.read_text().replace("im0.jpg", "im0.png"))
    elif variant == "other filename":
        xml.write_text(xml.read_text().replace("im0.jpg", "elsewhere/im0.jpg"))
    elif variant == "box partly outside":
        write_xml(xml, "im0", [("cat", 0, 2, 3, 70, 30)])
    elif variant == "empty name":
        write_xml(xml, "im0", [("", 0, 2, 3, 20, 30)])
    elif variant == "not plain":
        xml.write_text(xml.read_text().replace("<segmented>", "<!-- c --><segmented>"))
    elif variant == "grey jpeg":
        PIL.new("L", (64, 48)).save(img_dir / "im0.jpg")
    for path in (*ann_dir.iterdir(), *img_dir.iterdir()):
        age(path, 100)
    project = Project.open(project_dir)
    store = GroundTruthCache(project, tmp_path / "c")
    for entry in project.entries:
        got = store.load(entry)
        quick = [project.load(entry, check_image=c) for c in (True, False)]
        with monkeypatch.context() as m:
            m.setattr("workbench.core.project.read_clean", lambda *a, **k: None)
            want = project.load(entry)
            usual = [project.load(entry, check_image=c) for c in (True, False)]
        assert got[0] == want[0] and got[1] == want[1]
        assert quick == usual and [a.raw for a, _ in quick] == [a.raw for a, _ in usual]
        assert [[o.raw for o in a.objects] for a, _ in quick] == \
            [[o.raw for o in a.objects] for a, _ in usual]
        xml_path = os.fspath(entry.xml_path)
        assert store._new[xml_path] == (
            (gt_cache._stat(xml_path), gt_cache._stat(entry.image_path)), gt_cache._encode(want))
    assert (store.hits, store.misses) == (0, 3)
    clean = gt_cache._read_clean(os.fspath(xml), os.fspath(project.entries[0].image_path))
    assert (clean is not None) == (variant in ("clean", "grey jpeg"))


@pytest.mark.parametrize("case", ["clean", "problem first", "problem last", "unreadable",
                                  "shared id", "warm"])
def test_ground_truth_is_project_ground_truth(project_dir: Path, tmp_path: Path, case: str,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """``GroundTruthCache.ground_truth()`` = ``project_ground_truth(project, load=store.load)``:
    the same dict in the same order, the same log records and errors, each file read once."""
    ann_dir = project_dir / "Annotations"
    write_xml(ann_dir / "im2.xml", "im2", [("cat", 0, 2, 3, 20, 30)])  # all clean
    if case == "problem first":
        write_xml(ann_dir / "im0.xml", "im0", [("cat", 0, 2, 3, 70, 30), ("dog", 0, 20, 9, 10, 20)])
    elif case == "problem last":
        write_xml(ann_dir / "im2.xml", "im2", [("cat", 0, 30, 3, 20, 30)])
    elif case == "unreadable":
        (ann_dir / "im1.xml").write_text("<annotation><filename>im1.jpg</filename>")
    elif case == "shared id":
        img = project_dir / "JPEGImages"
        (img / "sub").mkdir()
        PIL.new("RGB", (64, 48)).save(img / "sub" / "im1.jpg")
        (ann_dir / "sub").mkdir()
        write_xml(ann_dir / "sub" / "im1.xml", "im1", [("cat", 0, 2, 3, 20, 30)])
    for path in (*ann_dir.rglob("*.*"), *(project_dir / "JPEGImages").rglob("*.*")):
        age(path, 100)
    if case == "warm":
        read(project_dir, tmp_path / "a")
        read(project_dir, tmp_path / "b")

    def run(root: Path, quick: bool) -> tuple:
        project = Project.open(project_dir)
        store = GroundTruthCache(project, root)
        caplog.clear()
        try:
            gt = store.ground_truth() if quick else project_ground_truth(project,
                                                                         load=store.load)
        except ValueError as exc:
            gt = str(exc)
        records = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
        return gt, list(gt) if isinstance(gt, dict) else None, records, (store.hits,
                                                                        store.misses), \
            store._new

    with caplog.at_level("INFO"):
        quick, usual = run(tmp_path / "a", True), run(tmp_path / "b", False)
    assert quick == usual
    if case in ("clean", "warm"):
        assert quick[1] == ["im0", "im1", "im2"] and quick[2] == []
        assert quick[3] == ((3, 0) if case == "warm" else (0, 3))
        assert len(quick[4]) == 3  # (the same entries kept, cold or warm: quick == usual)
    elif case == "shared id":
        assert "share the id 'im1'" in quick[0]
    else:
        assert any("not evaluated" in m for _, _, m in quick[2])
