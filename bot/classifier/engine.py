"""The model-backed `Classifier`: heads + keyword boost + triage fallback + urgency rules + district."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.classifier.base import Alternative, Classification, MessageContext
from bot.classifier.features import Analyzer
from bot.classifier.keywords import KeywordMatcher, LabelledWords
from bot.classifier.language import language_from_votes
from bot.classifier.model import HeadScores, TrainedModel
from bot.classifier.places import DistrictFinder
from bot.classifier.rules import urgent_reasons
from bot.config import Config

__all__ = ["TORN_RATIO", "ModelClassifier"]

# The model is "torn" when the runner-up's share is at least this fraction of the best's: a text with
# two problems splits the probability between them, while a clear text leaves the second category far
# below half of the first; below that, an "or" on the card would only be noise staff learn to ignore.
TORN_RATIO = 0.5

DistrictPolygons = Mapping[str, Sequence[Sequence[tuple[float, float]]]]


class ModelClassifier:
    """Classifies messages with a trained model and the city's config.

    Routing is data: categories, their departments and keywords come from the config. Thread-safe:
    `classify` reads only immutable state and does no I/O.
    """

    def __init__(
        self,
        model: TrainedModel,
        config: Config,
        *,
        district_polygons: DistrictPolygons | None = None,
        analyzer: Analyzer | None = None,
    ) -> None:
        self.model = model
        self.from_cache = False  # set by the factory: the model was loaded, not trained, at build
        self.model_path: Path | None = None
        self._config = config
        self._analyzer = analyzer or Analyzer()
        self._keywords = KeywordMatcher(
            config.categories,
            (LabelledWords(text.split(), latin, category) for text, latin, category in model.evidence),
        )
        self._districts = DistrictFinder(config.districts, district_polygons)
        self._departments = {c.id: c.department for c in config.categories}
        # the config decides which categories exist; the model may know more (or fewer) of them
        self._category_ids = [c.id for c in config.categories] or list(model.categories)
        fallback = config.classifier.fallback_category
        self._fallback = fallback if fallback in self._departments else None
        configured = config.classifier.complaint_threshold
        self._complaint_threshold = configured if configured is not None else model.complaint_threshold
        self._category_threshold = config.classifier.category_threshold
        self._urgent_threshold = model.urgent_threshold

    def classify(self, text: str, context: MessageContext | None = None) -> Classification:
        """Classify one message; never raises on odd text (empty, emoji-only, very long)."""
        analysis = self._analyzer.analyze(text or "")
        scores = self.model.scores(analysis)
        boosts = self._keywords.boosts(analysis.words, latin_is_kazakh=analysis.votes.latin_is_kazakh)
        ranked = self._ranked(scores, boosts)
        category, category_confidence = ranked[0]

        # no words with letters (empty, emoji, a bare @tag or link): nothing to route
        has_text = analysis.votes.words > 0
        complaint = has_text and scores.complaint >= self._complaint_threshold
        needs_triage = False
        alternative = None
        if complaint:
            kind = "complaint"
            confidence = category_confidence
            if category_confidence < self._category_threshold:
                needs_triage = True
                category = self._fallback or category
            urgent = scores.urgent >= self._urgent_threshold or bool(
                urgent_reasons(analysis.normalized, analysis.folded)
            )
            if not needs_triage:
                # a triaged complaint already asks staff to check; its fallback has no "second" best
                alternative = self._alternative(ranked)
        else:
            kind = max(scores.kinds, key=scores.kinds.__getitem__) if scores.kinds and has_text else "other"
            confidence = 1.0 - scores.complaint if has_text else 1.0
            if category_confidence < self._category_threshold or not has_text:
                category = self._fallback or category
            urgent = False

        district = self._districts.from_text(analysis.words)
        if district is None and context is not None:
            district = self._districts.from_location(context.latitude, context.longitude)
        return Classification(
            complaint=complaint,
            kind=kind,
            category=category,
            department=self._departments.get(category, ""),
            urgent=urgent,
            district=district,
            language=language_from_votes(analysis.votes),
            confidence=float(confidence),
            needs_triage=needs_triage,
            alternative=alternative,
        )

    def best_category(self, text: str) -> str:
        """The category before the triage fallback: the model's best guess after the keyword boost."""
        analysis = self._analyzer.analyze(text or "")
        boosts = self._keywords.boosts(analysis.words, latin_is_kazakh=analysis.votes.latin_is_kazakh)
        return self._category(self.model.scores(analysis), boosts)[0]

    def scores(self, text: str) -> HeadScores:
        """The raw head probabilities for a text (diagnostics and evaluation)."""
        return self.model.scores(self._analyzer.analyze(text or ""))

    def _category(self, scores: HeadScores, boosts: Mapping[str, float]) -> tuple[str, float]:
        """Best category and its confidence, after the keyword boost, over the config's categories."""
        return self._ranked(scores, boosts)[0]

    def _ranked(self, scores: HeadScores, boosts: Mapping[str, float]) -> list[tuple[str, float]]:
        """The categories and their shares after the keyword boost, best first (at least one entry)."""
        boosted = {cid: scores.categories.get(cid, 0.0) for cid in self._category_ids}
        for cid, boost in boosts.items():
            if cid in boosted:
                boosted[cid] += boost
        total = sum(boosted.values())
        if total <= 0:
            return [((self._fallback or self._category_ids[0]) if self._category_ids else "", 0.0)]
        # max() keeps the first of equal shares: the same best category as before the ranking
        best = max(boosted, key=boosted.__getitem__)
        rest = sorted((cid for cid in boosted if cid != best), key=boosted.__getitem__, reverse=True)
        return [(cid, boosted[cid] / total) for cid in [best, *rest]]

    def _alternative(self, ranked: Sequence[tuple[str, float]]) -> Alternative | None:
        """The runner-up when the model is torn and it names a real category, else None."""
        if len(ranked) < 2:
            return None
        (_, best), (runner_up, share) = ranked[0], ranked[1]
        # the fallback ("other") is no place to reroute to; a zero share is no alternative at all
        if runner_up == self._fallback or runner_up not in self._departments or share <= 0:
            return None
        if share < TORN_RATIO * best:
            return None
        return Alternative(runner_up, self._departments[runner_up], float(share))
