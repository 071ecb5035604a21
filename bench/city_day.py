"""A city-day load run: 200,000 chat messages, 5,000 of them tagged complaints, against PostgreSQL and Redis.

Run by hand: `python -m bench.city_day [--messages N] [--tagged M] [--rate R] [--framework aiogram|ptb]
[--database-url URL] [--redis-url URL | --sqlite] [--split] [--engine model|keywords] [--seed S]`.

The whole bot runs as `shagym run` in a subprocess (`--split`: an ingest and a deliver process, `--role`)
against the fake Bot API (tests/fakes/bot_api.py), watching eight city chats. The traffic is mixed
Russian, Kazakh and English chatter; the tagged complaints (every category, unique addresses, some with
photos, some in a district) include edits, Telegram redeliveries (the same update twice), the same
message under a new update id, and "me too" repeats of earlier complaints that the duplicate finder is
expected to merge. Updates are offered at `--rate` per second (0: the whole day is waiting before the
bot starts, as after an outage).

The database named in `--database-url` is dropped, created and migrated (its name must contain "bench");
the Redis database in `--redis-url` is flushed first. `--sqlite` runs on a SQLite file and the SQL queue
instead. Telegram's flood limits are raised in the bench config (the fake enforces none): with the real
ones (20 messages a minute per group) the busiest department's cards alone would take hours one by one,
and a fraction of that in combined messages (`delivery.combine_max` complaints each); the result says
how long.

Reported: ingest throughput (updates/s) and lag, update→card latency p50/p95/p99 for the tagged
complaints, time until every card is out and complaints per second, statements, transactions and bot
CPU per complaint (bench/probe.py), the department queues' maximum depth, the bot's peak RSS, and a
count check: one complaint per tagged message, each either carded once or merged into an earlier one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import make_url, text

from bench.city_bots import BotProcess, exited, finish, per_complaint, start_bots, stop_bots
from bench.city_checks import ServiceUnavailable, collect, flush_redis, fresh_postgres, wait_for_cards
from bench.city_traffic import CHATS, Planned, Traffic, build_traffic
from bench.harness import ROOT, bench_config
from bot.app.resources import build_resources
from bot.classifier import build_classifier
from bot.config import Config, load_config
from tests.fakes.bot_api import FakeBotAPI

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/shagym_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
# Far above what the run needs, so the pipeline is measured and not the (simulated) flood control.
BENCH_RATE_LIMIT: dict[str, float] = {
    "per_chat_per_second": 1000,
    "per_group_per_minute": 60000,
    "global_per_second": 3000,
}
TELEGRAM_PER_GROUP_PER_MINUTE = 20

# --- the run ------------------------------------------------------------------------------------------------


@dataclass
class Watch:
    """What the monitor saw while the day ran."""

    max_queue_depth: int = 0
    max_queue_age_s: float = 0.0
    max_ingest_lag_s: float = 0.0
    max_ingest_backlog: int = 0
    samples: int = 0


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Prepare storage, generate the day, run the bot through it, and collect the results."""
    storage: dict[str, Any]
    with tempfile.TemporaryDirectory() as raw_tmp:
        tmp = Path(raw_tmp)
        if args.sqlite:
            storage = {"database_url": f"sqlite+aiosqlite:///{tmp / 'shagym.db'}", "redis_url": None}
        else:
            storage = {"database_url": args.database_url, "redis_url": args.redis_url}
            try:
                await fresh_postgres(args.database_url)
                await flush_redis(args.redis_url)
            except (ServiceUnavailable, OSError, RedisError) as exc:
                return {"skipped": f"PostgreSQL or Redis unreachable ({exc}); use --sqlite, or start them"}
        async with FakeBotAPI(first_update_id=1) as fake:
            for chat, title, username, _ in CHATS:
                fake.add_chat(chat, type="supergroup", title=title, username=username)
            config_path = bench_config(
                tmp, fake, args.engine, args.framework, rate_limit=BENCH_RATE_LIMIT, storage=storage
            )
            config = load_config(config_path, environ={})
            started = time.perf_counter()
            classify = _classifier(config)
            traffic = build_traffic(fake, config, classify, args.messages, args.tagged, args.seed)
            generated_s = time.perf_counter() - started
            print(
                f"city_day: {len(traffic.plan)} updates generated in {generated_s:.0f}s "
                f"({dict(traffic.counts)}); starting the bot",
                file=sys.stderr,
                flush=True,
            )
            return await _run_day(fake, config, config_path, traffic, args)


def _classifier(config: Config) -> Callable[[str], Any]:
    if config.classifier.engine == "keywords":
        from bot.classifier.keyword_engine import KeywordClassifier

        return KeywordClassifier(config).classify
    cache = ROOT / config.classifier.cache_dir  # an absolute cache_dir stays as it is
    return build_classifier(config, cache_dir=cache).classify


def _combined_minutes(cards: int, config: Config) -> float:
    """Minutes to post `cards` at Telegram's per-group pace when busy chats get combined messages."""
    return math.ceil(cards / config.delivery.combine_max) / TELEGRAM_PER_GROUP_PER_MINUTE


async def _run_day(
    fake: FakeBotAPI, config: Config, config_path: Path, traffic: Traffic, args: argparse.Namespace
) -> dict[str, Any]:
    departments = {d.chat_id: d.id for d in config.departments}
    plan = traffic.plan
    offered_at: dict[int, float] = {}  # update id -> when it was offered
    tagged_at: dict[tuple[int, int], float] = {}  # (chat, message) -> when its first update was offered
    loads = [os.getloadavg()[0]]

    def offer(item: Planned) -> None:
        update = fake.inject(item.update)
        now = time.time()
        offered_at.setdefault(update["update_id"], now)
        if item.tagged_key is not None:
            tagged_at.setdefault(item.tagged_key, now)

    if args.rate <= 0:  # the whole day is waiting when the bot starts
        for item in plan:
            offer(item)
    log = config_path.parent / "bot.log"
    watch = Watch()
    bench_cpu = time.process_time()
    async with build_resources(config, prepare=False) as resources:
        bots: list[BotProcess] = []
        try:
            bots = await start_bots(fake, config_path, log, split=args.split)
            day_started = time.time()
            if args.rate <= 0:  # the day was waiting: latency counts from when the bot began to read it
                tagged_at.update(dict.fromkeys(tagged_at, day_started))
                offered_at.update(dict.fromkeys(offered_at, day_started))
            monitor_stop = asyncio.Event()
            monitor = asyncio.create_task(_monitor(fake, resources, config, offered_at, watch, monitor_stop))
            if args.rate > 0:
                await _offer_paced(plan, offer, args.rate)
            last_update_id = max(offered_at)
            offered_s = time.time() - day_started
            ingested_at = await _wait_until(
                lambda: (fake.confirmed_offset or 0) > last_update_id, args.timeout, bots
            )
            ingest_s = ingested_at - day_started
            loads.append(os.getloadavg()[0])
            done = await wait_for_cards(fake, resources, departments, args.timeout, lambda: exited(bots))
            await finish(bots)
            monitor_stop.set()
            await monitor
            loads.append(os.getloadavg()[0])
            await stop_bots(bots)
            results = await collect(fake, resources, departments, traffic, tagged_at)
        finally:
            await stop_bots(bots)
        bench_cpu = time.process_time() - bench_cpu
        redis_peak = None
        if resources.redis is not None:
            info = await resources.redis.info("memory")
            redis_peak = round(int(info["used_memory_peak"]) / 2**20, 1)
        database_mib = None
        if resources.engine.dialect.name == "postgresql":
            async with resources.engine.connect() as connection:
                size = await connection.scalar(text("SELECT pg_database_size(current_database())"))
            database_mib = round(int(size) / 2**20, 1)
    total_updates = len(plan)
    last_card = results.pop("_last_card_time")
    all_out_s = last_card - day_started if done else None
    complaints = results["check"]["complaints_stored"]
    tagged_updates = sum(1 for item in plan if item.tagged_key is not None)
    busiest = max(results["cards_by_department"].values(), default=0)
    return {
        "setup": {
            "framework": config.telegram.framework,
            "engine": config.classifier.engine,
            "database": make_url(config.storage.database_url).get_backend_name(),
            "queue": "redis streams" if config.storage.redis_url else "sql table",
            "offered_rate_per_s": args.rate if args.rate > 0 else "all at once",
            "offered_complaints_per_s": round(tagged_updates / offered_s, 1) if args.rate > 0 else None,
            "processes": [f"shagym run --role {bot.role}" for bot in bots],
            "chats": len(CHATS),
            "traffic": dict(traffic.counts),
            "updates_offered": total_updates,
            "rate_limit": BENCH_RATE_LIMIT,
            "note": (
                "Telegram rate limits raised in the bench config (the fake Bot API enforces none); with the "
                f"real {TELEGRAM_PER_GROUP_PER_MINUTE} messages a minute per group the busiest department's "
                f"{busiest} cards alone would take {busiest / TELEGRAM_PER_GROUP_PER_MINUTE / 60:.1f} h one "
                f"by one, about {_combined_minutes(busiest, config):.0f} min with up to "
                f"{config.delivery.combine_max} in a combined message"
            ),
            "load_average_1m": [round(load, 2) for load in loads],
            "cpus": os.cpu_count(),
        },
        "ingest": {
            "updates": total_updates,
            "seconds": round(ingest_s, 2),
            "updates_per_s": round(total_updates / ingest_s, 1),
            "offering_took_s": round(offered_s, 2),
            "max_lag_s": round(watch.max_ingest_lag_s, 2),
            "max_backlog_updates": watch.max_ingest_backlog,
        },
        "cards": {
            "all_out_after_s": round(all_out_s, 2) if all_out_s is not None else None,
            "complete": done,
            "complaints_per_s": round(complaints / all_out_s, 1) if all_out_s else None,
            **{k: v for k, v in results.items() if k not in ("latency_ms", "check")},
        },
        "latency_ms": results["latency_ms"],
        "per_complaint": {
            **per_complaint(bots, complaints, all_out_s or (time.time() - day_started)),
            "bench_process_cpu_s": round(bench_cpu, 1),  # the fake Bot API and the monitor, same cores
        },
        "queues": {"max_depth": watch.max_queue_depth, "max_oldest_age_s": round(watch.max_queue_age_s, 2)},
        "memory": {
            "bot_peak_rss_mib": {bot.role: round(bot.peak_rss_kib / 1024, 1) for bot in bots},
            "redis_peak_mib": redis_peak,
            "postgres_database_mib": database_mib,
        },
        "check": results["check"],
        "bot_log": _log_summary(log),
    }


def _log_summary(log: Path) -> dict[str, Any]:
    """How many warnings and errors the bot logged (level WARNING and up is all it writes here)."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines() if log.exists() else []
    levels = Counter(level for line in lines for level in ("WARNING", "ERROR", "CRITICAL") if level in line)
    return {"lines": len(lines), **levels, "last": lines[-5:]}


async def _offer_paced(plan: list[Planned], offer: Callable[[Planned], None], rate: float) -> None:
    """Offer the plan at `rate` updates a second, in small ticks."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    position = 0
    while position < len(plan):
        due = min(len(plan), int((loop.time() - start) * rate) + 1)
        while position < due:
            offer(plan[position])
            position += 1
        await asyncio.sleep(0.01)


async def _wait_until(condition: Callable[[], bool], timeout: float, bots: list[BotProcess]) -> float:
    deadline = time.monotonic() + timeout
    while not condition():
        if (role := exited(bots)) is not None:
            raise RuntimeError(f"the bot ({role}) exited during the run")
        if time.monotonic() > deadline:
            raise RuntimeError(f"not done within {timeout:.0f}s")
        await asyncio.sleep(0.02)
    return time.time()


async def _monitor(
    fake: FakeBotAPI,
    resources: Any,
    config: Config,
    offered_at: dict[int, float],
    watch: Watch,
    stop_event: asyncio.Event,
) -> None:
    """Sample the department queues (depth, oldest entry) and the ingest backlog twice a second."""
    while not stop_event.is_set():
        depth, age = 0, 0.0
        for department in config.departments:
            stats = await resources.queue.stats(department.id)
            depth += stats.depth
            age = max(age, stats.oldest_age)
        watch.max_queue_depth = max(watch.max_queue_depth, depth)
        watch.max_queue_age_s = max(watch.max_queue_age_s, age)
        confirmed = fake.confirmed_offset or 1
        waiting = [at for update_id, at in offered_at.items() if update_id >= confirmed] if offered_at else []
        if waiting:
            watch.max_ingest_lag_s = max(watch.max_ingest_lag_s, time.time() - min(waiting))
            watch.max_ingest_backlog = max(watch.max_ingest_backlog, len(waiting))
        watch.samples += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), 0.5)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--messages", type=int, default=200_000, help="distinct chat messages in the day")
    parser.add_argument("--tagged", type=int, default=5_000, help="of which tagged complaints")
    parser.add_argument("--rate", type=float, default=400.0, help="updates offered a second; 0: all at once")
    parser.add_argument("--framework", choices=["aiogram", "ptb"], default="aiogram")
    parser.add_argument("--engine", choices=["model", "keywords"], default="model")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="dropped and recreated")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="this Redis database is flushed")
    parser.add_argument("--sqlite", action="store_true", help="SQLite and the SQL queue instead")
    parser.add_argument(
        "--split",
        action="store_true",
        help="two processes, `shagym run --role ingest` and `--role deliver` (PostgreSQL + Redis only)",
    )
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for each phase")
    args = parser.parse_args(argv)
    if args.tagged > args.messages:
        parser.error("--tagged cannot exceed --messages")
    if args.split and args.sqlite:
        parser.error("--split needs PostgreSQL and Redis: `shagym run` refuses a split on SQLite")
    results = asyncio.run(run(args))
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
