"""Persistent user settings (QSettings): window layout, recent folders, autosave, draw mode.

Everything the window remembers between runs goes through :class:`Settings`, so tests can point
it at a throw-away INI file (``Settings(path)``) and the environment variable
``WORKBENCH_SETTINGS=/path/file.ini`` does the same for a whole process (benchmarks, screenshots).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from workbench.core.fsnames import has_undecodable

ORGANIZATION = "DetectionWorkbench"
APPLICATION = "workbench"
MAX_RECENT = 10


def _to_bool(value: object, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class Settings:
    """Typed access to the QSettings store. ``path``: an INI file instead of the user store."""

    def __init__(self, path: str | Path | None = None) -> None:
        path = path or os.environ.get("WORKBENCH_SETTINGS")
        if path:
            self._qs = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            self._qs = QSettings(ORGANIZATION, APPLICATION)

    def sync(self) -> None:
        self._qs.sync()

    # -- window layout --------------------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        value = self._qs.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        value = self._qs.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def save_layout(self, geometry: QByteArray, state: QByteArray) -> None:
        self._qs.setValue("window/geometry", geometry)
        self._qs.setValue("window/state", state)

    # -- folders --------------------------------------------------------------------------
    def recent_projects(self) -> list[tuple[Path, Path | None]]:
        """Most recent first: ``(images_dir, annotations_dir or None)``."""
        raw = self._qs.value("recent/projects") or []
        if isinstance(raw, str):
            raw = [raw]
        out: list[tuple[Path, Path | None]] = []
        for item in raw:
            images, _, annotations = str(item).partition("|")
            out.append((_path_from_qt(images),
                        _path_from_qt(annotations) if annotations else None))
        return out

    def add_recent_project(self, images_dir: Path, annotations_dir: Path | None) -> None:
        key = (f"{_path_to_qt(Path(images_dir).resolve())}|"
               f"{_path_to_qt(Path(annotations_dir).resolve()) if annotations_dir else ''}")
        current = [f"{_path_to_qt(i)}|{_path_to_qt(a) if a else ''}"
                   for i, a in self.recent_projects()]
        current = [key] + [c for c in current if c != key]
        self._qs.setValue("recent/projects", current[:MAX_RECENT])

    def clear_recent_projects(self) -> None:
        self._qs.remove("recent/projects")

    def last_project(self) -> tuple[Path, Path | None] | None:
        recent = self.recent_projects()
        return recent[0] if recent else None

    def last_image(self, images_dir: Path) -> str | None:
        value = self._qs.value(f"last_image/{_key(images_dir)}")
        return os.fspath(_path_from_qt(str(value))) if value else None

    def set_last_image(self, images_dir: Path, image: Path) -> None:
        self._qs.setValue(f"last_image/{_key(images_dir)}", _path_to_qt(image))

    # -- editing --------------------------------------------------------------------------
    @property
    def autosave(self) -> bool:
        return _to_bool(self._qs.value("edit/autosave"), True)

    @autosave.setter
    def autosave(self, on: bool) -> None:
        self._qs.setValue("edit/autosave", bool(on))

    @property
    def autosave_delay_ms(self) -> int:
        return int(self._qs.value("edit/autosave_delay_ms") or 1500)

    @property
    def draw_sticky(self) -> bool:
        """Stay in draw mode after a box is drawn (LabelImg returns to select mode)."""
        return _to_bool(self._qs.value("edit/draw_sticky"), False)

    @draw_sticky.setter
    def draw_sticky(self, on: bool) -> None:
        self._qs.setValue("edit/draw_sticky", bool(on))

    def default_class(self, images_dir: Path | None) -> str | None:
        value = self._qs.value(f"default_class/{_key(images_dir)}" if images_dir else "default_class")
        return str(value) if value else None

    def set_default_class(self, images_dir: Path | None, name: str | None) -> None:
        key = f"default_class/{_key(images_dir)}" if images_dir else "default_class"
        if name:
            self._qs.setValue(key, name)
        else:
            self._qs.remove(key)


def _key(path: Path | None) -> str:
    # QSettings keys must not contain '/' as data; hex of the resolved path is stable and safe.
    # (the file system's own bytes: a non-UTF-8 folder name has a key too)
    return str(Path(path).resolve()).encode("utf-8", "surrogateescape").hex() if path else "none"


_BYTES_PREFIX = "fsbytes:"


def _path_to_qt(path: str | os.PathLike[str]) -> str:
    """A path as a settings value: as it is, or — when its name holds bytes that are not UTF-8,
    which a Qt string cannot hold (core/fsnames.py) — its bytes in hex after a prefix."""
    text = os.fspath(path)
    if not has_undecodable(text):
        return text
    return _BYTES_PREFIX + os.fsencode(text).hex()


def _path_from_qt(text: str) -> Path:
    if text.startswith(_BYTES_PREFIX):
        try:
            return Path(os.fsdecode(bytes.fromhex(text[len(_BYTES_PREFIX):])))
        except ValueError:
            pass
    return Path(text)
