"""Every user-facing text, in Russian, Kazakh and English (gettext catalogs in `locales/`); a test
fails when a language lacks a key."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from bot.core.domain import DEFAULT_LANGUAGE, LANGUAGES
from bot.core.text import escape_html

__all__ = [
    "CATALOG",
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "CatalogSection",
    "TextCatalog",
    "normalize_language",
    "t",
    "t_html",
]

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "shagym"


class TextCatalog(Mapping[str, Mapping[str, str]]):
    """Every text's translations, by key: ``catalog["card.title"]["kk"]``.

    The texts live in gettext catalogs a translator edits with any PO editor,
    ``locales/<language>/LC_MESSAGES/shagym.po``, whose msgid is the text's key. They are read on first
    use (not at import); an empty or fuzzy translation counts as missing, which the completeness test
    refuses and `t` answers in Russian.
    """

    def __init__(self, directory: Path = LOCALES_DIR, languages: tuple[str, ...] = LANGUAGES) -> None:
        self._directory = directory
        self._languages = languages
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, str]] | None = None

    def _load(self) -> dict[str, dict[str, str]]:
        entries = self._entries
        if entries is not None:
            return entries
        with self._lock:
            if self._entries is None:
                from babel.messages.pofile import read_po

                loaded: dict[str, dict[str, str]] = {}
                for language in self._languages:
                    path = self._directory / language / "LC_MESSAGES" / f"{DOMAIN}.po"
                    with path.open("rb") as handle:
                        catalog = read_po(handle, locale=language, domain=DOMAIN)
                    for message in catalog:
                        if not message.id or not isinstance(message.id, str):
                            continue
                        entry = loaded.setdefault(message.id, {})
                        if isinstance(message.string, str) and message.string and not message.fuzzy:
                            entry[language] = message.string
                self._entries = loaded
            return self._entries

    def __getitem__(self, key: str) -> Mapping[str, str]:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


CATALOG = TextCatalog()


class CatalogSection(Mapping[str, Mapping[str, str]]):
    """The texts under one key prefix ("digest."), by their short key; read through `catalog`."""

    def __init__(self, prefix: str, catalog: Mapping[str, Mapping[str, str]] = CATALOG) -> None:
        self._prefix = prefix
        self._catalog = catalog

    def __getitem__(self, key: str) -> Mapping[str, str]:
        return self._catalog[self._prefix + key]

    def __iter__(self) -> Iterator[str]:
        return (key.removeprefix(self._prefix) for key in self._catalog if key.startswith(self._prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def t(key: str, language: str | None = None, **values: Any) -> str:
    """The text for `key` in `language` (Russian when the language is unknown), formatted with values."""
    entry = CATALOG[key]
    template = entry.get(language or DEFAULT_LANGUAGE) or entry[DEFAULT_LANGUAGE]
    return template.format(**values) if values else template


def t_html(key: str, language: str | None = None, **values: Any) -> str:
    """`t()` for a message sent with parse_mode=HTML: every value escaped, the template's markup kept."""
    # values are names from the config, residents' and staff's texts: any of them may hold & < >;
    # a test checks every template is valid HTML by itself. Plain-text messages use t(), unescaped.
    return t(key, language, **{name: escape_html(str(value)) for name, value in values.items()})


def normalize_language(code: str | None) -> str:
    """Map a Telegram language_code (e.g. "kk", "ru-RU", "en-GB") to one of ours, or Russian."""
    if not code:
        return DEFAULT_LANGUAGE
    base = code.split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE
