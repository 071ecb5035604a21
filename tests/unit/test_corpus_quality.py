"""Corpus quality: no near-duplicate rows (training, second held-out set, between them), and the spread."""

from __future__ import annotations

import random
import time
from itertools import combinations

import pytest

from bot.classifier.corpus import (
    NEAR_DUPLICATE_SIMILARITY,
    Example,
    load_corpus,
    load_holdout,
    near_duplicates,
    spread,
    trigram_similarity,
)


def _describe(pairs: list[tuple[float, str, str]]) -> str:
    return "\n".join(f"{s:.3f}  {a[:80]!r}  ~  {b[:80]!r}" for s, a, b in pairs[:30])


def _within(rows: list[Example]) -> list[tuple[float, str, str]]:
    return [
        (p.similarity, rows[p.first].text, rows[p.second].text)
        for p in near_duplicates([e.text for e in rows])
    ]


def test_near_duplicates_agree_with_the_pairwise_definition() -> None:
    random.seed(13)
    words = ["яма", "на", "дороге", "у", "дома", "не", "работает", "лифт", "su", "jok", "shamdar", "kóshede"]
    texts = [" ".join(random.choice(words) for _ in range(random.randint(1, 9))) for _ in range(150)]
    texts += ["Повреждение люка", "Повреждение люка!", "повреждение  ЛЮКА", "Отсутствует освещение", ""]
    letter = " ".join(random.choice(words) for _ in range(120))  # long rows keep longer prefixes
    texts += [letter, letter.replace("лифт", "люк", 2), letter[: len(letter) * 3 // 4]]
    for threshold in (0.5, 0.8):
        expected = {
            (i, j)
            for i, j in combinations(range(len(texts)), 2)
            if trigram_similarity(texts[i], texts[j]) > threshold
        }
        found = {(p.first, p.second) for p in near_duplicates(texts, threshold)}
        assert found == expected, threshold
    # case and punctuation do not make a row new
    assert trigram_similarity("Повреждение люка", "повреждение, ЛЮКА.") == 1.0


def test_near_duplicates_scale_to_fifteen_thousand_rows() -> None:
    random.seed(7)
    corpus = [e.text for e in load_corpus()]
    words = [w for text in corpus for w in text.split()]

    def variant(text: str) -> str:  # a corpus-like row: a real one with 40% of its words swapped
        return " ".join(random.choice(words) if random.random() < 0.4 else w for w in text.split())

    texts = [variant(random.choice(corpus)) for _ in range(15_000)]
    texts[9_000] = texts[100] + "!"  # one planted pair
    started = time.perf_counter()
    pairs = near_duplicates(texts)
    elapsed = time.perf_counter() - started
    assert (100, 9_000) in {(p.first, p.second) for p in pairs}
    # a Python loop over 112 million pairs takes many minutes; the prefix-filtered products ~2 s
    assert elapsed < 30, elapsed


def test_training_corpus_has_no_near_duplicates() -> None:
    pairs = _within(load_corpus())
    assert not pairs, f"{len(pairs)} near-duplicate pairs in bot/corpus:\n{_describe(pairs)}"


def test_second_held_out_set_has_no_near_duplicates() -> None:
    holdout = load_holdout()
    if not holdout:
        pytest.skip("bot/corpus/holdout has no rows yet")
    pairs = _within(holdout)
    assert not pairs, f"{len(pairs)} near-duplicate pairs in bot/corpus/holdout:\n{_describe(pairs)}"


def test_no_held_out_row_is_near_a_training_row() -> None:
    training, holdout = load_corpus(), load_holdout()
    if not holdout:
        pytest.skip("bot/corpus/holdout has no rows yet")
    rows = [*training, *holdout]
    # a holdout row close to a training row leaks: the model has as good as seen it
    leaks = [
        (p.similarity, rows[p.first].text, rows[p.second].text)
        for p in near_duplicates([e.text for e in rows])
        if p.first < len(training) <= p.second
    ]
    assert not leaks, (
        f"{len(leaks)} holdout rows within {NEAR_DUPLICATE_SIMILARITY} of a training row:\n{_describe(leaks)}"
    )


def test_spread_counts_every_row_once() -> None:
    rows = [
        Example("a", True, "complaint", "roads", False, "ru", register="terse"),
        Example("b", True, "complaint", "roads", False, "kk", register="terse"),
        Example("c", True, "complaint", "roads", False, "ru", register="terse"),
        Example("d", False, "question", "other", False, "en"),
    ]
    assert spread(rows) == {"roads": {"terse": {"ru": 2, "kk": 1}}, "~question": {"chat": {"en": 1}}}
    for name, rows_ in (("training", load_corpus()), ("holdout", load_holdout())):
        table = spread(rows_)
        assert sum(
            n for registers in table.values() for langs in registers.values() for n in langs.values()
        ) == (len(rows_))
        print(f"\n{name}: {len(rows_)} rows (category × register × language)")  # shown with -s
        for label, registers in table.items():
            cells = "  ".join(
                f"{register}: " + " ".join(f"{lang} {n}" for lang, n in sorted(langs.items()))
                for register, langs in sorted(registers.items())
            )
            print(f"  {label:<18} {cells}")
