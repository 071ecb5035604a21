"""Department cards: what staff see for a complaint, cut safely inside Telegram's limits."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Config
from bot.domain import ComplaintStatus
from bot.i18n import t
from bot.telegram import Button, Keyboard
from bot.text import escape_html, truncate, utf16_len

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
# Room kept for the card's own lines when the resident's text is cut to fit.
_CARD_OVERHEAD = 700


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
    edited: bool = False
    reopened: int = 0
    duplicates: int = 0
    actor: str | None = None  # the staff member who acted last


class CardRenderer:
    """Renders cards in a department's language from the config's names."""

    def __init__(self, config: Config) -> None:
        self._config = config

    def language_of(self, department_id: str) -> str:
        """The language cards for this department are written in."""
        try:
            return self._config.department(department_id).language
        except KeyError:
            return "ru"

    def render(self, card: CardData, *, limit: int = MESSAGE_LIMIT) -> str:
        """HTML text of the card, at most `limit` UTF-16 units (the resident's text is what gets cut)."""
        lang = self.language_of(card.department)
        header = [f"<b>{escape_html(t('card.title', lang, number=card.number))}</b>"]
        if card.urgent:
            header.insert(0, f"<b>{t('card.urgent', lang)}</b>")
        lines = [" · ".join(header)]
        category = escape_html(self._config.category_name(card.category, lang))
        lines.append(f"{t('card.category', lang)}: <b>{category}</b>")
        lines.append(f"{t('card.district', lang)}: {escape_html(self._district_name(card.district, lang))}")
        if card.needs_triage:
            lines.append(t("card.triage", lang))
        if card.author:
            lines.append(f"{t('card.author', lang)}: {escape_html(card.author)}")
        lines.append(f"{t('card.source', lang)}: {self._source(card, lang)}")
        if card.officials:
            names = ", ".join(self._official_name(o, lang) for o in card.officials)
            lines.append(f"{t('card.officials', lang)}: {escape_html(names)}")
        extras = []
        if card.photos:
            extras.append(t("card.photos", lang, count=card.photos))
        if card.has_location:
            extras.append(t("card.location", lang))
        if card.edited:
            extras.append(t("card.edited", lang))
        if card.reopened:
            extras.append(t("card.reopened", lang, count=card.reopened))
        if card.duplicates:
            extras.append(t("card.duplicates", lang, count=card.duplicates))
        if extras:
            lines.append(" · ".join(extras))
        status_line = f"{t('card.status', lang)}: {t('status.' + card.status, lang)}"
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

    def keyboard(self, number: int, department_id: str, status: str = "delivered") -> Keyboard | None:
        """The desk buttons for a card in `status` (none once closed); data is action and number only."""
        lang = self.language_of(department_id)
        current = ComplaintStatus(status)
        if current.is_final:
            return None
        first = []
        if current is not ComplaintStatus.IN_PROGRESS:
            first.append(Button(t("button.take", lang), callback_data=f"d:take:{number}"))
        first.append(Button(t("button.resolve", lang), callback_data=f"d:resolve:{number}"))
        return (
            tuple(first),
            (
                Button(t("button.reroute", lang), callback_data=f"d:reroute:{number}"),
                Button(t("button.duplicate", lang), callback_data=f"d:duplicate:{number}"),
                Button(t("button.not_complaint", lang), callback_data=f"d:reject:{number}"),
            ),
        )

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
            return t("card.source_private", lang)
        title = escape_html(card.chat_title or str(card.chat_id))
        link = message_link(card.chat_id, card.message_id, card.chat_username)
        if link is None:
            return title
        return f'{title} — <a href="{escape_html(link, quote=True)}">{t("card.open_original", lang)}</a>'
