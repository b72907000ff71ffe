"""Text as people type it and as registries spell it."""

from __future__ import annotations

import unicodedata


def fold_accents(text: str) -> str:
    """The text without accents ("Åland" is "Aland", "Türkiye" is "Turkiye"), for sorting and
    comparing names however they were written."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))
