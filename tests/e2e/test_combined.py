"""A busy department end to end: a burst under a tight rate budget arrives as combined messages, "open"
gives a complaint its own card, and the desk works on that card as usual."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from bot.config import Config
from tests.e2e.conftest import CITY_CHAT, RESIDENT, UTILITIES_CHAT, running_bot
from tests.e2e.test_desk import STAFF, STRANGER, card_state, complaint, press
from tests.fakes.bot_api import FakeBotAPI, FloodLimits, SentCall

BURST = [f"@akim_astana нет горячей воды в доме {n} на улице Абая {n * 10}" for n in range(1, 9)]
GAS = "@akim_astana запах газа в подъезде, Кенесары 17!"  # urgent, utilities


def combined_messages(fake: FakeBotAPI) -> list[SentCall]:
    return [c for c in fake.calls("sendMessage", chat_id=UTILITIES_CHAT) if (c.text or "").startswith("📥")]


def cards(fake: FakeBotAPI) -> list[SentCall]:
    return [c for c in fake.calls("sendMessage", chat_id=UTILITIES_CHAT) if "Обращение №" in (c.text or "")]


def open_buttons(call: SentCall) -> list[int]:
    rows = (call.params.get("reply_markup") or {}).get("inline_keyboard", [])
    return [int(b["callback_data"].split(":")[2]) for row in rows for b in row]


def card_number(call: SentCall) -> int:
    match = re.search(r"Обращение №(\d+)", call.text or "")
    assert match is not None
    return int(match.group(1))


def appearances(fake: FakeBotAPI) -> Counter[int]:
    """How often each complaint was posted: as a card, or as a line (and button) of a combined message."""
    seen = Counter(card_number(c) for c in cards(fake))
    for message in combined_messages(fake):
        for number in open_buttons(message):
            assert f"№{number}" in (message.text or "")
            seen[number] += 1
    return seen


async def test_a_burst_arrives_combined_and_open_gives_the_card(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    # the bot keeps to one message every 2 s per chat; the fake would answer 429 past one a second
    config = config_factory(
        telegram={
            "rate_limit": {"per_chat_per_second": 0.5, "per_group_per_minute": 600, "global_per_second": 100}
        }
    )
    fake.enforce_limits = True
    fake.limits = FloodLimits(
        per_chat_burst=1, per_chat_per_second=1.0, per_group_per_minute=600, global_per_second=100
    )
    async with running_bot(config):
        for text in [*BURST[:4], GAS, *BURST[4:]]:
            fake.inject_message(CITY_CHAT, text, from_user=RESIDENT)
        await fake.wait_for(lambda _: sum(appearances(fake).values()) >= 9, timeout=30)

        seen = appearances(fake)
        assert sorted(seen) == list(range(1, 10)) and set(seen.values()) == {1}  # each exactly once
        assert combined_messages(fake), "a burst under a tight budget should be combined"
        (urgent,) = [c for c in cards(fake) if "СРОЧНО" in (c.text or "")]
        urgent_number = card_number(urgent)
        assert all(urgent_number not in open_buttons(m) for m in combined_messages(fake))
        await fake.wait_for_call("sendMessage", chat_id=STAFF, where=lambda c: "Срочное" in (c.text or ""))

        message = combined_messages(fake)[-1]
        message_id = message.result["message_id"]
        number = open_buttons(message)[0]
        before = card_state(fake, UTILITIES_CHAT, message_id)

        # a stranger's "open" is refused and changes nothing
        answer = await press(fake, STRANGER, f"d:open:{number}", message)
        assert answer.params.get("show_alert") is True
        assert card_state(fake, UTILITIES_CHAT, message_id) == before
        assert (await complaint(config, number)).card_state == "combined"

        # staff open it: its own card with the desk buttons, and its line loses the button
        answer = await press(fake, STAFF, f"d:open:{number}", message)
        assert answer.params.get("show_alert") is not True
        card = await fake.wait_for_call(
            "sendMessage",
            chat_id=UTILITIES_CHAT,
            where=lambda c: f"Обращение №{number}" in (c.text or ""),
            timeout=15,
        )
        markup = str(card.params.get("reply_markup"))
        assert f"d:take:{number}" in markup and f"d:reroute:{number}" in markup
        await fake.wait_for(
            lambda _: (
                "открыто отдельной карточкой" in str(card_state(fake, UTILITIES_CHAT, message_id)["text"])
            )
        )
        assert number not in open_buttons_of(card_state(fake, UTILITIES_CHAT, message_id))

        # take works on that card and the resident hears it, as for any card
        await press(fake, STAFF, f"d:take:{number}", card)
        taken = await fake.wait_for_call(
            "sendMessage",
            chat_id=RESIDENT["id"],
            where=lambda c: "взято в работу" in (c.text or "") and f"№{number}" in (c.text or ""),
            timeout=15,
        )
        assert taken.ok
        await fake.wait_for(
            lambda _: (
                "в работе — Staff" in str(card_state(fake, UTILITIES_CHAT, card.result["message_id"])["text"])
            )
        )
        assert not fake.calls(ok=False, where=lambda c: c.error_code == 429), (
            "the bot met Telegram's flood control"
        )

    row = await complaint(config, number)
    assert (row.status, row.card_state, row.card_message_id) == (
        "in_progress",
        "sent",
        card.result["message_id"],
    )


def open_buttons_of(message: dict[str, object]) -> list[int]:
    markup = message.get("reply_markup") or {}
    assert isinstance(markup, dict)
    return [int(b["callback_data"].split(":")[2]) for row in markup.get("inline_keyboard", []) for b in row]
