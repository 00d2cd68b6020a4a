"""workers/heap.py: the model loader's imports run without full collections and leave the
imported heap frozen (bench/bench_gui_stalls.py: 240-430 ms collections holding the GIL)."""

from __future__ import annotations

import gc

import pytest

from workbench.gui.workers.heap import freeze_long_lived, imports_then_freeze


@pytest.fixture
def clean_gc():
    was_enabled = gc.isenabled()
    gc.unfreeze()
    yield
    gc.unfreeze()
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: tracked by the collector


def test_imports_then_freeze_pauses_then_freezes(clean_gc) -> None:
    gc.enable()
    inside = []
    with imports_then_freeze():
        inside.append(gc.isenabled())
        node = Node()
    assert inside == [False]
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    assert gc.is_tracked(node)
    assert not any(obj is node for obj in gc.get_objects())  # frozen: not in any generation


def test_imports_then_freeze_keeps_a_disabled_collector_disabled(clean_gc) -> None:
    gc.disable()
    with pytest.raises(RuntimeError, match="import failed"), imports_then_freeze():
        raise RuntimeError("import failed")
    assert not gc.isenabled()
    assert gc.get_freeze_count() > 0


def test_freeze_long_lived_leaves_new_objects_collectable(clean_gc) -> None:
    freeze_long_lived()
    frozen = gc.get_freeze_count()
    node = Node()
    assert any(obj is node for obj in gc.get_objects())
    del node
    assert gc.collect() >= 1  # the new cycle is still collected
    assert gc.get_freeze_count() == frozen


@pytest.mark.own_gc  # it checks the automatic collector is back on after the imports
def test_model_loader_imports_without_collection_then_freezes(
        clean_gc, qtbot, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """The background loader's two phases each import with the collector off and freeze after:
    a full collection over torch's objects held the GIL 240-430 ms."""
    from workbench.gui import jobs

    for name in ("stalls_phase_one", "stalls_phase_two"):
        (tmp_path / f"{name}.py").write_text("import gc\nCOLLECTING = gc.isenabled()\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    class TinyLoader(jobs.ModelLoader):
        PANEL_MODULES = ("stalls_phase_one",)
        MODEL_MODULES = ("stalls_phase_two",)
        MODULES = PANEL_MODULES + MODEL_MODULES

    gc.enable()
    loader = TinyLoader()
    with qtbot.waitSignal(loader.loaded, timeout=10_000):
        loader.start()
    import stalls_phase_one
    import stalls_phase_two

    assert (stalls_phase_one.COLLECTING, stalls_phase_two.COLLECTING) == (False, False)
    assert loader.error is None
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    assert not any(obj is stalls_phase_two.__dict__ for obj in gc.get_objects())
    monkeypatch.delitem(__import__("sys").modules, "stalls_phase_one")
    monkeypatch.delitem(__import__("sys").modules, "stalls_phase_two")
