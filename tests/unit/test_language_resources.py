"""General language knowledge: base forms (pymorphy3, Snowball, Kazakh endings), word vectors, ablation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.classifier.calibration import choose_threshold
from bot.classifier.corpus import Example
from bot.classifier.embeddings import WordVectors, embedding_ids
from bot.classifier.eval_command import _format_ablation
from bot.classifier.factory import model_key
from bot.classifier.features import Analyzer
from bot.classifier.morphology import WordForms, kazakh_stem
from bot.classifier.train import train_model


@pytest.fixture(scope="module")
def word_forms() -> WordForms:
    return WordForms()


@pytest.fixture(scope="module")
def vectors() -> WordVectors:
    return WordVectors()


@pytest.mark.parametrize(
    ("word", "base"),
    [
        ("подъездах", "подъезд"),
        ("подъезде", "подъезд"),
        ("доводчика", "доводчик"),  # not in the dictionary: pymorphy3 guesses by the ending
        ("сломался", "сломаться"),
        ("leaking", "leak"),
        ("streetlights", "streetlight"),
        ("көліктерінің", "көлік"),  # Kazakh: plural, possessive and genitive stripped
        ("баспалдақта", "баспалдақ"),
        ("өтінішім", "өтініш"),
    ],
)
def test_base_forms_in_three_languages(word_forms: WordForms, word: str, base: str) -> None:
    assert word_forms.base(word) == base


def test_kazakh_stem_keeps_a_stem_of_three_letters() -> None:
    assert kazakh_stem("үйлер") == "үйлер"  # "үй" would be too short to trust
    assert kazakh_stem("су") == "су"


def test_analysis_carries_base_forms_as_features() -> None:
    analysis = Analyzer().analyze("В подъездах не убирают")
    assert analysis.bases == ["в", "подъезд", "не", "убирать"]
    tokens = analysis.word_tokens()
    assert "lподъезд" in tokens and "lубирать" in tokens
    assert not any(t.startswith("l") and t[1:].isdigit() for t in Analyzer().analyze("дом 12").word_tokens())


def test_vectors_know_words_the_corpus_never_names(vectors: WordVectors) -> None:
    ids = embedding_ids(vectors.index, ["домофон", "подъезде", "автобус"], ["домофон", "подъезд", "автобус"])
    assert len(ids) == 3
    intercom, entrance, bus = vectors.unit_vectors(ids)
    assert float(np.linalg.norm(intercom)) == pytest.approx(1.0, abs=1e-4)
    assert float(intercom @ entrance) > float(intercom @ bus) + 0.2


def test_unknown_words_are_looked_up_by_base_form(vectors: WordVectors) -> None:
    assert embedding_ids(vectors.index, ["зщшгнекуц"], ["зщшгнекуц"]) == []
    assert embedding_ids(vectors.index, ["подъездахх"], ["подъезд"]) == [vectors.index["подъезд"]]


def _tiny_corpus() -> list[Example]:
    housing = [
        "в подъезде грязно второй месяц",
        "подъезд не убирают совсем",
        "в подъезде темно и страшно",
        "дверь подъезда сломана давно",
        "квартиру затопили соседи сверху",
        "крыша течёт прямо в квартиру",
        "в квартире трещина по стене",
        "почтовые ящики в подъезде разбиты",
    ]
    transport = [
        "автобус не пришёл утром",
        "автобус опаздывает на час",
        "маршрутка переполнена каждый день",
        "троллейбус сломался на остановке",
        "водитель автобуса хамит пассажирам",
        "на остановке нет расписания автобусов",
        "автобусы ходят раз в час",
        "кондуктор не дал сдачу в автобусе",
    ]
    other = [
        "спасибо за вашу работу",
        "подскажите часы приёма",
        "поздравляю всех с праздником",
        "когда будет встреча с акимом",
        "благодарю за быстрый ответ",
        "где посмотреть новости района",
    ]
    rows = [Example(t, True, "complaint", "housing", False, "ru") for t in housing]
    rows += [Example(t, True, "complaint", "public_transport", False, "ru") for t in transport]
    rows += [Example(t, False, "gratitude", "other", False, "ru") for t in other]
    return rows


def test_words_never_seen_in_training_land_near_their_meaning(vectors: WordVectors) -> None:
    model = train_model(_tiny_corpus(), vectors=vectors)
    analyzer = Analyzer()
    # neither the nouns nor the verb occur in the training rows: only the vectors know the nouns
    for text, category in [
        ("домофон барахлит", "housing"),
        ("лифт барахлит", "housing"),
        ("мусоропровод барахлит", "housing"),
        ("трамвай барахлит", "public_transport"),
        ("электричка барахлит", "public_transport"),
        ("такси барахлит", "public_transport"),
    ]:
        scores = model.scores(analyzer.analyze(text))
        best = max(scores.categories, key=scores.categories.__getitem__)
        assert best == category, (text, scores.categories)


def test_a_model_without_vectors_has_no_table(vectors: WordVectors) -> None:
    with_vectors = train_model(_tiny_corpus(), vectors=vectors)
    without = train_model(_tiny_corpus(), without=("e",))
    assert with_vectors.embedding is not None
    assert with_vectors.embedding.table.shape == (len(vectors.words), with_vectors.weights.shape[1])
    assert without.embedding is None
    assert without.meta["without"] == ["e"]
    no_lemmas = train_model(_tiny_corpus(), vectors=vectors, without=("l",))
    assert not any(token.startswith("l") for token in no_lemmas.vocabulary)
    with pytest.raises(ValueError, match="unknown feature blocks: x"):
        train_model(_tiny_corpus(), without=("x",))


def test_saved_model_keeps_its_vectors(tmp_path: Path, vectors: WordVectors) -> None:
    from bot.classifier.model import TrainedModel

    model = train_model(_tiny_corpus(), vectors=vectors)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = TrainedModel.load(path)
    analysis = Analyzer().analyze("домофон барахлит")
    assert loaded.embedding is not None and model.embedding is not None
    assert np.array_equal(loaded.embedding.hashes, model.embedding.hashes)
    assert loaded.scores(analysis).categories == pytest.approx(model.scores(analysis).categories, abs=1e-5)


def test_ablation_models_have_their_own_cache_key() -> None:
    assert model_key("corpus") != model_key("corpus", without=("e",))
    assert model_key("corpus", without=("e", "l")) == model_key("corpus", without=("l", "e"))
    assert model_key("corpus", without=()) == model_key("corpus")


def test_ablation_table_shows_each_blocks_cost() -> None:
    table = _format_ablation(
        {
            "(all blocks)": {"chat_department_accuracy": 0.9, "holdout_department_accuracy": 0.95},
            "e": {"chat_department_accuracy": 0.88, "holdout_department_accuracy": 0.96},
        }
    )
    assert "0.880 (-0.020)" in table and "0.960 (+0.010)" in table
    assert "e word vectors" in table


def test_threshold_is_the_highest_that_keeps_recall() -> None:
    scores = [0.9, 0.8, 0.45, 0.3, 0.1, 0.6]
    truth = [True, True, True, True, False, False]
    assert choose_threshold(scores, truth, 0.75) == 0.45
    assert choose_threshold(scores, truth, 1.0) == 0.3
    assert choose_threshold(scores, [False] * 6, 0.9) is None


def test_embedding_table_finds_rows_by_word_hash() -> None:
    from bot.classifier.embeddings import EmbeddingTable

    table = EmbeddingTable.from_words(
        ["подъезд", "автобус", "leak"], np.asarray([[1, 0], [0, 1], [2, 2]], dtype=np.float16)
    )
    assert len(table) == 3
    rows = table.rows(["подъездах", "автобус", "зщшг"], ["подъезд", "автобус", "зщшг"])
    assert [table.table[r].tolist() for r in rows] == [[1.0, 0.0], [0.0, 1.0]]
    mean = table.mean_row(["подъездах", "автобус"], ["подъезд", "автобус"])
    assert mean is not None and mean.tolist() == [0.5, 0.5]
    assert table.mean_row(["зщшг"], ["зщшг"]) is None
    with pytest.raises(ValueError, match="one row per word hash"):
        EmbeddingTable(np.zeros(2, dtype=np.int64), np.zeros((3, 2), dtype=np.float16))


def test_threshold_table_counts_out_of_fold_verdicts() -> None:
    from bot.classifier.calibration import FoldScores, threshold_table

    rows = [
        Example("a", True, "complaint", "gas", True, "ru"),
        Example("b", True, "complaint", "water", False, "ru"),
        Example("c", False, "question", "other", False, "ru"),
        Example("d", True, "complaint", "fire", True, "ru"),
    ]
    scores = FoldScores(
        complaint=[0.9, 0.42, 0.45, 0.3], urgent=[0.07, 0.5, 0.0, 0.9], urgent_by_rule=[False] * 4
    )
    table = threshold_table(rows, scores, complaint_threshold=0.4)
    at = {r["threshold"]: r for r in table["complaint"]}
    assert at[0.4]["recall"] == pytest.approx(2 / 3) and at[0.4]["precision"] == pytest.approx(2 / 3)
    assert at[0.5]["recall"] == pytest.approx(1 / 3) and at[0.5]["precision"] == 1.0
    urgent = {r["threshold"]: r for r in table["urgent"]}
    # "d" is urgent but was not taken for a complaint: missed end to end at every threshold
    assert urgent[0.06]["recall"] == 0.5 and urgent[0.08]["recall"] == 0.0
    by_rule = FoldScores(scores.complaint, scores.urgent, [True, False, False, False])
    assert {r["threshold"]: r for r in threshold_table(rows, by_rule, 0.4)["urgent"]}[0.2]["recall"] == 0.5
