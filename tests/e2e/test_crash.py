"""`kill -9` in the middle of a burst: after a restart every tagged complaint is exactly one card."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import yaml

from tests.e2e.conftest import CITY_CHAT, RESIDENT, e2e_config
from tests.fakes.bot_api import FakeBotAPI

DEPARTMENT_CHATS = (-1001000000001, -1001000000002, -1001000000003)
PROBLEMS = (
    "нет горячей воды",  # utilities
    "яма на дороге",  # transport_roads
    "мусор не вывозят",  # city_environment
)


def write_config(tmp_path: Path, fake: FakeBotAPI, framework: str) -> Path:
    config = e2e_config(tmp_path, fake, framework=framework)
    data = config.model_dump(by_alias=True, mode="json")
    data["telegram"]["token"] = fake.token  # secrets dump as stars
    data["telegram"]["webhook"]["secret_token"] = ""
    # entries the killed process had claimed come back when their lease ends
    data["storage"]["queue_lease_seconds"] = 3
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


async def start_bot(config: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as stderr:  # the child keeps its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            "--config",
            str(config),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def card_texts(fake: FakeBotAPI) -> Counter[str]:
    seen: Counter[str] = Counter()
    for chat in DEPARTMENT_CHATS:
        for call in fake.calls("sendMessage", chat_id=chat):
            for line in (call.text or "").splitlines():
                if "burst-" in line:
                    seen[line.strip()] += 1
    return seen


async def test_kill_9_during_a_burst_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, framework: str
) -> None:
    async with FakeBotAPI() as fake:
        fake.add_chat(CITY_CHAT, type="supergroup", title="Астана | жители")
        for chat in DEPARTMENT_CHATS:  # cards park while the burst comes in
            fake.block_chat(chat)
        config = write_config(tmp_path, fake, framework)
        log = tmp_path / "bot.log"
        expected = [f"@akim_astana {PROBLEMS[n % 3]}, burst-{n:03d}" for n in range(60)]

        first = await start_bot(config, log)
        try:
            await fake.wait_for(
                lambda _: fake.requests and any(r.method == "getUpdates" for r in fake.requests), 20
            )
            for text in expected[:30]:
                fake.inject_message(CITY_CHAT, text, from_user=RESIDENT)
            await fake.wait_for(lambda _: (fake.confirmed_offset or 0) > 5, 20)
            for text in expected[30:]:
                fake.inject_message(CITY_CHAT, text, from_user=RESIDENT)
                await asyncio.sleep(0.005)
            first.send_signal(signal.SIGKILL)  # mid-burst: some stored, some fetched, some not yet
        finally:
            if first.returncode is None:
                first.kill()
            await first.wait()

        for chat in DEPARTMENT_CHATS:
            fake.unblock_chat(chat)
        second = await start_bot(config, log)
        try:
            await fake.wait_for(lambda _: len(card_texts(fake)) >= len(expected), 60)
            await asyncio.sleep(1.0)  # anything extra would show up now
        finally:
            second.send_signal(signal.SIGTERM)
            await asyncio.wait_for(second.wait(), 20)
        assert second.returncode == 0, log.read_text()

    counts = card_texts(fake)
    missing = [
        text for text in expected if not any(text.split("@akim_astana ")[1] in line for line in counts)
    ]
    duplicated = {line: n for line, n in counts.items() if n != 1}
    assert not missing, f"complaints without a card: {missing}"
    assert not duplicated, f"complaints with more than one card: {duplicated}"
    assert len(counts) == len(expected)
