"""The fake Bot API server, driven by the real aiogram and python-telegram-bot clients.

Most tests run once per client through a small adapter, so the fake is checked against the wire format
both libraries produce (url-encoded and multipart forms, attach:// uploads, JSON-encoded fields) and parse
(Message, Update, ChatFullInfo, ChatMember, error payloads).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
import telegram
from aiogram import Bot as AiogramBot
from aiogram import Dispatcher
from aiogram import types as ag
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from telegram import error as ptb_error
from telegram.ext import Application, CommandHandler, ContextTypes

from tests.fakes import FakeBotAPI, FloodLimits, entity_text, mention_entities, parse_html, utf16_len
from tests.fakes.bot_api import make_png

GROUP = -1001234567890
USER = 424242
JSON = dict[str, Any]


# --------------------------------------------------------------------------------------------------------
# One adapter per client library: the same calls, results as Telegram-shaped dicts
# --------------------------------------------------------------------------------------------------------


class AiogramClient:
    name = "aiogram"
    Error: type[Exception] = TelegramAPIError
    BadRequest: type[Exception] = TelegramBadRequest
    Forbidden: type[Exception] = TelegramForbiddenError
    Conflict: type[Exception] = TelegramConflictError
    RetryAfter: type[Exception] = TelegramRetryAfter
    TimedOut: type[Exception] = TelegramNetworkError

    def __init__(self, fake: FakeBotAPI, token: str | None = None) -> None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(fake.url))
        self.bot = AiogramBot(token or fake.token, session=session)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        await self.bot.session.close()

    @staticmethod
    def dump(obj: ag.TelegramObject) -> JSON:
        return obj.model_dump(mode="json", by_alias=True, exclude_none=True)

    @staticmethod
    def dump_all(objs: list[Any]) -> list[JSON]:
        return [AiogramClient.dump(obj) for obj in objs]

    @staticmethod
    def retry_after(error: Exception) -> float:
        assert isinstance(error, TelegramRetryAfter)
        return float(error.retry_after)

    @staticmethod
    def _keyboard(buttons: list[tuple[str, str]] | None) -> ag.InlineKeyboardMarkup | None:
        if buttons is None:
            return None
        row = [ag.InlineKeyboardButton(text=text, callback_data=data) for text, data in buttons]
        return ag.InlineKeyboardMarkup(inline_keyboard=[row])

    async def get_me(self) -> JSON:
        return self.dump(await self.bot.get_me())

    async def get_updates(
        self, offset: int | None = None, timeout: int = 0, allowed_updates: list[str] | None = None
    ) -> list[JSON]:
        updates = await self.bot.get_updates(
            offset=offset, timeout=timeout, allowed_updates=allowed_updates, request_timeout=timeout + 5
        )
        return self.dump_all(updates)

    async def entity_texts(self, offset: int | None = None) -> list[list[tuple[str, str]]]:
        """(type, text) of every entity in each update's message, extracted by the library."""
        updates = await self.bot.get_updates(offset=offset)
        result = []
        for update in updates:
            message = update.message
            assert message is not None and message.text is not None
            result.append([(e.type, e.extract_from(message.text)) for e in message.entities or []])
        return result

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        parse_mode: str | None = None,
        buttons: list[tuple[str, str]] | None = None,
        reply_to: int | None = None,
        timeout: float | None = None,
    ) -> JSON:
        reply = ag.ReplyParameters(message_id=reply_to) if reply_to is not None else None
        message = await self.bot.send_message(
            chat_id,
            text,
            parse_mode=parse_mode,
            reply_markup=self._keyboard(buttons),
            reply_parameters=reply,
            request_timeout=timeout,  # type: ignore[arg-type]
        )
        return self.dump(message)

    async def send_photo(self, chat_id: int, data: bytes, filename: str, caption: str | None = None) -> JSON:
        photo = ag.BufferedInputFile(data, filename=filename)
        return self.dump(await self.bot.send_photo(chat_id, photo, caption=caption))

    async def send_photo_by_id(self, chat_id: int, file_id: str) -> JSON:
        return self.dump(await self.bot.send_photo(chat_id, file_id))

    async def send_media_group(self, chat_id: int, photos: list[bytes], caption: str) -> list[JSON]:
        media: list[Any] = [
            ag.InputMediaPhoto(
                media=ag.BufferedInputFile(data, filename=f"p{i}.png"), caption=caption if i == 0 else None
            )
            for i, data in enumerate(photos)
        ]
        return self.dump_all(await self.bot.send_media_group(chat_id, media))

    async def send_document(
        self, chat_id: int, data: bytes, filename: str, caption: str | None = None
    ) -> JSON:
        document = ag.BufferedInputFile(data, filename=filename)
        return self.dump(await self.bot.send_document(chat_id, document, caption=caption))

    async def send_location(self, chat_id: int, latitude: float, longitude: float) -> JSON:
        return self.dump(await self.bot.send_location(chat_id, latitude, longitude))

    async def download(self, file_id: str) -> bytes:
        buffer = await self.bot.download(file_id)
        assert buffer is not None
        return buffer.read()

    async def edit_message_text(
        self, chat_id: int, message_id: int, text: str, buttons: list[tuple[str, str]] | None = None
    ) -> JSON:
        result = await self.bot.edit_message_text(
            text=text, chat_id=chat_id, message_id=message_id, reply_markup=self._keyboard(buttons)
        )
        assert not isinstance(result, bool)
        return self.dump(result)

    async def answer_callback_query(self, query_id: str, text: str) -> bool:
        return await self.bot.answer_callback_query(query_id, text=text)

    async def copy_message(self, chat_id: int, from_chat_id: int, message_id: int) -> int:
        return (await self.bot.copy_message(chat_id, from_chat_id, message_id)).message_id

    async def forward_message(self, chat_id: int, from_chat_id: int, message_id: int) -> JSON:
        return self.dump(await self.bot.forward_message(chat_id, from_chat_id, message_id))

    async def delete_message(self, chat_id: int, message_id: int) -> bool:
        return await self.bot.delete_message(chat_id, message_id)

    async def send_chat_action(self, chat_id: int, action: str) -> bool:
        return await self.bot.send_chat_action(chat_id, action)

    async def get_chat(self, chat_id: int) -> JSON:
        return self.dump(await self.bot.get_chat(chat_id))

    async def get_chat_member(self, chat_id: int, user_id: int) -> JSON:
        return self.dump(await self.bot.get_chat_member(chat_id, user_id))

    async def get_chat_administrators(self, chat_id: int) -> list[JSON]:
        return self.dump_all(await self.bot.get_chat_administrators(chat_id))

    async def set_my_commands(self, commands: list[tuple[str, str]]) -> bool:
        return await self.bot.set_my_commands([ag.BotCommand(command=c, description=d) for c, d in commands])

    async def get_my_commands(self) -> list[tuple[str, str]]:
        return [(c.command, c.description) for c in await self.bot.get_my_commands()]

    async def delete_my_commands(self) -> bool:
        return await self.bot.delete_my_commands()

    async def set_webhook(self, url: str, secret_token: str) -> bool:
        return await self.bot.set_webhook(url, secret_token=secret_token)

    async def delete_webhook(self) -> bool:
        return await self.bot.delete_webhook()

    async def get_webhook_info(self) -> JSON:
        return self.dump(await self.bot.get_webhook_info())


class PtbClient:
    name = "ptb"
    Error: type[Exception] = ptb_error.TelegramError
    BadRequest: type[Exception] = ptb_error.BadRequest
    Forbidden: type[Exception] = ptb_error.Forbidden
    Conflict: type[Exception] = ptb_error.Conflict
    RetryAfter: type[Exception] = ptb_error.RetryAfter
    TimedOut: type[Exception] = ptb_error.TimedOut

    def __init__(self, fake: FakeBotAPI, token: str | None = None) -> None:
        self.bot = telegram.Bot(
            token or fake.token, base_url=fake.url + "/bot", base_file_url=fake.url + "/file/bot"
        )

    async def start(self) -> None:
        await self.bot.initialize()

    async def close(self) -> None:
        await self.bot.shutdown()

    @staticmethod
    def dump(obj: telegram.TelegramObject) -> JSON:
        return obj.to_dict()

    @staticmethod
    def dump_all(objs: Any) -> list[JSON]:
        return [PtbClient.dump(obj) for obj in objs]

    @staticmethod
    def retry_after(error: Exception) -> float:
        assert isinstance(error, ptb_error.RetryAfter)
        value = error.retry_after  # a timedelta with PTB_TIMEDELTA=true (set by the fixture)
        assert isinstance(value, datetime.timedelta)
        return value.total_seconds()

    @staticmethod
    def _keyboard(buttons: list[tuple[str, str]] | None) -> telegram.InlineKeyboardMarkup | None:
        if buttons is None:
            return None
        row = [telegram.InlineKeyboardButton(text, callback_data=data) for text, data in buttons]
        return telegram.InlineKeyboardMarkup([row])

    async def get_me(self) -> JSON:
        return self.dump(await self.bot.get_me())

    async def get_updates(
        self, offset: int | None = None, timeout: int = 0, allowed_updates: list[str] | None = None
    ) -> list[JSON]:
        updates = await self.bot.get_updates(
            offset=offset,
            timeout=datetime.timedelta(seconds=timeout),
            allowed_updates=allowed_updates,
            read_timeout=timeout + 5,
        )
        return self.dump_all(updates)

    async def entity_texts(self, offset: int | None = None) -> list[list[tuple[str, str]]]:
        result = []
        for update in await self.bot.get_updates(offset=offset):
            message = update.message
            assert message is not None
            result.append([(e.type, text) for e, text in message.parse_entities().items()])
        return result

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        parse_mode: str | None = None,
        buttons: list[tuple[str, str]] | None = None,
        reply_to: int | None = None,
        timeout: float | None = None,
    ) -> JSON:
        reply = telegram.ReplyParameters(reply_to) if reply_to is not None else None
        message = await self.bot.send_message(
            chat_id,
            text,
            parse_mode=parse_mode,
            reply_markup=self._keyboard(buttons),
            reply_parameters=reply,
            read_timeout=timeout,
        )
        return self.dump(message)

    async def send_photo(self, chat_id: int, data: bytes, filename: str, caption: str | None = None) -> JSON:
        photo = telegram.InputFile(data, filename=filename)
        return self.dump(await self.bot.send_photo(chat_id, photo, caption=caption))

    async def send_photo_by_id(self, chat_id: int, file_id: str) -> JSON:
        return self.dump(await self.bot.send_photo(chat_id, file_id))

    async def send_media_group(self, chat_id: int, photos: list[bytes], caption: str) -> list[JSON]:
        media = [
            telegram.InputMediaPhoto(data, caption=caption if i == 0 else None, filename=f"p{i}.png")
            for i, data in enumerate(photos)
        ]
        return self.dump_all(await self.bot.send_media_group(chat_id, media))

    async def send_document(
        self, chat_id: int, data: bytes, filename: str, caption: str | None = None
    ) -> JSON:
        document = telegram.InputFile(data, filename=filename)
        return self.dump(await self.bot.send_document(chat_id, document, caption=caption))

    async def send_location(self, chat_id: int, latitude: float, longitude: float) -> JSON:
        return self.dump(await self.bot.send_location(chat_id, latitude, longitude))

    async def download(self, file_id: str) -> bytes:
        file = await self.bot.get_file(file_id)
        return bytes(await file.download_as_bytearray())

    async def edit_message_text(
        self, chat_id: int, message_id: int, text: str, buttons: list[tuple[str, str]] | None = None
    ) -> JSON:
        result = await self.bot.edit_message_text(
            text, chat_id=chat_id, message_id=message_id, reply_markup=self._keyboard(buttons)
        )
        assert not isinstance(result, bool)
        return self.dump(result)

    async def answer_callback_query(self, query_id: str, text: str) -> bool:
        return await self.bot.answer_callback_query(query_id, text=text)

    async def copy_message(self, chat_id: int, from_chat_id: int, message_id: int) -> int:
        return (await self.bot.copy_message(chat_id, from_chat_id, message_id)).message_id

    async def forward_message(self, chat_id: int, from_chat_id: int, message_id: int) -> JSON:
        return self.dump(await self.bot.forward_message(chat_id, from_chat_id, message_id))

    async def delete_message(self, chat_id: int, message_id: int) -> bool:
        return await self.bot.delete_message(chat_id, message_id)

    async def send_chat_action(self, chat_id: int, action: str) -> bool:
        return await self.bot.send_chat_action(chat_id, action)

    async def get_chat(self, chat_id: int) -> JSON:
        return self.dump(await self.bot.get_chat(chat_id))

    async def get_chat_member(self, chat_id: int, user_id: int) -> JSON:
        return self.dump(await self.bot.get_chat_member(chat_id, user_id))

    async def get_chat_administrators(self, chat_id: int) -> list[JSON]:
        return self.dump_all(await self.bot.get_chat_administrators(chat_id))

    async def set_my_commands(self, commands: list[tuple[str, str]]) -> bool:
        return await self.bot.set_my_commands(commands)

    async def get_my_commands(self) -> list[tuple[str, str]]:
        return [(c.command, c.description) for c in await self.bot.get_my_commands()]

    async def delete_my_commands(self) -> bool:
        return await self.bot.delete_my_commands()

    async def set_webhook(self, url: str, secret_token: str) -> bool:
        return await self.bot.set_webhook(url, secret_token=secret_token)

    async def delete_webhook(self) -> bool:
        return await self.bot.delete_webhook()

    async def get_webhook_info(self) -> JSON:
        return self.dump(await self.bot.get_webhook_info())


Client = AiogramClient | PtbClient


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


@asynccontextmanager
async def open_client(kind: str, fake: FakeBotAPI, token: str | None = None) -> AsyncIterator[Client]:
    client: Client = AiogramClient(fake, token) if kind == "aiogram" else PtbClient(fake, token)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture(params=["aiogram", "ptb"])
async def client(
    request: pytest.FixtureRequest, fake: FakeBotAPI, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Client]:
    # python-telegram-bot warns (an error here) on int time periods unless opted in to timedelta.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with open_client(request.param, fake) as opened:
        yield opened


@asynccontextmanager
async def receiver(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> AsyncIterator[str]:
    """A local HTTP endpoint for webhook deliveries; yields its URL."""
    app = web.Application()
    app.router.add_post("/hook", handler)
    async with serve(app) as base:
        yield base + "/hook"


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


def icase(text: str) -> re.Pattern[str]:
    """Match error texts case-insensitively: ptb drops "Bad Request: " and capitalizes the rest."""
    return re.compile(re.escape(text), re.IGNORECASE)


def in_flight_polls(fake: FakeBotAPI) -> int:
    return sum(1 for r in fake.requests if r.method.lower() == "getupdates" and r.status is None)


# --------------------------------------------------------------------------------------------------------
# Both clients
# --------------------------------------------------------------------------------------------------------


async def test_get_me(client: Client) -> None:
    me = await client.get_me()
    assert me["id"] == 999000
    assert me["is_bot"] is True
    assert me["username"] == "shagym_test_bot"


async def test_updates_are_confirmed_by_offset(client: Client, fake: FakeBotAPI) -> None:
    first = fake.inject_message(USER, "one")
    second = fake.inject_message(GROUP, "two @roads_dept")

    got = await client.get_updates()
    assert [u["update_id"] for u in got] == [first["update_id"], second["update_id"]]
    assert got[0]["message"]["text"] == "one"
    assert got[0]["message"]["chat"] == {"id": USER, "type": "private", "first_name": "User"}
    assert got[1]["message"]["chat"]["type"] == "supergroup"

    got = await client.get_updates(offset=first["update_id"] + 1)
    assert [u["update_id"] for u in got] == [second["update_id"]]
    assert fake.confirmed_offset == first["update_id"] + 1

    assert await client.get_updates(offset=second["update_id"] + 1) == []
    assert fake.pending_updates == []
    assert fake.confirmed_offsets == [first["update_id"] + 1, second["update_id"] + 1]


async def test_long_polling_returns_promptly_on_inject(client: Client, fake: FakeBotAPI) -> None:
    loop = asyncio.get_running_loop()
    poll = asyncio.create_task(client.get_updates(timeout=10))
    await wait_until(lambda: in_flight_polls(fake) == 1)
    started = loop.time()
    update = fake.inject_message(USER, "wake up")
    got = await asyncio.wait_for(poll, 3)
    assert loop.time() - started < 1.0
    assert [u["update_id"] for u in got] == [update["update_id"]]


async def test_long_polling_times_out_empty(client: Client) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await client.get_updates(timeout=1) == []
    assert 0.9 <= loop.time() - started < 3


async def test_second_instance_terminates_the_first_poll_with_conflict(
    client: Client, fake: FakeBotAPI
) -> None:
    first = asyncio.create_task(client.get_updates(timeout=10))
    await wait_until(lambda: in_flight_polls(fake) == 1)
    async with open_client(client.name, fake) as other_instance:
        second = asyncio.create_task(other_instance.get_updates(timeout=10))
        with pytest.raises(client.Conflict, match=icase("terminated by other getUpdates request")):
            await asyncio.wait_for(first, 3)
        fake.inject_message(USER, "for the survivor")
        assert len(await asyncio.wait_for(second, 3)) == 1


async def test_allowed_updates_filter_kinds(client: Client, fake: FakeBotAPI) -> None:
    await client.get_updates(allowed_updates=["message"])
    assert fake.allowed_updates == ["message"]
    sent = await client.send_message(USER, "pick", buttons=[("A", "a")])
    dropped = fake.inject_callback(fake.user(USER, "Aigerim"), "a", sent)
    kept = fake.inject_message(USER, "text")
    assert [u["update_id"] for u in await client.get_updates()] == [kept["update_id"]]
    assert fake.dropped_updates == [dropped]


async def test_member_updates_and_default_allowed_updates(client: Client, fake: FakeBotAPI) -> None:
    added = fake.inject(fake.member_update(GROUP, "administrator", from_user=fake.user(10, "Head")))
    joined = fake.inject(fake.member_update(GROUP, "member", user=fake.user(8, "Newcomer")))
    got = await client.get_updates()
    # chat_member updates are only sent when allowed_updates asks for them explicitly
    assert [u["update_id"] for u in got] == [added["update_id"]]
    assert got[0]["my_chat_member"]["new_chat_member"]["status"] == "administrator"
    assert got[0]["my_chat_member"]["new_chat_member"]["user"]["id"] == 999000
    assert fake.dropped_updates == [joined]
    assert (await client.get_chat_member(GROUP, 999000))["status"] == "administrator"

    await client.get_updates(offset=added["update_id"] + 1, allowed_updates=["chat_member"])
    left = fake.inject(fake.member_update(GROUP, "left", user=8, old_status="member"))
    assert [u["update_id"] for u in await client.get_updates()] == [left["update_id"]]
    assert (await client.get_chat_member(GROUP, 8))["status"] == "left"


async def test_send_message_html_keyboard_and_reply(client: Client, fake: FakeBotAPI) -> None:
    complaint = fake.inject_message(GROUP, "Pothole on Abai st. @roads_dept", chat_title="Town")
    complaint_id = complaint["message"]["message_id"]

    message = await client.send_message(
        GROUP,
        "<b>Accepted</b> #12 &lt;roads&gt;",
        parse_mode="HTML",
        buttons=[("Done", "done:12")],
        reply_to=complaint_id,
    )
    assert message["text"] == "Accepted #12 <roads>"
    assert message["entities"] == [{"type": "bold", "offset": 0, "length": 8}]
    assert message["message_id"] == complaint_id + 1
    assert message["chat"]["title"] == "Town"
    assert message["from"]["username"] == "shagym_test_bot"
    assert message["reply_to_message"]["message_id"] == complaint_id
    assert message["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "done:12"

    (call,) = fake.calls("sendMessage")
    assert call.params["chat_id"] == GROUP
    assert call.params["reply_markup"]["inline_keyboard"][0][0] == {
        "text": "Done",
        "callback_data": "done:12",
    }
    assert call.text == "Accepted #12 <roads>"
    assert [m["message_id"] for m in fake.messages_in(GROUP)] == [message["message_id"]]


async def test_send_message_limits_and_errors(client: Client, fake: FakeBotAPI) -> None:
    with pytest.raises(client.BadRequest, match=icase("message is too long")):
        await client.send_message(USER, "x" * 4097)
    await client.send_message(USER, "x" * 4096)
    await client.send_message(USER, "😀" * 2048)  # 4096 UTF-16 code units
    with pytest.raises(client.BadRequest, match=icase("message is too long")):
        await client.send_message(USER, "😀" * 2049)
    with pytest.raises(client.BadRequest, match=icase("BUTTON_DATA_INVALID")):
        await client.send_message(USER, "too much data", buttons=[("A", "é" * 33)])  # 66 bytes
    await client.send_message(USER, "just enough", buttons=[("A", "é" * 32)])
    with pytest.raises(client.BadRequest, match=icase('can\'t parse entities: Unsupported start tag "br"')):
        await client.send_message(USER, "line<br>line", parse_mode="HTML")
    with pytest.raises(client.BadRequest, match=icase("message to be replied not found")):
        await client.send_message(USER, "reply", reply_to=9999)
    failed = fake.calls("sendMessage", ok=False)
    assert failed[0].description == "Bad Request: message is too long"
    assert len(fake.messages_in(USER)) == 3


async def test_send_photo_upload_download_and_reuse(client: Client, fake: FakeBotAPI) -> None:
    chart = make_png(640, 480)
    message = await client.send_photo(USER, chart, "chart.png", caption="Weekly report")
    largest = message["photo"][-1]
    assert (largest["width"], largest["height"], largest["file_size"]) == (640, 480, len(chart))
    assert [size["width"] for size in message["photo"]] == [90, 320, 640]
    assert message["caption"] == "Weekly report"

    (call,) = fake.calls("sendPhoto")
    upload = call.upload("photo")
    assert upload is not None
    assert upload.data == chart
    assert upload.filename == "chart.png"
    assert await client.download(largest["file_id"]) == chart

    again = await client.send_photo_by_id(GROUP, largest["file_id"])
    assert again["photo"] == message["photo"]
    with pytest.raises(client.BadRequest, match=icase("wrong file identifier")):
        await client.send_photo_by_id(GROUP, "no-such-file")


async def test_send_media_group_document_location_action(client: Client, fake: FakeBotAPI) -> None:
    album = await client.send_media_group(GROUP, [make_png(10, 10), make_png(20, 10)], caption="Before/after")
    assert len(album) == 2
    assert album[0]["media_group_id"] == album[1]["media_group_id"]
    assert album[0]["caption"] == "Before/after"
    assert [m["photo"][-1]["width"] for m in album] == [10, 20]

    csv = b"department,open\nroads,3\n"
    document = await client.send_document(GROUP, csv, "report.csv", caption="CSV")
    assert document["document"]["file_name"] == "report.csv"
    assert document["document"]["mime_type"] == "text/csv"
    assert document["document"]["file_size"] == len(csv)

    location = await client.send_location(GROUP, 43.2389, 76.8897)
    assert location["location"] == {"latitude": 43.2389, "longitude": 76.8897}

    assert await client.send_chat_action(GROUP, "typing") is True
    assert [m["message_id"] for m in fake.messages_in(GROUP)] == [1, 2, 3, 4]


async def test_edit_message_text(client: Client, fake: FakeBotAPI) -> None:
    sent = await client.send_message(GROUP, "Status: new", buttons=[("Take", "take:1")])
    edited = await client.edit_message_text(GROUP, sent["message_id"], "Status: taken", [("Done", "done:1")])
    assert edited["text"] == "Status: taken"
    assert "edit_date" in edited
    (current,) = fake.messages_in(GROUP)
    assert current["text"] == "Status: taken"
    assert current["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "done:1"

    with pytest.raises(client.BadRequest, match=icase("message is not modified")):
        await client.edit_message_text(GROUP, sent["message_id"], "Status: taken", [("Done", "done:1")])
    # Telegram drops the keyboard when an edit does not repeat it.
    await client.edit_message_text(GROUP, sent["message_id"], "Status: taken")
    assert "reply_markup" not in fake.messages_in(GROUP)[0]
    with pytest.raises(client.BadRequest, match=icase("message to edit not found")):
        await client.edit_message_text(GROUP, 777, "nope")


async def test_callback_query_round_trip(client: Client, fake: FakeBotAPI) -> None:
    sent = await client.send_message(GROUP, "Complaint #5", buttons=[("Done", "done:5")])
    official = fake.user(7001, "Aigerim", "aigerim_roads")
    update = fake.inject_callback(official, "done:5", fake.messages_in(GROUP)[0])

    (got,) = await client.get_updates()
    query = got["callback_query"]
    assert query["data"] == "done:5"
    assert query["from"]["username"] == "aigerim_roads"
    assert query["message"]["message_id"] == sent["message_id"]
    assert query["id"] == update["callback_query"]["id"]

    assert await client.answer_callback_query(query["id"], "Marked as done") is True
    assert fake.callback_answers[query["id"]]["text"] == "Marked as done"
    with pytest.raises(client.BadRequest, match=icase("query is too old")):
        await client.answer_callback_query(query["id"], "again")


async def test_retry_after_surfaces_in_client(client: Client, fake: FakeBotAPI) -> None:
    fake.fail_next("sendMessage", error_code=429, retry_after=7)
    with pytest.raises(client.RetryAfter) as caught:
        await client.send_message(GROUP, "flood")
    assert client.retry_after(caught.value) == 7
    (failed,) = fake.calls("sendMessage", ok=False)
    assert (failed.error_code, failed.description) == (429, "Too Many Requests: retry after 7")
    await client.send_message(GROUP, "after waiting")  # the fault was used up
    assert fake.messages_in(GROUP)[0]["text"] == "after waiting"


async def test_forbidden_and_chat_scoped_faults(client: Client, fake: FakeBotAPI) -> None:
    fake.block_chat(GROUP)
    with pytest.raises(client.Forbidden, match=icase("bot was kicked from the supergroup chat")):
        await client.send_message(GROUP, "hello?")
    await client.send_message(USER, "other chats still work")
    fake.unblock_chat(GROUP)
    await client.send_message(GROUP, "back")

    fake.fail_next("*", error_code=403, description="Forbidden: bot was blocked by the user", chat_id=USER)
    with pytest.raises(client.Forbidden, match=icase("blocked by the user")):
        await client.send_chat_action(USER, "typing")
    fake.fail_next("sendMessage", error_code=500, times=2)
    for _ in range(2):
        with pytest.raises(client.Error, match=icase("Internal Server Error")):
            await client.send_message(GROUP, "server trouble")
    await client.send_message(GROUP, "recovered")
    assert [m["text"] for m in fake.messages_in(GROUP)] == ["back", "recovered"]


async def test_slow_response_times_out_but_still_sends(client: Client, fake: FakeBotAPI) -> None:
    fake.delay_next("sendMessage", 1.5)
    with pytest.raises(client.TimedOut):
        await client.send_message(GROUP, "slow", timeout=1)
    call = await fake.wait_for_call("sendMessage", timeout=3)
    assert call.text == "slow"  # a retry now would post it twice, as with Telegram


async def test_copy_forward_and_delete(client: Client, fake: FakeBotAPI) -> None:
    resident = fake.user(555, "Dana", "dana_k")
    original = fake.inject_message(GROUP, None, from_user=resident, photo=True, caption="Broken lamp")
    source_id = original["message"]["message_id"]

    copy_id = await client.copy_message(USER, GROUP, source_id)
    (copied,) = fake.messages_in(USER)
    assert copied["message_id"] == copy_id
    assert copied["caption"] == "Broken lamp"
    assert copied["photo"] == original["message"]["photo"]
    assert "forward_origin" not in copied

    forwarded = await client.forward_message(USER, GROUP, source_id)
    assert forwarded["forward_origin"]["type"] == "user"
    assert forwarded["forward_origin"]["sender_user"]["id"] == 555

    assert await client.delete_message(USER, copy_id) is True
    assert [m["message_id"] for m in fake.messages_in(USER)] == [forwarded["message_id"]]
    with pytest.raises(client.BadRequest, match=icase("message to delete not found")):
        await client.delete_message(USER, copy_id)
    with pytest.raises(client.BadRequest, match=icase("message to copy not found")):
        await client.copy_message(USER, GROUP, 424)


async def test_chat_and_member_info(client: Client, fake: FakeBotAPI) -> None:
    fake.add_chat(GROUP, title="Akimat of Town", username="town_akimat")
    owner = fake.user(10, "Head", "akim")
    fake.set_member(GROUP, owner, "creator")

    chat = await client.get_chat(GROUP)
    assert (chat["id"], chat["type"], chat["title"]) == (GROUP, "supergroup", "Akimat of Town")
    bot_member = await client.get_chat_member(GROUP, 999000)
    assert bot_member["status"] == "administrator"
    assert bot_member["can_delete_messages"] is True
    assert (await client.get_chat_member(GROUP, 10))["status"] == "creator"
    assert (await client.get_chat_member(GROUP, 11))["status"] == "member"
    admins = await client.get_chat_administrators(GROUP)
    assert sorted(a["user"]["id"] for a in admins) == [10, 999000]

    fake.set_member(GROUP, fake.bot_user, "member")
    assert (await client.get_chat_member(GROUP, 999000))["status"] == "member"
    with pytest.raises(client.BadRequest, match=icase("chat not found")):
        await client.get_chat(0)


async def test_my_commands(client: Client, fake: FakeBotAPI) -> None:
    commands = [("start", "Start"), ("report", "Report a problem")]
    assert await client.set_my_commands(commands) is True
    assert await client.get_my_commands() == commands
    assert fake.my_commands() == [{"command": c, "description": d} for c, d in commands]
    with pytest.raises(client.BadRequest, match=icase("BOT_COMMAND_INVALID")):
        await client.set_my_commands([("Report", "upper case is not allowed")])
    assert await client.delete_my_commands() is True
    assert await client.get_my_commands() == []


async def test_library_extracts_mentions_at_utf16_offsets(client: Client, fake: FakeBotAPI) -> None:
    text = "🚧🕳️ Яма на улице @Roads_Dept, копия @lights_dept. /report"
    fake.inject_message(GROUP, text)
    (entities,) = await client.entity_texts()
    assert entities == [("mention", "@Roads_Dept"), ("mention", "@lights_dept"), ("bot_command", "/report")]


async def test_webhook_delivery_with_secret_and_retries(client: Client, fake: FakeBotAPI) -> None:
    statuses = [500, 200]
    received: list[tuple[str | None, JSON]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.json_response({}, status=statuses.pop(0) if statuses else 200)

    async with receiver(hook) as url:
        assert await client.set_webhook(url, secret_token="s3cret-Token_1") is True
        assert (await client.get_webhook_info())["url"] == url
        with pytest.raises(client.Conflict, match=icase("webhook is active")):
            await client.get_updates()

        update = fake.inject_message(USER, "via webhook")
        await fake.wait_webhook_idle()
        assert [d.status for d in fake.webhook_deliveries] == [500, 200]
        assert [d.attempt for d in fake.webhook_deliveries] == [1, 2]
        assert received == [("s3cret-Token_1", update), ("s3cret-Token_1", update)]
        info = await client.get_webhook_info()
        assert info["pending_update_count"] == 0
        assert "500" in info["last_error_message"]

        assert await client.delete_webhook() is True
    later = fake.inject_message(USER, "polling again")
    assert [u["update_id"] for u in await client.get_updates()] == [later["update_id"]]


# --------------------------------------------------------------------------------------------------------
# Client-independent behaviour
# --------------------------------------------------------------------------------------------------------


async def test_mention_entities_use_utf16_offsets() -> None:
    text = "🚧🕳️ Яма @Roads_Dept, cc @lights_dept (mail@example.com, @ab)"
    entities = mention_entities(text)
    assert [entity_text(text, e) for e in entities] == ["@Roads_Dept", "@lights_dept"]
    # 🚧 is one surrogate pair, 🕳️ is a surrogate pair plus VS16: Python indices are 2 units behind.
    assert entities[0] == {"offset": text.index("@Roads_Dept") + 2, "length": 11, "type": "mention"}
    assert entities[1]["offset"] == utf16_len(text[: text.index("@lights_dept")])
    assert FakeBotAPI.mention_entities(text) == entities

    # Cross-check with both libraries' own UTF-16 slicing.
    ptb_message = telegram.Message.de_json(
        {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 1, "type": "private"},
            "text": text,
            "entities": entities,
        },
        None,
    )
    assert list(ptb_message.parse_entities().values()) == ["@Roads_Dept", "@lights_dept"]
    assert [ag.MessageEntity(**e).extract_from(text) for e in entities] == ["@Roads_Dept", "@lights_dept"]


def test_parse_html_entities() -> None:
    text, entities = parse_html(
        '🔥 <b>Bold <i>both</i></b> <a href="https://t.me/c/123/4">link</a> &amp; more'
    )
    assert text == "🔥 Bold both link & more"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 9},
        {"type": "italic", "offset": 8, "length": 4},
        {"type": "text_link", "url": "https://t.me/c/123/4", "offset": 13, "length": 4},
    ]


async def test_raw_wire_formats_tokens_and_unknown_methods(fake: FakeBotAPI) -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    async with aiohttp.ClientSession() as http:
        api = fake.api_url
        async with http.post(
            f"{api}/sendMessage", json={"chat_id": GROUP, "text": "json", "reply_markup": markup}
        ):
            pass
        form = {
            "chat_id": str(GROUP),
            "text": "form",
            "reply_markup": json.dumps(markup),
            "disable_notification": "true",
        }
        async with http.post(f"{api}/sendMessage", data=form):
            pass
        multipart = aiohttp.FormData(form | {"text": "multipart"})
        multipart.add_field("unused", b"bytes", filename="x.bin")
        async with http.post(f"{api}/SENDMESSAGE", data=multipart):
            pass
        async with http.get(
            f"{api}/sendMessage", params={"chat_id": str(GROUP), "text": "query"}
        ) as response:
            assert response.status == 200
            body = await response.json()
            assert body["ok"] is True
            assert body["result"]["text"] == "query"

        async with http.post(f"{api}/noSuchMethod") as response:
            assert response.status == 404
            assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        async with http.post(f"{fake.url}/bot1:wrong/getMe") as response:
            assert response.status == 401
            assert await response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        fake.fail_next("getMe", error_code=429, retry_after=3)
        async with http.get(f"{api}/getMe") as response:
            assert response.status == 429
            assert await response.json() == {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 3",
                "parameters": {"retry_after": 3},
            }

    calls = fake.calls("sendMessage")
    assert [c.text for c in calls] == ["json", "form", "multipart", "query"]
    for call in calls[:3]:
        assert call.params["chat_id"] == GROUP
        assert call.params["reply_markup"] == markup
    assert calls[1].params["disable_notification"] is True
    assert calls[2].files["unused"].data == b"bytes"
    assert [m["message_id"] for m in fake.messages_in(GROUP)] == [1, 2, 3, 4]


async def test_wrong_token_is_unauthorized_for_aiogram(fake: FakeBotAPI) -> None:
    async with open_client("aiogram", fake, token="42:wrong") as client:
        with pytest.raises(TelegramUnauthorizedError):
            await client.get_me()


async def test_webhook_delivers_one_update_at_a_time_per_chat(fake: FakeBotAPI) -> None:
    release = asyncio.Event()
    received: list[tuple[int, str]] = []

    async def hook(request: web.Request) -> web.Response:
        message = (await request.json())["message"]
        received.append((message["chat"]["id"], message["text"]))
        if message["text"] == "slow":
            await release.wait()
        return web.json_response({})

    async with receiver(hook) as url, aiohttp.ClientSession() as http:
        async with http.post(f"{fake.api_url}/setWebhook", json={"url": url}) as response:
            assert await response.json() == {"ok": True, "result": True, "description": "Webhook was set"}
        fake.inject_message(1, "slow")
        fake.inject_message(1, "queued behind slow")
        fake.inject_message(2, "other chat")
        await wait_until(lambda: (2, "other chat") in received)
        assert (1, "queued behind slow") not in received
        release.set()
        await fake.wait_webhook_idle()
    assert [text for chat, text in received if chat == 1] == ["slow", "queued behind slow"]


async def test_webhook_reply_methods_are_executed(fake: FakeBotAPI) -> None:
    """aiogram answers a webhook with the handler's method as multipart form; Telegram executes it."""
    bot = AiogramBot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: ag.Message) -> Any:
        return message.answer(f"pong: {message.text}")

    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, handle_in_background=False, secret_token="tok").register(
        app, "/hook"
    )
    try:
        async with serve(app) as base:
            await bot.set_webhook(base + "/hook", secret_token="tok")
            fake.inject_message(USER, "ping")
            call = await fake.wait_for_call("sendMessage", where=lambda c: c.via_webhook)
            assert call.text == "pong: ping"
            assert fake.messages_in(USER)[0]["text"] == "pong: ping"
            await bot.delete_webhook()
    finally:
        await bot.session.close()


async def test_flood_limits_when_enforced(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    async with (
        FakeBotAPI(
            enforce_limits=True, limits=FloodLimits(per_group_per_minute=5), clock=lambda: now[0]
        ) as fake,
        open_client("aiogram", fake) as client,
    ):
        for _ in range(3):  # a short burst is fine
            await client.send_message(USER, "burst")
        with pytest.raises(TelegramRetryAfter) as caught:
            await client.send_message(USER, "one too many")
        assert caught.value.retry_after == 1
        now[0] += 1
        await client.send_message(USER, "after a second")

        for _ in range(5):  # per-group minute window
            now[0] += 2
            await client.send_message(GROUP, "group")
        now[0] += 2
        with pytest.raises(TelegramRetryAfter) as caught:
            await client.send_message(GROUP, "sixth in a minute")
        assert caught.value.retry_after == 50  # the first of the five leaves the window 60 s after it
        now[0] += 50
        await client.send_message(GROUP, "window moved")


async def test_known_chats_and_wait_for_report() -> None:
    async with FakeBotAPI(known_chats={USER}) as fake, open_client("aiogram", fake) as client:
        await client.send_message(USER, "known")
        with pytest.raises(TelegramBadRequest, match="chat not found"):
            await client.send_message(GROUP, "unknown")
        fake.inject_message(GROUP, "the bot saw this chat")
        await client.send_message(GROUP, "now known")

        with pytest.raises(AssertionError, match="sendMessage chat_id=424242 'known' ok"):
            await fake.wait_for(lambda sent: len(sent) > 10, timeout=0.1)


# --------------------------------------------------------------------------------------------------------
# The libraries' own polling loops
# --------------------------------------------------------------------------------------------------------


async def test_aiogram_dispatcher_polling(fake: FakeBotAPI) -> None:
    bot = AiogramBot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def reply(message: ag.Message) -> None:
        await message.reply(f"got: {message.text}")

    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        update = fake.inject_message(GROUP, "Street light is out @lights_dept")
        call = await fake.wait_for_call("sendMessage", chat_id=GROUP)
        assert call.text == "got: Street light is out @lights_dept"
        assert call.result["reply_to_message"]["message_id"] == update["message"]["message_id"]
        # aiogram confirms the update with its next getUpdates
        await wait_until(lambda: fake.confirmed_offset == update["update_id"] + 1)
        assert fake.allowed_updates == ["message"]
    finally:
        await dispatcher.stop_polling()
        await polling
        await bot.session.close()


async def test_ptb_application_polling(fake: FakeBotAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")

    async def start(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, f"hello {context.args}")

    application = (
        Application.builder()
        .token(fake.token)
        .base_url(fake.url + "/bot")
        .base_file_url(fake.url + "/file/bot")
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=datetime.timedelta(seconds=1))
        try:
            fake.inject_message(USER, "/start city")
            call = await fake.wait_for_call("sendMessage", chat_id=USER)
            assert call.text == "hello ['city']"
        finally:
            await application.updater.stop()
            await application.stop()
    assert fake.calls("deleteWebhook")  # ptb clears any webhook before polling
