"""Digests end to end: on schedule (once across instances), with /digest, and with `shagym digest --now`."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path

import yaml

from bot.cli import main
from bot.config import Config
from storage.base import utcnow
from tests.e2e.conftest import CITY_CHAT, running_bot
from tests.fakes.bot_api import FakeBotAPI

AKIM_CHAT = 100001
UTILITIES_CHAT = -1001000000001
PNG = b"\x89PNG\r\n\x1a\n"


async def test_scheduled_digest_with_chart_runs_once(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    async with running_bot(config) as bot:
        fake.inject_message(
            CITY_CHAT,
            "@akim_astana нет горячей воды, телефон +7 701 555 12 34",
            from_user=fake.user(700401, "Ержан"),
        )
        await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        (job,) = [j for j in bot.scheduler.jobs if j.name == "digest:official:akim"]
        slot = job.next_after(utcnow(), config.tz)
        assert await bot.scheduler.run_slot(job, slot)
        assert not await bot.scheduler.run_slot(job, slot)  # a second instance would get False too
        chart = await fake.wait_for_call("sendDocument", chat_id=AKIM_CHAT)
        texts = [c.text or "" for c in fake.calls("sendMessage", chat_id=AKIM_CHAT)]
    upload = chart.upload("document")
    assert upload is not None and upload.data.startswith(PNG)
    assert len(fake.calls("sendDocument", chat_id=AKIM_CHAT)) == 1
    assert texts and all(len(t) <= 4096 for t in texts)
    assert not any("555" in t or "Ержан" in t for t in texts)


async def test_digest_command_in_a_department_chat(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    async with running_bot(config_factory()):
        fake.inject_message(UTILITIES_CHAT, "/digest", from_user=fake.user(200001, "Staff"))
        await fake.wait_for_call("sendDocument", chat_id=UTILITIES_CHAT, timeout=10)
        # /digest in a chat that is not allowed is ignored (and never stored: no tag)
        fake.inject_message(CITY_CHAT, "/digest", from_user=fake.user(700402, "A"))
        await asyncio.sleep(0.5)
    assert fake.calls("sendDocument", chat_id=CITY_CHAT) == []


async def test_shagym_digest_now(
    fake: FakeBotAPI, config_factory: Callable[..., Config], tmp_path: Path
) -> None:
    config = config_factory()
    data = config.model_dump(by_alias=True, mode="json")
    data["telegram"]["token"] = fake.token
    data["telegram"]["webhook"]["secret_token"] = ""
    path = tmp_path / "digest.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(
        main,
        ["digest", "--now", "--recipient", "official:akim", "--config", str(path)],
        stdout=out,
        stderr=err,
    )
    assert code == 0, err.getvalue()
    assert "official:akim: sent" in out.getvalue(), (out.getvalue(), err.getvalue())
    assert fake.calls("sendDocument", chat_id=AKIM_CHAT), fake.describe_sent()
