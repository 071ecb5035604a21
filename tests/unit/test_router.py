"""Which handler gets an event: one decision, shared by the inbox and the ingress filter."""

from __future__ import annotations

import pytest

from bot.config import Config
from bot.config.sections import WatchConfig
from bot.core.events import IncomingMessage, parse_update
from bot.core.mentions import MentionDetector
from bot.ingress.receiver import UpdateIngestor
from handlers.router import Destination, Router

DEPARTMENT_CHAT = -1001000000001
CITY_CHAT = -1001999000001
ADMIN = 900001
RESIDENT = 700001


def update(chat_id: int, text: str, *, reply: bool = False) -> dict[str, object]:
    chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
    raw: dict[str, object] = {
        "message_id": 5,
        "date": 1,
        "chat": chat,
        "from": {"id": RESIDENT},
        "text": text,
    }
    if reply:
        raw["reply_to_message"] = {"message_id": 4, "from": {"id": 1}}
    return {"update_id": 1, "message": raw}


def message(chat_id: int, text: str) -> IncomingMessage:
    event = parse_update(update(chat_id, text))
    assert isinstance(event, IncomingMessage)
    return event


def watching_one_chat(config: Config) -> Config:
    return config.model_copy(update={"watch": WatchConfig(chats=[CITY_CHAT])})


@pytest.mark.parametrize(
    ("chat_id", "expected"),
    [
        (RESIDENT, Destination.RESIDENT),
        (DEPARTMENT_CHAT, Destination.DESK),
        (CITY_CHAT, Destination.INTAKE),
        (-1001999000002, Destination.NOWHERE),
    ],
)
def test_a_message_goes_where_its_chat_says(
    example_config: Config, chat_id: int, expected: Destination
) -> None:
    router = Router(watching_one_chat(example_config))
    assert router.destination(message(chat_id, "@akim_astana нет воды")) is expected


@pytest.mark.parametrize(
    ("chat_id", "text", "expected"),
    [
        (DEPARTMENT_CHAT, "/digest", True),
        (ADMIN, "/digest@shagym_bot", True),
        (CITY_CHAT, "/digest", False),  # a watched chat is not a digest chat
        (DEPARTMENT_CHAT, "дайджест", False),
    ],
)
def test_digest_is_asked_for_only_where_it_may_work(
    example_config: Config, chat_id: int, text: str, expected: bool
) -> None:
    assert Router(example_config).asks_for_digest(message(chat_id, text)) is expected


def test_config_builds_the_chat_sets_once(example_config: Config) -> None:
    departments = example_config.department_chats()
    assert departments == {d.chat_id for d in example_config.departments}
    assert departments <= example_config.digest_chats()
    assert set(example_config.telegram.admins) <= example_config.digest_chats()


@pytest.mark.parametrize(
    ("chat_id", "text", "reply", "kept"),
    [
        (CITY_CHAT, "@akim_astana нет воды", False, True),
        (CITY_CHAT, "просто болтовня", False, False),
        (-1001999000002, "@akim_astana нет воды", False, False),  # a chat no one watches
        (DEPARTMENT_CHAT, "@akim_astana нет воды", False, False),  # staff chatter
        (DEPARTMENT_CHAT, "готово", True, True),  # a reply may be a resolution's comment
        (DEPARTMENT_CHAT, "/digest", False, True),
        (RESIDENT, "привет", False, True),
    ],
)
def test_the_ingress_keeps_what_the_routed_handler_acts_on(
    example_config: Config, chat_id: int, text: str, reply: bool, kept: bool
) -> None:
    config = watching_one_chat(example_config)
    ingestor = UpdateIngestor(config, MentionDetector(config.officials), uow_factory=None)  # type: ignore[arg-type]
    assert (ingestor.select(update(chat_id, text, reply=reply)) is not None) is kept
