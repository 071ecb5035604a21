"""One resident floods the private chat: another chat's urgent complaint still gets its card at once, and the
flooder gets one summary, edited as the draft grows, instead of a message per update."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy import select

from bot.config import Config, RateLimitConfig
from storage.models import ComplaintRow
from tests.e2e.conftest import CITY_CHAT, ENVIRONMENT_CHAT, RESIDENT, UTILITIES_CHAT, running_bot
from tests.e2e.test_residents import Resident, data_starting
from tests.fakes.bot_api import FakeBotAPI, SentCall

FLOODER = 720001
FLOOD = 200
GAS = "@akim_astana запах газа в подъезде на Кенесары 17, срочно!"  # urgent, utilities


def said_to(fake: FakeBotAPI, chat_id: int) -> list[SentCall]:
    return [c for c in fake.calls(chat_id=chat_id) if c.method in ("sendMessage", "editMessageText")]


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        await asyncio.sleep(0.05)


async def test_a_flood_in_one_chat_does_not_stall_another_chats_complaint(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    # Telegram's real limits (1 message/s per chat): the e2e config raises them for other tests
    config = config_factory(telegram={"rate_limit": RateLimitConfig().model_dump()})
    flooder = fake.user(FLOODER, "Айгерим", "flooder", language_code="ru")
    fake.add_chat(FLOODER, type="private", first_name="Айгерим")
    async with running_bot(config) as bot:
        for n in range(FLOOD):
            fake.inject_message(FLOODER, f"Нет света {n:03}", from_user=flooder)
            if n % 20 == 19:
                await asyncio.sleep(0.05)  # 200 messages in about half a second
        # the flood is in the bot's hands: its first answer is out
        await fake.wait_for(lambda _: said_to(fake, FLOODER), timeout=10)
        fake.inject_message(CITY_CHAT, GAS, from_user=RESIDENT)
        arrived = time.time()
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT, timeout=30)
        waited = card.time - arrived
        assert "СРОЧНО" in (card.text or ""), card.text
        # within a second of arrival, with slack for a loaded machine: far from the 198 s of one queue
        assert waited < 3.0, f"the card came {waited:.1f}s after the complaint"

        # the whole flood goes into the draft; the flooder sees one summary, edited, not 200 messages
        await until(lambda: bot.processor.processed >= FLOOD + 1, 60, "the flood processed")
        await asyncio.sleep(2.5)  # the last edit waits for the chat's budget
        said = said_to(fake, FLOODER)
        assert [c.method for c in said].count("sendMessage") <= 2, [c.describe() for c in said]
        assert len(said) <= 15, [c.describe() for c in said]
        summary = said[-1]
        assert "Я понял так" in (summary.text or ""), summary.text
        # the summary on screen shows the last message, and later answers edit the first one
        assert f"Нет света {FLOOD - 1:03}" in (summary.text or ""), summary.text
        edited = {c.params.get("message_id") for c in said if c.method == "editMessageText"}
        assert edited <= {said[0].result["message_id"]}, [c.describe() for c in said]
        (send,) = [
            b["callback_data"]
            for row in summary.params["reply_markup"]["inline_keyboard"]
            for b in row
            if b["callback_data"].startswith("r:send:")
        ]
        fake.inject(fake.callback_update(flooder, send, summary))
        filed = await fake.wait_for_call(
            "sendMessage", chat_id=UTILITIES_CHAT, where=lambda c: "Нет света" in (c.text or ""), timeout=15
        )
    assert "Нет света 000" in (filed.text or "") and f"Нет света {FLOOD - 1:03}" in (filed.text or "")


async def test_many_chats_at_once_are_each_handled_in_order(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    residents = [730001 + n for n in range(6)]
    city_chats = [CITY_CHAT, -1001999000222, -1001999000333]
    for chat in city_chats[1:]:
        fake.add_chat(chat, type="supergroup", title=f"Астана {chat}")
    users = {r: fake.user(r, "Житель", f"resident{r}", language_code="ru") for r in residents}
    for resident in residents:
        fake.add_chat(resident, type="private", first_name="Житель")
    total = 0
    async with running_bot(config_factory()) as bot:
        for n in range(30):  # every chat busy at once, their updates interleaved
            for resident in residents:
                fake.inject_message(resident, f"Сломан лифт, сообщение {n:02}", from_user=users[resident])
                total += 1
            if n < 5:
                for index, chat in enumerate(city_chats):
                    fake.inject_message(
                        chat, f"@akim_astana яма на дороге у дома {100 * index + n}", from_user=RESIDENT
                    )
                    total += 1
            await asyncio.sleep(0.01)
        await until(lambda: bot.processor.processed >= total, 60, "every update handled")
        async with bot.resources.unit_of_work() as uow:
            counts = await uow.inbox.counts()
            drafts = {r: await uow.conversations.get(r) for r in residents}
            complaints = list(await uow.session.scalars(select(ComplaintRow).order_by(ComplaintRow.id)))
        await asyncio.sleep(0.5)
        said = {r: said_to(fake, r) for r in residents}
    assert counts == {"processed": total}, counts  # nothing failed (no "database is locked"), nothing left
    for resident in residents:
        draft = drafts[resident]
        assert draft is not None
        # one chat's messages in the order they were sent
        assert draft.data["text"].splitlines() == [f"Сломан лифт, сообщение {n:02}" for n in range(30)]
        assert [c.method for c in said[resident]].count("sendMessage") <= 3, said[resident]
    for chat in city_chats:
        in_chat = [c for c in complaints if c.chat_id == chat]
        assert len(in_chat) == 5
        # complaint numbers follow the chat's message order: that chat was worked in order
        assert [c.message_id for c in in_chat] == sorted(c.message_id for c in in_chat)


async def test_the_summary_is_edited_and_sent_anew_when_the_edit_fails(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    resident = Resident(fake, 730101, language_code="ru")
    async with running_bot(config_factory()):
        first = await resident.send("Во дворе дома на Абая 12 третий день не вывозят мусор")
        assert first.method == "sendMessage" and "Я понял так" in (first.text or "")
        shown = first.result["message_id"]
        photo = await resident.send(caption="Вот фото контейнеров", photo=True)
        assert photo.method == "editMessageText" and photo.params["message_id"] == shown
        assert "Фото: 1" in (photo.text or "") and "Вот фото контейнеров" in (photo.text or "")
        # the summary was deleted in the meantime: the next change sends a new one, and later ones edit that
        fake.fail_next(
            "editMessageText", error_code=400, description="Bad Request: message to edit not found"
        )
        fresh = await resident.send(location=(51.128, 71.430))
        assert fresh.method == "sendMessage" and "Геолокация: есть" in (fresh.text or "")
        again = await resident.send("Контейнеры стоят у второго подъезда")
        assert again.method == "editMessageText"
        assert again.params["message_id"] == fresh.result["message_id"]
        filed = await resident.press(again, data_starting(again, "r:send:"))
        assert "принято" in (filed.text or "")
        card = await fake.wait_for_call("sendPhoto", chat_id=ENVIRONMENT_CHAT)
        assert "второго подъезда" in (card.params.get("caption") or "")
