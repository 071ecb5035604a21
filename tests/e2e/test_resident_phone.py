"""A resident's shared phone: on the card of their private complaints for the department, nowhere else."""

from __future__ import annotations

from collections.abc import Callable

from bot.config import Config
from tests.e2e.conftest import ADMIN, CITY_CHAT, running_bot
from tests.e2e.test_residents import Resident, data_starting
from tests.fakes.bot_api import FakeBotAPI, SentCall

UTILITIES_CHAT = -1001000000001
ROADS_CHAT = -1001000000002
ENVIRONMENT_CHAT = -1001000000003
PHONE = "77015551234"  # Telegram sends a contact's number without the "+"
SHOWN = "📞 +77015551234"


async def file_private(resident: Resident, text: str) -> int:
    summary = await resident.send(text)
    filed = await resident.press(summary, data_starting(summary, "r:send:"))
    assert "№" in (filed.text or ""), filed.text
    return int((filed.text or "").split("№")[1].split()[0])


def card_of(
    fake: FakeBotAPI, number: int, chat_id: int = UTILITIES_CHAT
) -> Callable[[list[SentCall]], SentCall | None]:
    def found(_: list[SentCall]) -> SentCall | None:
        for call in fake.calls("sendMessage", chat_id=chat_id):
            if call.ok and (call.text or "").startswith(f"Обращение №{number}"):
                return call
        return None

    return found


async def test_the_shared_phone_is_on_the_card_of_private_complaints_until_erased(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    admin = Resident(fake, ADMIN, language_code="ru")
    resident = Resident(fake, 740001, language_code="ru")
    neighbour = Resident(fake, 740002, language_code="ru")
    async with running_bot(config_factory()):
        saved = await resident.send(
            contact={"phone_number": PHONE, "first_name": "А", "user_id": resident.id}
        )
        assert "номер сохранён" in (saved.text or "")
        number = await file_private(resident, "Третий день нет горячей воды в доме на Абая 10")
        card = await fake.wait_for(card_of(fake, number))
        assert SHOWN in (card.text or "") and "Айгерим" in (card.text or "")

        # the same person in a city chat: that card is the chat's, without the private phone
        fake.inject_message(
            CITY_CHAT, "@akim_astana огромная яма на дороге у дома на Абая 12", from_user=resident.user
        )
        group = await fake.wait_for(card_of(fake, number + 1, ROADS_CHAT))
        assert "Айгерим" in (group.text or "") and PHONE not in (group.text or "")
        # a resident who shared no phone: no phone line at all
        other = await file_private(neighbour, "Во дворе на Туран 5 сломаны качели, дети могут пораниться")
        assert "📞" not in ((await fake.wait_for(card_of(fake, other, ENVIRONMENT_CHAT))).text or "")
        # the resident's own answers and /status never repeat it
        status = await resident.send(f"/status {number}")
        assert PHONE not in (status.text or "")

        fake.clear_records()
        erased = await admin.send(f"/erase {resident.id}")
        assert "удалены" in (erased.text or "")

        def without_phone(_: list[SentCall]) -> SentCall | None:
            for call in fake.calls("editMessageText", chat_id=UTILITIES_CHAT):
                if call.ok and f"№{number}" in (call.text or ""):
                    return call
            return None

        edited = await fake.wait_for(without_phone)
        assert card.result["message_id"] == edited.params["message_id"]
        assert PHONE not in (edited.text or "") and "Айгерим" not in (edited.text or "")
        state = fake.message(UTILITIES_CHAT, card.result["message_id"])
        assert state is not None and PHONE not in str(state["text"])
    # nothing the bot sent after the erasure carries the phone: not the report, not any edit or notice
    assert all(PHONE not in (c.text or "") for c in fake.calls(ok=None))


async def test_a_phone_shared_after_filing_is_added_to_the_open_card(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    resident = Resident(fake, 740003, language_code="ru")
    async with running_bot(config_factory()):
        number = await file_private(resident, "Третий день нет горячей воды в доме на Абая 10")
        card = await fake.wait_for(card_of(fake, number))
        assert "📞" not in (card.text or "")
        await resident.send(contact={"phone_number": PHONE, "first_name": "А", "user_id": resident.id})

        def with_phone(_: list[SentCall]) -> SentCall | None:
            for call in fake.calls("editMessageText", chat_id=UTILITIES_CHAT):
                if call.params.get("message_id") == card.result["message_id"] and SHOWN in (call.text or ""):
                    return call
            return None

        await fake.wait_for(with_phone)
