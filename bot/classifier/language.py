"""Language of a message: ru, kk, en, mixed or unknown, by rules.

Each word votes: Kazakh Cyrillic by its letters (ә ғ қ ң ө ұ ү һ і) or a list of common words written
without them; Kazakh Latin by the 2018/2021 letters, a Kazakh word list, "q" outside "qu", and Kazakh
endings; English by a list of common English words; Russian by common words and Russian endings.
Words that vote for nothing (names, loanwords such as "подъезд" in a Kazakh sentence) are neutral:
a Kazakh sentence with Russian loanwords stays Kazakh, but Russian grammar next to Kazakh is "mixed".
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from bot.classifier.wordlists import WORD_LISTS, word_list, word_lists_digest
from bot.core.text import KAZAKH_LETTER

__all__ = [
    "WORD_LISTS",
    "LanguageVotes",
    "detect_language",
    "language_from_votes",
    "language_votes",
    "word_list",
    "word_lists_digest",
]

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_URL_OR_TAG = re.compile(r"(?:https?://|www\.|t\.me/)\S+|@\w+", re.IGNORECASE)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_KAZAKH_LATIN_LETTERS = re.compile(r"[áǵńóúýäğñöşūüı]")
_RUSSIAN_ONLY = re.compile(r"[щё]")  # ъ, э are in Kazakh loanwords too (подъезд, электр)

_RUSSIAN_ENDING = re.compile(
    r"(?:ться|тся|ешь|ишь|ают|яют|уют|ют|ят|ает|ует|яет|еет|ить|ать|еть|уть|ыть|ого|его|ому|ему|ыми|ими|"
    r"ая|яя|ое|ее|ые|ий|ый|ой|ом|ами|ями|ах|ях|ов|ев|ли|ла|ло|ет|ит|ую|юю|ость|ение|ание|ция|ей|ки|"
    r"ил|ал|ял|ют|но|ью|ться)$"
)
_KAZAKH_ENDING_CYRILLIC = re.compile(
    r"(?:лар|лер|дар|дер|тар|тер)(?:ды|ди|ға|га|ге|да|де|мен|ым|ың|ын|ы|и|дың|дын|дин)$|"
    r"(?:мыз|миз|ныз|низ|сыз|сиз|пыз|быз|ганда|генде|майды|мейди|мады|меди|май|мей|бай|бей|пай|пей)$"
)
_KAZAKH_ENDING_LATIN = re.compile(
    r"(?:lar|ler|dar|der|tar|ter)(?:dy|di|ga|ge|da|de|men|ym|yn|y|i|dyn|din)?$|"
    r"(?:myz|miz|nyz|niz|syz|siz|pyz|byz|ganda|gende|ady|maidy|meidi|mady|medi|ǵan|gan|dy|ty|ny|nyń|nyn|"
    r"nda|nde|ǵa|qa|ge|ke|ynda|inde|ymyz|imiz|ynyz|ińiz|yp|ip)$"
)


@dataclass(frozen=True, slots=True)
class LanguageVotes:
    """How many words voted for each language in a message."""

    ru: int
    kk: int  # Cyrillic Kazakh
    en: int
    kk_latin: int  # Latin Kazakh: 2018/2021 letters, known words, "q"
    kk_latin_weak: int  # Latin words with Kazakh endings only (English has "-ler", "-ge" words too)
    cyrillic_neutral: int  # Cyrillic words that voted for nothing (names, loanwords)
    latin_ambiguous: int  # "it", "men", "bar": English or Kazakh, whichever the rest of the message is
    words: int

    @property
    def latin_kazakh(self) -> int:
        """Latin Kazakh votes, counting endings only when English does not contradict them."""
        votes = self.kk_latin + (self.kk_latin_weak if self.kk_latin or not self.en else 0)
        return votes + (self.latin_ambiguous if votes > self.en else 0)

    @property
    def english(self) -> int:
        """English votes, with the ambiguous words when the message leans English."""
        kazakh = self.kk_latin + (self.kk_latin_weak if self.kk_latin or not self.en else 0)
        return self.en + (self.latin_ambiguous if self.en >= kazakh and self.en else 0)

    @property
    def latin_is_kazakh(self) -> bool:
        """Latin-script words read as Kazakh (or transliterated Russian) rather than English."""
        return self.latin_kazakh > 0 and self.latin_kazakh >= self.english


@functools.lru_cache(maxsize=50_000)
def _vote(word: str) -> str | None:
    if _CYRILLIC.search(word):
        if KAZAKH_LETTER.search(word) or word in word_list("kazakh_cyrillic"):
            return "kk"
        if word in word_list("russian") or _RUSSIAN_ONLY.search(word):
            return "ru"
        if _KAZAKH_ENDING_CYRILLIC.search(word):
            return "kk"
        if _RUSSIAN_ENDING.search(word) and len(word) > 4:
            return "ru"
        return "cyrillic_neutral"
    if _KAZAKH_LATIN_LETTERS.search(word):
        return "kk_latin"
    if word in word_list("latin_ambiguous"):
        return "latin_ambiguous"
    if word in word_list("english"):
        return "en"
    if word in word_list("kazakh_latin") or re.search(r"q(?!u)", word):
        return "kk_latin"
    if word in word_list("russian"):
        return "ru"
    if len(word) > 4 and _KAZAKH_ENDING_LATIN.search(word):
        return "kk_latin_weak"
    return None


def _sentence_start(text: str, position: int) -> bool:
    before = text[:position].rstrip(" \t\"'«(")
    return not before or before[-1] in ".!?\n:;…" or not any(ch.isalpha() for ch in before[-3:])


def language_votes(text: str) -> LanguageVotes:
    """Per-language word votes of a raw message."""
    text = unicodedata.normalize("NFC", _URL_OR_TAG.sub(" ", text)).replace("ё", "е").replace("Ё", "Е")
    counts = dict.fromkeys(
        ("ru", "kk", "en", "kk_latin", "kk_latin_weak", "cyrillic_neutral", "latin_ambiguous"), 0
    )
    words = 0
    for match in _WORD.finditer(text):
        word = match.group()
        words += 1
        if word[0].isupper() and not word.isupper() and not _sentence_start(text, match.start()):
            # a capitalised word inside a sentence is a name (Өндіріс, Тәуелсіздік in a Russian message)
            vote: str | None = "cyrillic_neutral" if _CYRILLIC.search(word) else None
        else:
            vote = _vote(word.lower())
        if vote is not None:
            counts[vote] += 1
    return LanguageVotes(words=words, **counts)


# "mixed" needs the second language to have at least this many words, or this share of the votes:
# a single stray word of another language ("спасибо" in a Kazakh message) does not make it mixed.
MIXED_MIN_WORDS = 2
MIXED_MIN_SHARE = 0.15


def detect_language(text: str) -> str:
    """ru, kk, en, mixed (Russian+Kazakh, or English with another) or unknown (no words)."""
    return language_from_votes(language_votes(text))


def language_from_votes(votes: LanguageVotes) -> str:
    """The language decided from a message's word votes (see `detect_language`)."""
    if votes.words == 0:
        return "unknown"
    # in an English message, any Cyrillic word is another language
    english = votes.english
    ru = votes.ru + (votes.cyrillic_neutral if english and not votes.kk else 0)
    scores = {"ru": ru, "kk": votes.kk + votes.latin_kazakh, "en": english}
    present = [lang for lang, count in scores.items() if count > 0]
    if not present:
        # words, but none that vote: names, abbreviations; the script decides
        return "ru" if votes.cyrillic_neutral else "en"
    if len(present) == 1:
        return present[0]
    total = sum(scores.values())
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    second = ranked[1][1]
    if second >= MIXED_MIN_WORDS or second / total >= MIXED_MIN_SHARE:
        return "mixed"
    return ranked[0][0]
