"""A small hand-written thesaurus: word stems in Russian, Kazakh (both scripts) and English → concepts.

The model sees each concept as an extra feature ("~bus" for автобус, avtobus, bus and аялдама's
neighbours), so what it learns from a Russian message carries over to the same problem written in
Kazakh or English, and to wording the corpus never used. The stems are domain knowledge written by
hand from the taxonomy; gaps were found with cross-validation errors on the training split only
(never the held-out rows). Matching follows `bot.classifier.matching` rules.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from bot.classifier.matching import StemIndex
from bot.classifier.normalize import fold_token, is_cyrillic, is_latin, normalize

__all__ = ["LEXICON_FILE", "Lexicon", "load_concepts"]

LEXICON_FILE = Path(__file__).resolve().parent / "data" / "lexicon.txt"


@functools.cache
def load_concepts(path: Path = LEXICON_FILE) -> dict[str, str]:
    """The thesaurus: concept → space-separated stems, in the file's order (``concept: stem stem …``;
    ``#`` starts a comment). A line of any other shape is an error naming the file and line."""
    found: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, colon, stems = line.partition(":")
        if not colon or not re.fullmatch(r"[a-z][a-z0-9_]*", name.strip()) or not stems.split():
            raise ValueError(f"{path}:{number}: expected 'concept: stem stem …', got {line!r}")
        if name.strip() in found:
            raise ValueError(f"{path}:{number}: concept {name.strip()!r} is defined twice")
        found[name.strip()] = " ".join(stems.split())
    return found


# A thank-you next to a problem marker is usually sarcasm ("спасибо акимат, пятый день без воды 👏");
# next to a fix it is real gratitude ("спасибо, что починили лифт"). The model weighs both.
_PROBLEM_MARKERS = frozenset({"negation", "broken", "again", "duration", "already", "how_long"})
_SARCASM_EMOJI = frozenset("👏🙃🤡👍😂🤦😡🤬🙄💩🎉🥳")


def derived_concepts(concepts: list[str], words: list[str]) -> list[str]:
    """Concepts built from other concepts: thanks with a problem, thanks with a fix, mocking emoji."""
    found = set(concepts)
    out: list[str] = []
    emoji = any(w in _SARCASM_EMOJI for w in words)
    problem = bool(found & _PROBLEM_MARKERS)
    if "thanks" in found or "praise" in found:
        if problem:
            out.append("thanks_problem")
        if "fixed" in found:
            out.append("thanks_fixed")
        if emoji:
            out.append("thanks_emoji")
    if emoji and problem:
        out.append("emoji_problem")
    return out


class Lexicon:
    """Finds the concepts of normalised words; thread-safe (read-only after construction)."""

    def __init__(self, concepts: dict[str, str] | None = None) -> None:
        source = load_concepts() if concepts is None else concepts
        cyrillic: list[tuple[str, str]] = []
        latin: list[tuple[str, str]] = []
        cross: list[tuple[str, str]] = []
        for concept, stems in source.items():
            for raw in stems.split():
                stem = normalize(raw).replace(" ", "")
                if not stem:
                    continue
                if is_cyrillic(stem):
                    cyrillic.append((stem, concept))
                    cross.append((fold_token(stem), concept))
                elif is_latin(stem) or stem.isdigit():
                    latin.append((stem, concept))
        self._cyrillic = StemIndex(cyrillic, latin=False)
        self._latin = StemIndex(latin, latin=True)
        self._cross = StemIndex(cross, latin=True)

    def concepts(self, words: list[str], *, latin_cross: bool) -> list[str]:
        """The concept names of `words` (normalised tokens), one per matching word, in order."""
        out: list[str] = []
        for word in words:
            if is_cyrillic(word):
                out.extend(self._cyrillic.lookup(word))
            elif word.isdigit():
                out.extend(self._latin.lookup(word))
            else:
                found = self._latin.lookup(word)
                if latin_cross:
                    crossed = self._cross.lookup(word)
                    if crossed:
                        found = found + crossed if found else crossed
                out.extend(found)
        out.extend(derived_concepts(out, words))
        return out
