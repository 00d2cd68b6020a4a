"""Issue 14: opening a flat VOC folder walks it once — the walk of format detection
(``project_scan._scan_folder``) gives both the detection's listing and the project's scan.
These tests hold that walk to ``list_folder`` and to ``Project.rescan``'s own walk on a folder
with the cases their rules treat apart."""

from __future__ import annotations

import os
import time

import pytest

import workbench.core.project as project_mod
from workbench.core.formats import list_folder
from workbench.core.project import OpenCancelled, Project
from workbench.core.project_scan import _scan_folder

XML = ("<annotation><filename>{name}</filename><size><width>10</width><height>10</height>"
       "<depth>3</depth></size><object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
       "<xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>")


def _tree(root):
    root.mkdir()
    for name in ("img10.jpg", "img2.JPG", "IMG1.png", ".hidden.jpg", ".jpg", "noext", "a.txt",
                 "data.yaml", "x.json", "img2.webp"):
        (root / name).write_bytes(b"")
    (root / "img2.xml").write_text(XML.format(name="img2.JPG"))
    (root / "IMG1.XML").write_text(XML.format(name="IMG1.png"))
    (root / "stray.xml").write_text(XML.format(name="gone.jpg"))  # an orphan
    sub = root / "sub"
    sub.mkdir()
    (sub / "img3.jpg").write_bytes(b"")
    (sub / "img3.xml").write_text(XML.format(name="img3.jpg"))
    (root / ".hiddendir").mkdir()
    (root / ".hiddendir" / "img4.jpg").write_bytes(b"")
    stale = root / ".img9.xml.abcdef12.tmp"  # a save killed midway, long ago
    stale.write_text("x")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    if os.name == "posix":
        os.symlink(root / "img10.jpg", root / "link5.jpg")
        os.symlink(root / "loop.jpg", root / "loop.jpg")  # a symlink loop
        os.symlink(sub, root / "linkdir")  # listed as a folder, not entered
    return root


def _snapshot(project):
    return ([(e.image_path, e.xml_path, e.has_xml, e.key, e.image_id) for e in project.entries],
            list(project.orphans), [(p.file, p.message) for p in project.scan_problems],
            project.layout, project.format)


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_walk_gives_the_listing_of_list_folder(tmp_path):
    root = _tree(tmp_path / "f").resolve()
    scan = _scan_folder(root)
    assert scan.listing == list_folder(root)
    # natural order, hidden images too; ".jpg" (no stem) is listed but not an image of the scan
    assert [p.name for p in scan.images] == [".hidden.jpg", "IMG1.png", "img2.JPG", "img2.webp",
                                             "img10.jpg", "link5.jpg", "loop.jpg", "img3.jpg"]
    assert [p.name for p in scan.listing.images][:2] == [".hidden.jpg", ".jpg"]
    assert [p.name for p in scan.links[0]] == ["link5.jpg", "loop.jpg"]
    assert [os.fspath(p) for p in scan.images] == scan.image_strs
    assert sorted(p.name for p in scan.xmls) == ["IMG1.XML", "img2.xml", "img3.xml",
                                                 "stray.xml"]
    assert [p.name for p in scan.temps] == [".img9.xml.abcdef12.tmp"]


def test_open_walks_a_flat_folder_once_and_matches_a_rescan(tmp_path, monkeypatch):
    root = _tree(tmp_path / "f")
    walks = []
    real_walk = project_mod._walk
    monkeypatch.setattr(project_mod, "_walk", lambda folder: walks.append(folder) or
                        real_walk(folder))
    project = Project.open(root)
    assert walks == []  # the detection's walk was used
    opened = _snapshot(project)
    assert not (root / ".img9.xml.abcdef12.tmp").exists()  # stale temp removed, as before
    assert [e.key for e in project.entries][:4] == [".hidden.jpg", "IMG1.png", "img2.JPG",
                                                    "img2.webp"]
    assert [o.name for o in project.orphans] == ["stray.xml"]
    project.rescan()
    assert len(walks) == 1  # a rescan walks the folder itself
    assert _snapshot(project) == opened


def _dataset(root, images="JPEGImages", annotations="Annotations"):
    """A VOC root (or images/ + annotations/): images in two sub-folders, an orphan XML, a
    stale temp in each, other folders beside (ImageSets, masks: not the project's images)."""
    (root / images / "b").mkdir(parents=True)
    (root / annotations / "b").mkdir(parents=True)
    for rel in ("a10.jpg", "a2.jpg", "b/b1.png", ".hid.jpg"):
        (root / images / rel).write_bytes(b"")
    for rel, name in (("a2.xml", "a2.jpg"), ("b/b1.xml", "b1.png"), ("gone.xml", "gone.jpg")):
        (root / annotations / rel).write_text(XML.format(name=name))
    (root / images / "a10.xml").write_text(XML.format(name="a10.jpg"))  # not beside: ignored
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "train.txt").write_text("a2\n")
    (root / "SegmentationClass").mkdir()
    (root / "SegmentationClass" / "a2.png").write_bytes(b"")
    old = time.time() - 3600
    for folder in (images, annotations):
        stale = root / folder / ".x.xml.abcdef12.tmp"
        stale.write_text("x")
        os.utime(stale, (old, old))
    return root


@pytest.mark.parametrize(("images", "annotations", "layout"), [
    ("JPEGImages", "Annotations", "voc"), ("images", "annotations", "separate")])
def test_open_of_a_dataset_root_walks_it_once_and_matches_a_rescan(tmp_path, monkeypatch,
                                                                   images, annotations,
                                                                   layout):
    root = _dataset(tmp_path / "voc", images, annotations)
    walks = []
    real_walk = project_mod._walk
    monkeypatch.setattr(project_mod, "_walk", lambda folder: walks.append(folder) or
                        real_walk(folder))
    project = Project.open(root)
    assert walks == []  # the detection's walk of the root gave both folders
    assert project.layout == layout
    assert [(e.key, e.has_xml) for e in project.entries] == [
        (".hid.jpg", False), ("a2.jpg", True), ("a10.jpg", False), ("b/b1.png", True)]
    assert [o.name for o in project.orphans] == ["gone.xml"]
    assert not list(root.rglob("*.tmp"))  # the stale temps of both folders removed
    opened = _snapshot(project)
    project.rescan()
    assert len(walks) == 2 and _snapshot(project) == opened  # a rescan walks both itself


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_a_symlinked_images_folder_is_walked_itself(tmp_path, monkeypatch):
    """The root's walk does not enter a symlinked folder; the project's images are in it."""
    data = _dataset(tmp_path / "disk")
    root = tmp_path / "voc"
    root.mkdir()
    os.symlink(data / "JPEGImages", root / "JPEGImages")
    os.symlink(data / "Annotations", root / "Annotations", target_is_directory=True)
    walks = []
    real_walk = project_mod._walk
    monkeypatch.setattr(project_mod, "_walk", lambda folder: walks.append(folder) or
                        real_walk(folder))
    project = Project.open(root)
    assert project.layout == "voc" and len(walks) == 2
    assert [(e.key, e.has_xml) for e in project.entries] == [
        (".hid.jpg", False), ("a2.jpg", True), ("a10.jpg", False), ("b/b1.png", True)]


def test_subtree_of_a_folder_the_walk_did_not_enter(tmp_path):
    root = _dataset(tmp_path / "voc")
    (root / ".cache" / "JPEGImages").mkdir(parents=True)
    scan = _scan_folder(root.resolve())
    assert scan.subtree(root.resolve()) is scan
    assert scan.subtree(tmp_path) is None  # above the root
    assert scan.subtree(root.resolve() / ".cache" / "JPEGImages") is None  # hidden on the way
    assert scan.subtree(root.resolve() / "missing") is None
    part = scan.subtree(root.resolve() / "JPEGImages")
    assert [p.name for p in part.images] == [".hid.jpg", "a2.jpg", "a10.jpg", "b1.png"]
    assert [p.name for p in part.xmls] == ["a10.xml"]
    assert [p.name for p in part.temps] == [".x.xml.abcdef12.tmp"]


def test_stop_during_the_detection_walk(tmp_path):
    root = _tree(tmp_path / "f")
    with pytest.raises(OpenCancelled):
        Project.open(root, stop=lambda: True)


def test_gc_paused_nests_and_puts_the_collector_back(tmp_path):
    import gc
    import threading

    from workbench.core.gc_pause import paused as gc_paused

    assert gc.isenabled()
    seen = []
    with gc_paused():
        seen.append(gc.isenabled())
        with gc_paused():
            seen.append(gc.isenabled())
        seen.append(gc.isenabled())  # the outer scan still runs
        done = threading.Event()

        def other() -> None:  # a scan on another thread ends first
            with gc_paused():
                seen.append(gc.isenabled())
            done.set()
        threading.Thread(target=other).start()
        done.wait(10)
        seen.append(gc.isenabled())
    assert seen == [False, False, False, False, False]
    assert gc.isenabled()
    with pytest.raises(OpenCancelled):  # also after an error inside
        Project.open(_tree(tmp_path / "f"), stop=lambda: True)
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()
