"""What the whole-bot benchmarks share: a config pointed at the fake Bot API, the bot as a subprocess, and
its peak memory read from /proc before it is stopped."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.conftest import e2e_config
from tests.fakes.bot_api import FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent

# The pipeline is measured, not Telegram's flood control: limits far above what a bench sends. Telegram's
# real limits (about 1 message/s per chat, 20 a minute per group, 30/s overall) are the config defaults.
RAISED_RATE_LIMIT = {"per_chat_per_second": 50, "per_group_per_minute": 5000, "global_per_second": 500}


def bench_config(
    tmp: Path,
    fake: FakeBotAPI,
    engine: str,
    framework: str,
    *,
    rate_limit: dict[str, float] | None = None,
    storage: dict[str, Any] | None = None,
) -> Path:
    """Write a config for `shagym run` against `fake` (the example city) and return its path.

    SQLite in `tmp` unless `storage` overrides keys of the storage section (database_url, redis_url)."""
    config = e2e_config(tmp, fake, framework=framework)
    data = config.model_dump(by_alias=True, mode="json")
    data["telegram"]["token"] = fake.token
    data["telegram"]["webhook"]["secret_token"] = ""
    data["telegram"]["rate_limit"] = dict(rate_limit or RAISED_RATE_LIMIT)
    data["storage"].update(storage or {})
    data["classifier"]["engine"] = engine
    data["logging"]["level"] = "WARNING"
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


async def spawn(
    *argv: str, log: Path | None = None, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    """`python *argv` in the project root (with `env` added to the environment); stderr is kept (in `log`
    for a long run, so a chatty process never blocks on a full pipe) and shown when the process fails."""
    stderr: Any = asyncio.subprocess.PIPE if log is None else log.open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *argv,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, **(env or {})},
        )
    finally:
        if log is not None:
            stderr.close()  # the child has its own copy


async def spawn_bot(config: Path, *, log: Path | None = None) -> asyncio.subprocess.Process:
    """`shagym run --config config` as a subprocess, so its memory is measured alone."""
    return await spawn("-m", "bot.cli", "run", "--config", str(config), log=log)


def peak_rss_kib(pid: int) -> int:
    """The process's high-water resident memory (VmHWM), read while it is still alive."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


async def stop(process: asyncio.subprocess.Process) -> int:
    """Read the child's peak RSS (KiB), then SIGTERM it and wait; its stderr is shown if it failed."""
    peak = peak_rss_kib(process.pid)
    process.send_signal(signal.SIGTERM)
    _, stderr = await process.communicate()
    if process.returncode not in (0, -signal.SIGTERM):
        print((stderr or b"(stderr in the run's log)").decode(errors="replace")[-3000:], file=sys.stderr)
    return peak


async def wait_for_polling(fake: FakeBotAPI, process: asyncio.subprocess.Process, timeout: float) -> None:
    """Wait until the bot asks for updates; fail with its stderr if it exits first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not any(r.method == "getUpdates" for r in fake.requests):
        if process.returncode is not None or loop.time() > deadline:
            _, stderr = await process.communicate() if process.returncode is not None else (b"", b"")
            shown = (stderr or b"(stderr in the run's log)").decode(errors="replace")[-3000:]
            raise RuntimeError("the bot did not start polling: " + shown)
        await asyncio.sleep(0.05)
