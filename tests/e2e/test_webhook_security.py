"""The webhook end to end: nobody without the secret gets an update in, and hostile bodies get a 400.

The bot registers a public https URL with the fake Bot API (which only records it) and the fake delivers
its updates to the bot's own port instead (`webhook_redirect`), with the secret setWebhook gave it. A
forger posts straight to the port, as anyone who can reach it could.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app.resources import build_resources
from bot.app.runtime import ShagymBot
from bot.config import Config
from bot.ops.logs import RedactingFilter
from storage import migrate
from storage.db import create_engine
from storage.models import InboxRow
from tests.conftest import fresh_postgres_database
from tests.e2e.conftest import ADMIN, CITY_CHAT, RESIDENT, UTILITIES_CHAT, e2e_config, running_bot
from tests.e2e.test_desk import STAFF, card_state, complaint, press
from tests.e2e.test_monitoring import count
from tests.e2e.test_residents import Resident, buttons
from tests.fakes.bot_api import FakeBotAPI

HOOK_URL = "https://bot.example.test/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{32,256}")


def webhook_section(**webhook: Any) -> dict[str, Any]:
    """`telegram` overrides for webhook mode on a free loopback port, secret as in the defaults."""
    return {"mode": "webhook", "webhook": {"url": HOOK_URL, "host": "127.0.0.1", "port": 0, **webhook}}


def local_url(bot: ShagymBot) -> str:
    return f"http://127.0.0.1:{bot.webhook.port}{bot.config.telegram.webhook.path}"


@asynccontextmanager
async def webhook_bot(fake: FakeBotAPI, config: Config) -> AsyncIterator[ShagymBot]:
    """The bot in webhook mode, with the fake delivering what it injects to the bot's port."""
    async with running_bot(config) as bot:
        await fake.wait_for(lambda _: fake.webhook_url is not None)
        fake.webhook_redirect = local_url(bot)
        yield bot


async def post(bot: ShagymBot, body: bytes | str | dict[str, Any], secret: str | None) -> tuple[int, str]:
    """POST a body to the bot's webhook port, with the secret header when `secret` is not None."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    payload = io.BytesIO(data.encode() if isinstance(data, str) else data)
    async with (
        aiohttp.ClientSession() as http,
        http.post(local_url(bot), data=payload, headers=headers) as reply,
    ):
        return reply.status, await reply.text()


async def stored_secret(config: Config) -> str | None:
    async with build_resources(config, prepare=False) as resources, resources.unit_of_work() as uow:
        return await uow.settings.get("webhook_secret")


def set_webhook_secrets(fake: FakeBotAPI) -> list[Any]:
    return [call.params.get("secret_token") for call in fake.calls("setWebhook")]


async def test_a_forged_take_without_the_secret_changes_nothing(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory(telegram=webhook_section())
    async with webhook_bot(fake, config) as bot:
        fake.inject_message(CITY_CHAT, "@akim_astana нет горячей воды", from_user=RESIDENT)
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        before = card_state(fake, UTILITIES_CHAT, card.result["message_id"])
        forged = fake.callback_update(fake.user(STAFF, "Staff"), "d:take:1", card)
        forged["update_id"] = 9_000_001
        for secret in (None, "", "wrong-secret", (fake.webhook_secret_token or "x") + "x"):
            status, _ = await post(bot, forged, secret)
            assert status in (401, 403), secret
        await asyncio.sleep(0.5)
        assert card_state(fake, UTILITIES_CHAT, card.result["message_id"]) == before
        assert not fake.calls("answerCallbackQuery")
        # the same press delivered by Telegram, with the secret, takes the complaint
        answer = await press(fake, STAFF, "d:take:1", card)
        assert not answer.params.get("show_alert")
    assert await count(config, InboxRow, update_id=9_000_001) == 0
    assert (await complaint(config, 1)).status == "in_progress"


async def test_forged_admin_commands_without_the_secret_change_nothing(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory(telegram=webhook_section())
    admin = Resident(fake, ADMIN, language_code="ru")
    resident = Resident(fake, 710105, language_code="ru")
    async with webhook_bot(fake, config) as bot:
        forged_ids = []
        for n, command in enumerate((f"/block {resident.id}", f"/erase {resident.id}")):
            forged = fake.message_update(ADMIN, command, from_user=admin.user)
            forged["update_id"] = 9_100_000 + n
            forged_ids.append(forged["update_id"])
            for secret in (None, "guess"):
                status, _ = await post(bot, forged, secret)
                assert status in (401, 403), (command, secret)
        await asyncio.sleep(0.5)
        assert not fake.calls("sendMessage", chat_id=ADMIN)
        summary = await resident.send("Нет горячей воды в доме на Абая 10")
        assert "приостановлен" not in (summary.text or "")
        assert buttons(summary)
        # the real admin, through Telegram, still blocks
        done = await admin.send(f"/block {resident.id}")
        assert "заблокирован" in (done.text or "")
    for update_id in forged_ids:
        assert await count(config, InboxRow, update_id=update_id) == 0


async def test_the_generated_secret_is_stored_given_to_set_webhook_and_kept_across_restarts(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory(telegram=webhook_section())
    assert config.telegram.webhook.secret_token.get_secret_value() == ""
    async with webhook_bot(fake, config) as bot:
        secret = fake.webhook_secret_token
        assert secret is not None and TELEGRAM_SECRET.fullmatch(secret)
        assert fake.webhook_url == HOOK_URL
        update = fake.message_update(CITY_CHAT, "@akim_astana нет отопления", from_user=RESIDENT)
        update["update_id"] = 9_200_001
        assert (await post(bot, update, secret))[0] == 200
        await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
    assert await stored_secret(config) == secret
    # a second start on the same database (another instance, or a restart) uses the same secret
    fake.clear_records()
    async with webhook_bot(fake, config) as bot:
        assert fake.webhook_secret_token == secret
        assert set_webhook_secrets(fake) == [secret]
        assert (await post(bot, {"update_id": 9_200_002}, None))[0] in (401, 403)
    assert await stored_secret(config) == secret


async def test_a_configured_secret_is_used_and_nothing_is_generated(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory(telegram=webhook_section(secret_token="city-Secret_42"))
    async with webhook_bot(fake, config) as bot:
        assert set_webhook_secrets(fake) == ["city-Secret_42"]
        update = fake.message_update(CITY_CHAT, "@akim_astana нет отопления", from_user=RESIDENT)
        update["update_id"] = 9_300_001
        assert (await post(bot, update, None))[0] in (401, 403)
        assert (await post(bot, update, "city-secret_42"))[0] in (401, 403)
        assert (await post(bot, update, "city-Secret_42"))[0] == 200
        await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
    assert await stored_secret(config) is None


@pytest.mark.postgres
async def test_two_instances_on_one_postgres_database_share_one_secret(
    fake: FakeBotAPI, tmp_path: Path, framework: str
) -> None:
    async with fresh_postgres_database() as database_url:
        engine = create_engine(database_url)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()
        configs = [
            e2e_config(
                tmp_path,
                fake,
                framework=framework,
                telegram=webhook_section(),
                storage={"database_url": database_url},
            )
            for _ in range(2)
        ]
        async with running_bot(configs[0]) as first, running_bot(configs[1]) as second:
            await fake.wait_for(lambda _: len(fake.calls("setWebhook")) >= 2)
            secrets = set_webhook_secrets(fake)
            assert len(secrets) == 2 and secrets[0] == secrets[1]
            assert TELEGRAM_SECRET.fullmatch(secrets[0])
            for n, bot in enumerate((first, second)):
                update = fake.message_update(CITY_CHAT, f"@akim_astana нет воды, дом {n}", from_user=RESIDENT)
                update["update_id"] = 9_400_000 + n
                assert (await post(bot, update, None))[0] in (401, 403)
                assert (await post(bot, update, secrets[0]))[0] == 200
            await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT, count=2)
        assert await stored_secret(configs[0]) == secrets[0]


async def test_the_generated_secret_never_reaches_the_logs(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    """The scrubber installed by `shagym run` learns the generated secret before anything can log it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter([]))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        async with webhook_bot(fake, config_factory(telegram=webhook_section())) as bot:
            secret = fake.webhook_secret_token
            assert secret
            logging.getLogger("tests").warning("the secret is %s", secret)
            assert (await post(bot, {"update_id": 9_500_001}, "wrong"))[0] in (401, 403)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    written = stream.getvalue()
    assert "the secret is ***" in written
    assert secret not in written


def _refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bot.ingress" and r.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 100_000, id="100k-arrays"),
        pytest.param('{"update_id": 1, "message": ' + "[" * 100_000, id="100k-inside-an-update"),
        pytest.param('{"a":' * 100_000, id="100k-objects"),
        pytest.param("not json", id="not-json"),
        pytest.param(b"\xff\xfe\xfa{", id="not-utf8"),
        pytest.param("", id="empty"),
        pytest.param("[]", id="array"),
        pytest.param('"update"', id="string"),
        pytest.param("null", id="null"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_refused_with_400(
    fake: FakeBotAPI, config_factory: Callable[..., Config], caplog: pytest.LogCaptureFixture, body: str
) -> None:
    config = config_factory(telegram=webhook_section())
    caplog.set_level(logging.INFO)
    async with webhook_bot(fake, config) as bot:
        secret = fake.webhook_secret_token
        caplog.clear()
        status, _ = await post(bot, body, secret)
        assert status == 400
        refused = _refusals(caplog)
        assert len(refused) == 1, [r.getMessage() for r in refused]
        assert "refused" in refused[0].getMessage()
        assert not any(r.exc_info or r.exc_text for r in caplog.records)
        # the server is fine: the next real update goes through
        fake.inject_message(CITY_CHAT, "@akim_astana нет горячей воды", from_user=RESIDENT)
        await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
    assert await count(config, InboxRow, kind="malformed") == 0


@pytest.mark.parametrize(
    "update_id",
    [
        pytest.param(None, id="missing"),
        pytest.param("9600001", id="string"),
        pytest.param(True, id="bool"),
        pytest.param(2**63, id="out-of-int64"),
        pytest.param(9600001.0, id="float"),
        pytest.param([9600001], id="list"),
    ],
)
async def test_an_update_without_an_integer_update_id_is_refused_with_400(
    fake: FakeBotAPI, config_factory: Callable[..., Config], caplog: pytest.LogCaptureFixture, update_id: Any
) -> None:
    config = config_factory(telegram=webhook_section())
    update = fake.message_update(CITY_CHAT, "@akim_astana нет горячей воды", from_user=RESIDENT)
    update.pop("update_id", None)
    if update_id is not None:
        update["update_id"] = update_id
    caplog.set_level(logging.INFO)
    async with webhook_bot(fake, config) as bot:
        caplog.clear()
        status, _ = await post(bot, update, fake.webhook_secret_token)
        assert status == 400
        refused = _refusals(caplog)
        assert len(refused) == 1
        message = refused[0].getMessage()
        assert "update_id" in message and "refused" in message
        assert "kept for inspection" not in caplog.text
        await asyncio.sleep(0.3)
        assert not fake.calls("sendMessage", chat_id=UTILITIES_CHAT)
    assert await count(config, InboxRow) == 0


async def test_a_malformed_update_with_an_update_id_is_kept_for_inspection(
    fake: FakeBotAPI, config_factory: Callable[..., Config], caplog: pytest.LogCaptureFixture
) -> None:
    config = config_factory(telegram=webhook_section())
    caplog.set_level(logging.INFO)
    async with webhook_bot(fake, config) as bot:
        status, _ = await post(bot, {"update_id": 9_700_001, "message": "oops"}, fake.webhook_secret_token)
        assert status == 200
        assert "kept for inspection" in caplog.text
    assert await count(config, InboxRow, update_id=9_700_001, kind="malformed") == 1


async def test_an_oversized_body_is_refused(
    fake: FakeBotAPI, config_factory: Callable[..., Config], caplog: pytest.LogCaptureFixture
) -> None:
    config = config_factory(telegram=webhook_section())
    update = fake.message_update(CITY_CHAT, "@akim_astana " + "вода " * 80_000, from_user=RESIDENT)
    update["update_id"] = 9_800_001
    caplog.set_level(logging.INFO)
    async with webhook_bot(fake, config) as bot:
        status, _ = await post(bot, update, fake.webhook_secret_token)
        assert status == 413
        assert not any(r.exc_info or r.exc_text for r in caplog.records)
    assert await count(config, InboxRow) == 0


async def test_polling_skips_updates_without_an_update_id(
    fake: FakeBotAPI, config_factory: Callable[..., Config], caplog: pytest.LogCaptureFixture
) -> None:
    """A broken Bot API answering getUpdates with an update lacking its id: it is logged and skipped, and
    the update after it (whose offset confirms it) is handled."""
    caplog.set_level(logging.INFO)
    broken = fake.message_update(CITY_CHAT, "@akim_astana нет света", from_user=RESIDENT)
    broken_id = fake.inject(broken)["update_id"]

    def mangle(batch: list[dict[str, Any]]) -> list[Any]:
        for update in batch:
            if update["update_id"] == broken_id:
                update.pop("update_id")
        return batch

    fake.get_updates_hook = mangle
    async with running_bot(config_factory()):
        fake.inject_message(CITY_CHAT, "@akim_astana нет горячей воды", from_user=RESIDENT)
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        await fake.wait_for(lambda _: (fake.confirmed_offset or 0) > broken_id + 1)
    assert "горячей" in (card.text or "")
    assert len(fake.calls("sendMessage", chat_id=UTILITIES_CHAT)) == 1
    assert "kept for inspection" not in caplog.text
    assert any("update_id" in r.getMessage() and r.name == "bot.ingress" for r in caplog.records)
    assert not any(r.exc_info or r.exc_text for r in caplog.records)
