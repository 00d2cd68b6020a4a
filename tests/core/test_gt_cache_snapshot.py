"""workbench.core.gt_cache.TreeSnapshot: `workbench eval`'s whole ground truth kept with the
state of the images and annotations trees; any change under them opens the project again."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from workbench.cli.eval import load_ground_truth
from workbench.core import gt_cache
from workbench.core.gt_cache import SnapshotProject, TreeSnapshot, tree_state
from workbench.core.project import Project
from workbench.core.results import project_ground_truth

PIL = pytest.importorskip("PIL.Image")

XML = ("<annotation>\n\t<folder>JPEGImages</folder>\n\t<filename>{stem}.jpg</filename>\n"
       "\t<size>\n\t\t<width>64</width>\n\t\t<height>48</height>\n\t\t<depth>3</depth>\n"
       "\t</size>\n\t<segmented>0</segmented>\n{objects}</annotation>\n")
OBJ = ("\t<object>\n\t\t<name>{name}</name>\n\t\t<pose>Unspecified</pose>\n"
       "\t\t<truncated>0</truncated>\n\t\t<difficult>{difficult}</difficult>\n\t\t<bndbox>\n"
       "\t\t\t<xmin>{x1}</xmin>\n\t\t\t<ymin>{y1}</ymin>\n\t\t\t<xmax>{x2}</xmax>\n"
       "\t\t\t<ymax>{y2}</ymax>\n\t\t</bndbox>\n\t</object>\n")


def write_xml(path: Path, stem: str, boxes: list[tuple]) -> None:
    path.write_text(XML.format(stem=stem, objects="".join(
        OBJ.format(name=n, difficult=d, x1=a, y1=b, x2=c, y2=e) for n, d, a, b, c, e in boxes)))


@pytest.fixture()
def trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written by the test are trusted at once (no 'modified too recently')."""
    monkeypatch.setattr(gt_cache, "RACY_NS", -10**15)


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "voc"
    (root / "JPEGImages" / "sub").mkdir(parents=True)
    (root / "Annotations").mkdir()
    for i in range(4):
        PIL.new("RGB", (64, 48), (i * 40, 0, 0)).save(root / "JPEGImages" / f"im{i}.jpg")
        write_xml(root / "Annotations" / f"im{i}.xml", f"im{i}",
                  [("cat", 0, 2 + i, 3, 20, 30), ("dog", i % 2, 10, 10, 40 + i, 40)])
    # an inverted box: an error, that object left out with a warning
    write_xml(root / "Annotations" / "im2.xml", "im2",
              [("cat", 0, 2, 3, 20, 30), ("dog", 0, 30, 10, 20, 40)])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("WORKBENCH_GT_CACHE", raising=False)
    return root


def run(root: Path, need_project: bool = False) -> tuple[object, dict]:
    return load_ground_truth(str(root / "JPEGImages"), str(root / "Annotations"),
                             cache=True, need_project=need_project)


def reference(root: Path) -> dict:
    project = Project.open(root / "JPEGImages", root / "Annotations")
    return project_ground_truth(project)


def same(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    assert a == b  # Annotation equality: every field but raw
    for k in a:
        assert [o.__dict__ | {"raw": None} for o in a[k].objects] == \
            [o.__dict__ | {"raw": None} for o in b[k].objects]


def test_second_run_comes_from_the_snapshot_and_equals_the_project(
        project: Path, trusted: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    first_project, first = run(project)
    assert isinstance(first_project, Project)
    first_log = [r.getMessage() for r in caplog.records]
    assert any("inverted box" in m for m in first_log)
    caplog.clear()
    kept_project, kept = run(project)
    assert isinstance(kept_project, SnapshotProject) and kept_project.format == "voc"
    assert [r.getMessage() for r in caplog.records] == first_log  # the same warnings again
    same(kept, first)
    same(kept, reference(project))
    assert [o.name for o in kept["im2"].objects] == ["cat"]


def test_a_command_that_needs_the_project_opens_it(project: Path, trusted: None) -> None:
    run(project)
    opened, gt = run(project, need_project=True)
    assert isinstance(opened, Project)
    same(gt, reference(project))


def _change_xml_in_place_same_size(root: Path) -> None:
    path = root / "Annotations" / "im1.xml"
    st = os.stat(path)
    text = path.read_text()
    path.write_text(text.replace("<name>cat</name>", "<name>cow</name>", 1))
    assert os.stat(path).st_size == st.st_size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime as before: ctime differs


def _add_image_and_xml(root: Path) -> None:
    PIL.new("RGB", (64, 48)).save(root / "JPEGImages" / "sub" / "new.jpg")
    write_xml(root / "Annotations" / "new.xml", "new", [("bird", 0, 1, 1, 9, 9)])


def _remove_xml(root: Path) -> None:
    (root / "Annotations" / "im3.xml").unlink()


def _replace_image(root: Path) -> None:  # a different size: the XML's <size> now differs
    PIL.new("RGB", (32, 20)).save(root / "JPEGImages" / "im0.jpg")


def _rename_image(root: Path) -> None:
    os.rename(root / "JPEGImages" / "im3.jpg", root / "JPEGImages" / "sub" / "im3.jpg")


def _new_file_in_empty_subfolder(root: Path) -> None:
    PIL.new("RGB", (64, 48)).save(root / "JPEGImages" / "sub" / "im9.jpg")
    write_xml(root / "Annotations" / "im9.xml", "im9", [("cat", 0, 1, 1, 9, 9)])


@pytest.mark.parametrize("change", [
    _change_xml_in_place_same_size, _add_image_and_xml, _remove_xml, _replace_image,
    _rename_image, _new_file_in_empty_subfolder])
def test_any_change_under_the_trees_opens_the_project_again(
        project: Path, trusted: None, change) -> None:  # noqa: ANN001
    run(project)
    assert isinstance(run(project)[0], SnapshotProject)
    change(project)
    opened, gt = run(project)
    assert isinstance(opened, Project)
    same(gt, reference(project))
    kept, again = run(project)  # and the new state is kept in turn
    assert isinstance(kept, SnapshotProject)
    same(again, gt)


def test_recently_modified_trees_are_not_kept(project: Path) -> None:
    run(project)  # files written just now: racy, no snapshot
    opened, gt = run(project)
    assert isinstance(opened, Project)
    assert not list((project.parent / "cache").rglob("*.snap"))


def test_only_with_an_annotations_folder_and_voc(project: Path, trusted: None) -> None:
    for _ in range(2):
        opened, _gt = load_ground_truth(str(project), None, cache=True, need_project=False)
        assert isinstance(opened, Project)
    assert TreeSnapshot(project, None, None).scan() is False
    assert TreeSnapshot(project / "JPEGImages", project / "Annotations", "yolo").scan() is False


def test_duplicate_stems_raise_on_every_run(project: Path, trusted: None) -> None:
    PIL.new("RGB", (64, 48)).save(project / "JPEGImages" / "sub" / "im1.jpg")
    (project / "Annotations" / "sub").mkdir()
    write_xml(project / "Annotations" / "sub" / "im1.xml", "im1", [("cat", 0, 1, 1, 9, 9)])
    for _ in range(2):
        with pytest.raises(ValueError, match="share the id 'im1'"):
            run(project)


def test_a_cache_folder_inside_the_tree_is_left_out(project: Path, trusted: None,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(project / "Annotations" / ".cache"))
    run(project)  # makes the cache folder: the Annotations listing changed after the scan
    assert isinstance(run(project)[0], Project)
    assert list((project / "Annotations" / ".cache").rglob("*.snap"))
    for _ in range(2):  # writing inside the cache folder changes nothing the scan sees
        assert isinstance(run(project)[0], SnapshotProject)


def test_a_damaged_snapshot_is_ignored_and_rewritten(project: Path, trusted: None) -> None:
    run(project)
    (snap,) = (project.parent / "cache").rglob("*.snap")
    snap.write_bytes(b"\x00garbage")
    opened, gt = run(project)
    assert isinstance(opened, Project)
    same(gt, reference(project))
    assert isinstance(run(project)[0], SnapshotProject)


def test_no_cache_reads_the_project(project: Path, trusted: None,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    run(project)
    monkeypatch.setenv("WORKBENCH_GT_CACHE", "0")
    from workbench.core.gt_cache import cache_enabled

    assert cache_enabled() is False
    opened, _ = load_ground_truth(str(project / "JPEGImages"), str(project / "Annotations"),
                                  cache=cache_enabled(), need_project=False)
    assert isinstance(opened, Project)


def test_tree_state_sees_each_kind_of_change(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f.txt").write_text("x")
    os.symlink(tmp_path / "a" / "b", tmp_path / "a" / "loop")  # a folder reached twice
    os.symlink(tmp_path / "nowhere", tmp_path / "a" / "broken")
    state, newest = tree_state([str(tmp_path / "a")])
    assert state[str(tmp_path / "a" / "broken")] is None
    assert str(tmp_path / "a" / "b" / "f.txt") in state or \
        str(tmp_path / "a" / "loop" / "f.txt") in state
    assert newest >= os.stat(tmp_path / "a" / "b" / "f.txt").st_mtime_ns
    time.sleep(0.01)
    (tmp_path / "a" / "b" / "f.txt").write_text("y")  # same size
    assert tree_state([str(tmp_path / "a")])[0] != state
    skipped, _ = tree_state([str(tmp_path / "a")], skip=os.path.realpath(tmp_path / "a" / "b"))
    assert not any(p.endswith("f.txt") for p in skipped)


def _cache_file(root: Path) -> Path:
    (gt,) = (root.parent / "cache").rglob("*.gt")
    return gt


def test_the_snapshot_refers_to_the_cache_file_not_a_copy(project: Path, trusted: None) -> None:
    import marshal

    run(project)
    (snap,) = (project.parent / "cache").rglob("*.snap")
    doc = marshal.loads(snap.read_bytes())
    cache_doc = marshal.loads(_cache_file(project).read_bytes())
    assert doc[2] == os.fspath(_cache_file(project)) and doc[3] == cache_doc[2]
    # rows: image, XML, image id only (the parsed annotations live in the cache file)
    assert sorted(row[1] for row in doc[4]) == sorted(cache_doc[1])
    assert all(len(row) == 3 for row in doc[4])


@pytest.mark.parametrize("what", ["rewritten", "removed", "damaged"])
def test_a_cache_file_changed_since_the_snapshot_opens_the_project(
        project: Path, trusted: None, what: str) -> None:
    import marshal

    _, first = run(project)
    gt = _cache_file(project)
    if what == "rewritten":  # the same entries under another token: not the snapshot's file
        identity, entries, _token = marshal.loads(gt.read_bytes())
        gt.write_bytes(marshal.dumps((identity, entries, "another")))
    elif what == "removed":
        gt.unlink()
    else:
        gt.write_bytes(b"\x00garbage")
    opened, again = run(project)
    assert isinstance(opened, Project)
    same(again, first)
    kept, third = run(project)  # both written anew
    assert isinstance(kept, SnapshotProject)
    same(third, first)


def test_files_of_the_previous_version_are_ignored(project: Path, trusted: None,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    import marshal

    _, first = run(project)
    gt = _cache_file(project)
    (snap,) = (project.parent / "cache").rglob("*.snap")
    identity, entries, _token = marshal.loads(gt.read_bytes())
    old = (identity[0], identity[1] - 1, *identity[2:])
    gt.write_bytes(marshal.dumps((old, entries)))  # version 2's layout
    sdoc = marshal.loads(snap.read_bytes())
    sold = (sdoc[0][0], sdoc[0][1] - 1, *sdoc[0][2:])
    snap.write_bytes(marshal.dumps((sold, sdoc[1], [])))
    caplog.set_level(logging.INFO, logger="workbench.core.gt_cache")
    opened, again = run(project)
    assert isinstance(opened, Project)
    same(again, first)
    messages = [r.getMessage() for r in caplog.records]
    assert any("ignored (another version" in m for m in messages), messages


def test_eval_leaves_no_object_frozen(project: Path, trusted: None) -> None:
    import contextlib
    import gc
    import io

    from workbench.cli import main

    devkit = project / "devkit"
    devkit.mkdir()
    (devkit / "comp4_det_test_cat.txt").write_text("im0 0.9 3 4 20 30\n")
    before = gc.get_freeze_count()
    for _ in range(2):  # cold, then from the snapshot
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["eval", str(project / "JPEGImages"), "--annotations",
                         str(project / "Annotations"), "--results", str(devkit),
                         "--metric", "voc07", "--json"]) == 0
        assert gc.get_freeze_count() == before


def test_a_cold_runs_snapshot_holds_the_trees_state(project: Path, trusted: None) -> None:
    """The files read are not stat'ed again for the snapshot (their stats as read): the state
    kept is what a full scan gives."""
    import marshal

    run(project)
    (snap,) = (project.parent / "cache").rglob("*.snap")
    tops = [os.path.realpath(project / "JPEGImages"), os.path.realpath(project / "Annotations")]
    assert marshal.loads(snap.read_bytes())[1] == tree_state(tops)[0]


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_file_written_while_the_project_is_read_is_seen_next_time(
        project: Path, trusted: None, monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    """A file written after the trees were listed — just before or just after it is read —
    is read again by the next run (its content then is what counts)."""
    read = gt_cache.read_clean_encoded
    target = os.fspath(project / "Annotations" / "im1.xml")

    def edit() -> None:
        write_xml(Path(target), "im1", [("bird", 0, 1, 1, 9, 9)])

    def reading(xml: str, image: str, *args: object, **kwargs: object) -> object:
        if xml == target and when == "before":
            edit()
        got = read(xml, image, *args, **kwargs)  # type: ignore[arg-type]
        if xml == target and when == "after":
            edit()
        return got

    with monkeypatch.context() as m:
        m.setattr(gt_cache, "read_clean_encoded", reading)
        _, first = run(project)
    assert [o.name for o in first["im1"].objects] == (["bird"] if when == "before"
                                                      else ["cat", "dog"])
    _, again = run(project)
    same(again, reference(project))
    assert [o.name for o in again["im1"].objects] == ["bird"]
