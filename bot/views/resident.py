"""What a resident sees in the private chat: the pickers, the draft's summary, /my and /status.

The residents' office decides what to show; these build it. Replies to residents are plain text
(`t()`, unescaped): an edit of the summary escapes the whole text on its way out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from bot.config import Config
from bot.core import callbacks
from bot.core.callbacks import ResidentAction
from bot.telegram import Button, Keyboard, ReplyButton, ReplyKeyboard
from bot.views.i18n import LANGUAGES, t

LANGUAGE_NAMES = {"ru": "Русский", "kk": "Қазақша", "en": "English"}
_EXCERPT_CHARS = 300  # of the draft's text in its summary, well inside a message's 4,096
_STATUS_TEXT_CHARS = 1500  # of the complaint's text in /status

NameKind = Literal["category", "department", "district"]


class ComplaintFacts(Protocol):
    """What /my and /status show of a stored complaint."""

    @property
    def id(self) -> int: ...
    @property
    def category(self) -> str: ...
    @property
    def department_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def text(self) -> str: ...


@dataclass(frozen=True, slots=True)
class DraftSummary:
    """What a draft's summary shows: the resident's words and where the complaint would go."""

    draft_id: int
    text: str
    photos: int
    has_location: bool
    category: str
    department: str
    district: str | None
    doubt: bool  # the classifier sees no complaint and the resident picked no category


def config_name(config: Config, kind: NameKind, item_id: str | None, lang: str) -> str:
    """A category's, department's or district's name in `lang` ("—" for none)."""
    if item_id is None:
        return "—"
    lookup = {
        "category": config.category_name,
        "department": config.department_name,
        "district": config.district_name,
    }[kind]
    return lookup(item_id, lang)


def local_date(config: Config, moment: datetime) -> str:
    """A moment as the city reads it."""
    return moment.astimezone(config.tz).strftime("%d.%m.%Y %H:%M")


def greeting() -> str:
    """The /start greeting, in every language (the resident has not picked one yet)."""
    return "\n\n".join(t("start.greeting", code) for code in LANGUAGES)


def language_keyboard() -> Keyboard:
    """One button per language."""
    return (
        tuple(
            Button(LANGUAGE_NAMES[code], callback_data=callbacks.pack(callbacks.LanguageButton(code)))
            for code in LANGUAGES
        ),
    )


def share_keyboard(lang: str) -> ReplyKeyboard:
    """The reply keyboard that shares the resident's location or own contact."""
    return (
        (
            ReplyButton(t("button.share_location", lang), request_location=True),
            ReplyButton(t("button.share_contact", lang), request_contact=True),
        ),
    )


def excerpt(text: str) -> str:
    """The draft's text for its summary: the end of it when long (the newest part is what changed)."""
    text = text.strip()
    if len(text) <= _EXCERPT_CHARS:
        return text
    tail = text[-_EXCERPT_CHARS:]
    cut = next((i for i, char in enumerate(tail[:40]) if char.isspace()), -1)  # at a word's start
    return "…" + tail[cut + 1 :].lstrip()


def draft_summary(config: Config, summary: DraftSummary, lang: str) -> tuple[str, Keyboard]:
    """The draft's summary and its buttons (send, change category, cancel)."""
    text = t(
        "draft.summary",
        lang,
        category=config_name(config, "category", summary.category, lang),
        department=config_name(config, "department", summary.department, lang),
        district=config_name(config, "district", summary.district, lang) if summary.district else "—",
        photos=summary.photos,
        location=t("word.yes" if summary.has_location else "word.no", lang),
    )
    if summary.doubt:
        text = f"{t('draft.not_complaint', lang)}\n\n{text}"
    # the resident's own words on top: an edited summary shows what the last messages added
    quote = f"💬 {excerpt(summary.text)}\n\n" if summary.text.strip() else ""
    text = f"{quote}{text}\n\n{t('draft.more', lang)}"
    draft_id = summary.draft_id
    keyboard: Keyboard = (
        (_button(t("button.send", lang), ResidentAction.SEND, draft_id),),
        (
            _button(t("button.change_category", lang), ResidentAction.CHANGE_CATEGORY, draft_id),
            _button(t("button.cancel", lang), ResidentAction.CANCEL, draft_id),
        ),
    )
    return text, keyboard


def category_picker(config: Config, draft_id: int, lang: str) -> Keyboard:
    """The draft's category picker: every category, two to a row."""
    buttons = [
        _button(category.name.get(lang), ResidentAction.SET_CATEGORY, draft_id, category.id)
        for category in config.categories
    ]
    return tuple(tuple(buttons[start : start + 2]) for start in range(0, len(buttons), 2))


def fix_question_keyboard(number: int, lang: str) -> Keyboard:
    """Yes / no: is the resolved complaint `number` fixed."""
    return (
        (
            _button(t("button.yes_fixed", lang), ResidentAction.FIXED, number, "y"),
            _button(t("button.not_fixed", lang), ResidentAction.FIXED, number, "n"),
        ),
    )


def my_complaints(config: Config, rows: Sequence[ComplaintFacts], lang: str) -> str:
    """The /my list: the resident's latest complaints, one line each."""
    if not rows:
        return t("my.empty", lang)
    lines = [t("my.header", lang)]
    for row in rows:
        lines.append(
            t(
                "my.line",
                lang,
                number=row.id,
                category=config_name(config, "category", row.category, lang),
                status=t(f"status.{row.status}", lang),
                date=local_date(config, row.created_at),
            )
        )
    return "\n".join(lines)


def complaint_status(config: Config, row: ComplaintFacts, lang: str) -> str:
    """/status of one of the resident's complaints."""
    return t(
        "status.detail",
        lang,
        number=row.id,
        category=config_name(config, "category", row.category, lang),
        department=config_name(config, "department", row.department_id, lang),
        status=t(f"status.{row.status}", lang),
        date=local_date(config, row.created_at),
        text=row.text[:_STATUS_TEXT_CHARS],
    )


def _button(text: str, action: ResidentAction, number: int, target: str | None = None) -> Button:
    return Button(text, callback_data=callbacks.pack(callbacks.ResidentButton(action, number, target)))
