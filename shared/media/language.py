"""Language of extracted text with py3langid (its model ships in the wheel, numpy only)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

MIN_LETTERS = 20  # below this a guess is noise
MIN_PROBABILITY = 0.5
SAMPLE_CHARS = 5000  # plenty for a language; classifying 20 000 took 70 ms


@lru_cache(maxsize=4)
def _identifier(languages: tuple[str, ...] | None) -> LanguageIdentifier:
    """One identifier per language set (loading the model takes about a second)."""
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(languages) if languages else None)
    return identifier


def detect_language(text: str, among: Iterable[str] | None = None) -> str | None:
    """ISO 639-1 code of ``text``'s language (first ``SAMPLE_CHARS``), or None when unsure.
    ``among`` restricts the answer to those languages."""
    sample = text[:SAMPLE_CHARS]
    if sum(map(str.isalpha, sample)) < MIN_LETTERS:
        return None
    languages = tuple(sorted(set(among))) if among else None
    language, probability = _identifier(languages).classify(sample)
    return language if probability >= MIN_PROBABILITY else None
