"""Erasing a resident's personal data on request, end to end: only an admin's /erase does it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select

from bot.app.runtime import ShagymBot
from bot.config import Config
from storage.models import ComplaintRow, InboxRow, ResidentRow
from tests.e2e.conftest import ADMIN, running_bot
from tests.e2e.test_residents import Resident, data_starting
from tests.fakes.bot_api import FakeBotAPI, SentCall

UTILITIES_CHAT = -1001000000001


async def stored(
    bot: ShagymBot, user_id: int
) -> tuple[ResidentRow | None, list[ComplaintRow], list[InboxRow]]:
    """The resident's row, the complaints from their private chat, and the handled updates they sent."""
    async with bot.resources.unit_of_work() as uow:
        resident = await uow.residents.by_telegram_id(user_id)
        complaints = list(
            (await uow.session.scalars(select(ComplaintRow).where(ComplaintRow.source == "private"))).all()
        )
        inbox = list(
            (await uow.session.scalars(select(InboxRow).where(InboxRow.status == "processed"))).all()
        )
    mine = [row for row in inbox if (row.payload.get("message") or {}).get("from", {}).get("id") == user_id]
    return resident, complaints, mine


def edited_card(fake: FakeBotAPI, number: int) -> Callable[[list[SentCall]], SentCall | None]:
    def found(_: list[SentCall]) -> SentCall | None:
        for call in fake.calls(chat_id=UTILITIES_CHAT):
            text = call.params.get("text") or call.params.get("caption") or ""
            edit = call.method in ("editMessageText", "editMessageCaption")
            if edit and f"№{number}" in text and "Айгерим" not in text:
                return call
        return None

    return found


async def test_admin_erases_a_residents_data_and_others_cannot(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    admin = Resident(fake, ADMIN, language_code="ru")
    resident = Resident(fake, 710101, language_code="ru")
    neighbour = Resident(fake, 710102, language_code="ru")
    async with running_bot(config_factory()) as bot:
        await resident.send(
            contact={"phone_number": "+77015559999", "first_name": "А", "user_id": resident.id}
        )
        summary = await resident.send(
            "Третий день нет горячей воды в доме на Абая 10, звоните +7 701 555 99 99"
        )
        filed = await resident.press(summary, data_starting(summary, "r:send:"))
        number = int((filed.text or "").split("№")[1].split()[0])
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        assert "Айгерим" in (card.text or "")

        # a resident's /erase is an unknown command like any other: the greeting, and nothing erased
        answer = await neighbour.send(f"/erase {resident.id}")
        assert "Shagym" in (answer.text or "")
        row, complaints, inbox = await stored(bot, resident.id)
        assert row is not None and row.phone == "+77015559999"
        assert complaints[0].author_name is not None and complaints[0].resident_id == row.id
        assert inbox  # the updates they sent are stored

        answer = await admin.send(f"/erase {resident.id}")
        assert f"Персональные данные пользователя {resident.id} удалены" in (answer.text or "")
        assert "Обращений без автора: 1" in (answer.text or "")
        assert "ещё открыто: 1" in (answer.text or "")  # its department still works on it
        row, complaints, inbox = await stored(bot, resident.id)
        assert row is None
        (complaint,) = complaints
        assert (complaint.id, complaint.author_name, complaint.resident_id) == (number, None, None)
        assert complaint.chat_id == 0 and "+7 701" not in complaint.text
        assert complaint.status != "resolved" and "горячей воды" in complaint.text
        assert inbox == []  # every update they sent is emptied
        # the card in the department chat is edited so it no longer names them
        await fake.wait_for(edited_card(fake, number))

        unknown = await admin.send("/erase 123456")
        assert "ничего не хранится" in (unknown.text or "")
        usage = await admin.send("/erase someone")
        assert "/erase ID" in (usage.text or "")
        # writing again starts afresh: the bot no longer knows their complaints
        mine = await resident.send("/my")
        assert "нет обращений" in (mine.text or "")

        # the nightly expiry is on the scheduler, and a night's slot runs on one instance only
        (job,) = [j for j in bot.scheduler.jobs if j.name == "retention"]
        assert job.cron == "30 3 * * *"
        slot = datetime(2026, 11, 24, 22, 30, tzinfo=UTC)
        assert await bot.scheduler.run_slot(job, slot)
        assert not await bot.scheduler.run_slot(job, slot)
