"""The bot as a subprocess (`shagym run`) on private PostgreSQL and Redis, and the exactly-once checks."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from storage.db import create_engine, create_session_factory
from storage.models import ComplaintRow, InboxRow
from tests.e2e.conftest import CITY_CHAT, RESIDENT, e2e_config
from tests.fakes.bot_api import FakeBotAPI, SentCall

UTILITIES_CHAT = -1001000000001
ROADS_CHAT = -1001000000002
ENVIRONMENT_CHAT = -1001000000003
DEPARTMENT_CHATS = (UTILITIES_CHAT, ROADS_CHAT, ENVIRONMENT_CHAT)
STAFF = 200001  # utilities staff and head in the example config
PROBLEMS = (
    "нет горячей воды",  # utilities
    "яма на дороге",  # transport_roads
    "мусор не вывозят",  # city_environment
)
_LINK = re.compile(r"t\.me/c/(\d+)/(\d+)")
_NUMBER = re.compile(r"^d:[a-z]+:(\d+)")
_OVERRIDES = (
    "SHAGYM_CONFIG",
    "SHAGYM_BOT_TOKEN",
    "SHAGYM_API_URL",
    "SHAGYM_DATABASE_URL",
    "SHAGYM_REDIS_URL",
)


def write_config(
    tmp_path: Path,
    fake: FakeBotAPI,
    *,
    database_url: str,
    redis_url: str | None,
    framework: str = "aiogram",
    request_timeout: float = 60.0,
    delivery: dict[str, Any] | None = None,
    rate_limit: dict[str, Any] | None = None,
) -> Path:
    """The e2e city on the given database and Redis, with short leases so a restart takes over fast
    (`delivery` and `rate_limit` override those settings)."""
    telegram: dict[str, Any] = {"request_timeout_seconds": request_timeout}
    if rate_limit is not None:
        telegram["rate_limit"] = rate_limit
    config = e2e_config(
        tmp_path,
        fake,
        framework=framework,
        telegram=telegram,
        storage={"database_url": database_url, "redis_url": redis_url, "queue_lease_seconds": 3},
        # one card per complaint unless a test asks: combined messages for busy chats are counted apart
        delivery={"combine_min": 0, **(delivery or {})},
    )
    data = config.model_dump(by_alias=True, mode="json")
    data["telegram"]["token"] = fake.token  # secrets dump as stars
    data["telegram"]["webhook"]["secret_token"] = ""
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _environment() -> dict[str, str]:
    environ = {key: value for key, value in os.environ.items() if key not in _OVERRIDES}
    return {**environ, "PYTHONUNBUFFERED": "1"}


async def migrate(config: Path) -> None:
    """`shagym migrate` for the config's database."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "migrate", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=_environment(),
    )  # fmt: skip
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode(errors="replace")


class BotProcess:
    """`shagym run --config …` in a subprocess, its stderr appended to `log`."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start the bot."""
        with self.log.open("ab") as stderr:  # the child keeps its own copy of the descriptor
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", "--config", str(self.config),
                stdout=asyncio.subprocess.DEVNULL, stderr=stderr, env=_environment(),
            )  # fmt: skip

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.returncode is None

    def tail(self, lines: int = 60) -> str:
        """The end of the bot's log, for assertion messages."""
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def kill(self) -> None:
        """kill -9."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> int:
        """SIGTERM, and the exit code once it has stopped (killed after 30 s)."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return int(self.process.returncode or 0)


async def wait_polling(fake: FakeBotAPI, timeout: float = 30.0) -> None:
    """Until the bot has asked for updates."""
    await fake.wait_for(lambda _: any(r.method == "getUpdates" for r in fake.requests), timeout)


def burst_text(n: int) -> str:
    """The n-th tagged complaint of a burst; `burst-NNN` marks it in the card."""
    return f"@akim_astana {PROBLEMS[n % 3]}, burst-{n:03d}"


def inject_tagged(fake: FakeBotAPI, sent: dict[int, str], n: int) -> None:
    """Post the n-th tagged complaint in the city chat; remember its message id and marker."""
    update = fake.inject_message(CITY_CHAT, burst_text(n), from_user=RESIDENT)
    sent[int(update["message"]["message_id"])] = f"burst-{n:03d}"


@dataclass(frozen=True, slots=True)
class Card:
    """A card the fake Bot API accepted in a department chat."""

    chat_id: int
    message_id: int
    number: int  # the complaint's number, from the desk buttons' callback data
    source_message_id: int | None  # from the link to the original message
    text: str


def _callback_numbers(call: SentCall) -> set[int]:
    markup = call.params.get("reply_markup") or {}
    numbers = set()
    for row in markup.get("inline_keyboard", []):
        for button in row:
            match = _NUMBER.match(str(button.get("callback_data", "")))
            if match:
                numbers.add(int(match.group(1)))
    return numbers


def cards(fake: FakeBotAPI) -> list[Card]:
    """Every card the bot posted (and Telegram accepted) in the department chats."""
    found = []
    for call in fake.sent:
        if (
            not call.ok
            or call.method not in ("sendMessage", "sendPhoto")
            or call.chat_id not in DEPARTMENT_CHATS
        ):
            continue
        numbers = _callback_numbers(call)
        if len(numbers) != 1:
            continue  # prompts and notices, not cards
        raw = str(call.params.get("text", call.params.get("caption", "")))
        link = _LINK.search(raw)
        found.append(
            Card(
                chat_id=int(call.chat_id),
                message_id=int(call.result["message_id"]),
                number=numbers.pop(),
                source_message_id=int(link.group(2)) if link else None,
                text=call.text or "",
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class DepartmentMessage:
    """A card or a combined message the fake Bot API accepted in a department chat."""

    chat_id: int
    message_id: int
    numbers: frozenset[int]  # the complaints it carries: one for a card, several for a combined message
    text: str


def department_messages(fake: FakeBotAPI) -> list[DepartmentMessage]:
    """Every card and combined message the bot posted in the department chats, in the order accepted."""
    found = []
    for call in fake.sent:
        if call.ok and call.method in ("sendMessage", "sendPhoto") and call.chat_id in DEPARTMENT_CHATS:
            numbers = _callback_numbers(call)
            if numbers:  # prompts and notices carry no complaint's buttons
                message_id = int(call.result["message_id"])
                found.append(
                    DepartmentMessage(int(call.chat_id), message_id, frozenset(numbers), call.text or "")
                )
    return found


def in_flight(fake: FakeBotAPI, method: str, chat_id: int | None = None) -> bool:
    """True while a call of `method` (to `chat_id`) has reached the fake and is not answered yet."""
    return any(
        r.method == method and r.status is None and (chat_id is None or r.params.get("chat_id") == chat_id)
        for r in fake.requests
    )


def said(fake: FakeBotAPI, user: Any, fragment: str) -> list[str]:
    """Texts Telegram accepted for a resident's chat (messages and edits) that contain `fragment`."""
    calls = [c for c in fake.calls(chat_id=user.id) if c.method in ("sendMessage", "editMessageText")]
    return [c.text or "" for c in calls if fragment in (c.text or "")]


async def complaints(database_url: str) -> list[ComplaintRow]:
    """Every complaint row."""
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            return list((await session.scalars(select(ComplaintRow).order_by(ComplaintRow.id))).all())
    finally:
        await engine.dispose()


async def pending_inbox(database_url: str) -> int:
    """Inbox rows not processed yet."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(select(InboxRow.id).where(InboxRow.status == "pending"))
            return len(result.all())
    finally:
        await engine.dispose()


async def eventually(
    check: Callable[[], Any], timeout: float, what: str, bot: BotProcess, fake: FakeBotAPI | None = None
) -> None:
    """Poll `check` (sync or async) until it is truthy; fail with the bot's log (and what the bot
    sent) after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            sent = f"\n--- sent ---\n{fake.describe_sent(60)}" if fake is not None else ""
            raise AssertionError(f"not within {timeout}s: {what}\n--- bot log ---\n{bot.tail()}{sent}")
        await asyncio.sleep(0.3)


async def all_delivered(database_url: str, fake: FakeBotAPI, expected: int) -> bool:
    """Every complaint has a recorded card and the inbox is worked off (used while waiting)."""
    if len(cards(fake)) < expected:
        return False  # cheap: no database round trip until the cards could all be there
    try:
        rows = await complaints(database_url)
        pending = await pending_inbox(database_url)
    except Exception:  # the database may be restarting
        return False
    city = [row for row in rows if row.chat_id == CITY_CHAT]
    return (
        len(city) >= expected
        and pending == 0
        and all(row.card_state == "sent" for row in rows)
        and len(cards(fake)) >= len(rows)
    )


def assert_exactly_once(
    rows: list[ComplaintRow],
    posted: list[Card],
    sent: dict[int, str],
    *,
    may_repeat: frozenset[int] = frozenset(),
) -> None:
    """Each tagged message is one complaint and each complaint one card, matched by ids.

    `sent` maps the injected message ids to their markers; `may_repeat` names complaints whose card a
    kill -9 may have sent without recording it (they were `sending` when the process died)."""
    city = [row for row in rows if row.chat_id == CITY_CHAT]
    per_message = Counter(row.message_id for row in city)
    assert sorted(per_message) == sorted(sent), "complaints do not match the tagged messages"
    assert all(n == 1 for n in per_message.values()), f"messages with several complaints: {per_message}"

    by_number: dict[int, list[Card]] = {}
    for card in posted:
        by_number.setdefault(card.number, []).append(card)
    assert set(by_number) == {row.id for row in rows}, (
        f"cards for complaints {sorted(set(by_number) - {row.id for row in rows})} that do not exist, "
        f"no card for {sorted({row.id for row in rows} - set(by_number))}"
    )
    for row in rows:
        mine = by_number[row.id]
        allowed = 2 if row.id in may_repeat else 1
        assert 1 <= len(mine) <= allowed, f"complaint {row.id} has {len(mine)} cards: {mine}"
        recorded = [c for c in mine if (c.chat_id, c.message_id) == (row.card_chat_id, row.card_message_id)]
        assert len(recorded) == 1, f"complaint {row.id}: the recorded card is not one the bot posted"
        card = recorded[0]
        if row.chat_id == CITY_CHAT:
            assert card.source_message_id == row.message_id, f"card of {row.id} links another message"
            assert sent[row.message_id] in card.text, f"card of {row.id} shows another message's text"
