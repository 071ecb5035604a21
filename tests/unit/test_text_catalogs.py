"""The texts live in gettext catalogs a translator edits; what they hold is what the bot says."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.views.i18n import CATALOG, LANGUAGES, LOCALES_DIR, TextCatalog


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, target)
    return target


def _po(directory: Path, language: str) -> Path:
    return directory / language / "LC_MESSAGES" / "shagym.po"


def test_every_language_has_one_catalog_with_the_same_keys() -> None:
    keys = set(CATALOG)
    assert len(keys) > 100
    for language in LANGUAGES:
        text = _po(LOCALES_DIR, language).read_text(encoding="utf-8")
        assert f'"Language: {language}\\n"' in text
        assert all(f'msgid "{key}"' in text for key in keys)


def test_a_translators_edit_is_what_the_bot_says(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    po = _po(directory, "kk")
    text = po.read_text(encoding="utf-8")
    assert 'msgstr "Санат"' in text
    po.write_text(text.replace('msgstr "Санат"', 'msgstr "Санаты"'), encoding="utf-8")
    assert TextCatalog(directory)["card.category"]["kk"] == "Санаты"


def test_an_empty_or_fuzzy_translation_counts_as_missing(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    po = _po(directory, "en")
    text = po.read_text(encoding="utf-8")
    text = text.replace('msgid "card.category"\nmsgstr "Category"', 'msgid "card.category"\nmsgstr ""')
    text = text.replace('msgid "card.district"\n', '#, fuzzy\nmsgid "card.district"\n')
    po.write_text(text, encoding="utf-8")
    catalog = TextCatalog(directory)
    assert "en" not in catalog["card.category"] and "en" not in catalog["card.district"]
    assert catalog["card.category"]["ru"] == "Категория"
