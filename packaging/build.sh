#!/bin/sh
# Build the one-folder app bundle dist/workbench/ with PyInstaller, then smoke-test it.
#
# Usage: packaging/build.sh [--flavor full|cpu] [--smoke-only] [--no-smoke]
#   --flavor cpu   leave out the CUDA libraries torch only loads on a GPU (see workbench.spec);
#                  the same as WORKBENCH_BUNDLE_FLAVOR=cpu
#   --smoke-only   test an existing dist/workbench/ without building
#   --no-smoke     build only
# PyInstaller is installed into .venv on demand (the `package` extra of pyproject.toml).
# The smoke test runs the built binary (never the venv's Python):
#   workbench --version                         prints the package's version
#   workbench demo DIR --images 3               writes a tiny generated project
#   workbench priors --model ssd300_vgg16       torch + torchvision work: 8732 SSD300 priors
#   workbench gui DIR/images --screenshot PNG   Qt works headless: a PNG of at least 1280x800
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-.venv/bin/python}
FLAVOR=${WORKBENCH_BUNDLE_FLAVOR:-full}
BUILD=1
SMOKE=1
while [ $# -gt 0 ]; do
    case "$1" in
        --flavor) FLAVOR=${2:?--flavor needs full or cpu}; shift 2 ;;
        --flavor=*) FLAVOR=${1#--flavor=}; shift ;;
        --smoke-only) BUILD=0; shift ;;
        --no-smoke) SMOKE=0; shift ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$FLAVOR" in full|cpu) ;; *) echo "build.sh: --flavor must be full or cpu, not '$FLAVOR'" >&2; exit 2 ;; esac
BIN=dist/workbench/workbench

log() { echo "build.sh: $*"; }

if [ "$BUILD" = 1 ]; then
    if [ ! -x "$PY" ]; then
        log "no $PY: creating .venv with the project installed (make .venv/.installed-run)"
        make .venv/.installed-run
    fi
    if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
        log "installing PyInstaller into .venv (extra 'package')"
        CONSTRAINTS=
        if [ "$(uname -m)" = x86_64 ]; then CONSTRAINTS="-c requirements/constraints-x86_64.txt"; fi
        # shellcheck disable=SC2086
        "$PY" -m pip install --disable-pip-version-check $CONSTRAINTS -e '.[package]'
    fi
    log "building the '$FLAVOR' bundle (PyInstaller $("$PY" -c 'import PyInstaller; print(PyInstaller.__version__)'))"
    START=$(date +%s)
    WORKBENCH_BUNDLE_FLAVOR=$FLAVOR nice -n 10 "$PY" -m PyInstaller --noconfirm --clean \
        --log-level WARN --distpath dist --workpath build/pyinstaller packaging/workbench.spec
    END=$(date +%s)
    log "built dist/workbench in $((END - START)) s; size $(du -sh dist/workbench | cut -f1)" \
        "($(find dist/workbench -type f | wc -l) files)"
fi

[ "$SMOKE" = 1 ] || exit 0
[ -x "$BIN" ] || { echo "build.sh: $BIN not found: build first" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
export QT_QPA_PLATFORM=offscreen
export WORKBENCH_SETTINGS="$TMP/settings.ini"  # never read or touch the user's settings
export XDG_DATA_HOME="$TMP/data" XDG_CONFIG_HOME="$TMP/config" XDG_CACHE_HOME="$TMP/cache"

fail() { echo "build.sh: SMOKE TEST FAILED: $*" >&2; exit 1; }

log "smoke 1/4: $BIN --version"
EXPECTED="workbench $("$PY" -c 'import workbench; print(workbench.__version__)' 2>/dev/null || echo '?')"
GOT=$("$BIN" --version) || fail "--version exited $?"
[ "$GOT" = "$EXPECTED" ] || [ "$EXPECTED" = "workbench ?" ] || fail "--version printed '$GOT', expected '$EXPECTED'"
log "  $GOT"

log "smoke 2/4: $BIN demo (a tiny generated project)"
"$BIN" demo "$TMP/project" --images 3 --seed 1 >"$TMP/demo.log" 2>&1 || { cat "$TMP/demo.log"; fail "demo exited non-zero"; }
N=$(find "$TMP/project/annotations" -name '*.xml' | wc -l)
[ "$N" -eq 3 ] || fail "demo wrote $N annotation files, expected 3"

log "smoke 3/4: $BIN priors --model ssd300_vgg16 (torch + torchvision)"
"$BIN" priors --model ssd300_vgg16 --json >"$TMP/priors.json" 2>"$TMP/priors.log" || { cat "$TMP/priors.log"; fail "priors exited non-zero"; }
grep -q '"total": 8732' "$TMP/priors.json" || fail "priors: expected \"total\": 8732 in $(head -c 200 "$TMP/priors.json")"

log "smoke 4/4: $BIN gui --screenshot (Qt, offscreen)"
"$BIN" gui "$TMP/project/images" --annotations "$TMP/project/annotations" --screenshot "$TMP/out.png" \
    >"$TMP/gui.log" 2>&1 || { cat "$TMP/gui.log"; fail "gui --screenshot exited non-zero"; }
[ -s "$TMP/out.png" ] || fail "no screenshot written"
# Width and height from the PNG's IHDR chunk (bytes 16-23, big-endian), no Python needed.
W=$(od -An -tu1 -j16 -N4 "$TMP/out.png" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
H=$(od -An -tu1 -j20 -N4 "$TMP/out.png" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
[ "$(head -c 8 "$TMP/out.png" | od -An -c | tr -d ' ')" = '211PNG\r\n032\n' ] || fail "out.png is not a PNG"
[ "$W" -ge 1280 ] && [ "$H" -ge 800 ] || fail "screenshot is ${W}x${H}, expected at least 1280x800"
if [ -n "${WORKBENCH_SMOKE_SCREENSHOT:-}" ]; then cp "$TMP/out.png" "$WORKBENCH_SMOKE_SCREENSHOT"; fi
log "  screenshot ${W}x${H}"
log "smoke test passed"
