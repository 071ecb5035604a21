"""Deadlines, escalation and automatic duplicate merging end to end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from bot.config import Config
from storage.base import utcnow
from tests.e2e.conftest import CITY_CHAT, running_bot
from tests.e2e.test_desk import ROADS_CHAT, complaint
from tests.fakes.bot_api import FakeBotAPI

UTILITIES_CHAT = -1001000000001
UTILITIES_HEAD = 200001
AKIM_DIGEST_CHAT = 100001


async def test_reminder_then_head_then_official(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    async with running_bot(config_factory()) as bot:
        fake.inject_message(
            CITY_CHAT, "@akim_astana нет горячей воды в Сарыарке", from_user=fake.user(700201, "A")
        )
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        await asyncio.sleep(0.3)  # the card's message id is recorded right after Telegram answers
        sla = timedelta(hours=24)  # utilities' sla_hours in the example config
        assert await bot.escalation.run(utcnow() + sla - timedelta(hours=1)) == {
            "reminded": 1,
            "head": 0,
            "official": 0,
        }
        reminder = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT, count=2)
        assert "⏰ №1" in (reminder.text or "")
        assert reminder.params.get("reply_parameters", {}).get("message_id") == card.result["message_id"]
        assert await bot.escalation.run(utcnow() + sla + timedelta(minutes=1)) == {
            "reminded": 0,
            "head": 1,
            "official": 0,
        }
        head = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_HEAD)
        assert "Просрочено обращение №1" in (head.text or "")
        later = utcnow() + sla + timedelta(hours=25)
        assert await bot.escalation.run(later) == {"reminded": 0, "head": 0, "official": 1}
        official = await fake.wait_for_call("sendMessage", chat_id=AKIM_DIGEST_CHAT)
        assert "№1" in (official.text or "")
        # nothing is sent twice
        assert await bot.escalation.run(later) == {"reminded": 0, "head": 0, "official": 0}


async def test_repeated_reports_merge_into_one_card(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    async with running_bot(config_factory()):
        fake.inject_message(
            CITY_CHAT,
            "@akim_astana Кенесары 17 нет горячей воды третий день",
            from_user=fake.user(700301, "A"),
        )
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        fake.inject_message(
            CITY_CHAT,
            "@akim_astana третий день нет горячей воды на Кенесары 17!!!",
            from_user=fake.user(700302, "B"),
        )
        fake.inject_message(
            CITY_CHAT,
            "@akim_astana нет горячей воды, Кенесары 17, третий день",
            from_user=fake.user(700303, "C"),
        )
        await fake.wait_for(
            lambda _: "+2" in str((fake.message(UTILITIES_CHAT, card.result["message_id"]) or {}).get("text"))
        )
    cards = [c for c in fake.calls("sendMessage", chat_id=UTILITIES_CHAT)]
    assert len(cards) == 1


async def test_an_edit_that_moves_a_complaint_restarts_its_deadline_as_a_desk_reroute_does(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    resident = fake.user(700401, "A")
    async with running_bot(config) as bot:
        first = fake.inject_message(
            CITY_CHAT, "@akim_astana нет горячей воды в доме на Кенесары 5", from_user=resident
        )
        await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        await asyncio.sleep(0.3)
        sla = timedelta(hours=24)  # utilities; roads have 72 hours in the example config
        assert (await bot.escalation.run(utcnow() + sla + timedelta(minutes=1)))["head"] == 1
        escalated = await complaint(config, 1)
        assert escalated.escalation_level == 1 and escalated.reminded_at is None

        # the resident rewrites the message: it is a pothole, the roads department's
        moved_at = utcnow()
        fake.inject_message(
            CITY_CHAT,
            "@akim_astana огромная яма на дороге у дома на Кенесары 5, машины бьют колёса",
            from_user=resident,
            message_id=first["message"]["message_id"],
            edited=True,
        )
        await fake.wait_for_call("sendMessage", chat_id=ROADS_CHAT)
        row = await complaint(config, 1)
        assert row.department_id == "transport_roads"
        assert row.escalation_level == 0 and row.escalated_at is None and row.reminded_at is None
        assert row.deadline_at is not None
        assert row.deadline_at - moved_at > timedelta(hours=71)  # the new department's full deadline
        # utilities' overdue escalation does not follow it to roads
        assert await bot.escalation.run(utcnow() + sla + timedelta(minutes=2)) == {
            "reminded": 0,
            "head": 0,
            "official": 0,
        }
