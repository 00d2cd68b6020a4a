#!/bin/sh
# Make sure Qt (PySide6) can start on the platform this user will use (QT_QPA_PLATFORM, else the
# session's: Wayland, X11/xcb or offscreen); install what is missing with apt-get on Debian/Ubuntu,
# say exactly what to install elsewhere. See ensure_qt_syslibs.py.
# Usage: ensure-qt-syslibs.sh PYTHON [--for-tests] [--check] [--platform NAME]
PY="$1"
shift
exec "$PY" "$(dirname "$0")/ensure_qt_syslibs.py" "$@"
