"""The residents' private chat end to end: /start, filing with photo and location, /my, limits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from bot.config import Config
from tests.e2e.conftest import ADMIN, running_bot
from tests.fakes.bot_api import FakeBotAPI, SentCall

UTILITIES_CHAT = -1001000000001
ENVIRONMENT_CHAT = -1001000000003

COMPLAINTS = {
    "ru": "Во дворе дома на Кенесары 17 третью неделю не вывозят мусор, контейнеры переполнены",
    "kk": "Кенесары 17 үйдің ауласында үш апта бойы қоқыс шығарылмайды, контейнерлер толып кетті",
    "en": "The garbage has not been collected for three weeks in the yard at Kenesary 17, the bins are full",
}
LANGUAGE_SET = {"ru": "Язык: русский", "kk": "Тіл: қазақша", "en": "Language: English"}
ACCEPTED = {"ru": "принято", "kk": "қабылданып", "en": "is filed"}


def buttons(call: SentCall) -> dict[str, str]:
    """callback_data by button text of the message a call produced."""
    markup = call.params.get("reply_markup") or {}
    return {b["text"]: b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row}


def data_starting(call: SentCall, prefix: str) -> str:
    (data,) = [d for d in buttons(call).values() if d.startswith(prefix)]
    return data


class Resident:
    """Drives a private chat with the bot the way a person would."""

    def __init__(self, fake: FakeBotAPI, user_id: int, *, language_code: str | None = None) -> None:
        self.fake = fake
        self.id = user_id
        self.user = fake.user(user_id, "Айгерим", f"resident{user_id}", language_code=language_code)
        fake.add_chat(user_id, type="private", first_name="Айгерим")

    def said(self) -> list[SentCall]:
        return [c for c in self.fake.calls(chat_id=self.id) if c.method in ("sendMessage", "editMessageText")]

    async def send(self, text: str | None = None, **kwargs: Any) -> SentCall:
        before = len(self.said())
        self.fake.inject_message(self.id, text, from_user=self.user, **kwargs)
        return await self.fake.wait_for(lambda _: len(self.said()) > before and self.said()[-1])

    async def press(self, message: SentCall, data: str) -> SentCall:
        before = len(self.said())
        update = self.fake.callback_update(self.user, data, message)
        self.fake.inject(update)
        query_id = update["callback_query"]["id"]
        await self.fake.wait_for_call(
            "answerCallbackQuery", where=lambda c: c.params.get("callback_query_id") == query_id
        )
        return await self.fake.wait_for(lambda _: len(self.said()) > before and self.said()[-1])


@pytest.mark.parametrize("language", ["ru", "kk", "en"])
async def test_file_a_complaint_with_photo_and_location(
    fake: FakeBotAPI, config_factory: Callable[..., Config], language: str
) -> None:
    resident = Resident(fake, 710001)
    async with running_bot(config_factory()):
        greeting = await resident.send("/start")
        assert "Shagym" in (greeting.text or "")
        assert set(buttons(greeting)) == {"Русский", "Қазақша", "English"}
        chosen = await resident.press(greeting, f"lang:{language}")
        assert LANGUAGE_SET[language] in (chosen.text or "")

        summary = await resident.send(caption=COMPLAINTS[language], photo=True)
        assert ("Вывоз мусора" if language == "ru" else "") in (summary.text or "")
        summary = await resident.send(location=(51.128, 71.430))
        send = data_starting(summary, "r:send:")
        filed = await resident.press(summary, send)
        assert ACCEPTED[language] in (filed.text or "")
        number = int((filed.text or "").split("№" if language != "en" else "#")[1].split()[0])

        card = await fake.wait_for_call("sendPhoto", chat_id=ENVIRONMENT_CHAT)
        assert f"№{number}" in (card.params.get("caption") or "")

        my = await resident.send("/my")
        assert str(number) in (my.text or "")
        status = await resident.send(f"/status {number}")
        assert COMPLAINTS[language][:20] in (status.text or "")


async def test_change_category_and_cancel(fake: FakeBotAPI, config_factory: Callable[..., Config]) -> None:
    resident = Resident(fake, 710002, language_code="ru")
    async with running_bot(config_factory()):
        summary = await resident.send("Во дворе на Туран 5 сломаны качели, дети могут пораниться")
        picker = await resident.press(summary, data_starting(summary, "r:cat:"))
        heating = next(d for text, d in buttons(picker).items() if text.startswith("Отопление"))
        changed = await resident.press(picker, heating)
        assert "Отопление и горячая вода" in (changed.text or "")
        filed = await resident.press(changed, data_starting(changed, "r:send:"))
        assert "Управление энергетики и ЖКХ" in (filed.text or "")
        await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)

        summary = await resident.send("Ещё одна проблема: не горит фонарь у подъезда")
        cancelled = await resident.press(summary, data_starting(summary, "r:cancel:"))
        assert "Отменено" in (cancelled.text or "")
        # a stale button after cancelling changes nothing
        before = len(fake.calls(chat_id=UTILITIES_CHAT))
        update = fake.callback_update(resident.user, data_starting(summary, "r:send:"), summary)
        fake.inject(update)
        await fake.wait_for_call(
            "answerCallbackQuery",
            where=lambda c: c.params.get("callback_query_id") == update["callback_query"]["id"],
        )
        await asyncio.sleep(0.3)
        assert len(fake.calls(chat_id=UTILITIES_CHAT)) == before


async def test_rate_limit_keeps_the_draft(fake: FakeBotAPI, config_factory: Callable[..., Config]) -> None:
    resident = Resident(fake, 710003, language_code="ru")
    config = config_factory(residents={"max_complaints_per_hour": 2})
    async with running_bot(config):
        for n in range(2):
            summary = await resident.send(f"Нет горячей воды в доме номер {n + 1} на Абая")
            await resident.press(summary, data_starting(summary, "r:send:"))
        summary = await resident.send("Нет горячей воды в доме номер 3 на Абая")
        refused = await resident.press(summary, data_starting(summary, "r:send:"))
        assert "2 обращений за час" in (refused.text or "")
        await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT, count=2)
        # the draft is kept: it is still there to send later
        again = await resident.send("/my")
        assert (again.text or "").count("№") == 2
    async with running_bot(config_factory(residents={"max_complaints_per_hour": 5})):
        filed = await resident.press(summary, data_starting(summary, "r:send:"))
        assert "принято" in (filed.text or "")


async def test_unsupported_content_gets_an_explanation(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    resident = Resident(fake, 710004, language_code="en")
    async with running_bot(config_factory()):
        sticker = {
            "message": {
                "message_id": 5,
                "date": 1,
                "chat": {"id": resident.id, "type": "private", "first_name": "A"},
                "from": resident.user,
                "sticker": {
                    "file_id": "s1",
                    "file_unique_id": "u1",
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                },
            }
        }
        fake.inject(sticker)
        reply = await fake.wait_for_call("sendMessage", chat_id=resident.id)
        assert "text, photos" in (reply.text or "")
        short = await resident.send("help")
        assert "too short" in (short.text or "")
        long = await resident.send("a" * 3500)
        assert "too long" in (long.text or "")


async def test_blocklist_is_managed_by_admins(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    admin = Resident(fake, ADMIN, language_code="ru")
    resident = Resident(fake, 710005, language_code="ru")
    async with running_bot(config_factory()):
        done = await admin.send(f"/block {resident.id}")
        assert "заблокирован" in (done.text or "")
        refused = await resident.send("Нет горячей воды в доме на Абая 10")
        assert "приостановлен" in (refused.text or "")
        not_admin = await resident.send(f"/unblock {resident.id}")
        assert "приостановлен" in (not_admin.text or "")
        await admin.send(f"/unblock {resident.id}")
        summary = await resident.send("Нет горячей воды в доме на Абая 10")
        assert buttons(summary)


async def test_draft_survives_a_restart(fake: FakeBotAPI, config_factory: Callable[..., Config]) -> None:
    resident = Resident(fake, 710006, language_code="ru")
    config = config_factory()
    async with running_bot(config):
        summary = await resident.send("Уже сутки нет света во всём доме на Сарыарке")
    async with running_bot(config):
        filed = await resident.press(summary, data_starting(summary, "r:send:"))
        assert "принято" in (filed.text or "")
        await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)


async def test_shared_contact_is_stored_only_when_it_is_the_residents_own(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    resident = Resident(fake, 710007, language_code="ru")
    async with running_bot(config_factory()):
        other = await resident.send(contact={"phone_number": "+77015550000", "first_name": "X", "user_id": 1})
        assert "своим номером" in (other.text or "")
        own = await resident.send(
            contact={"phone_number": "+77015551234", "first_name": "A", "user_id": resident.id}
        )
        assert "номер сохранён" in (own.text or "")
