"""The classifier's word lists and thesaurus are data files a city can read and edit."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.classifier.language import WORD_LISTS, word_list, word_lists_digest
from bot.classifier.lexicon import LEXICON_FILE, Lexicon, load_concepts


def test_the_thesaurus_file_holds_every_concept_once() -> None:
    concepts = load_concepts()
    assert len(concepts) > 100 and "pothole" in concepts and "bus_stop" in concepts
    assert "шұңқыр" in concepts["pothole"].split()
    assert Lexicon().concepts(["шұңқыр"], latin_cross=False) == ["pothole"]
    assert LEXICON_FILE.name == "lexicon.txt"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("road дорог\nnot a concept line\n", "expected 'concept: stem stem …'"),
        ("road: дорог\nroad: жол\n", "defined twice"),
        ("Road: дорог\n", "expected"),
        ("road:\n", "expected"),
    ],
)
def test_a_malformed_thesaurus_line_is_named(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "lexicon.txt"
    path.write_text("# a comment\n\n" + text, encoding="utf-8")
    with pytest.raises(ValueError, match=problem) as caught:
        load_concepts(path)
    assert f"{path}:" in str(caught.value)


def test_every_word_list_is_lowercase_words_and_the_digest_follows_them() -> None:
    for name in WORD_LISTS:
        words = word_list(name)
        assert words and all(w == w.lower() and " " not in w for w in words), name
    assert "и" in word_list("russian") and "joq" in word_list("kazakh_latin")
    assert len(word_lists_digest()) == 64
