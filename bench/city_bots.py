"""The bot processes of a `bench.city_day` run: one `shagym run`, or an ingest and a deliver process
(`--role`) on one PostgreSQL and Redis, each under `bench.probe` so its statements, transactions and CPU
time over the measured part of the run can be reported per complaint."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.harness import spawn, stop, wait_for_polling
from bench.probe import PROBE_VARIABLE, Counts, read, snapshot
from tests.fakes.bot_api import FakeBotAPI


@dataclass
class BotProcess:
    """One probed `shagym run` and its counts at the start and the end of the measured part."""

    role: str
    process: asyncio.subprocess.Process
    probe: Path
    start: Counts | None = None
    end: Counts | None = None
    peak_rss_kib: int = 0

    @property
    def work(self) -> Counts:
        """What it did between the two snapshots."""
        if self.start is None or self.end is None:
            raise RuntimeError(f"the {self.role} process was not measured")
        return self.end.minus(self.start)


async def _spawn(config: Path, role: str, log: Path) -> BotProcess:
    probe = config.parent / f"probe-{role}.json"
    argv = ["-m", "bench.probe", "run", "--config", str(config), "--role", role]
    process = await spawn(*argv, log=log, env={PROBE_VARIABLE: str(probe)})
    return BotProcess(role, process, probe)


async def _answering(bot: BotProcess, timeout: float) -> None:
    """Wait until the probe's SIGUSR1 handler is in place (its first snapshot is written)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while read(bot.probe) is None:
        if bot.process.returncode is not None or loop.time() > deadline:
            raise RuntimeError(f"the {bot.role} process did not start (see its log)")
        await asyncio.sleep(0.05)


async def _settled(bot: BotProcess, timeout: float) -> None:
    """Wait until a process that does not poll has started up: it has used the database and is idle."""
    await _answering(bot, timeout)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = await snapshot(bot.probe, bot.process.pid)
    while loop.time() < deadline:
        await asyncio.sleep(0.5)
        now = await snapshot(bot.probe, bot.process.pid)
        if now.statements > 0 and now.cpu_s - last.cpu_s < 0.05:
            return
        last = now
    raise RuntimeError(f"the {bot.role} process did not settle within {timeout:.0f}s")


async def start_bots(fake: FakeBotAPI, config: Path, log: Path, *, split: bool) -> list[BotProcess]:
    """One `all` process, or a deliver process (started and settled first, so cards can flow at once)
    and an ingest process; returns when the bot polls, after the measured part's first snapshots."""
    bots: list[BotProcess] = []
    try:
        if split:
            bots.append(await _spawn(config, "deliver", log))
            await _settled(bots[0], 180)
        poller = await _spawn(config, "ingest" if split else "all", log)
        bots.insert(0, poller)
        await _answering(poller, 180)
        await wait_for_polling(fake, poller.process, 180)
        for bot in bots:
            bot.start = await snapshot(bot.probe, bot.process.pid)
    except BaseException:
        await stop_bots(bots)
        raise
    return bots


async def finish(bots: list[BotProcess]) -> None:
    """Take the measured part's last snapshots."""
    for bot in bots:
        bot.end = await snapshot(bot.probe, bot.process.pid)


async def stop_bots(bots: list[BotProcess]) -> None:
    """Stop every process still running, keeping each one's peak memory."""
    for bot in bots:
        if bot.process.returncode is None:
            bot.peak_rss_kib = await stop(bot.process)


def exited(bots: list[BotProcess]) -> str | None:
    """The role of a process that has exited, if any did."""
    return next((bot.role for bot in bots if bot.process.returncode is not None), None)


def per_complaint(bots: list[BotProcess], complaints: int, seconds: float) -> dict[str, Any]:
    """Statements, transactions and CPU per complaint over the measured part, all processes together
    and (split) each role."""
    total = Counts()
    for bot in bots:
        total = total.plus(bot.work)
    n = max(complaints, 1)

    def figures(work: Counts) -> dict[str, Any]:
        return {
            "statements": round(work.statements / n, 2),
            "transactions": round(work.transactions / n, 2),
            "commits": round(work.commits / n, 2),
            "cpu_ms": round(work.cpu_s * 1000 / n, 2),
        }

    result: dict[str, Any] = {
        "complaints": complaints,
        **figures(total),
        "totals": {k: v for k, v in asdict(total).items() if k != "seq"},
        "cpu_busy_share": round(total.cpu_s / seconds, 2) if seconds > 0 else None,
        "counted": (
            "SQLAlchemy engine events in the bot processes (bench/probe.py), from the first getUpdates "
            "to the last card: statements = before_cursor_execute (an executemany once), transactions "
            "= begin; CPU = the processes' CPU time (time.process_time); idle loops, edits and resends "
            "included, divided by the complaints stored"
        ),
    }
    if len(bots) > 1:
        result["by_role"] = {bot.role: figures(bot.work) for bot in bots}
    return result
