"""The python-telegram-bot adapter next to the aiogram one, against the fake Bot API: both must translate
every failure into the same port exception and put the same parameters on the wire."""

from __future__ import annotations

import datetime as dtm
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter, TimedOut
from telegram.warnings import PTBDeprecationWarning

from bot import telegram as port
from bot.config import TelegramConfig
from bot.telegram import Button, ReplyButton, TelegramGateway
from bot.telegram.aiogram_adapter import aiogram_gateway
from bot.telegram.ptb_adapter import PtbGateway, ptb_gateway
from tests.fakes.bot_api import NOT_MODIFIED, FakeBotAPI, make_png

CHAT = -1001000000001
GatewayFactory = Callable[[TelegramConfig], AbstractAsyncContextManager[Any]]
ADAPTERS: dict[str, GatewayFactory] = {"aiogram": aiogram_gateway, "ptb": ptb_gateway}
KICKED_400 = "Bad Request: bot was kicked from the supergroup chat"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        server.add_chat(CHAT, type="supergroup", title="Отдел")
        yield server


def config_for(url: str, token: str) -> TelegramConfig:
    return TelegramConfig(token=SecretStr(token), api_url=url, polling_timeout=1)


async def send(gateway: TelegramGateway) -> object:
    return await gateway.send_message(CHAT, "<b>карточка</b>")


async def edit(gateway: TelegramGateway) -> object:
    await gateway.edit_message_text(CHAT, 1, "новый текст")
    return None


async def poll(gateway: TelegramGateway) -> object:
    return await gateway.get_updates(offset=None, timeout=0, limit=100, allowed_updates=["message"])


@dataclass(frozen=True)
class Case:
    method: str
    call: Callable[[TelegramGateway], Awaitable[object]]
    error_code: int
    description: str | None
    expected: type[port.TelegramError]
    retry_after: int | None = None


CASES = {
    "429": Case("sendMessage", send, 429, None, port.TelegramRetryAfter, retry_after=3),
    "403": Case(
        "sendMessage", send, 403, "Forbidden: bot is not a member of the channel chat", port.TelegramForbidden
    ),
    "400 chat not found": Case(
        "sendMessage", send, 400, "Bad Request: chat not found", port.TelegramForbidden
    ),
    "400 kicked": Case("sendMessage", send, 400, KICKED_400, port.TelegramForbidden),
    "400 no rights": Case(
        "sendMessage",
        send,
        400,
        "Bad Request: not enough rights to send text messages to the chat",
        port.TelegramForbidden,
    ),
    "400 too long": Case(
        "sendMessage", send, 400, "Bad Request: message is too long", port.TelegramBadRequest
    ),
    "400 not modified": Case("editMessageText", edit, 400, NOT_MODIFIED, port.TelegramBadRequest),
    "400 no text": Case(
        "editMessageText",
        edit,
        400,
        "Bad Request: there is no text in the message to edit",
        port.TelegramBadRequest,
    ),
    "404": Case("sendMessage", send, 404, None, port.TelegramBadRequest),
    "409": Case("getUpdates", poll, 409, None, port.TelegramTransientError),
    "413": Case("sendMessage", send, 413, "Request Entity Too Large", port.TelegramBadRequest),
    "500": Case("sendMessage", send, 500, None, port.TelegramTransientError),
    "502": Case("sendMessage", send, 502, None, port.TelegramTransientError),
    "420 unknown": Case("sendMessage", send, 420, "Flood: unexpected", port.TelegramError),
}


async def outcome(factory: GatewayFactory, fake: FakeBotAPI, case: Case) -> port.TelegramError:
    async with factory(config_for(fake.url, fake.token)) as gateway:
        fake.fail_next(
            case.method,
            error_code=case.error_code,
            description=case.description,
            retry_after=case.retry_after,
        )
        with pytest.raises(port.TelegramError) as caught:
            await case.call(gateway)
    return caught.value


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_both_adapters_translate_an_error_answer_identically(fake: FakeBotAPI, case: Case) -> None:
    seen = {name: await outcome(factory, fake, case) for name, factory in ADAPTERS.items()}
    for name, exc in seen.items():
        assert type(exc) is case.expected, name
        assert exc.method == case.method, name
    aiogram, ptb = seen["aiogram"], seen["ptb"]
    # Telegram's own text, "Bad Request: " prefix included; aiogram wraps 429/413/5xx texts in its own words
    assert ptb.description in aiogram.description
    if isinstance(aiogram, port.TelegramBadRequest | port.TelegramForbidden):
        assert ptb.description == aiogram.description  # what delivery matches on ("no text in the message")
    if isinstance(aiogram, port.TelegramRetryAfter):
        assert isinstance(ptb, port.TelegramRetryAfter)
        assert ptb.retry_after == aiogram.retry_after == 3.0
        assert isinstance(ptb.retry_after, float)


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_blocked_chat_is_forbidden(fake: FakeBotAPI, adapter: str) -> None:
    fake.block_chat(CHAT)
    async with ADAPTERS[adapter](config_for(fake.url, fake.token)) as gateway:
        with pytest.raises(port.TelegramForbidden) as caught:
            await gateway.send_message(CHAT, "карточка")
        await gateway.send_message(-1001000000002, "другой чат работает")
    assert caught.value.description == "Forbidden: bot was kicked from the supergroup chat"


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_rejected_token_never_appears_in_the_error(adapter: str) -> None:
    async with FakeBotAPI() as fake:
        wrong = "654321:WRONG-token-value"
        with pytest.raises(port.TelegramError) as caught:
            async with ADAPTERS[adapter](config_for(fake.url, wrong)) as gateway:
                await gateway.get_me()
    assert type(caught.value) is port.TelegramError
    assert "401" in caught.value.description
    assert wrong not in str(caught.value) and "WRONG" not in repr(caught.value.args)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_an_unreachable_server_is_transient(adapter: str) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    gateway_cm = ADAPTERS[adapter](config_for(url, "123:token-value"))
    with pytest.raises(port.TelegramTransientError) as caught:
        async with gateway_cm as gateway:  # ptb checks the token on entry
            await gateway.get_me()
    assert "token-value" not in caught.value.description


async def test_ptb_native_exceptions_are_translated_like_aiogram(monkeypatch: pytest.MonkeyPatch) -> None:
    """ptb's own classes (used for failures that carry no Bot API answer) map onto the same port errors."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # RetryAfter's time periods as timedeltas, without a warning
    token = "123:secret-token-value"
    gateway = PtbGateway(config_for("http://127.0.0.1:9", token))

    async def raising(exc: Exception) -> None:
        raise exc

    cases: list[tuple[Exception, type[port.TelegramError]]] = [
        (RetryAfter(dtm.timedelta(seconds=2)), port.TelegramRetryAfter),
        (RetryAfter(dtm.timedelta(milliseconds=1500)), port.TelegramRetryAfter),
        (Forbidden("Forbidden: bot was blocked by the user"), port.TelegramForbidden),
        (BadRequest("Bad Request: chat not found"), port.TelegramForbidden),  # ptb: "Chat not found"
        (BadRequest("Bad Request: message to edit not found"), port.TelegramBadRequest),
        (Conflict("Conflict: terminated by other getUpdates request"), port.TelegramTransientError),
        (TimedOut(), port.TelegramTransientError),
        (InvalidToken(f"The token `{token}` was rejected by the server."), port.TelegramError),
    ]
    try:
        for exc, expected in cases:
            with pytest.raises(port.TelegramError) as caught:
                await gateway._call("sendMessage", raising(exc))
            assert type(caught.value) is expected, exc
            assert token not in caught.value.description
            if isinstance(caught.value, port.TelegramRetryAfter):
                assert isinstance(exc, RetryAfter)
                assert caught.value.retry_after == exc.retry_after.total_seconds()  # type: ignore[union-attr]
    finally:
        await gateway.close()


@pytest.mark.parametrize("seconds", [2, 1.5])
async def test_a_retry_after_in_seconds_is_read_without_a_warning(
    monkeypatch: pytest.MonkeyPatch, seconds: float
) -> None:
    """Without PTB_TIMEDELTA ptb warns when `retry_after` is read; the adapter reads it all the same."""
    monkeypatch.delenv("PTB_TIMEDELTA", raising=False)
    gateway = PtbGateway(config_for("http://127.0.0.1:9", "123:token-value"))

    async def raising() -> None:
        with pytest.warns(PTBDeprecationWarning):  # ptb reads the value in the constructor too
            exc = RetryAfter(dtm.timedelta(seconds=seconds))
        raise exc

    try:
        with pytest.raises(port.TelegramRetryAfter) as caught:
            await gateway._call("sendMessage", raising())
    finally:
        await gateway.close()
    assert caught.value.retry_after == seconds
    assert isinstance(caught.value.retry_after, float)


def _wire(fake: FakeBotAPI) -> list[tuple[str, dict[str, Any], list[tuple[str, bytes]]]]:
    """What reached the server, minus the upload's part name (aiogram uses attach://<random>)."""
    calls = []
    for call in fake.sent:
        if call.method == "getMe":
            continue
        params = {k: v for k, v in call.params.items() if not str(v).startswith("attach://")}
        files = sorted((upload.filename or "", upload.data) for upload in call.files.values())
        calls.append((call.method, params, files))
    return calls


async def _exercise(gateway: TelegramGateway, fake: FakeBotAPI) -> dict[str, Any]:
    keyboard = ((Button("Взять", callback_data="d:take:1"), Button("Ссылка", url="https://t.me/c/1/2")),)
    update = fake.inject_message(CHAT, "@akim_astana нет воды", from_user=fake.user(700001, "Айгерим"))
    update["message"]["future_field"] = {"nested": [1, 2]}  # a field no library models yet
    updates = await gateway.get_updates(offset=None, timeout=0, limit=100, allowed_updates=["message"])
    card = await gateway.send_message(
        CHAT, "<b>№1</b> нет воды", keyboard=keyboard, reply_to_message_id=update["message"]["message_id"]
    )
    await gateway.send_message(
        700001,
        "Поделитесь контактом",
        html=False,
        reply_keyboard=(
            (ReplyButton("Контакт", request_contact=True), ReplyButton("Место", request_location=True)),
        ),
    )
    fake.register_file("PHOTO-1", kind="photo")
    photo = await gateway.send_photo(CHAT, "PHOTO-1", caption="<i>фото</i>", keyboard=keyboard)
    album = await gateway.send_media_group(CHAT, ["PHOTO-1", "PHOTO-1"])
    await gateway.send_document(CHAT, "chart.png", make_png(3, 2), caption="<b>Сводка</b>")
    await gateway.edit_message_text(card.chat_id, card.message_id, "<b>№1</b> в работе", keyboard=keyboard)
    await gateway.edit_message_caption(photo.chat_id, photo.message_id, "<i>решено</i>", keyboard=None)
    await gateway.edit_message_keyboard(card.chat_id, card.message_id, None)
    press = fake.inject_callback(fake.user(200001, "Staff"), "d:take:1", (card.chat_id, card.message_id))
    await gateway.answer_callback(press["callback_query"]["id"], "Готово", alert=True)
    second = fake.inject_callback(fake.user(200001, "Staff"), "d:take:1", (card.chat_id, card.message_id))
    await gateway.answer_callback(second["callback_query"]["id"])
    admins = await gateway.get_chat_administrators(CHAT)
    await gateway.set_webhook("https://example.org/hook", secret_token="s3cret", allowed_updates=["message"])
    await gateway.delete_webhook()
    return {
        "me": await gateway.get_me(),
        "updates": updates,
        "card": card,
        "album": album,
        "admins": admins,
    }


async def test_both_adapters_put_the_same_calls_on_the_wire() -> None:
    results: dict[str, dict[str, Any]] = {}
    wires = {}
    for name, factory in ADAPTERS.items():
        async with FakeBotAPI() as fake:
            fake.add_chat(CHAT, type="supergroup", title="Отдел")
            async with factory(config_for(fake.url, fake.token)) as gateway:
                results[name] = await _exercise(gateway, fake)
            assert not fake.internal_errors
            assert all(call.ok for call in fake.sent), fake.describe_sent()
            wires[name] = _wire(fake)
            injected = fake.injected[0]
        # getUpdates hands over the JSON Telegram sent, unknown fields included
        assert results[name]["updates"] == [injected]
    assert wires["ptb"] == wires["aiogram"]
    for key in ("me", "card", "album", "admins"):  # updates differ in their dates; each matched above
        assert results["ptb"][key] == results["aiogram"][key], key
    send = next(params for method, params, _ in wires["ptb"] if method == "sendMessage")
    assert send["link_preview_options"] == {"is_disabled": True}
    assert send["reply_parameters"]["allow_sending_without_reply"] is True
