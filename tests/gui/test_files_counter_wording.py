"""The Files dock's counter counts in words that agree with the number (QA: "1 model
suggestions")."""

from __future__ import annotations

import re

from workbench.gui.panels.files import FilesPanel, state_count


def _plain(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html).replace("&nbsp;", " ")


def test_state_count_words() -> None:
    assert state_count("suggestions", 1) == "1 model suggestion"
    assert state_count("suggestions", 2) == "2 model suggestions"
    assert state_count("problems", 1) == "1 has problems"
    assert state_count("problems", 3) == "3 have problems"
    assert state_count("labeled", 1) == "1 labeled"


def test_counter_says_one_model_suggestion(qtbot) -> None:  # noqa: ANN001
    panel = FilesPanel()
    qtbot.addWidget(panel)
    panel.set_entries(["a.jpg"])
    panel.model.set_state(0, "suggestions")
    panel.refresh_counts()
    text = _plain(panel.counter.text())
    assert text.startswith("1 image")
    assert "1 images" not in text
    assert "1 model suggestion" in text
    assert "1 model suggestions" not in text
    panel.set_entries(["a.jpg", "b.jpg"])
    panel.model.set_state(0, "suggestions")
    panel.model.set_state(1, "suggestions")
    panel.refresh_counts()
    text = _plain(panel.counter.text())
    assert text.startswith("2 images")
    assert "2 model suggestions" in text
