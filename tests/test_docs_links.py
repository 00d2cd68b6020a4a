"""Every relative link and image in the docs points at a file that exists, and every ``#anchor``
at a heading of the page it names (GitHub's heading slugs).

Checked: README.md, docs/*.md and bench/README.md. External links (http, https, mailto) are not
fetched. Links inside fenced code blocks are not links.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]


def prose_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, line)`` outside fenced code blocks."""
    out, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append((number, line))
    return out


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text: links reduced to their text, markup dropped,
    lower case, punctuation removed, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    for m in re.finditer(r"<a\s+(?:name|id)=\"([^\"]+)\"", path.read_text(encoding="utf-8")):
        out.add(m.group(1))
    return out


def broken_links(path: Path) -> list[str]:
    problems = []
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for m in LINK.finditer(line):
            target = m.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / unquote(file_part)).resolve() if file_part else path
            where = f"{path.relative_to(ROOT)}:{number}: {target}"
            if not dest.exists():
                shown = dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest
                problems.append(f"{where} -> {shown} does not exist")
            elif anchor and dest.suffix == ".md" and unquote(anchor) not in anchors(dest):
                problems.append(f"{where} -> no heading #{anchor} in {dest.name}")
    return problems


def test_slug_follows_github() -> None:
    assert slug("`bench_gui.py`") == "bench_guipy"
    assert slug("Priors & anchors") == "priors--anchors"
    assert slug("PASCAL VOC XML: what happens to the files") == "pascal-voc-xml-what-happens-to-the-files"
    assert slug("Undo, saving, and never losing work") == "undo-saving-and-never-losing-work"


def test_the_checker_finds_a_broken_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "a.md").write_text("# Top\n\n[ok](a.md#top) [gone](b.md) ![pic](p.png) "
                                   "[no anchor](#nowhere)\n\n```\n[code](c.md)\n```\n",
                                   encoding="utf-8")
    assert broken_links(tmp_path / "a.md") == [
        "a.md:3: b.md -> b.md does not exist",
        "a.md:3: p.png -> p.png does not exist",
        "a.md:3: #nowhere -> no heading #nowhere in a.md",
    ]


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_image_exists(path: Path) -> None:
    assert path.exists(), path
    assert broken_links(path) == []
