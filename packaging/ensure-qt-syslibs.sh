#!/bin/sh
# Make sure Qt (PySide6) can start headless; install the Debian libraries it needs if not.
# Usage: ensure-qt-syslibs.sh PYTHON
PY="$1"
check() {
    QT_QPA_PLATFORM=offscreen "$PY" - <<'PYEOF' >/dev/null 2>&1
from PySide6.QtWidgets import QApplication
from PySide6.QtGui import QFontDatabase
app = QApplication([])
assert QFontDatabase.families(), "no fonts"
PYEOF
}
if check; then
    exit 0
fi
echo "Qt cannot start here yet: installing the system libraries it needs (EGL, xkbcommon, fontconfig, fonts)..."
if [ "$(id -u)" != "0" ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
    libegl1 libgl1 libopengl0 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libfreetype6 \
    libdbus-1-3 libglib2.0-0 fonts-dejavu-core
if ! check; then
    echo "Qt still cannot start; see: QT_QPA_PLATFORM=offscreen $PY -c 'from PySide6.QtWidgets import QApplication; QApplication([])'" >&2
    exit 1
fi
