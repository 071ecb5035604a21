"""Text normalisation shared by the model, the keyword boost, the rules and the district matcher.

Two forms:
- `normalize`: lowercase, ё→е, URLs and @usernames removed, letter runs collapsed, punctuation dropped
  except ? and ! (they carry intent), emoji kept as tokens, and the three ways of writing Kazakh in
  Latin script (2018 acutes, 2021 diacritics, informal q/j/sh) folded into one plain form.
- `fold`: `normalize` plus a lossy Cyrillic→Latin transliteration in the same plain form, so "су жоқ",
  "су жок", "su joq" and "sú joq" all read "su jok" and share character n-grams.
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = ["fold", "fold_token", "is_cyrillic", "is_latin", "normalize", "tokens"]

_URL = re.compile(r"(?:https?://|www\.|t\.me/)\S+", re.IGNORECASE)
_USERNAME = re.compile(r"@\w+")
# Three or more of the same letter ("сууууу", "ооочень") is emphasis, never spelling; two can be real
# ("касса", "аллея"), so only longer runs collapse.
_LETTER_RUN = re.compile(r"([^\W\d_])\1{2,}")
_PUNCT_RUN = re.compile(r"([?!])[?!1]*")
# A word is letters/digits (joined by an inner hyphen or apostrophe), or one of ? !, or one emoji/symbol.
# A negative number keeps its sign ("-25" is frost); "−" (U+2212) and "–" are read as "-" first.
_TOKEN = re.compile(
    r"(?<![^\W_])-\d+|[^\W_]+(?:['’\-][^\W_]+)*|[?!]|[^\w\s.,;:\"'«»()\[\]{}<>/\\|+=*&^%$#№~`’\-—…]"
)
# Emoji modifiers (variation selectors, zero-width joiner, skin tones) and combining marks NFC could
# not compose would otherwise split words or become tokens of their own.
_INVISIBLE = re.compile("[\ufe0e\ufe0f\u200b-\u200d\u2060\U0001f3fb-\U0001f3ff\u0300-\u036f]")
_DASHES = str.maketrans({"−": "-", "–": "-"})
_SPACES = re.compile(r"\s+")

# Kazakh Latin: 2018 (acutes, sh/ch digraphs) and 2021 (diacritics, ş/ç) letters to one plain form.
# q→k and y/ı→i merge the informal spellings ("joq"/"jok", "jylu"/"jilu"); English words pass through
# the same mapping at training and at inference, so they stay consistent features.
_LATIN_FOLD = str.maketrans(
    {
        "á": "a",
        "ä": "a",
        "ǵ": "g",
        "ğ": "g",
        "ń": "n",
        "ñ": "n",
        "ó": "o",
        "ö": "o",
        "ú": "u",
        "ü": "u",
        "ū": "u",
        "ý": "u",
        "ı": "i",
        "í": "i",
        "y": "i",
        "q": "k",
        "ş": "sh",
        "ç": "ch",
        "é": "e",
        "ё": "е",
    }
)
_LATIN_DIGRAPHS = (("zh", "j"), ("kh", "h"))

_CYRILLIC_TO_LATIN = str.maketrans(
    {
        "а": "a",
        "ә": "a",
        "б": "b",
        "в": "v",
        "г": "g",
        "ғ": "g",
        "д": "d",
        "е": "e",
        "ж": "j",
        "з": "z",
        "и": "i",
        "й": "i",
        "к": "k",
        "қ": "k",
        "л": "l",
        "м": "m",
        "н": "n",
        "ң": "n",
        "о": "o",
        "ө": "o",
        "п": "p",
        "р": "r",
        "с": "s",
        "т": "t",
        "у": "u",
        "ұ": "u",
        "ү": "u",
        "ф": "f",
        "х": "h",
        "һ": "h",
        "ц": "ts",
        "ч": "ch",
        "ш": "sh",
        "щ": "sh",
        "ъ": "",
        "ы": "i",
        "і": "i",
        "ь": "",
        "э": "e",
        "ю": "iu",
        "я": "ia",
    }
)
_CYRILLIC_LETTER = re.compile(r"[\u0400-\u04ff]")
_LATIN_LETTER = re.compile(r"[a-zà-ɏ]")


def _fold_latin(text: str) -> str:
    text = text.translate(_LATIN_FOLD)
    for digraph, plain in _LATIN_DIGRAPHS:
        if digraph in text:
            text = text.replace(digraph, plain)
    return text


def normalize(text: str) -> str:
    """Lowercased, URL/@-free, run-collapsed text, Kazakh Latin variants folded; tokens joined by spaces."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text).translate(_DASHES)
    text = _URL.sub(" ", text)
    text = _USERNAME.sub(" ", text)
    # after lower(): "İ".lower() leaves a combining dot behind
    text = _fold_latin(_INVISIBLE.sub("", text.lower()))
    text = _LETTER_RUN.sub(r"\1", text)
    text = _PUNCT_RUN.sub(r"\1", text)
    return " ".join(_TOKEN.findall(text))


def tokens(text: str) -> list[str]:
    """The tokens of an already normalised text."""
    return text.split()


def fold_token(token: str) -> str:
    """One normalised token in the shared plain Latin form (Cyrillic transliterated)."""
    if _CYRILLIC_LETTER.search(token) is None:
        return token
    return _fold_latin(token.translate(_CYRILLIC_TO_LATIN))


def fold(normalized: str) -> str:
    """An already normalised text in the shared plain Latin form."""
    if _CYRILLIC_LETTER.search(normalized) is None:
        return normalized
    return _fold_latin(normalized.translate(_CYRILLIC_TO_LATIN))


def is_cyrillic(token: str) -> bool:
    """True when the token has a Cyrillic letter."""
    return script(token) == "cyrillic"


def is_latin(token: str) -> bool:
    """True when the token has a Latin letter and no Cyrillic one."""
    return script(token) == "latin"


@functools.lru_cache(maxsize=100_000)
def script(token: str) -> str:
    """ "cyrillic" (a Cyrillic letter), "latin" (a Latin letter, no Cyrillic one) or "" (neither)."""
    if _CYRILLIC_LETTER.search(token) is not None:
        return "cyrillic"
    return "latin" if _LATIN_LETTER.search(token) is not None else ""


def collapse_spaces(text: str) -> str:
    """Runs of whitespace as one space, stripped."""
    return _SPACES.sub(" ", text).strip()
