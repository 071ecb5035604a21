"""Parsing the Bot API wire format into normalized events."""

from __future__ import annotations

import pytest

from bot.core.events import (
    CallbackPress,
    Chat,
    IncomingMessage,
    MalformedUpdate,
    MembershipChange,
    UnsupportedUpdate,
    parse_update,
)


def group_message(**overrides: object) -> dict[str, object]:
    message: dict[str, object] = {
        "message_id": 42,
        "date": 1_700_000_000,
        "chat": {"id": -1001234567890, "type": "supergroup", "title": "Сарыарка чат", "username": "saryarka"},
        "from": {
            "id": 555,
            "is_bot": False,
            "first_name": "Айгерим",
            "last_name": "С.",
            "language_code": "kk",
        },
        "text": "🔥🔥 @akim_astana су жоқ",
        "entities": [{"type": "mention", "offset": 5, "length": 12}],
    }
    message.update(overrides)
    return {"update_id": 7, "message": message}


def test_group_message() -> None:
    event = parse_update(group_message())
    assert isinstance(event, IncomingMessage)
    assert event.chat.id == -1001234567890 and event.chat.username == "saryarka"
    assert event.sender is not None and event.sender.full_name == "Айгерим С."
    assert event.entities[0].offset == 5
    assert not event.is_edit and not event.is_channel_post
    assert event.content_type == "text"


def test_photo_with_caption_uses_caption_entities_and_largest_photo() -> None:
    update = group_message(
        text=None,
        caption="@akim_astana яма",
        caption_entities=[{"type": "mention", "offset": 0, "length": 12}],
        photo=[
            {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
            {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 960},
        ],
    )
    del update["message"]["text"]  # type: ignore[attr-defined]
    event = parse_update(update)
    assert isinstance(event, IncomingMessage)
    assert event.text == "@akim_astana яма"
    assert event.entities[0].length == 12
    assert event.photos == ("large",)
    assert event.content_type == "photo"


def test_channel_post_and_edit() -> None:
    post = {
        "message_id": 3,
        "date": 1,
        "chat": {"id": -1009, "type": "channel", "title": "Новости"},
        "text": "x",
    }
    event = parse_update({"update_id": 1, "edited_channel_post": post})
    assert isinstance(event, IncomingMessage)
    assert event.is_channel_post and event.is_edit
    assert event.sender is None


def test_reply_and_text_mention() -> None:
    update = group_message(
        reply_to_message={
            "message_id": 40,
            "date": 1,
            "chat": {"id": -1, "type": "group"},
            "from": {"id": 100001, "is_bot": False, "first_name": "A"},
        },
        entities=[
            {
                "type": "text_mention",
                "offset": 0,
                "length": 4,
                "user": {"id": 100001, "is_bot": False, "first_name": "A"},
            }
        ],
    )
    event = parse_update(update)
    assert isinstance(event, IncomingMessage)
    assert event.reply_to is not None and event.reply_to.from_user_id == 100001
    assert event.entities[0].user_id == 100001


def test_callback_query() -> None:
    event = parse_update(
        {
            "update_id": 2,
            "callback_query": {
                "id": "cb1",
                "from": {"id": 200001, "is_bot": False, "first_name": "Staff"},
                "data": "d:take:5",
                "message": {"message_id": 9, "date": 1, "chat": {"id": -1001000000001, "type": "supergroup"}},
            },
        }
    )
    assert isinstance(event, CallbackPress)
    assert (event.data, event.chat_id, event.message_id) == ("d:take:5", -1001000000001, 9)


def test_unknown_kind_is_unsupported() -> None:
    event = parse_update({"update_id": 3, "message_reaction": {}})
    assert isinstance(event, UnsupportedUpdate) and event.kind == "message_reaction"


def test_membership_change() -> None:
    event = parse_update(
        {
            "update_id": 4,
            "my_chat_member": {
                "chat": {"id": -1001555, "type": "supergroup", "title": "Двор"},
                "from": {"id": 900, "first_name": "Админ"},
                "date": 1,
                "old_chat_member": {"status": "left", "user": {"id": 1, "is_bot": True}},
                "new_chat_member": {"status": "administrator", "user": {"id": 1, "is_bot": True}},
            },
        }
    )
    assert isinstance(event, MembershipChange)
    assert event.chat == Chat(-1001555, "supergroup", "Двор")
    assert (event.old_status, event.new_status) == ("left", "administrator")
    assert event.by is not None and (event.by.id, event.by.first_name) == (900, "Админ")


@pytest.mark.parametrize(
    "change",
    [
        {"chat": {"id": "x", "type": "group"}, "new_chat_member": {"status": 5}},
        {"chat": ["list"], "from": {"id": "nope"}, "new_chat_member": 1},
        {},
    ],
)
def test_a_membership_change_of_the_wrong_shape_is_read_leniently(change: dict[str, object]) -> None:
    """Nothing but a log line and the chat's record depend on it: it is never malformed."""
    event = parse_update({"update_id": 4, "my_chat_member": change})
    assert event == MembershipChange(4, chat=None, new_status=None)


def test_a_membership_change_that_is_not_an_object_is_unsupported() -> None:
    event = parse_update({"update_id": 4, "my_chat_member": 5})
    assert event == UnsupportedUpdate(4, "my_chat_member", ("my_chat_member",))


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        {"update_id": "x"},
        {"update_id": True, "message": {}},
        {"update_id": 1, "message": "text"},
        {"update_id": 1, "message": {"message_id": 1, "chat": {"id": "abc", "type": "group"}}},
        {"update_id": 1, "message": {"chat": {"id": 1, "type": "private"}}},
        {"update_id": 1, "callback_query": {"id": 5, "from": {"id": 1}}},
    ],
)
def test_malformed_updates_raise_a_clear_error(raw: object) -> None:
    with pytest.raises(MalformedUpdate):
        parse_update(raw)


def test_bad_entities_are_skipped_not_fatal() -> None:
    update = group_message(
        entities=[{"type": "mention"}, "junk", {"type": "mention", "offset": -3, "length": 2}]
    )
    event = parse_update(update)
    assert isinstance(event, IncomingMessage)
    assert event.entities == ()


def test_location_and_photo_sizes_of_the_wrong_type_are_ignored() -> None:
    event = parse_update(
        group_message(
            location={"latitude": 51.1, "longitude": "east"},
            photo=[{"file_id": "small", "width": {"w": 1}, "height": "tall"}, {"file_id": "big", "width": 9}],
        )
    )
    assert isinstance(event, IncomingMessage)
    assert event.location is None
    assert event.photos in (("small",), ("big",))
    for location in (
        {"latitude": 1e308, "longitude": 1e308},
        {"latitude": True, "longitude": 2},
        {"latitude": 1},
    ):
        event = parse_update(group_message(location=location))
        assert isinstance(event, IncomingMessage) and event.location is None
    event = parse_update(group_message(location={"latitude": 51, "longitude": 71.4}))
    assert isinstance(event, IncomingMessage) and event.location is not None
    assert (event.location.latitude, event.location.longitude) == (51.0, 71.4)


def test_ids_beyond_64_bits_are_malformed() -> None:
    with pytest.raises(MalformedUpdate):
        parse_update(group_message(message_id=2**63))
    with pytest.raises(MalformedUpdate):
        parse_update(group_message(chat={"id": -(2**63) - 1, "type": "group"}))
    event = parse_update(group_message(message_id=2**63 - 1))
    assert isinstance(event, IncomingMessage) and event.message_id == 2**63 - 1


def test_values_that_cannot_be_stored_are_made_storable() -> None:
    event = parse_update(
        group_message(
            text="🔥 @akim_astana нет\x00воды",
            chat={"id": -1001, "type": "supergroup" * 5, "title": "Ч" * 500, "username": "u" * 100},
            **{
                "from": {
                    "id": 5,
                    "first_name": "А\x00" * 100,
                    "last_name": "Б" * 100,
                    "language_code": "x" * 40,
                }
            },
        )
    )
    assert isinstance(event, IncomingMessage) and event.sender is not None
    assert event.text == "🔥 @akim_astana нет\ufffdводы"  # same UTF-16 length: entity offsets still hold
    assert len(event.chat.type) == 16 and len(event.chat.title or "") == 128 and event.chat.username is None
    assert "\x00" not in event.sender.first_name and len(event.sender.first_name) == 64
    assert len(event.sender.last_name or "") == 64 and len(event.sender.language_code or "") == 16
