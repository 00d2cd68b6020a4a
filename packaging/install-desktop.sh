#!/bin/sh
# Install (or remove) the Detection Workbench launcher for the current user on Linux.
#
# Usage: packaging/install-desktop.sh [--venv | --bundle | --exec PATH] [--uninstall]
#   --venv        the launcher runs .venv/bin/workbench of this checkout (default)
#   --bundle      the launcher runs dist/workbench/workbench (packaging/build.sh makes it)
#   --exec PATH   the launcher runs PATH (a `workbench` executable anywhere)
#   --uninstall   remove the files this script installs
#
# Writes, under ${XDG_DATA_HOME:-~/.local/share} (nothing needs root):
#   applications/io.github.detection_workbench.workbench.desktop   (Exec/TryExec = the executable)
#   icons/hicolor/scalable/apps/io.github.detection_workbench.workbench.svg
#   metainfo/io.github.detection_workbench.workbench.metainfo.xml
# then refreshes the desktop and icon caches when their tools are installed.
set -eu

APP_ID=io.github.detection_workbench.workbench
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${XDG_DATA_HOME:-${HOME:?HOME is not set}/.local/share}
DESKTOP_SRC="$ROOT/resources/$APP_ID.desktop"
METAINFO_SRC="$ROOT/resources/$APP_ID.metainfo.xml"
ICON_SRC="$ROOT/workbench/resources/icons/app.svg"
DESKTOP_DST="$DATA/applications/$APP_ID.desktop"
ICON_DST="$DATA/icons/hicolor/scalable/apps/$APP_ID.svg"
METAINFO_DST="$DATA/metainfo/$APP_ID.metainfo.xml"

MODE=install
EXEC="$ROOT/.venv/bin/workbench"
while [ $# -gt 0 ]; do
    case "$1" in
        --venv) EXEC="$ROOT/.venv/bin/workbench"; shift ;;
        --bundle) EXEC="$ROOT/dist/workbench/workbench"; shift ;;
        --exec) EXEC=${2:?--exec needs a path}; shift 2 ;;
        --exec=*) EXEC=${1#--exec=}; shift ;;
        --uninstall) MODE=uninstall; shift ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install-desktop.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

refresh_caches() {
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$DATA/applications" 2>/dev/null || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$DATA/icons/hicolor/index.theme" ]; then
        gtk-update-icon-cache -q -t "$DATA/icons/hicolor" 2>/dev/null || true
    fi
}

if [ "$MODE" = uninstall ]; then
    for f in "$DESKTOP_DST" "$ICON_DST" "$METAINFO_DST"; do
        if [ -e "$f" ]; then rm -f "$f"; echo "removed $f"; fi
    done
    [ -d "$DATA/applications" ] && refresh_caches
    exit 0
fi

for f in "$DESKTOP_SRC" "$METAINFO_SRC" "$ICON_SRC"; do
    [ -f "$f" ] || { echo "install-desktop.sh: missing $f" >&2; exit 1; }
done
case "$EXEC" in /*) ;; *) EXEC="$(pwd)/$EXEC" ;; esac
if [ ! -x "$EXEC" ]; then
    echo "install-desktop.sh: $EXEC is not an executable file." >&2
    echo "  Run 'make run' (creates .venv) or packaging/build.sh (creates dist/workbench), or pass --exec PATH." >&2
    exit 1
fi
case "$EXEC" in *"
"*) echo "install-desktop.sh: the path of the executable contains a newline" >&2; exit 1 ;; esac

# Exec= quoting (Desktop Entry spec, "The Exec key"): a path with reserved characters goes in
# double quotes with ", `, $ and \ backslash-escaped; then the value is escaped as a string
# (\ -> \\), and a literal % is written %%.
if printf '%s' "$EXEC" | LC_ALL=C grep -q '[^A-Za-z0-9_./+,:@=-]'; then
    QUOTED=$(printf '%s' "$EXEC" | sed -e 's/[\\"`$]/\\&/g' -e 's/^/"/' -e 's/$/"/')
else
    QUOTED=$EXEC
fi
EXEC_VALUE=$(printf '%s' "$QUOTED" | sed -e 's/\\/\\\\/g' -e 's/%/%%/g')
TRYEXEC_VALUE=$(printf '%s' "$EXEC" | sed -e 's/\\/\\\\/g')

mkdir -p "$DATA/applications" "$(dirname "$ICON_DST")" "$DATA/metainfo"
TMP="$DESKTOP_DST.tmp.$$"
trap 'rm -f "$TMP"' EXIT INT TERM
# Replace the program (first word of Exec) and TryExec; keep the arguments (gui %f).
EXEC_VALUE=$EXEC_VALUE TRYEXEC_VALUE=$TRYEXEC_VALUE awk '
    /^Exec=/ { sub(/^Exec=[^ ]*/, ""); print "Exec=" ENVIRON["EXEC_VALUE"] $0; next }
    /^TryExec=/ { print "TryExec=" ENVIRON["TRYEXEC_VALUE"]; next }
    { print }
' "$DESKTOP_SRC" >"$TMP"
chmod 644 "$TMP"
mv -f "$TMP" "$DESKTOP_DST"  # atomic: a desktop never sees half a file
install -m644 "$ICON_SRC" "$ICON_DST"
install -m644 "$METAINFO_SRC" "$METAINFO_DST"
echo "installed $DESKTOP_DST (runs $EXEC)"
echo "installed $ICON_DST"
echo "installed $METAINFO_DST"
if command -v desktop-file-validate >/dev/null 2>&1; then
    desktop-file-validate "$DESKTOP_DST" || echo "install-desktop.sh: warning: desktop-file-validate reported the issues above" >&2
fi
refresh_caches
