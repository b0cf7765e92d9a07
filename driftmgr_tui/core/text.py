"""Small wording helpers shared by the CLI and the UI."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 resource``, ``3 resources``; ``many`` for words whose plural is not word + "s"."""
    return f"{count} {word if count == 1 else (many or word + 's')}"
