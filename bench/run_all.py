"""Re-measure every figure of bench/README.md in one run: each bench script, raw output kept.

    .venv/bin/python bench/run_all.py --list                 # the scripts, settings, expected time
    .venv/bin/python bench/run_all.py --dry-run              # the commands it would run
    .venv/bin/python bench/run_all.py [--repeat 3]           # run them (about 45 min per round)
    .venv/bin/python bench/run_all.py --only bench_voc,bench_gui --repeat 5
    .venv/bin/python bench/run_all.py --quick --only bench_voc --results-dir /tmp/r  # a smoke test
    .venv/bin/python bench/run_all.py --include-long         # also the hour-long ones

Every bench in :data:`BENCHES` runs in its own process with ``QT_QPA_PLATFORM=offscreen``, with
the settings the figures in bench/README.md were measured with (``--quick``: each script's
quick settings instead, for checking that the scripts run, not for figures). ``--repeat N`` runs
N rounds, interleaved (round 1 runs every bench, then round 2 …), so slow drifts of the machine's
load hit every bench alike.

Written to ``--results-dir`` (default ``bench/results/``):

* ``<script>.txt`` — the raw stdout and stderr of every run of that script, with a header per
  run (command, date, commit, load average, exit status, wall time). A script that writes its
  own log (``--out``) is pointed at a temporary file whose content is appended to the raw output,
  so the logs committed beside it (``startup.txt``, ``big_folder.txt`` …) are not overwritten.
* ``summary.md`` — one table of the scripts (runs, exit statuses, wall time) and, per script,
  every number found in the Markdown tables it printed (``| row | column |`` cells) and in the
  lines its entry names (:attr:`Bench.figures`), as the **median (min–max) over the runs**.

Scripts that need something absent (the raccoon data set, the ``bench`` extra, LabelImg's own
environment for ``bench_startup.py``) say so in their output and exit; the summary shows it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Bench:
    script: str
    #: The settings bench/README.md's figures were measured with.
    args: tuple[str, ...]
    #: Quick settings: seconds, to check the script runs (not for figures).
    quick: tuple[str, ...]
    #: Expected wall seconds per run on the shared 2-core CPU machine (args / quick).
    expected_s: int
    expected_quick_s: int
    what: str
    #: The script takes ``--out FILE`` and writes its own log there.
    has_out: bool = False
    #: Hour-long runs, left out unless ``--include-long``.
    long: bool = False
    #: ``(name, regex)``: numbers in lines outside Markdown tables; each group is one figure,
    #: except a group named ``label``, which names the row.
    figures: tuple[tuple[str, str], ...] = field(default_factory=tuple)


#: Every bench script, in the order bench/README.md lists them. Expected times are rough, from
#: the runs quoted there on the shared 2-core machine (load 3-9); an idle machine is faster.
BENCHES: tuple[Bench, ...] = (
    Bench("bench_gui.py", (), (), 90, 90,
          "labeling window: start-up, repaint with 100-10k boxes, image switch"),
    Bench("bench_startup.py", ("--rounds", "7", "--settled"), ("--rounds", "1"), 90, 15,
          "start-up beside LabelImg 1.8.6 (its venv: see the script's doc)", has_out=True,
          figures=(("ratio to LabelImg", r"ratio[^\n]*?([\d.]+)x[^\n]*?([\d.]+)x"),)),
    Bench("bench_big_folder.py", ("--sizes", "20000,100000", "--rounds", "3"),
          ("--sizes", "2000", "--rounds", "1", "--no-scan"), 420, 40,
          "20k / 100k images: first paint, state scan, filter keystrokes", has_out=True),
    Bench("bench_voc.py", ("--repeat", "5"), ("--repeat", "1"), 20, 8,
          "VOC read / write / validate on raccoon",
          figures=(("validate raccoon, ms", r"validate raccoon[^:]*: ([\d.]+) ms"),
                   ("µs/file, ratio", r"^(?P<label>[A-Za-z][\w+ ()-]*?)\s{2,}([\d.]+)\s+([\d.]+)$"))),
    Bench("bench_formats.py", ("--sizes", "5000", "20000"), ("--sizes", "300"), 300, 20,
          "each label format: files per CPU second, validate", has_out=True),
    Bench("bench_big_annotation.py", ("--sizes", "1000,16000,100000", "--repeat", "3"),
          ("--sizes", "1000", "--repeat", "1", "--no-gui"), 240, 15,
          "one VOC file with 1k-100k objects: read, save, Ctrl+S in the window", has_out=True),
    Bench("bench_metrics.py", ("--images", "5000"), ("--images", "200", "--skip-torchmetrics"),
          300, 20, "COCO mAP vs pycocotools and torchmetrics (needs the bench extra)",
          figures=(("max |diff| full arrays", r"max \|diff\| = ([\d.e+-]+)"),)),
    Bench("bench_proposals.py", ("--images", "8"),
          ("--images", "1", "--repeat", "1"), 600, 60,
          "selective search: ours (coarse pass + segment pass) vs OpenCV at full resolution",
          figures=(("per photo s (OpenCV, ours)", r"per photo: OpenCV ([\d.]+) s, ours ([\d.]+) s"),)),
    Bench("bench_priors_draw.py", ("--frames", "60"), ("--frames", "5"), 60, 20,
          "canvas with all 8,732 SSD300 priors: pan and zoom frames",
          figures=(("build ms, pan ms, pan CPU ms", r"^(?P<label>\S.*?)\s+[\d,]+\s+([\d.]+) \|"
                    r"\s+([\d.]+)\s+([\d.]+)"),)),
    Bench("bench_tuning.py", (), ("--quick",), 240, 90,
          "Detections panel slider → redraw on SSD300; detect throughput"),
    Bench("bench_redraw.py", ("--moves", "200", "--repeats", "3"),
          ("--moves", "10", "--repeats", "1"), 240, 40,
          "slider → pixels at Faster R-CNN scale, in the real window"),
    Bench("bench_train.py", ("--skip-run",),
          ("--skip-run", "--skip-gui", "--loop-steps", "3", "--rounds", "1"), 420, 90,
          "training loop vs a plain torchvision loop; GUI gaps while training"),
    Bench("bench_gui_stalls.py", (), ("--images", "60"), 420, 120,
          "the scripted GUI tour: longest event-loop stall per step",
          figures=(("max stall ms", r"max stall ([\d.]+) ms"),)),
    Bench("bench_large_image.py", ("--repeat", "5"), ("--repeat", "1"), 150, 40,
          "a 108 MP JPEG: preview, tiles, full decode; peak memory",
          figures=(("seconds, peak MiB", r"^(?P<label>\S.*?)\s{2,}([\d.]+)\s+(\d+) MiB"),)),
    Bench("bench_errors.py", (), ("--images", "300", "--slider-images", "100", "--raw", "300",
                                  "--moves", "40"), 480, 40,
          "error analysis: operating point / confusion / per image on 5k x 100; sliders on 1k",
          has_out=True,
          figures=(("p50 ms, p95 ms", r"^(?P<label>(?:score|NMS) move.*?)\s+\d+\s+([\d.]+)"
                    r"\s+([\d.]+)"),)),
    Bench("bench_operating_point_gui.py", (), ("--images", "100", "--candidates", "100",
                                                "--repeat", "10"), 120, 20,
          "Detections panel operating point: a slider move on 1,000 cached images"),
    Bench("bench_runs_panel.py", (), (), 60, 60,
          "Runs panel: GUI-thread cost of comparing three 300-epoch runs"),
    Bench("bench_video.py", (), ("--quick",), 180, 40,
          "video: decode, decode + detect (demo, SSDlite) and tracking, frames/s",
          has_out=True),
    Bench("bench_classics.py", ("--minutes", "1.5", "--threads", "1"),
          ("--minutes", "0.05", "--threads", "1", "--images", "8"), 3600, 300,
          "R-CNN / Fast R-CNN vs SSDlite / Faster R-CNN 320 on raccoon, same CPU budget",
          long=True),
    Bench("bench_demo.py", ("--minutes", "10"), ("--minutes", "0.3", "--images", "40"),
          660, 60, "the CPU demo detector: val mAP per minute on the sample project", long=True),
    Bench("bench_results_read.py", ("--sizes", "5000,20000,100000"),
          ("--sizes", "300", "--repeat", "1"), 900, 60,
          "results files (JSON, devkit) and the VOC07/COCO metric vs --base, 5k-100k",
          has_out=True, long=True),
    Bench("bench_scale.py", ("--sizes", "5000,20000,100000"),
          ("--sizes", "300", "--only", "read-voc,validate"), 5400, 60,
          "readers, results files, eval vs faster-coco-eval and voc_eval.py at 5k-100k",
          has_out=True, long=True),
)


def by_name(name: str) -> Bench:
    stem = name.removesuffix(".py")
    for bench in BENCHES:
        if bench.script.removesuffix(".py") in (stem, f"bench_{stem}"):
            return bench
    raise SystemExit(f"no bench named {name!r}: see --list")


def command(bench: Bench, quick: bool, out_file: Path | None) -> list[str]:
    cmd = [sys.executable, str(ROOT / "bench" / bench.script),
           *(bench.quick if quick else bench.args)]
    if bench.has_out and out_file is not None:
        cmd += ["--out", str(out_file)]
    return cmd


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=False).stdout.strip() or "?"
    except OSError:
        return "?"


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


# -- reading numbers out of a script's output ---------------------------------------------------

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?", re.I)


def _number(cell: str) -> float | None:
    m = NUMBER.search(cell.replace("\u2009", ""))
    if not m:
        return None
    try:
        return float(m.group(0).replace(",", ""))
    except ValueError:
        return None


def _is_label(cell: str) -> bool:
    """A cell that names a row rather than measures it (no digit-led number, not a blank)."""
    cell = cell.strip().strip("*")
    if cell.lower() in ("", "n/a", "-", "—", "–", "not run", "refused"):
        return False
    return not re.match(r"^[-~≈]?\d", cell)


def figures_of(text: str, bench: Bench) -> dict[tuple[str, str], float]:
    """``{(row, column): value}`` of one run's output: every numeric cell of its Markdown tables
    (the row named by its leading text cells), and every group of ``bench.figures``."""
    out: dict[tuple[str, str], float] = {}
    header: list[str] | None = None
    table_keys: set[tuple[str, str]] = set()
    for line in text.splitlines():
        s = line.strip()
        if not (s.startswith("|") and s.endswith("|")):
            header = None
            table_keys = set()
            continue
        cells = [c.strip() for c in s.strip("|").split("|")]
        if all(re.fullmatch(r":?-{3,}:?", c) for c in cells if c):
            continue
        if header is None:
            header = cells
            continue
        label_cells = []
        for cell in cells:
            if not _is_label(cell):
                break
            label_cells.append(cell)
        row = " / ".join(c for c in label_cells if c) or "(row)"
        n = 2
        while any(key[0] == row for key in table_keys):  # the same label twice: number them
            row = f"{' / '.join(c for c in label_cells if c) or '(row)'} ({n})"
            n += 1
        table_keys.add((row, ""))
        for column, cell in zip(header[len(label_cells):], cells[len(label_cells):]):
            value = _number(cell)
            if value is not None:
                out.setdefault((row, column), value)
    for name, pattern in bench.figures:
        for m in re.finditer(pattern, text, flags=re.M):
            label = m.groupdict().get("label")
            values = [g for i, g in enumerate(m.groups(), 1)
                      if g is not None and i != m.re.groupindex.get("label")]
            row = f"{name}: {label.strip()}" if label else name
            for i, g in enumerate(values):
                value = _number(g)
                if value is not None:
                    out.setdefault((row, f"#{i + 1}" if len(values) > 1 else "value"), value)
    return out


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    if abs(x) >= 0.001:
        return f"{x:.3f}"
    return f"{x:.3g}"


def spread(values: list[float]) -> str:
    if len(values) == 1:
        return _fmt(values[0])
    return f"{_fmt(statistics.median(values))} ({_fmt(min(values))}–{_fmt(max(values))})"


# -- running -----------------------------------------------------------------------------------

@dataclass
class Run:
    status: int
    wall_s: float
    figures: dict[tuple[str, str], float]


def run_one(bench: Bench, quick: bool, raw: Path, round_no: int, rounds: int,
            timeout_s: float | None) -> Run:
    with tempfile.TemporaryDirectory(prefix="wb-run-all-") as tmp:
        out_file = Path(tmp) / "out.txt" if bench.has_out else None
        cmd = command(bench, quick, out_file)
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONUNBUFFERED="1")
        head = (f"=== run {round_no}/{rounds} of {bench.script} — {dt.datetime.now():%Y-%m-%d %H:%M:%S}, "
                f"commit {_git_commit()}, load {_load()}, {os.cpu_count()} CPUs\n"
                f"$ {shlex.join(cmd)}\n")
        print(head, end="", flush=True)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, text=True, capture_output=True,
                                  timeout=timeout_s, check=False)
            status, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            status = 124
            stdout = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode()
            stderr = f"run_all: stopped after {timeout_s:.0f} s\n"
        wall = time.perf_counter() - t0
        own_log = ""
        if out_file is not None and out_file.exists():
            own_log = f"--- the script's own --out file ---\n{out_file.read_text(errors='replace')}"
    text = stdout + (f"--- stderr ---\n{stderr}" if stderr.strip() else "") + own_log
    tail = f"=== exit status {status}, {wall:.1f} s wall, load {_load()}\n\n"
    with raw.open("a", encoding="utf-8") as f:
        f.write(head + text + ("" if text.endswith("\n") else "\n") + tail)
    print(f"    exit {status}, {wall:.1f} s", flush=True)
    return Run(status, wall, figures_of(stdout + "\n" + own_log, bench))


def summary(runs: dict[str, list[Run]], benches: list[Bench], quick: bool, started: str,
            load_start: str) -> str:
    lines = [
        "# Benchmark summary",
        "",
        f"`bench/run_all.py{' --quick' if quick else ''}`, started {started}, finished "
        f"{dt.datetime.now():%Y-%m-%d %H:%M}, commit {_git_commit()}, {os.cpu_count()} CPUs, "
        f"load average {load_start} at the start and {_load()} at the end. "
        "Every figure is the median (min–max) over the runs; the raw output of each run is in "
        "`<script>.txt` beside this file."
        + (" **Quick settings: not figures to quote.**" if quick else ""),
        "",
        "| script | runs | exit statuses | wall s | expected s |",
        "| --- | ---: | --- | --- | ---: |",
    ]
    for bench in benches:
        rs = runs.get(bench.script, [])
        if not rs:
            continue
        statuses = ", ".join(str(r.status) for r in rs)
        expected = bench.expected_quick_s if quick else bench.expected_s
        lines.append(f"| [{bench.script}]({bench.script.removesuffix('.py')}.txt) | {len(rs)} | "
                     f"{statuses} | {spread([r.wall_s for r in rs])} | {expected} |")
    for bench in benches:
        rs = runs.get(bench.script, [])
        if not rs:
            continue
        keys: list[tuple[str, str]] = []
        for r in rs:
            keys += [k for k in r.figures if k not in keys]
        lines += ["", f"## {bench.script}", "", bench.what + ".", ""]
        if not keys:
            lines.append("No figures found in its output (see the raw output).")
            continue
        lines += ["| row | column | median (min–max) | runs |", "| --- | --- | --- | ---: |"]
        for key in keys:
            values = [r.figures[key] for r in rs if key in r.figures]
            row, column = (k.replace("|", "\\|") for k in key)
            lines.append(f"| {row} | {column} | {spread(values)} | {len(values)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="print the scripts and exit")
    ap.add_argument("--dry-run", action="store_true", help="print the commands and exit")
    ap.add_argument("--quick", action="store_true",
                    help="each script's quick settings (checks that they run; not figures)")
    ap.add_argument("--only", default="", help="comma-separated scripts (bench_voc or voc)")
    ap.add_argument("--skip", default="", help="comma-separated scripts to leave out")
    ap.add_argument("--include-long", action="store_true",
                    help="also bench_classics.py (1 h), bench_demo.py (11 min), "
                    "bench_results_read.py (15 min) and bench_scale.py (~1.5 h)")
    ap.add_argument("--repeat", type=int, default=1, help="rounds (default 1; 3 for a spread)")
    ap.add_argument("--timeout", type=float, default=None,
                    help="stop a run after this many seconds (default: 3x its expected time)")
    ap.add_argument("--results-dir", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    if args.only:
        benches = [by_name(n) for n in args.only.split(",") if n]
    else:
        benches = [b for b in BENCHES if args.include_long or not b.long]
    skip = {by_name(n).script for n in args.skip.split(",") if n}
    benches = [b for b in benches if b.script not in skip]

    if args.list:
        print(f"{'script':<24} {'expected s':>10} {'quick s':>8}  {'settings':<40} what")
        for b in BENCHES:
            mark = " (long: --include-long)" if b.long else ""
            print(f"{b.script:<24} {b.expected_s:>10} {b.expected_quick_s:>8}  "
                  f"{' '.join(b.args) or '(defaults)':<40} {b.what}{mark}")
        total = sum(b.expected_quick_s if args.quick else b.expected_s for b in benches)
        print(f"\nselected: {len(benches)} scripts, about {total / 60:.0f} min per round")
        return 0
    if args.dry_run:
        for b in benches:
            out = Path(tempfile.gettempdir()) / "wb-run-all-XXXX" / "out.txt" if b.has_out else None
            print(f"QT_QPA_PLATFORM=offscreen {shlex.join(command(b, args.quick, out))}"
                  f"  > {args.results_dir / (b.script.removesuffix('.py') + '.txt')}")
        total = sum(b.expected_quick_s if args.quick else b.expected_s for b in benches)
        print(f"# {len(benches)} scripts x {args.repeat} round(s), about "
              f"{total * args.repeat / 60:.0f} min; summary: {args.results_dir / 'summary.md'}")
        return 0

    args.results_dir.mkdir(parents=True, exist_ok=True)
    started, load_start = f"{dt.datetime.now():%Y-%m-%d %H:%M}", _load()
    raws = {b.script: args.results_dir / (b.script.removesuffix(".py") + ".txt") for b in benches}
    for raw in raws.values():
        raw.write_text("", encoding="utf-8")  # this run's output only
    runs: dict[str, list[Run]] = {}
    for round_no in range(1, args.repeat + 1):
        for b in benches:
            expected = b.expected_quick_s if args.quick else b.expected_s
            timeout = args.timeout if args.timeout is not None else 3 * expected + 60
            runs.setdefault(b.script, []).append(
                run_one(b, args.quick, raws[b.script], round_no, args.repeat, timeout))
            (args.results_dir / "summary.md").write_text(  # kept current while it runs
                summary(runs, benches, args.quick, started, load_start), encoding="utf-8")
    print(f"wrote {args.results_dir / 'summary.md'}")
    return 0 if all(r.status == 0 for rs in runs.values() for r in rs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
