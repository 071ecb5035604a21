"""Routing by the config's keywords alone: no model, instant start-up.

The baseline the trained classifier improves on, and the engine a city can pick
(`classifier.engine: keywords`) when it wants routing to follow its YAML exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.classifier.base import Classification, MessageContext
from bot.config import Config
from bot.core.text import KAZAKH_LETTER

_WORD = r"[\w\u0400-\u04ff]"
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)

# Non-complaint openers; a message that also carries a problem marker stays a complaint (sarcasm).
_GRATITUDE = re.compile(r"\b(спасибо|благодар|рахмет|алғыс|thank)", re.IGNORECASE)
_PROBLEM = re.compile(
    r"(\bнет\b|\bне\s|\bжоқ\b|\bjoq\b|опять|снова|когда уже|сколько можно|невозможно|ужас|"
    r"сломал|не работает|жұмыс істемейді|no |not |broken|👏|🤬|😡)",
    re.IGNORECASE,
)
_URGENT = re.compile(
    r"(запах газа|газом пахнет|газдың иісі|gas smell|пожар|горит|өрт|fire|прорыв|затопил|кипят|"
    r"открытый люк|оголенн|оголённ|провод[а]? (на земле|искрит)|искрит|обрушил|застряли в лифте|"
    r"стая собак|укусил|напали|ит қапты)",
    re.IGNORECASE,
)


_FINAL_VOWEL = re.compile(r"(?<=\w{4})[аеиоуыяюэәіұүөa]$")


def _stem(phrase: str) -> str:
    """Drop a final vowel so inflected forms match: Сарыарка → Сарыарк(е|инский)."""
    return _FINAL_VOWEL.sub("", phrase.lower().replace("ё", "е").strip())


def _pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    alternatives = sorted({re.escape(_stem(w)) for w in words if w.strip()}, key=len)
    if not alternatives:
        return None
    # keywords match at a word start so inflected forms (батареи → батареях, жылу → жылуы) still hit
    return re.compile(rf"(?<!{_WORD})(?:{'|'.join(reversed(alternatives))})", re.IGNORECASE)


def detect_language(text: str) -> str:
    """ru, kk, en, mixed or unknown, from the scripts and Kazakh letters used."""
    kazakh = bool(KAZAKH_LETTER.search(text.lower()))
    cyrillic = len(_CYRILLIC.findall(text))
    latin = len(_LATIN.findall(re.sub(r"@\w+|https?://\S+", "", text)))
    if not cyrillic and not latin and not kazakh:
        return "unknown"
    if cyrillic and latin > 3:
        return "mixed"
    if kazakh:
        return "kk"
    return "ru" if cyrillic else "en"


class KeywordClassifier:
    """Classifies with the config's category keywords, district aliases and fixed urgency rules."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._categories: list[tuple[str, str, re.Pattern[str]]] = []
        for category in config.categories:
            words = [word for words in category.keywords.values() for word in words]
            pattern = _pattern([*words, category.name.ru, category.name.kk, category.name.en])
            if pattern is not None:
                self._categories.append((category.id, category.department, pattern))
        self._districts: list[tuple[str, re.Pattern[str]]] = []
        for district in config.districts:
            names = [district.name.ru, district.name.kk, district.name.en, *district.aliases]
            pattern = _pattern(names)
            if pattern is not None:
                self._districts.append((district.id, pattern))
        fallback = config.classifier.fallback_category
        known = {category.id for category in config.categories}
        self._fallback = fallback if fallback in known else (config.categories[-1].id if known else "other")

    def classify(self, text: str, context: MessageContext | None = None) -> Classification:
        """Classify one message by keywords."""
        normalized = text.lower().replace("ё", "е")
        # longer keywords are more specific: "запах газа" outweighs "подъезд"
        scores = [
            (sum(len(m) for m in pattern.findall(normalized)), category_id, department)
            for category_id, department, pattern in self._categories
        ]
        best = max(scores, default=(0, self._fallback, ""))
        hits, category, department = best
        if hits == 0:
            category = self._fallback
            department = self._department_of(category)
        urgent = bool(_URGENT.search(normalized))
        problem = bool(_PROBLEM.search(normalized)) or urgent
        grateful = bool(_GRATITUDE.search(normalized))
        question = normalized.rstrip().endswith("?") and not problem
        complaint = (hits > 0 or problem) and not (grateful and not problem) and not question
        kind = "complaint" if complaint else "gratitude" if grateful else "question" if question else "other"
        district = next((d for d, pattern in self._districts if pattern.search(normalized)), None)
        confidence = min(1.0, 0.5 + 0.03 * hits) if hits else 0.3
        return Classification(
            complaint=complaint,
            kind=kind,
            category=category,
            department=department,
            urgent=urgent and complaint,
            district=district,
            language=detect_language(text),
            confidence=confidence,
            needs_triage=complaint and hits == 0,
        )

    def _department_of(self, category_id: str) -> str:
        try:
            return self._config.category(category_id).department
        except KeyError:
            return self._config.departments[0].id if self._config.departments else "general"
