"""Decide whether a chat message tags a configured official: @username, text_mention, reply or alias.

The detector runs on every message of every watched chat and most of them tag nobody, so everything is
compiled once in __init__: an untagged message costs a lower-casing, an "@" test and one scan by a regex of
plain word stems, and only text that contains a stem meets the full alias regex.

Aliases ("Касымбек", "қала әкімі") match with Russian and Kazakh inflections on each word. The inflections
come from a small suffix grammar, not from a list of word forms:

* Russian: one case ending, chosen by how the dictionary form ends (аким → акиму, Сарыарка → Сарыарки,
  Есиль → Есиля). The surname suffixes -ов/-ова/-ев are deliberately absent: Касымбеков is someone else.
* Kazakh: up to three suffixes in their grammatical order — a derivational or plural suffix, a possessive,
  a case (әкім → әкімге, әкімнің, әкімдікке; Қасымбек → Қасымбектің; әкімі → әкіміне). Every allomorph of
  each suffix is allowed; vowel harmony is not checked, which only lets through misspellings.
* Latin-script aliases (Kassymbek) take the English possessive and the informal Latin Kazakh suffixes.

An alias matches whole words only: "акимат" is not "аким", "#касымбек_уйди" is not "Касымбек", and an alias
inside a username, an e-mail address or a URL (t.me/kasymbek_fan, @kasymbek_news, kasymbek.kz) is not a hit.
Matching is case-insensitive and ё = е, but Kazakh letters stay distinct from their Russian look-alikes
(Қасымбек is not Касымбек): configure both spellings when residents use both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.config import OfficialConfig
from bot.core.events import Entity, IncomingMessage, ReplyTo
from bot.core.text import utf16_slice, utf16_span

__all__ = ["Mention", "MentionDetector"]

# --- the suffix grammar ------------------------------------------------------------------------------------

# Russian endings by what the dictionary form ends in; the final а/я/ь/й is replaced, a consonant is kept.
_RU_AFTER_CONSONANT = ("а", "у", "ом", "ем", "е", "ы", "и", "ам", "ами", "ах")
_RU_AFTER_A = (
    *("а", "я", "ы", "и", "е", "у", "ю"),
    *("ой", "ей", "ою", "ею", "ам", "ям", "ами", "ями", "ах", "ях"),
)
_RU_AFTER_SOFT_SIGN = ("ь", "я", "ю", "е", "и", "ем", "ём", "ей", "ям", "ями", "ях")
_RU_AFTER_J = ("й", "я", "ю", "е", "и", "ем", "ём", "ям", "ями", "ях")

# Kazakh slots, in the order suffixes attach. -дік/-лық makes "the office of" (әкім → әкімдік); the
# -дігі forms are that suffix already followed by the 3rd-person possessive, with the к → г voicing.
_KK_DERIVATION_OR_PLURAL = (
    *("лық", "лік", "дық", "дік", "тық", "тік"),
    *("лығы", "лігі", "дығы", "дігі", "тығы", "тігі"),
    *("лар", "лер", "дар", "дер", "тар", "тер"),
)
_KK_POSSESSIVE = (
    *("ы", "і", "сы", "сі", "ым", "ім", "м", "ың", "ің", "ң"),
    *("ыңыз", "іңіз", "ңыз", "ңіз", "мыз", "міз", "ымыз", "іміз"),
)
_KK_CASE = (
    *("ға", "ге", "қа", "ке", "а", "е", "на", "не"),  # dative; на/не after a 3rd-person possessive
    *("ның", "нің", "дың", "дің", "тың", "тің"),  # genitive
    *("ны", "ні", "ды", "ді", "ты", "ті", "н"),  # accusative; н after a 3rd-person possessive
    *("да", "де", "та", "те", "нда", "нде"),  # locative
    *("дағы", "дегі", "тағы", "тегі", "ндағы", "ндегі"),  # locative-attributive ("at the akim's")
    *("дан", "ден", "тан", "тен", "нан", "нен"),  # ablative
    *("мен", "бен", "пен", "менен", "бенен", "пенен"),  # instrumental
)

# Latin script: English possessive, Russian endings in transliteration, informal Latin Kazakh suffixes.
_LATIN_ENDINGS = (
    *("'s", "’s", "a", "u", "om", "e", "y"),
    *("ke", "ge", "qa", "ga", "ka", "ty", "ti", "dy", "di", "ny", "ni"),
    *("tyn", "tin", "dyn", "din", "nyn", "nin", "tyń", "tiń", "dyń", "diń", "nyń", "niń"),
    *("pen", "ben", "men", "ten", "den", "nen", "tan", "dan", "nan", "te", "de", "ta", "da"),
)

_CYRILLIC_VOWELS = frozenset("аеёиоуыэюяәөұүі")
_CYRILLIC_SIGNS = frozenset("ьъй")
# Function words ("по", "в") keep their form: inflecting them only invites false hits.
_MIN_INFLECTED_LENGTH = 3

# Entities whose text is an address or names a user: an alias inside is not a hit, and neither is an @tag
# inside an address. A mention entity does not hide an @tag from the text scan: if a client sent offsets
# that miss the tag, the scan still finds it, and a tag found both ways counts once.
_ADDRESS_ENTITIES = frozenset({"url", "email", "bot_command", "phone_number", "text_mention"})
_TAG_ENTITIES = frozenset({"mention", "text_mention"})
# A domain right after a hit (kasymbek.kz) or right before it (news.kasymbek): an address, not a name.
_DOMAIN_AFTER = re.compile(r"\.[A-Za-z0-9-]*[A-Za-z]")
_DOMAIN_BEFORE = re.compile(r"[A-Za-z0-9-]\.\Z")
_REPLY_POSITION = 1 << 62  # a reply is not in the text: it sorts after every hit in the text


@dataclass(frozen=True, slots=True)
class Mention:
    """One official tagged in a message, and how."""

    official_id: str
    how: str  # "username" | "text_mention" | "reply" | "alias"
    matched: str  # the text that matched, e.g. "@akim_astana", "Касымбеку"


def _normalize(text: str) -> str:
    """Lower case with ё folded to е, keeping every character at its index (so match spans stay valid)."""
    lowered = text.lower()
    if len(lowered) != len(text):
        # A few characters lower-case to two (İ → i̇); keep those as they are.
        lowered = "".join(low if len(low := char.lower()) == 1 else char for char in text)
    return lowered.replace("ё", "е")


def _literal(text: str) -> str:
    return re.escape(_normalize(text))


def _alternation(options: Iterable[str]) -> str:
    # Longest first: fewer retries when the regex backtracks to the word boundary.
    ordered = sorted({_normalize(option) for option in options}, key=lambda option: (-len(option), option))
    return "(?:" + "|".join(re.escape(option) for option in ordered) + ")"


_KK_CHAIN = (
    f"{_alternation(_KK_DERIVATION_OR_PLURAL)}?{_alternation(_KK_POSSESSIVE)}?{_alternation(_KK_CASE)}?"
)
_LATIN_CHAIN = f"{_alternation(_LATIN_ENDINGS)}?"


def _is_cyrillic(word: str) -> bool:
    return any("\u0400" <= char <= "\u04ff" for char in word)


def _is_latin(word: str) -> bool:
    return any(char.isalpha() and char < "\u0250" for char in word)


def _word_pattern(word: str) -> str:
    """The regex for one alias word with every inflection the grammar allows."""
    lower = word.lower()
    last = lower[-1]
    if len(word) < _MIN_INFLECTED_LENGTH or not last.isalpha():
        return _literal(word)
    if _is_cyrillic(word):
        forms = [_literal(word) + _KK_CHAIN]
        if last in "ая":
            forms.append(_literal(word[:-1]) + _alternation(_RU_AFTER_A))
        elif last == "ь":
            forms.append(_literal(word[:-1]) + _alternation(_RU_AFTER_SOFT_SIGN))
        elif last == "й":
            forms.append(_literal(word[:-1]) + _alternation(_RU_AFTER_J))
        elif last not in _CYRILLIC_VOWELS and last not in _CYRILLIC_SIGNS:
            forms.append(_literal(word) + _alternation(_RU_AFTER_CONSONANT))
        return "(?:" + "|".join(forms) + ")"
    if _is_latin(word):
        return _literal(word) + _LATIN_CHAIN
    return _literal(word)


def _stem(word: str) -> str:
    """The part of an alias word present in every inflected form (normalized), for the pre-check."""
    normalized = _normalize(word)
    if len(word) >= _MIN_INFLECTED_LENGTH and normalized[-1] in "аяьй" and _is_cyrillic(word):
        return normalized[:-1]
    return normalized


def _inside_address(text: str, start: int, end: int) -> bool:
    """True when text[start:end] sits inside a URL, a path, an e-mail address or a domain name."""
    token_start = start
    while token_start > 0 and not text[token_start - 1].isspace():
        token_start -= 1
    before = text[token_start:start]
    if "/" in before or "@" in before or _DOMAIN_BEFORE.search(before):
        return True
    return _DOMAIN_AFTER.match(text, end) is not None


def _overlaps(spans: Sequence[tuple[int, int]], start: int, end: int) -> bool:
    return any(span_start < end and start < span_end for span_start, span_end in spans)


class MentionDetector:
    """Find the configured officials a message tags; built once from the config, then only read."""

    def __init__(self, officials: Sequence[OfficialConfig]) -> None:
        """Precompile the lookups and regexes for `officials`."""
        self._by_username: dict[str, str] = {}
        self._by_user_id: dict[int, str] = {}
        aliases: dict[str, tuple[str, list[str]]] = {}  # normalized alias -> (spelling, official ids)
        for official in officials:
            for username in official.usernames:
                self._by_username.setdefault(username.lower().removeprefix("@"), official.id)
            for user_id in official.user_ids:
                self._by_user_id.setdefault(user_id, official.id)
            for alias in official.aliases:
                spelling = " ".join(alias.split())
                if spelling:
                    owners = aliases.setdefault(_normalize(spelling), (spelling, []))[1]
                    if official.id not in owners:
                        owners.append(official.id)

        # Both regexes run on the normalized text (lower case, ё → е, same indices as the original): a
        # case-sensitive regex over lower-case literals is several times faster than re.IGNORECASE.
        self._username_re: re.Pattern[str] | None = None
        if self._by_username:
            names = "|".join(
                re.escape(name) for name in sorted(self._by_username, key=lambda n: (-len(n), n))
            )
            # Strict boundaries: not after a word character (email@akim_astana) and not followed by one
            # (@akim_astana_fan, @akim_astana2 are other accounts).
            self._username_re = re.compile(rf"(?<![\w@])@(?:{names})(?![\w@])")

        # One regex for all aliases, one named group per alias, mapped back to the officials; longer aliases
        # first, so that "аким района Алматы" wins over a shorter alias it starts with.
        self._alias_owners: dict[str, tuple[str, ...]] = {}
        branches: list[str] = []
        key_stems: set[str] = set()
        ordered = sorted(aliases.values(), key=lambda item: (-len(item[0]), item[0]))
        for position, (spelling, owners) in enumerate(ordered):
            name = f"a{position}"
            words = spelling.split()
            branches.append(f"(?P<{name}>" + r"\s+".join(_word_pattern(word) for word in words) + ")")
            self._alias_owners[name] = tuple(owners)
            # The pre-check needs one stem that every form of the alias contains; the longest is usually
            # the rarest in chat ("байконыр" rather than "аким" in "аким района Байконыр").
            key_stems.add(max((_stem(word) for word in words), key=len))
        self._alias_re: re.Pattern[str] | None = None
        self._precheck_re: re.Pattern[str] | None = None
        if branches:
            # The lookahead on the possible first letters lets the regex engine skip most positions with a
            # single character-set test instead of trying every branch.
            first = "".join(sorted({re.escape(_normalize(spelling)[0]) for spelling, _ in ordered}))
            self._alias_re = re.compile(
                rf"(?=[{first}])(?<![\w@/\\])(?:" + "|".join(branches) + r")(?![\w@])"
            )
            # Literals only (no suffixes, no lookarounds): untagged text costs one quick scan.
            self._precheck_re = re.compile("|".join(re.escape(stem) for stem in sorted(key_stems)))

    def detect(self, message: IncomingMessage) -> list[Mention]:
        """The officials `message` tags (text or caption, entities, reply), in order of first appearance."""
        return self.detect_text(message.text, message.entities, message.reply_to)

    def detect_text(
        self, text: str, entities: Sequence[Entity] = (), reply_to: ReplyTo | None = None
    ) -> list[Mention]:
        """The officials tagged in `text` with its entities and reply, at most one Mention each."""
        found: list[tuple[int, Mention]] = []
        addresses: list[tuple[int, int]] = []  # spans no @tag or alias is taken from
        tags: list[tuple[int, int]] = []  # spans of mention entities, closed to aliases
        for entity in entities:
            if entity.type in _ADDRESS_ENTITIES or entity.type in _TAG_ENTITIES:
                span = utf16_span(text, entity.offset, entity.length)
                (addresses if entity.type in _ADDRESS_ENTITIES else tags).append(span)
                found.extend(self._entity_mentions(text, entity, span[0]))

        normalized = _normalize(text)
        if self._username_re is not None and "@" in text:
            for match in self._username_re.finditer(normalized):
                start, end = match.span()
                tag = text[start:end]
                # Lower-casing maps "K" (Kelvin sign) to "k"; real usernames are ASCII.
                if (
                    tag.isascii()
                    and not _overlaps(addresses, start, end)
                    and not _inside_address(text, start, end)
                ):
                    found.append((start, Mention(self._by_username[match.group()[1:]], "username", tag)))

        if (
            self._alias_re is not None
            and self._precheck_re is not None
            and self._precheck_re.search(normalized)
        ):
            for match in self._alias_re.finditer(normalized):
                start, end = match.span()
                if _overlaps(addresses, start, end) or _overlaps(tags, start, end):
                    continue
                if _inside_address(text, start, end):
                    continue
                for official_id in self._alias_owners[match.lastgroup or ""]:
                    found.append((start, Mention(official_id, "alias", text[start:end])))

        if reply_to is not None:
            reply = self._reply_mention(reply_to)
            if reply is not None:
                found.append((_REPLY_POSITION, reply))

        if not found:
            return []
        # Stable sort by position, then the first hit of each official wins.
        found.sort(key=lambda hit: hit[0])
        seen: set[str] = set()
        mentions = []
        for _, mention in found:
            if mention.official_id not in seen:
                seen.add(mention.official_id)
                mentions.append(mention)
        return mentions

    def _entity_mentions(self, text: str, entity: Entity, start: int) -> list[tuple[int, Mention]]:
        """A mention entity naming an official's username, or a text_mention of an official's account."""
        if entity.type == "mention":
            # Offsets count UTF-16 units: emoji before the tag shift Python indices.
            tag = utf16_slice(text, entity.offset, entity.length)
            official_id = self._by_username.get(tag.strip().removeprefix("@").lower())
            if official_id is not None:
                return [(start, Mention(official_id, "username", tag))]
        elif entity.type == "text_mention" and entity.user_id is not None:
            official_id = self._by_user_id.get(entity.user_id)
            if official_id is not None:
                name = utf16_slice(text, entity.offset, entity.length)
                return [(start, Mention(official_id, "text_mention", name))]
        return []

    def _reply_mention(self, reply_to: ReplyTo) -> Mention | None:
        """A reply to a message the official's account wrote tags that official."""
        if reply_to.from_user_id is not None:
            official_id = self._by_user_id.get(reply_to.from_user_id)
            if official_id is not None:
                return Mention(official_id, "reply", str(reply_to.from_user_id))
        if reply_to.from_username:
            username = reply_to.from_username.removeprefix("@")
            official_id = self._by_username.get(username.lower())
            if official_id is not None:
                return Mention(official_id, "reply", "@" + username)
        return None
