"""Resolving with a comment end to end: only a reply to the bot's own prompt counts, one prompt per card,
and a staff member's own private-chat draft is left alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.app.resources import build_resources
from bot.config import Config
from tests.e2e.conftest import CITY_CHAT, ROADS_CHAT, running_bot
from tests.e2e.test_desk import STAFF, UTILITIES_CHAT, complaint, events, file_private, press
from tests.e2e.test_residents import ACCEPTED, Resident, buttons, data_starting
from tests.fakes.bot_api import FakeBotAPI, SentCall

COLLEAGUE = 200002  # the other utilities staff member in the example config


async def prompt_for(fake: FakeBotAPI, number: int) -> SentCall:
    """The bot's prompt asking for the comment on complaint `number`."""
    return await fake.wait_for_call(
        "sendMessage",
        chat_id=UTILITIES_CHAT,
        where=lambda c: (c.text or "").startswith(f"№{number}:") and "ответьте" in (c.text or ""),
    )


def said_to(fake: FakeBotAPI, resident: Resident, needle: str) -> list[str]:
    return [c.text or "" for c in fake.calls("sendMessage", chat_id=resident.id) if needle in (c.text or "")]


async def test_only_a_reply_to_the_prompt_by_its_asker_resolves(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    resident = Resident(fake, 730001, language_code="ru")
    staff, colleague = fake.user(STAFF, "Staff"), fake.user(COLLEAGUE, "Colleague")
    async with running_bot(config):
        number = await file_private(fake, resident, "Третий день нет горячей воды в доме на Кенесары 40")
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        await press(fake, STAFF, f"d:resolve:{number}", card)
        prompt = await prompt_for(fake, number)
        prompt_id = prompt.result["message_id"]

        # the chat goes on: none of this is the comment
        lunch = fake.inject_message(UTILITIES_CHAT, "Коллеги, кто идёт обедать?", from_user=colleague)
        lunch_id = lunch["message"]["message_id"]
        fake.inject_message(UTILITIES_CHAT, "Я иду", from_user=staff, reply_to=lunch_id)
        fake.inject_message(UTILITIES_CHAT, "Через пять минут", from_user=staff)
        fake.inject_message(
            UTILITIES_CHAT, "Это на Кенесары?", from_user=staff, reply_to=card.result["message_id"]
        )
        # a colleague answering the prompt is not the one who pressed "resolve"
        fake.inject_message(UTILITIES_CHAT, "Вроде починили", from_user=colleague, reply_to=prompt_id)

        fake.inject_message(
            UTILITIES_CHAT, "Заменили задвижку, вода есть", from_user=staff, reply_to=prompt_id
        )
        resolved = await fake.wait_for_call(
            "sendMessage", chat_id=resident.id, where=lambda c: "решённое" in (c.text or "")
        )
        assert "Заменили задвижку" in (resolved.text or "")
        for chatter in ("обедать", "Я иду", "пять минут", "Кенесары?", "Вроде починили"):
            assert chatter not in (resolved.text or "")
        # once resolved, a second reply to the prompt changes nothing
        fake.inject_message(UTILITIES_CHAT, "И ещё кое-что", from_user=staff, reply_to=prompt_id)
        await asyncio.sleep(0.5)
    assert (await complaint(config, number)).status == "resolved"
    resolutions = [e for e in await events(config, number) if e.action == "resolved"]
    assert [e.details.get("comment") for e in resolutions] == ["Заменили задвижку, вода есть"]
    assert len(said_to(fake, resident, "решённое")) == 1


async def test_two_cards_keep_two_prompts_and_each_reply_resolves_its_own(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    first = Resident(fake, 730011, language_code="ru")
    second = Resident(fake, 730012, language_code="ru")
    staff = fake.user(STAFF, "Staff")
    async with running_bot(config):
        one = await file_private(fake, first, "Нет горячей воды в доме Абая 10, уже второй день")
        card_one = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        two = await file_private(
            fake, second, "Отключили отопление в доме на Сарыарке 3, в квартирах холодно"
        )
        card_two = await fake.wait_for_call(
            "sendMessage", chat_id=UTILITIES_CHAT, where=lambda c: f"№{two}" in (c.text or "")
        )
        assert one != two

        await press(fake, STAFF, f"d:resolve:{one}", card_one)
        prompt_one = await prompt_for(fake, one)
        await press(fake, STAFF, f"d:resolve:{two}", card_two)
        prompt_two = await prompt_for(fake, two)

        fake.inject_message(
            UTILITIES_CHAT, "Отопление дали", from_user=staff, reply_to=prompt_two.result["message_id"]
        )
        to_second = await fake.wait_for_call(
            "sendMessage", chat_id=second.id, where=lambda c: "решённое" in (c.text or "")
        )
        fake.inject_message(
            UTILITIES_CHAT, "Горячая вода есть", from_user=staff, reply_to=prompt_one.result["message_id"]
        )
        to_first = await fake.wait_for_call(
            "sendMessage", chat_id=first.id, where=lambda c: "решённое" in (c.text or "")
        )
        assert "Отопление дали" in (to_second.text or "") and "Горячая вода" not in (to_second.text or "")
        assert "Горячая вода есть" in (to_first.text or "") and "Отопление" not in (to_first.text or "")
    for number, comment in ((one, "Горячая вода есть"), (two, "Отопление дали")):
        assert (await complaint(config, number)).status == "resolved"
        (resolution,) = [e for e in await events(config, number) if e.action == "resolved"]
        assert resolution.details.get("comment") == comment


async def test_resolving_leaves_the_staff_members_private_draft_alone(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    resident = Resident(fake, 730021, language_code="ru")
    # the utilities staff member is a resident too, writing a complaint of their own in private
    staff_as_resident = Resident(fake, STAFF, language_code="ru")
    async with running_bot(config):
        draft = await staff_as_resident.send("Во дворе на Туран 5 сломаны качели, дети могут пораниться")
        send_draft = data_starting(draft, "r:send:")

        number = await file_private(fake, resident, "Третий день нет горячей воды в доме на Кенесары 40")
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        await press(fake, STAFF, f"d:resolve:{number}", card)
        prompt = await prompt_for(fake, number)
        fake.inject_message(
            UTILITIES_CHAT,
            "Заменили задвижку",
            from_user=fake.user(STAFF, "Staff"),
            reply_to=prompt.result["message_id"],
        )
        await fake.wait_for_call(
            "sendMessage", chat_id=resident.id, where=lambda c: "Заменили задвижку" in (c.text or "")
        )

        # the draft is still there and can be sent
        filed = await staff_as_resident.press(draft, send_draft)
        assert ACCEPTED["ru"] in (filed.text or "")
    assert (await complaint(config, number)).status == "resolved"


async def test_a_press_on_a_complaint_that_does_not_exist_says_so(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    resident = Resident(fake, 730031, language_code="ru")
    async with running_bot(config):
        number = await file_private(fake, resident, "Третий день нет горячей воды в доме на Кенесары 40")
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        missing = number + 1000
        presses = (
            f"d:take:{missing}",
            f"d:resolve:{missing}",
            f"d:open:{missing}",
            f"d:dof:{number}:{missing}",
        )
        for data in presses:
            answer = await press(fake, STAFF, data, card)
            assert answer.params.get("show_alert") is True
            text = answer.params.get("text", "")
            assert f"№{missing} не существует" in text, (data, text)
            assert "другой отдел" not in text
    assert (await complaint(config, number)).status == "delivered"


async def test_a_rerouted_complaint_is_not_resolved_by_a_reply_to_the_old_prompt(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    resident = Resident(fake, 730041, language_code="ru")
    async with running_bot(config):
        number = await file_private(fake, resident, "Третий день нет горячей воды в доме на Кенесары 40")
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        await press(fake, STAFF, f"d:resolve:{number}", card)
        prompt = await prompt_for(fake, number)
        # moved to another department before the comment came: the old prompt answers nothing
        await press(fake, STAFF, f"d:reroute:{number}", card)
        picker = await fake.wait_for_call(
            "editMessageReplyMarkup",
            chat_id=UTILITIES_CHAT,
            where=lambda c: "d:to:" in str(c.params.get("reply_markup")),
        )
        roads = next(
            b["callback_data"]
            for row in picker.params["reply_markup"]["inline_keyboard"]
            for b in row
            if b["text"].startswith("Управление транспорта")
        )
        await press(fake, STAFF, roads, card)
        categories = await fake.wait_for_call(
            "editMessageReplyMarkup", chat_id=UTILITIES_CHAT, where=lambda c: "d:tc:" in str(c.params)
        )
        pothole = next(
            b["callback_data"]
            for row in categories.params["reply_markup"]["inline_keyboard"]
            for b in row
            if b["text"] == "Дороги и тротуары"
        )
        await press(fake, STAFF, pothole, card)
        await fake.wait_for_call(
            "sendMessage", chat_id=resident.id, where=lambda c: "передано" in (c.text or "")
        )
        fake.inject_message(
            UTILITIES_CHAT,
            "Готово",
            from_user=fake.user(STAFF, "Staff"),
            reply_to=prompt.result["message_id"],
        )
        await asyncio.sleep(0.5)
    print(
        "DEBUG",
        (await complaint(config, number)).status,
        (await complaint(config, number)).department_id,
        [(e.action, e.to_status) for e in await events(config, number)],
    )
    assert (await complaint(config, number)).status != "resolved"
    assert not [e for e in await events(config, number) if e.action == "resolved"]


async def test_no_comment_resolves_and_closes_the_prompt_for_good(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    resident = Resident(fake, 730051, language_code="ru")
    async with running_bot(config):
        number = await file_private(fake, resident, "Третий день нет горячей воды в доме на Кенесары 40")
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        await press(fake, STAFF, f"d:resolve:{number}", card)
        prompt = await prompt_for(fake, number)
        await press(fake, STAFF, f"d:rnc:{number}", card)
        resolved = await fake.wait_for_call(
            "sendMessage", chat_id=resident.id, where=lambda c: "решённое" in (c.text or "")
        )
        assert "Комментарий отдела: —" in (resolved.text or "")
        # the resident says it is not fixed: reopened, with a fresh card
        await resident.press(resolved, buttons(resolved)["👎 Нет, не решена"])
        await fake.wait_for_call(
            "sendMessage", chat_id=UTILITIES_CHAT, where=lambda c: "открыто повторно: 1" in (c.text or "")
        )
        # the old prompt belonged to the first resolution: a late reply to it resolves nothing now
        fake.inject_message(
            UTILITIES_CHAT,
            "Готово",
            from_user=fake.user(STAFF, "Staff"),
            reply_to=prompt.result["message_id"],
        )
        await asyncio.sleep(0.5)
    assert (await complaint(config, number)).status == "delivered"
    assert len([e for e in await events(config, number) if e.action == "resolved"]) == 1


async def test_an_edit_that_moves_the_complaint_away_and_back_closes_the_old_prompt(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    author = {"id": 730061, "is_bot": False, "first_name": "Ерлан"}
    heating = "@akim_astana в доме на Кенесары 40 третий день нет отопления, батареи холодные"
    async with running_bot(config):
        update = fake.message_update(CITY_CHAT, heating, from_user=author)
        fake.inject(update)
        message_id = update["message"]["message_id"]
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        async with build_resources(config, prepare=False) as resources, resources.unit_of_work() as uow:
            row = await uow.complaints.by_source(CITY_CHAT, message_id)
            assert row is not None
            number = row.id
        await press(fake, STAFF, f"d:resolve:{number}", card)
        prompt = await prompt_for(fake, number)
        # the author edits it into a road problem (another department), then back
        pothole = "@akim_astana на Жубанова огромная яма на дороге, асфальт провалился"
        fake.inject(
            fake.message_update(CITY_CHAT, pothole, from_user=author, message_id=message_id, edited=True)
        )
        await fake.wait_for_call("sendMessage", chat_id=ROADS_CHAT)
        fake.inject(
            fake.message_update(CITY_CHAT, heating, from_user=author, message_id=message_id, edited=True)
        )
        # its new card in the utilities chat, sent after the prompt
        new_card = await fake.wait_for_call(
            "sendMessage",
            chat_id=UTILITIES_CHAT,
            where=lambda c: c.result["message_id"] > prompt.result["message_id"],
        )
        for _ in range(100):  # until the new card is recorded: the complaint is resolvable again
            row = await complaint(config, number)
            if row.card_message_id == new_card.result["message_id"] and row.status == "delivered":
                break
            await asyncio.sleep(0.05)
        # a reply to the prompt of before the move resolves nothing
        fake.inject_message(
            UTILITIES_CHAT,
            "Готово",
            from_user=fake.user(STAFF, "Staff"),
            reply_to=prompt.result["message_id"],
        )
        await asyncio.sleep(0.5)
    assert (await complaint(config, number)).status != "resolved"
