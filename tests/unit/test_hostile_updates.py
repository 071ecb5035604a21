"""Malformed and hostile updates: the parser and the ingress never crash, and nothing is silently lost."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Config
from bot.core.events import MalformedUpdate, parse_update
from bot.core.mentions import MentionDetector
from bot.ingress.receiver import UpdateIngestor
from bot.ops.logs import RedactingFilter

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=50)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
KINDS = [
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
    "my_chat_member",
    "poll",
]


@st.composite
def hostile_updates(draw: st.DrawFn) -> Any:
    """Updates that look almost right: real keys with wrong types, missing fields, bad entity offsets."""
    message: dict[str, Any] = draw(
        st.dictionaries(
            st.sampled_from(
                [
                    "message_id",
                    "date",
                    "chat",
                    "from",
                    "text",
                    "entities",
                    "caption",
                    "caption_entities",
                    "photo",
                    "reply_to_message",
                    "location",
                    "contact",
                    "sticker",
                ]
            ),
            json_values,
            max_size=8,
        )
    )
    if draw(st.booleans()):
        message["chat"] = {
            "id": draw(st.integers()),
            "type": draw(st.sampled_from(["group", "supergroup", "private", "channel", "x"])),
        }
        message["message_id"] = draw(st.integers(min_value=1, max_value=2**40))
        message["text"] = draw(st.text(max_size=300)) + " @akim_astana"
        message["entities"] = draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "type": st.sampled_from(["mention", "text_mention", "bold", "url"]),
                        "offset": st.integers(min_value=-5, max_value=10**6),
                        "length": st.integers(min_value=-5, max_value=10**6),
                    }
                ),
                max_size=5,
            )
        )
    update: dict[str, Any] = {draw(st.sampled_from(KINDS)): message}
    if draw(st.booleans()):
        update["update_id"] = draw(st.one_of(st.integers(min_value=0, max_value=2**40), json_values))
    return draw(st.one_of(st.just(update), json_values))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(raw=hostile_updates())
def test_parser_raises_only_malformed_update(raw: Any) -> None:
    with contextlib.suppress(MalformedUpdate):  # the one error it may raise; anything else fails
        parse_update(raw)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(raw=hostile_updates())
def test_ingress_selection_never_crashes(raw: Any, example_config: Config) -> None:
    ingestor = UpdateIngestor(example_config, MentionDetector(example_config.officials), uow_factory=None)  # type: ignore[arg-type]
    item = ingestor.select(raw)
    if item is not None:
        assert isinstance(item.update_id, int)
        assert isinstance(item.payload, dict)


def test_malformed_update_with_an_id_is_kept(
    example_config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    ingestor = UpdateIngestor(example_config, MentionDetector(example_config.officials), uow_factory=None)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING):
        item = ingestor.select({"update_id": 42, "message": {"chat": "nope"}})
    assert item is not None and item.kind == "malformed"
    assert "malformed update kept" in caplog.text


def test_huge_text_is_handled(example_config: Config) -> None:
    ingestor = UpdateIngestor(example_config, MentionDetector(example_config.officials), uow_factory=None)  # type: ignore[arg-type]
    text = "нет воды " * 20000 + "@akim_astana"
    raw = {
        "update_id": 1,
        "message": {"message_id": 1, "date": 0, "chat": {"id": -1001, "type": "supergroup"}, "text": text},
    }
    assert ingestor.select(raw) is not None


def test_token_is_scrubbed_from_log_records(caplog: pytest.LogCaptureFixture) -> None:
    token = "123456:AAE-secret-token"
    handler_filter = RedactingFilter([token])
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "calling https://api.telegram.org/bot%s/getMe", (token,), None
    )
    try:
        raise RuntimeError(f"failed url /bot{token}/sendMessage")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    assert handler_filter.filter(record)
    rendered = logging.Formatter().format(record)
    assert token not in rendered
    assert "***" in rendered
