"""Re-saving a big annotation (issue 12): read, move one box, save, at 1k / 16k / 100k objects.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_big_annotation.py \
        [--sizes 1000,16000,100000] [--old REV] [--no-gui] [--out bench/results/big_annotation.txt]

For each size N a synthetic VOC file in LabelImg's layout (tab indentation, name / pose /
truncated / difficult / bndbox per object, 20 classes; ~226 bytes per object) is written.
Rows, best of ``--repeat`` runs each:

* ``read``: :func:`workbench.core.voc.read_annotation` (file read + parse, no image check).
* ``save``: :func:`workbench.core.voc.write_annotation` of the annotation with one box moved
  (serialise + atomic write + fsync); ``old save`` (with ``--old REV``): the writer of git
  revision REV's ``workbench/core/voc_write.py`` serialising the same annotation (the
  quadratic one before issue 12 is ``aaf12dc~1``), only up to 16,000 objects.
* GUI (unless ``--no-gui``): the labeling window on a folder holding that file (offscreen):
  ``open`` (``open_project`` until the image and its boxes are shown), ``move`` (one box moved
  by a real Right-arrow key press, until the canvas and the box list show it), ``Ctrl+S
  blocks`` (how long the key press keeps the GUI thread: the write runs on the save thread
  from 1,000 objects on), ``saved after`` (from the key press until the document is marked
  saved and the file holds the moved box) and ``longest stall`` (the longest single pass of
  the event loop meanwhile: the GUI thread's share of finishing the save).

``µs/obj`` divides a time by N: a linear step keeps it flat as N grows. Each size runs in
its own subprocess (a heap left by the previous size would slow the next one's collector).
Numbers depend on the machine and its load: the header records it.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def synthetic_xml(n: int) -> bytes:
    """A LabelImg-layout VOC file with ``n`` objects on a 4000x3000 image."""
    parts = ["<annotation>\n\t<folder>images</folder>\n\t<filename>big.jpg</filename>\n"
             "\t<path>/data/images/big.jpg</path>\n\t<source>\n\t\t<database>Unknown</database>\n"
             "\t</source>\n\t<size>\n\t\t<width>4000</width>\n\t\t<height>3000</height>\n"
             "\t\t<depth>3</depth>\n\t</size>\n\t<segmented>0</segmented>\n"]
    for i in range(n):
        x, y = 1 + (i * 37) % 3940, 1 + (i * 53) % 2950
        parts.append(
            f"\t<object>\n\t\t<name>class{i % 20}</name>\n\t\t<pose>Unspecified</pose>\n"
            f"\t\t<truncated>0</truncated>\n\t\t<difficult>{int(i % 10 == 0)}</difficult>\n"
            f"\t\t<bndbox>\n\t\t\t<xmin>{x}</xmin>\n\t\t\t<ymin>{y}</ymin>\n"
            f"\t\t\t<xmax>{x + 40 + i % 17}</xmax>\n\t\t\t<ymax>{y + 30 + i % 13}</ymax>\n"
            "\t\t</bndbox>\n\t</object>\n")
    parts.append("</annotation>\n")
    return "".join(parts).encode()


def moved(ann, index: int, dx: float = 3.0):  # noqa: ANN001,ANN201
    objs = list(ann.objects)
    o = objs[index]
    objs[index] = dataclasses.replace(o, box=(o.box[0] + dx, o.box[1], o.box[2] + dx, o.box[3]))
    return dataclasses.replace(ann, objects=tuple(objs))


def best(fn, repeat: int) -> tuple[float, object]:  # noqa: ANN001
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def old_writer(rev: str):  # noqa: ANN201
    """``annotation_to_bytes`` of ``workbench/core/voc_write.py`` at git revision ``rev``."""
    src = subprocess.run(["git", "show", f"{rev}:workbench/core/voc_write.py"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "voc_write_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("voc_write_old", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.annotation_to_bytes


def core_rows(n: int, folder: Path, repeat: int, old) -> dict[str, float]:  # noqa: ANN001
    from workbench.core.voc import read_annotation, write_annotation

    xml = folder / "big.xml"
    xml.write_bytes(synthetic_xml(n))
    row = {"MB": xml.stat().st_size / 1e6}
    row["read"], (ann, problems) = best(lambda: read_annotation(xml), repeat)
    assert len(ann.objects) == n and not [p for p in problems if p.severity == "error"]
    edited = moved(ann, n // 2)
    out = folder / "out.xml"
    row["save"], written = best(lambda: write_annotation(edited, out), repeat)
    back, _ = read_annotation(out)
    assert back.objects == edited.objects
    if old is not None and n <= 16000:
        row["old save"], data = best(lambda: old(edited), 1)
        assert data == written.raw  # the same bytes, only slower
    return row


def gui_rows(n: int, folder: Path, repeat: int) -> dict[str, float]:
    from PIL import Image
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    app = QApplication.instance() or QApplication([])
    images = folder / "images"
    images.mkdir()
    Image.new("RGB", (4000, 3000), (90, 90, 90)).save(images / "big.jpg", quality=40)
    xml = images / "big.xml"
    xml.write_bytes(synthetic_xml(n))
    w = MainWindow(Settings(folder / "settings.ini"), panels=[])
    w.resize(1280, 800)
    w.show()
    w.settings.autosave = False
    row: dict[str, float] = {}
    t = time.perf_counter()
    assert w.open_project(images)
    app.processEvents()
    row["open"] = time.perf_counter() - t
    doc = w.document
    assert len(doc.annotation.objects) == n
    w.canvas.setFocus()
    w.canvas.select(n // 2)
    app.processEvents()
    moves, blocks, totals, stalls = [], [], [], []
    for _ in range(repeat):
        x_before = doc.annotation.objects[n // 2].box[0]
        t = time.perf_counter()
        QTest.keyClick(w.canvas, Qt.Key.Key_Right)
        app.processEvents()
        moves.append(time.perf_counter() - t)
        assert doc.annotation.objects[n // 2].box[0] == x_before + 1 and doc.dirty
        t = time.perf_counter()
        QTest.keyClick(w.canvas, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
        blocks.append(time.perf_counter() - t)
        stall = 0.0
        while doc.dirty:
            s = time.perf_counter()
            app.processEvents()
            stall = max(stall, time.perf_counter() - s)
            time.sleep(0.001)
        totals.append(time.perf_counter() - t)
        stalls.append(stall)
    row["move"], row["Ctrl+S blocks"], row["saved after"] = min(moves), min(blocks), min(totals)
    row["longest stall"] = min(stalls)
    from workbench.core.voc import read_annotation

    assert read_annotation(xml)[0].objects == doc.annotation.objects
    w.close()
    w.deleteLater()
    app.processEvents()
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,16000,100000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--old", metavar="REV", help="also time the writer of this git revision")
    ap.add_argument("--no-gui", action="store_true")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child: one size, JSON out
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.one:
        old = old_writer(args.old) if args.old else None
        with tempfile.TemporaryDirectory() as tmp:
            row = core_rows(args.one, Path(tmp), args.repeat, old)
            if not args.no_gui:
                row.update(gui_rows(args.one, Path(tmp), args.repeat))
        print(json.dumps(row))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[tuple[int, dict[str, float]]] = []
    for n in sizes:
        child = [sys.executable, __file__, "--one", str(n), "--repeat", str(args.repeat)]
        child += (["--old", args.old] if args.old else []) + (["--no-gui"] if args.no_gui else [])
        out = subprocess.run(child, capture_output=True, text=True, check=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        rows.append((n, row))
        print(f"{n} objects: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()),
              file=sys.stderr, flush=True)
    cols = [c for c in ("read", "save", "old save", "open", "move", "Ctrl+S blocks",
                        "saved after", "longest stall") if any(c in r for _, r in rows)]
    lines = [f"# bench_big_annotation.py — {platform.node()} {platform.machine()}, "
             f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, Python "
             f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}",
             "# seconds (best of %d) and µs per object; LabelImg-layout VOC, one box moved"
             % args.repeat, ""]
    head = f"{'objects':>8} {'MB':>6} " + " ".join(f"{c:>22}" for c in cols)
    lines += [head, "-" * len(head)]
    for n, row in rows:
        cells = []
        for c in cols:
            v = row.get(c)
            cells.append(f"{'—':>22}" if v is None else f"{v:>9.3f} s {1e6 * v / n:>7.1f} µs")
        lines.append(f"{n:>8} {row['MB']:>6.1f} " + " ".join(cells))
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
