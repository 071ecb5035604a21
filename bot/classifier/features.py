"""From raw text to what the heads and rules read: normalised forms, language votes, feature tokens.

Training and inference both go through `analyze`, so the features the model was fitted on are exactly
the ones it sees in production. Three sparse blocks of features, each TF-IDF weighted and
L2-normalised on its own (a block's weight per head is a hyper-parameter):
- "c": character n-grams (2–5, within word boundaries) of the folded text: robust to typos and
  Kazakh suffixes, and shared between Cyrillic and Latin spellings of the same Kazakh word;
- "k": concepts from the multilingual lexicon;
- "l": base forms of the words (`bot.classifier.morphology`: Russian lemmas, English and Kazakh stems),
  so every inflection of a word shares one feature.
A dense block "e" (pretrained word vectors, `bot.classifier.embeddings`) is added by the model from
the same words and base forms. Word unigrams and bigrams were a block too until the ablation showed
they added nothing the base forms and n-grams did not already carry (README "Classifier").
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

from bot.classifier.language import LanguageVotes, language_votes
from bot.classifier.lexicon import Lexicon
from bot.classifier.morphology import WordForms
from bot.classifier.normalize import fold, normalize

__all__ = [
    "BLOCKS",
    "DENSE_BLOCK",
    "FEATURE_VERSION",
    "MAX_CHARS",
    "Analysis",
    "Analyzer",
    "char_ngrams",
    "shared_word_forms",
]

# Bump when anything that changes the features changes (normalisation, lexicon, n-gram ranges): it is
# part of the model cache key, so a cached model never meets features it was not trained on.
FEATURE_VERSION = 2
BLOCKS = ("c", "k", "l")  # sparse blocks, by the letter their tokens start with
DENSE_BLOCK = "e"  # the mean word vector; its weight follows the sparse blocks' in HeadSpec
CHAR_NGRAMS = (2, 5)
# Telegram messages stop at 4,096 characters; anything longer is pasted text, and its head says enough.
MAX_CHARS = 5000

_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class Analysis:
    """One message, analysed."""

    normalized: str
    folded: str
    words: list[str]
    votes: LanguageVotes
    concepts: list[str]
    bases: list[str]  # the base form of each of `words`, aligned with it

    def char_words(self) -> list[str]:
        """The words whose character n-grams are features (folded, digits as 0)."""
        return _DIGITS.sub("0", self.folded).split()

    def word_tokens(self) -> list[str]:
        """The concept and base-form feature tokens."""
        tokens = ["k" + c for c in self.concepts]
        tokens.extend(
            ["l" + _DIGITS.sub("0", b) for w, b in zip(self.words, self.bases, strict=True) if _has_base(w)]
        )
        return tokens

    def feature_tokens(self) -> list[str]:
        """Every feature token, repeated as often as it occurs, each prefixed by its block letter."""
        tokens: list[str] = []
        for word in self.char_words():
            tokens.extend(char_ngrams(word))
        tokens.extend(self.word_tokens())
        return tokens

    def feature_counts(self) -> Counter[str]:
        """Feature token counts (what training vectorises; `TrainedModel.vectorize` counts the same)."""
        return Counter(self.feature_tokens())


def _has_base(word: str) -> bool:
    # numbers, emoji and ?! have no base form worth a feature of its own (the word block has them)
    return len(word) > 1 and not word.isdigit()


@cache
def shared_word_forms() -> WordForms:
    """One `WordForms` per process, made on first use: its dictionary and cache are read-mostly."""
    return WordForms()


def char_ngrams(word: str) -> list[str]:
    """The "c"-prefixed character n-grams of one word, padded with spaces as scikit-learn's char_wb does."""
    padded = f" {word} "
    size = len(padded)
    low, high = CHAR_NGRAMS
    grams: list[str] = []
    for n in range(low, min(high, size) + 1):
        grams.extend(["c" + padded[i : i + n] for i in range(size - n + 1)])
    return grams


class Analyzer:
    """Turns raw text into an `Analysis`; thread-safe (its lexicon is read-only)."""

    def __init__(self, lexicon: Lexicon | None = None, word_forms: WordForms | None = None) -> None:
        self._lexicon = lexicon or Lexicon()
        self._word_forms = word_forms or shared_word_forms()

    def analyze(self, text: str) -> Analysis:
        """Normalise, fold, vote on the language and find the concepts of one message."""
        text = text[:MAX_CHARS]
        normalized = normalize(text)
        words = normalized.split()
        votes = language_votes(text)
        concepts = self._lexicon.concepts(words, latin_cross=votes.latin_is_kazakh)
        bases = [self._word_forms.base(w) for w in words]
        return Analysis(normalized, fold(normalized), words, votes, concepts, bases)
