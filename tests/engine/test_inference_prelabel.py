"""Pre-labeling a project: which files are written, which are never touched, cancellation."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import pytest

from workbench.core.annotation import Annotation, ImageSize, VocObject


def _helpers():  # tests/detections_helpers.py (tests are not a package)
    spec = importlib.util.spec_from_file_location(
        "detections_helpers", Path(__file__).resolve().parents[1] / "detections_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H = _helpers()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    return H.make_checkpoint(tmp_path_factory.mktemp("prelabel"))


@pytest.fixture
def project_dir(tiny: tuple[Path, list[Path]], tmp_path: Path) -> Path:
    """scene_0: a person's box; scene_1: only old suggestions; scene_2: annotated as empty;
    scene_3: no file."""
    from workbench.core.voc import write_annotation

    for path in tiny[1]:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    size = ImageSize(128, 96, 3)
    write_annotation(Annotation("scene_0.png", size, (VocObject("cat", (8, 6, 58, 46)),)),
                     tmp_path / "scene_0.xml")
    write_annotation(Annotation("scene_1.png", size, (
        VocObject("dog", (1, 1, 20, 20), score=0.9, model_made=True),)), tmp_path / "scene_1.xml")
    write_annotation(Annotation("scene_2.png", size, ()), tmp_path / "scene_2.xml")
    return tmp_path


def _run(tiny: tuple[Path, list[Path]], folder: Path, **kw: object) -> list:
    from workbench.core.project import Project
    from workbench.engine.inference import RawDetector
    from workbench.engine.postprocess import PostprocessSettings
    from workbench.engine.prelabel import prelabel

    detector = RawDetector.from_checkpoint(tiny[0], device="cpu")
    project = Project.open(folder)
    return list(prelabel(detector, project, PostprocessSettings(0.05, 0.45, 5), **kw))


def test_writes_only_unannotated_and_suggestion_only_files(tiny, project_dir: Path) -> None:
    from workbench.core.voc import read_annotation
    from workbench.engine.prelabel import PrelabelFinished

    before = {p.name: p.read_bytes() for p in project_dir.glob("*.xml")}
    events = _run(tiny, project_dir)
    steps, finished = events[:-1], events[-1]
    assert isinstance(finished, PrelabelFinished)
    actions = {s.image.name: s.action for s in steps}
    assert actions == {"scene_0.png": "skipped: has annotations",
                       "scene_1.png": "written",
                       "scene_2.png": "skipped: annotated as empty",
                       "scene_3.png": "written"}
    assert (finished.total, finished.written, finished.skipped) == (4, 2, 2)
    assert not finished.cancelled
    assert (project_dir / "scene_0.xml").read_bytes() == before["scene_0.xml"]
    assert (project_dir / "scene_2.xml").read_bytes() == before["scene_2.xml"]
    for name in ("scene_1.xml", "scene_3.xml"):
        annotation, problems = read_annotation(project_dir / name)
        assert 1 <= len(annotation.objects) <= 5
        assert all(o.model_made and o.score is not None and o.score > 0.05
                   for o in annotation.objects)
        assert 'model_made="yes"' in (project_dir / name).read_text()
    # the old suggestion of scene_1 was replaced, not kept
    annotation, _ = read_annotation(project_dir / "scene_1.xml")
    assert (1.0, 1.0, 20.0, 20.0) not in [o.box for o in annotation.objects]
    assert sum(s.suggestions for s in steps) == finished.suggestions


def test_include_annotated_keeps_people_boxes(tiny, project_dir: Path) -> None:
    from workbench.core.voc import read_annotation

    events = _run(tiny, project_dir, include_annotated=True)
    actions = {s.image.name: s.action for s in events[:-1]}
    assert actions["scene_0.png"] == "written" and actions["scene_2.png"] == "written"
    annotation, _ = read_annotation(project_dir / "scene_0.xml")
    people = [o for o in annotation.objects if not o.model_made]
    assert [(o.name, o.box) for o in people] == [("cat", (8.0, 6.0, 58.0, 46.0))]
    assert len(annotation.objects) > 1


def test_skip_and_unreadable_files_are_never_touched(tiny, project_dir: Path) -> None:
    broken = project_dir / "scene_1.xml"
    broken.write_text("<annotation><object>")  # not well-formed
    events = _run(tiny, project_dir, skip=[project_dir / "scene_3.png"])
    actions = {s.image.name: s.action for s in events[:-1]}
    assert actions["scene_1.png"].startswith("skipped:")
    assert actions["scene_3.png"] == "skipped: open with unsaved edits"
    assert broken.read_text() == "<annotation><object>"
    assert not (project_dir / "scene_3.xml").exists()


def test_stop_cancels_between_images(tiny, project_dir: Path) -> None:
    from workbench.core.project import Project
    from workbench.engine.inference import RawDetector
    from workbench.engine.prelabel import PrelabelFinished, prelabel

    detector = RawDetector.from_checkpoint(tiny[0], device="cpu")
    stop = threading.Event()
    events = []
    for event in prelabel(detector, Project.open(project_dir), stop=stop):
        events.append(event)
        stop.set()  # after the first image
    assert len(events) == 2
    assert isinstance(events[-1], PrelabelFinished) and events[-1].cancelled
    assert detector.forward_images == 0  # scene_0 was skipped, nothing else ran
    assert not (project_dir / "scene_3.xml").exists()
