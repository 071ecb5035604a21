"""Mixed texts: the runner-up category when the classifier is torn, stored, shown on the card, printed."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.classifier import ModelClassifier
from bot.classifier.base import Alternative, Classification, MessageContext
from bot.classifier.engine import TORN_RATIO
from bot.classifier.features import Analysis
from bot.classifier.keyword_engine import KeywordClassifier
from bot.classifier.model import HeadScores
from bot.config import Config
from bot.core.text import utf16_len
from bot.telegram import CAPTION_LIMIT
from bot.views.cards import CardData, CardRenderer
from tests.conftest import EXAMPLE_CONFIG
from tests.unit.test_classify_cli import _run, cache_dir  # noqa: F401 (the session's trained model)
from tests.unit.test_pipeline import UTILITIES_CHAT, Harness, harness, mention  # noqa: F401
from tests.unit.test_resident_content import card

# texts without any of the config's keywords, so the boost leaves the stub's shares as they are
TORN = "абвгд ёжзий"
CLEAR = "клмно прсту"


class StubModel:
    """A model that gives fixed category shares, for exact control over how torn the verdict is."""

    evidence: tuple[tuple[str, bool, str], ...] = ()
    urgent_threshold = 0.99
    complaint_threshold = 0.5

    def __init__(self, categories: dict[str, float], complaint: float = 0.9) -> None:
        self.categories = tuple(categories)
        self._scores = HeadScores(
            complaint=complaint, kinds={"other": 1.0}, categories=categories, urgent=0.0
        )

    def scores(self, analysis: Analysis) -> HeadScores:
        """The same shares for every text."""
        return self._scores


def _classify(config: Config, shares: dict[str, float], *, complaint: float = 0.9) -> Classification:
    model = StubModel(shares, complaint)
    return ModelClassifier(model, config).classify(TORN)  # type: ignore[arg-type]


def test_a_torn_complaint_gets_the_runner_up(example_config: Config) -> None:
    verdict = _classify(example_config, {"heating": 0.5, "roads": 0.4, "water": 0.1})
    assert verdict.category == "heating" and verdict.confidence == pytest.approx(0.5)
    assert verdict.alternative == Alternative("roads", "transport_roads", pytest.approx(0.4))  # type: ignore[arg-type]
    printed = verdict.as_dict()["alternative"]
    assert printed == {"category": "roads", "department": "transport_roads", "confidence": 0.4}


def test_a_clear_complaint_has_no_alternative(example_config: Config) -> None:
    verdict = _classify(example_config, {"heating": 0.8, "roads": 0.15, "water": 0.05})
    assert verdict.category == "heating" and verdict.alternative is None
    assert verdict.as_dict()["alternative"] is None


def test_the_torn_rule_is_a_share_of_the_best(example_config: Config) -> None:
    best = 0.6
    just_torn = _classify(example_config, {"heating": best, "roads": best * TORN_RATIO})
    assert just_torn.alternative is not None and just_torn.alternative.category == "roads"
    below = best * TORN_RATIO - 0.02
    assert _classify(example_config, {"heating": best, "roads": below, "water": 0.02}).alternative is None


def test_no_alternative_for_the_fallback_triage_or_non_complaints(example_config: Config) -> None:
    # "other" is no place to reroute to
    assert _classify(example_config, {"heating": 0.5, "other": 0.45, "roads": 0.05}).alternative is None
    # below the category threshold the complaint goes to triage, which already asks staff to check
    triaged = _classify(example_config, {c.id: 1.0 for c in example_config.categories})
    assert triaged.needs_triage and triaged.alternative is None
    # a category the config does not know is no alternative either
    unknown = _classify(example_config, {"heating": 0.5, "martian": 0.45, "roads": 0.05})
    assert unknown.alternative is None
    assert _classify(example_config, {"heating": 0.5, "roads": 0.4}, complaint=0.1).alternative is None


def test_the_keywords_engine_gives_no_alternative(example_config: Config) -> None:
    verdict = KeywordClassifier(example_config).classify("нет горячей воды и во дворе огромная яма")
    assert verdict.complaint and verdict.alternative is None


def _card(**overrides: object) -> CardData:
    """A private complaint's card with an alternative (the resident-content tests' card, torn)."""
    values: dict[str, object] = {
        "text": "нет горячей воды и во дворе огромная яма",
        "message_id": 1,
        "author": None,
        "phone": None,
        "confidence": 0.52,
        "alternative_category": "roads",
        "alternative_confidence": 0.384,
    }
    return card(**(values | overrides))


def test_the_card_shows_the_alternative_in_the_departments_language(example_config: Config) -> None:
    renderer = CardRenderer(example_config)
    text = renderer.render(_card())
    assert "🤔 или: Дороги и тротуары (38%; основная — 52%)" in text
    assert "🤔" not in renderer.render(_card(alternative_category=None, alternative_confidence=None))
    english = example_config.model_copy(
        update={
            "departments": [
                d.model_copy(update={"language": "en"}) if d.id == "utilities" else d
                for d in example_config.departments
            ]
        }
    )
    assert "🤔 or: Roads and pavements (38%; main one 52%)" in CardRenderer(english).render(_card())


def test_the_card_line_is_escaped_and_stays_inside_the_limits(example_config: Config) -> None:
    renderer = CardRenderer(example_config)
    # an id the config does not know is shown as it is: a name with markup must not break the HTML
    text = renderer.render(_card(alternative_category="<b>a&b</b>"))
    assert "🤔 или: &lt;b&gt;a&amp;b&lt;/b&gt; (38%" in text
    long = _card(text="яма & вода " * 1000)
    assert utf16_len(renderer.render(long, limit=CAPTION_LIMIT)) <= CAPTION_LIMIT
    assert "🤔 или" in renderer.render(long, limit=CAPTION_LIMIT)


def test_classify_jsonl_prints_the_alternative_key(
    cache_dir: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = ["classify", "--jsonl", "--config", str(EXAMPLE_CONFIG), "--cache-dir", str(cache_dir)]
    stdin = "\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in ["запах газа в подъезде", "x"])
    code, out, _ = _run(argv, monkeypatch, stdin=stdin.encode())
    assert code == 0
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == 2
    for result in results:
        assert "alternative" in result and "confidence" in result and "category" in result
        alternative = result["alternative"]
        assert alternative is None or set(alternative) == {"category", "department", "confidence"}
    assert results[0]["category"] == "gas" and results[0]["alternative"] is None  # a clear text


class TornOnPotholes:
    """The keywords engine, torn towards roads whenever a text also mentions a pothole."""

    def __init__(self, config: Config) -> None:
        self._inner = KeywordClassifier(config)

    def classify(self, text: str, context: MessageContext | None = None) -> Classification:
        """The inner verdict, with roads as the runner-up for a text about a pothole."""
        verdict = self._inner.classify(text, context)
        if "яма" not in text or verdict.category == "roads":
            return verdict
        alternative = Alternative("roads", "transport_roads", 0.38)
        return dataclasses.replace(verdict, confidence=0.52, alternative=alternative)


@pytest.fixture
async def torn(harness: Harness) -> AsyncIterator[Harness]:  # noqa: F811
    """The pipeline harness with a classifier torn on texts about potholes."""
    harness.bot.intake._classifier = TornOnPotholes(harness.bot.config)
    yield harness


async def test_the_stored_complaint_carries_the_alternative_and_its_card_shows_it(torn: Harness) -> None:
    text = "@akim_astana нет горячей воды и во дворе огромная яма"
    await torn.feed(torn.update(text, message_id=60, entities=mention(text)))
    (row,) = await torn.complaints()
    assert (row.category, row.alternative_category) == ("heating", "roads")
    assert row.alternative_confidence == pytest.approx(0.38)
    assert await torn.deliver() == 1
    (card,) = torn.gateway.sent_to(UTILITIES_CHAT)
    assert "🤔 или: Дороги и тротуары (38%; основная — 52%)" in card.params["text"]
    # the resident's edit is classified again: without the pothole there is no alternative left
    edited = "@akim_astana нет горячей воды третий день"
    await torn.feed(torn.update(edited, message_id=60, edited=True, entities=mention(edited)))
    (row,) = await torn.complaints()
    assert (row.category, row.alternative_category, row.alternative_confidence) == ("heating", None, None)
    await torn.deliver()
    refreshed = torn.gateway.sent_to(UTILITIES_CHAT)[-1]
    assert refreshed.method == "editMessageText" and "🤔" not in refreshed.params["text"]
