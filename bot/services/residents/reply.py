"""What the residents' office answers: a message to send, or an edit of an earlier one."""

from __future__ import annotations

from dataclasses import dataclass

from bot.telegram import Keyboard, ReplyKeyboard


@dataclass(frozen=True, slots=True)
class Reply:
    """Something to say to the resident: a new message, or an edit of an earlier bot message."""

    text: str
    keyboard: Keyboard | None = None
    reply_keyboard: ReplyKeyboard | None = None
    edit_message_id: int | None = None
    notice: str | None = None  # for button presses: the short pop-up answer
    draft_id: int | None = None  # a draft summary: remember which message shows it
