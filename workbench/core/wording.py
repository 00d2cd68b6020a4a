"""Counts in messages: "1 box", "2 boxes" — never "1 objects" or "box(es)"."""

from __future__ import annotations

#: Nouns whose plural is not ``noun + "s"``.
_PLURALS = {"box": "boxes", "class": "classes", "image": "images", "difficulty": "difficulties"}


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``count(1, "box")`` → ``"1 box"``; ``count(3, "box")`` → ``"3 boxes"``;
    ``count(0, "object")`` → ``"0 objects"``. ``plural`` overrides the plural form."""
    if n == 1:
        return f"{n:,} {noun}"
    return f"{n:,} {plural or _PLURALS.get(noun, noun + 's')}"
