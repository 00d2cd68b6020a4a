"""Helpers shared by the labeling-window tests: real mouse gestures on the canvas viewport."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest


def to_view(view, x: float, y: float) -> QPoint:  # noqa: ANN001
    """Viewport point of scene (image px) point ``(x, y)``."""
    return view.mapFromScene(QPointF(x, y))


def drag(view, start: tuple[float, float], end: tuple[float, float], steps: int = 4,  # noqa: ANN001
         button: Qt.MouseButton = Qt.MouseButton.LeftButton) -> None:
    """Press at ``start``, move in ``steps`` and release at ``end`` (image px), on the viewport."""
    vp = view.viewport()
    a, b = to_view(view, *start), to_view(view, *end)
    QTest.mouseMove(vp, a)
    QTest.mousePress(vp, button, Qt.KeyboardModifier.NoModifier, a)
    for i in range(1, steps + 1):
        p = a + (b - a) * (i / steps)
        QTest.mouseMove(vp, p)
    QTest.mouseRelease(vp, button, Qt.KeyboardModifier.NoModifier, b)


def click(view, x: float, y: float,  # noqa: ANN001
          modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    vp = view.viewport()
    p = to_view(view, x, y)
    QTest.mouseMove(vp, p)
    QTest.mouseClick(vp, Qt.MouseButton.LeftButton, modifier, p)


def exact_view_point(view, x: float, y: float) -> tuple[float, float]:  # noqa: ANN001
    """Image px the canvas will compute back from the viewport point of ``(x, y)``."""
    p = to_view(view, x, y)
    inv, _ = view.viewportTransform().inverted()
    q = inv.map(QPointF(p))
    return q.x(), q.y()


LABELIMG_XML = """<annotation>
\t<folder>images</folder>
\t<filename>{name}</filename>
\t<path>/somewhere/{name}</path>
\t<source>
\t\t<database>Unknown</database>
\t</source>
\t<size>
\t\t<width>{w}</width>
\t\t<height>{h}</height>
\t\t<depth>3</depth>
\t</size>
\t<segmented>0</segmented>
{objects}</annotation>
"""

OBJECT_XML = """\t<object>
\t\t<name>{cls}</name>
\t\t<pose>Unspecified</pose>
\t\t<truncated>0</truncated>
\t\t<difficult>0</difficult>
\t\t<bndbox>
\t\t\t<xmin>{xmin}</xmin>
\t\t\t<ymin>{ymin}</ymin>
\t\t\t<xmax>{xmax}</xmax>
\t\t\t<ymax>{ymax}</ymax>
\t\t</bndbox>
\t</object>
"""


def write_labelimg_xml(path, name: str, size: tuple[int, int], objects) -> None:  # noqa: ANN001
    """A LabelImg-style file; ``objects``: ``(class, xmin, ymin, xmax, ymax)`` VOC integers."""
    body = "".join(OBJECT_XML.format(cls=c, xmin=a, ymin=b, xmax=x, ymax=y)
                   for c, a, b, x, y in objects)
    path.write_text(LABELIMG_XML.format(name=name, w=size[0], h=size[1], objects=body))


def make_project(root, n: int = 4, size: tuple[int, int] = (320, 240)):  # noqa: ANN001
    """``root/images/img{i}.png`` (flat colours) with XML for img0 (1 cat) and img2 (dog, cat);
    img1 and img3 have no annotation. Returns the images folder."""
    from PySide6.QtGui import QColor, QImage

    images = root / "images"
    images.mkdir(parents=True)
    for i in range(n):
        image = QImage(size[0], size[1], QImage.Format.Format_RGB888)
        image.fill(QColor(40 + 50 * i, 90, 120))
        assert image.save(str(images / f"img{i}.png"))
    write_labelimg_xml(images / "img0.xml", "img0.png", size, [("cat", 11, 21, 100, 120)])
    write_labelimg_xml(images / "img2.xml", "img2.png", size,
                       [("dog", 31, 41, 130, 140), ("cat", 151, 51, 250, 200)])
    return images


def shown_window(qtbot, settings_file):  # noqa: ANN001,ANN201 (MainWindow)
    """A real MainWindow (no panels) shown, exposed and active — window shortcuts need an
    active window."""
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    w = MainWindow(Settings(settings_file), panels=[])
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    return w


def panel_spec(class_name: str) -> tuple[str, str, str]:
    """The registry's ``(module, class, title)`` of a panel (what ``MainWindow(panels=...)``
    takes)."""
    from workbench.gui.panels.registry import PANELS

    return next(spec for spec in PANELS if spec[1] == class_name)


def key_of(spec: tuple[str, str, str]) -> str:
    """The panel host's key of a registry entry (``panel_host.docks[key]``)."""
    return f"{spec[0]}.{spec[1]}"


def open_panel(window, spec: tuple[str, str, str]):  # noqa: ANN001, ANN201
    """Open a registry panel as the Panels menu does (its dock shown and brought to the front;
    the panel is built a moment later) and return it once it is built and visible."""
    host = window.panel_host
    key = key_of(spec)
    host.docks[key].toggleViewAction().trigger()
    for _ in range(100):
        QTest.qWait(20)
        if key in host.panels and host.panels[key].isVisible():
            break
    panel = host.panels[key]
    assert panel.isVisible()
    return panel


def project_window(qtbot, settings_file, images, panels, size=(1400, 900)):  # noqa: ANN001,ANN201
    """A real MainWindow with these registry ``panels``, shown at ``size``, with the folder
    ``images`` open and its file states scanned (the panel tests' common start)."""
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    w = MainWindow(Settings(settings_file), panels=list(panels))
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    assert w.open_project(images)
    w.scanner.run_to_end()
    return w


def window_without_dialogs(qtbot, tmp_path, monkeypatch):  # noqa: ANN001,ANN201 (MainWindow)
    """:func:`shown_window` with a 2-image project open and every question dialog failing the
    test if it is asked (the open-folder tests' common start)."""
    import pytest

    from workbench.gui import dialogs

    for name in ("ask_yes_no", "ask_save_discard_cancel", "ask_text", "choose_class",
                 "choose_reassignment"):
        monkeypatch.setattr(dialogs, name, lambda *a, **k: pytest.fail(f"dialog {a[1:3]}"))
    w = shown_window(qtbot, tmp_path / "settings.ini")
    assert w.open_project(make_project(tmp_path / "first", n=2))
    return w
