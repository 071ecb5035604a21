"""Department cards: what staff see for a complaint, cut safely inside Telegram's limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.config import Config
from bot.core import callbacks
from bot.core.callbacks import DeskAction
from bot.core.domain import ComplaintSource, ComplaintStatus
from bot.core.lifecycle import NOT_TAKEN, CardState
from bot.core.text import escape_html, truncate, utf16_len
from bot.telegram import MESSAGE_LIMIT, Button, Keyboard
from bot.views.i18n import DEFAULT_LANGUAGE, t, t_html

# Room kept for the card's own lines when the resident's text is cut to fit.
_CARD_OVERHEAD = 700
# A combined message gives each complaint at most this much of its text (UTF-16 units), less when
# many share the message; below _COMBINED_TEXT_MIN the lines drop detail to keep some text.
_COMBINED_TEXT = 280
_COMBINED_TEXT_MIN = 30


def message_link(chat_id: int, message_id: int, username: str | None) -> str | None:
    """t.me link to a message: by username for public chats, /c/ for private supergroups and channels."""
    if username:
        return f"https://t.me/{username}/{message_id}"
    text = str(chat_id)
    if text.startswith("-100"):
        return f"https://t.me/c/{text[4:]}/{message_id}"
    return None  # basic groups and private chats have no message links


@dataclass(frozen=True, slots=True)
class CardData:
    """The parts of a complaint a card shows (no database row, so rendering stays pure)."""

    number: int
    text: str
    category: str
    department: str
    urgent: bool
    district: str | None
    status: str
    source: str
    chat_id: int
    message_id: int
    chat_username: str | None
    chat_title: str | None
    author: str | None
    officials: tuple[str, ...]
    photos: int = 0
    has_location: bool = False
    needs_triage: bool = False
    confidence: float = 0.0  # of the category
    # the classifier's runner-up for a mixed text, shown so staff see it before rerouting
    alternative_category: str | None = None
    alternative_confidence: float | None = None
    edited: bool = False
    reopened: int = 0
    duplicates: int = 0
    actor: str | None = None  # the staff member who acted last
    # the phone the resident shared in the private chat: only on the card of their private complaints
    phone: str | None = None
    # sent again after a crash left its send unrecorded: Telegram may already show it once
    repeat: bool = False


@dataclass(frozen=True, slots=True)
class CombinedLine:
    """One complaint listed in a combined message, and where it stands now."""

    card: CardData
    # waiting: still only in this message (its "open" button is shown); opening: its card was asked
    # for; opened: it has a card of its own; moved: it now belongs to another department (card.department)
    state: str = "waiting"

    @property
    def can_open(self) -> bool:
        """Whether the line gets an "open" button."""
        return self.state == "waiting" and not ComplaintStatus(self.card.status).is_final


class CardRenderer:
    """Renders cards in a department's language from the config's names."""

    def __init__(self, config: Config) -> None:
        self._config = config

    def language_of(self, department_id: str) -> str:
        """The language cards for this department are written in."""
        try:
            return self._config.department(department_id).language
        except KeyError:
            return DEFAULT_LANGUAGE

    def render(self, card: CardData, *, limit: int = MESSAGE_LIMIT) -> str:
        """HTML text of the card, at most `limit` UTF-16 units (the resident's text is what gets cut)."""
        lang = self.language_of(card.department)
        h = t_html
        header = [f"<b>{h('card.title', lang, number=card.number)}</b>"]
        if card.urgent:
            header.insert(0, f"<b>{h('card.urgent', lang)}</b>")
        lines = [" · ".join(header)]
        if card.repeat:
            # first, so staff see it before they take it for a new complaint
            lines.insert(0, f"<i>{h('card.repeat', lang)}</i>")
        category = escape_html(self._config.category_name(card.category, lang))
        lines.append(f"{h('card.category', lang)}: <b>{category}</b>")
        lines.append(f"{h('card.district', lang)}: {escape_html(self._district_name(card.district, lang))}")
        if card.needs_triage:
            lines.append(h("card.triage", lang))
        if card.alternative_category is not None and card.alternative_confidence is not None:
            alternative = self._config.category_name(card.alternative_category, lang)
            lines.append(
                h(
                    "card.alternative",
                    lang,
                    category=alternative,
                    share=_percent(card.alternative_confidence),
                    main=_percent(card.confidence),
                )
            )
        phone = h("card.phone", lang, phone=_phone_label(card.phone)) if self._shows_phone(card) else None
        if card.author:
            author = f"{h('card.author', lang)}: {escape_html(card.author)}"
            lines.append(f"{author} · {phone}" if phone else author)
        elif phone:
            lines.append(phone)
        lines.append(f"{h('card.source', lang)}: {self._source(card, lang)}")
        if card.officials:
            names = ", ".join(self._official_name(o, lang) for o in card.officials)
            lines.append(f"{h('card.officials', lang)}: {escape_html(names)}")
        extras = []
        if card.photos:
            extras.append(h("card.photos", lang, count=card.photos))
        if card.has_location:
            extras.append(h("card.location", lang))
        if card.edited:
            extras.append(h("card.edited", lang))
        if card.reopened:
            extras.append(h("card.reopened", lang, count=card.reopened))
        if card.duplicates:
            extras.append(h("card.duplicates", lang, count=card.duplicates))
        if extras:
            lines.append(" · ".join(extras))
        status_line = f"{h('card.status', lang)}: {h('status.' + card.status, lang)}"
        if card.actor:
            status_line += f" — {escape_html(card.actor)}"
        lines.append(status_line)
        frame = "\n".join(lines)
        room = limit - utf16_len(frame) - utf16_len("\n\n<blockquote></blockquote>")
        body = escape_html(truncate(card.text, max(room, 50)))
        # escaping can lengthen the text (&amp;); cut again on the escaped form if it no longer fits
        while utf16_len(body) > room and room > 0:
            body = escape_html(truncate(card.text, max(1, room - (utf16_len(body) - room) - 10)))
            room -= 10
        return f"{frame}\n\n<blockquote>{body}</blockquote>"

    @staticmethod
    def _shows_phone(card: CardData) -> bool:
        # a phone shared in the private chat is for the complaints filed there; a chat's complaint (even
        # from the same person) and every other message (combined lines, digests, notices) never show it
        return bool(card.phone) and card.source == ComplaintSource.PRIVATE.value

    def keyboard(self, number: int, department_id: str, status: str = "delivered") -> Keyboard | None:
        """The desk buttons for a card in `status` (none once closed); data is action and number only."""
        lang = self.language_of(department_id)
        current = ComplaintStatus(status)
        if current.is_final:
            return None
        first = []
        if current is not ComplaintStatus.IN_PROGRESS:
            first.append(Button(t("button.take", lang), callback_data=desk_data(DeskAction.TAKE, number)))
        first.append(Button(t("button.resolve", lang), callback_data=desk_data(DeskAction.RESOLVE, number)))
        return (
            tuple(first),
            (
                Button(t("button.reroute", lang), callback_data=desk_data(DeskAction.REROUTE, number)),
                Button(t("button.duplicate", lang), callback_data=desk_data(DeskAction.DUPLICATE, number)),
                Button(t("button.not_complaint", lang), callback_data=desk_data(DeskAction.REJECT, number)),
            ),
        )

    def render_combined(
        self, department_id: str, lines: Sequence[CombinedLine], *, limit: int = MESSAGE_LIMIT
    ) -> str:
        """HTML of one message listing several complaints briefly, at most `limit` UTF-16 units.

        Every complaint keeps its line (up to 20 fit in a message); each one's text is what gets cut,
        then the lines' detail when many complaints share the message.
        """
        lang = self.language_of(department_id)
        title = f"<b>{t_html('combined.title', lang, count=len(lines))}</b>"
        if any(line.card.repeat for line in lines if line.state in ("waiting", CardState.OPENING)):
            title += f"\n<i>{t_html('card.repeat', lang)}</i>"
        hint = f"<i>{t_html('combined.hint', lang)}</i>"
        layouts: list[tuple[str, list[str], int]] = []
        for detail in ("full", "compact", "minimal"):
            heads = [self._combined_head(line, lang, detail) for line in lines]
            blocks = [title, *heads] + ([hint] if detail != "minimal" else [])
            fixed = sum(utf16_len(b) for b in blocks) + 2 * (len(blocks) - 1)
            # each text sits on its own line under its complaint's head
            room = min(_COMBINED_TEXT, (limit - fixed) // max(len(lines), 1) - 1)
            layouts.append((detail, heads, room))
        # the most detail that leaves a useful piece of each text, else the most that fits at all
        detail, heads, room = next(
            (layout for layout in layouts if layout[2] >= _COMBINED_TEXT_MIN),
            next((layout for layout in layouts if layout[2] >= 0), layouts[-1]),
        )
        parts = [title]
        for line, head in zip(lines, heads, strict=True):
            text = _short_html(line.card.text, room) if room > 0 else ""
            parts.append(f"{head}\n{text}" if text else head)
        if detail != "minimal":
            parts.append(hint)
        return "\n\n".join(parts)

    def combined_keyboard(self, department_id: str, lines: Sequence[CombinedLine]) -> Keyboard | None:
        """An "open" button for each complaint still waiting in the combined message, two to a row."""
        lang = self.language_of(department_id)
        buttons = [
            Button(
                t("button.open", lang, number=line.card.number),
                callback_data=desk_data(DeskAction.OPEN, line.card.number),
            )
            for line in lines
            if line.can_open
        ]
        if not buttons:
            return None
        return tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))

    def _combined_head(self, line: CombinedLine, lang: str, detail: str) -> str:
        card = line.card
        h = t_html
        parts = [f"<b>{h('combined.number', lang, number=card.number)}</b>"]
        if card.urgent:
            parts.append(f"<b>{h('card.urgent', lang)}</b>")
        if detail != "minimal":
            parts.append(escape_html(self._config.category_name(card.category, lang)))
            parts.append(escape_html(self._district_name(card.district, lang)))
        if detail == "full":
            if card.photos:
                parts.append(h("card.photos", lang, count=card.photos))
            if card.has_location:
                parts.append(h("card.location", lang))
            if card.duplicates:
                parts.append(h("card.duplicates", lang, count=card.duplicates))
        status = ComplaintStatus(card.status)
        if line.state == "waiting" and status not in NOT_TAKEN:
            parts.append(h(f"status.{status.value}", lang))
        head = " · ".join(parts)
        source = self._source(card, lang) if detail == "full" else self._short_source(card, lang)
        if source:
            head += f" — {source}"
        if line.state == "opened":
            head += f"\n{h('combined.opened', lang)}"
        elif line.state == CardState.OPENING:
            head += f"\n{h('combined.opening', lang)}"
        elif line.state == "moved":
            name = self._config.department_name(card.department, lang)
            head += f"\n{h('combined.moved', lang, department=name)}"
        return head

    def _short_source(self, card: CardData, lang: str) -> str:
        if card.source == "private":
            return t_html("card.source_private", lang)
        link = message_link(card.chat_id, card.message_id, card.chat_username)
        if link is None:
            return ""
        return f'<a href="{escape_html(link, quote=True)}">{t_html("card.open_original", lang)}</a>'

    def department_name(self, department_id: str, language: str) -> str:
        """A department's name in `language`."""
        return self._config.department_name(department_id, language)

    def _district_name(self, district_id: str | None, lang: str) -> str:
        if district_id is None:
            return t("card.district_unknown", lang)
        return self._config.district_name(district_id, lang)

    def _official_name(self, official_id: str, lang: str) -> str:
        for official in self._config.officials:
            if official.id == official_id:
                return official.name.get(lang)
        return official_id

    def _source(self, card: CardData, lang: str) -> str:
        if card.source == "private":
            return t_html("card.source_private", lang)
        title = escape_html(card.chat_title or str(card.chat_id))
        link = message_link(card.chat_id, card.message_id, card.chat_username)
        if link is None:
            return title
        return f'{title} — <a href="{escape_html(link, quote=True)}">{t_html("card.open_original", lang)}</a>'


def _percent(share: float) -> int:
    """A share in 0..1 as a whole percentage for staff."""
    return round(max(0.0, min(1.0, share)) * 100)


def _phone_label(phone: str | None) -> str:
    """A shared phone as staff dial it: Telegram sends contacts' numbers without the "+"."""
    number = (phone or "").strip()
    return f"+{number}" if number.isascii() and number.isdigit() else number


def _short_html(text: str, units: int) -> str:
    """`text` on one line, cut so that its escaped form takes at most `units` UTF-16 units."""
    flat = " ".join(text.split())
    room = units
    while True:
        body = escape_html(truncate(flat, max(room, 0)))
        excess = utf16_len(body) - units
        if excess <= 0:
            return body
        room -= excess  # "&" grew into "&amp;": cut the raw text by what escaping added


def desk_data(action: DeskAction, number: int) -> str:
    """The callback data of a card button (see `bot.core.callbacks`)."""
    return callbacks.pack(callbacks.DeskButton(action, number))
