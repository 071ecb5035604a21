"""Whole-bot benchmark against the fake Bot API: throughput, update→card latency, peak memory.

Run by hand: `python -m bench.pipeline_bench [--updates N] [--tagged M] [--engine keywords|model]
[--framework aiogram|ptb|both]`. The bot runs as a subprocess (`shagym run`) so its memory is measured
alone, once per Telegram framework (`telegram.framework`); in the same run a bare aiogram bot that only
receives the same updates gives the floor. Results: `bare_aiogram`, and `shagym[<framework>]` with
`untagged` (throughput), `tagged` (latency) and `untagged_vs_bare`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import bench_config, spawn, spawn_bot, stop, wait_for_polling
from tests.e2e.conftest import CITY_CHAT
from tests.fakes.bot_api import FakeBotAPI

CHATTER = [
    "всем привет, кто знает хороший автосервис на левом берегу?",
    "сегодня морозно, −25, одевайтесь теплее",
    "продам детскую коляску, почти новая, 40 000 тг",
    "Сәлеметсіздер ме, көршілер! Ертең жиналыс бар ма?",
    "кто-нибудь видел рыжего кота у 5 подъезда?",
    "Happy New Year everyone 🎄🎉",
    "ребята, во сколько открывается ЦОН в субботу?",
    "😂😂😂",
    "бүгін кешке футбол қарайсыңдар ма?",
    "спасибо всем, кто помог с переездом!",
]
COMPLAINTS = [
    ("нет горячей воды третий день", -1001000000001),
    ("огромная яма на дороге у школы", -1001000000002),
    ("мусор не вывозят уже неделю, контейнеры переполнены", -1001000000003),
    ("в подъезде не работает лифт, ОСИ не отвечает", -1001000000004),
    ("ночью шум и драка во дворе", -1001000000006),
]


FRAMEWORKS = ("aiogram", "ptb")


async def _throughput(
    fake: FakeBotAPI, process_argv: list[str], updates: list[dict[str, Any]]
) -> tuple[float, int]:
    """Inject all updates, start the bot, and time how long it takes to confirm them all."""
    for update in updates:
        fake.inject(update)
    last = updates[-1]["update_id"]
    process = await spawn(*process_argv)
    await wait_for_polling(fake, process, 60)
    started = time.perf_counter()
    await fake.wait_for(lambda _: (fake.confirmed_offset or 0) > last, 600)
    elapsed = time.perf_counter() - started
    return elapsed, await stop(process)


def _untagged(fake: FakeBotAPI, texts: list[str]) -> list[dict[str, Any]]:
    updates = [fake.message_update(CITY_CHAT, text, message_id=n + 1) for n, text in enumerate(texts)]
    for n, update in enumerate(updates):
        update["update_id"] = n + 1
    return updates


async def run(
    updates_total: int, tagged_total: int, engine: str, frameworks: tuple[str, ...] = FRAMEWORKS
) -> dict[str, Any]:
    """Measure the floor once, then Shagym on each framework; return the results."""
    rng = random.Random(7)
    # every framework sees the same traffic
    texts = [rng.choice(CHATTER) for _ in range(updates_total)]
    results: dict[str, Any] = {"updates": updates_total, "engine": engine, "shagym": {}}
    with tempfile.TemporaryDirectory() as raw_tmp:
        tmp = Path(raw_tmp)
        # 1. the floor: a bare aiogram bot that only receives
        async with FakeBotAPI(first_update_id=1) as fake:
            elapsed, rss = await _throughput(
                fake, ["-m", "bench.bare_aiogram", fake.url, fake.token], _untagged(fake, texts)
            )
            results["bare_aiogram"] = {
                "seconds": elapsed,
                "updates_per_s": updates_total / elapsed,
                "peak_rss_mib": rss / 1024,
            }
        for framework in frameworks:
            shagym = await _shagym(tmp / framework, framework, texts, tagged_total, engine)
            shagym["untagged_vs_bare"] = (
                shagym["untagged"]["updates_per_s"] / results["bare_aiogram"]["updates_per_s"]
            )
            results["shagym"][framework] = shagym
    results["bench_process_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return results


async def _shagym(
    tmp: Path, framework: str, texts: list[str], tagged_total: int, engine: str
) -> dict[str, Any]:
    """Shagym on one framework: throughput on untagged traffic, then card latency."""
    rng = random.Random(11)
    results: dict[str, Any] = {}
    # 2. Shagym on the same untagged traffic
    async with FakeBotAPI(first_update_id=1) as fake:
        fake.add_chat(CITY_CHAT, type="supergroup", title="Астана | жители")
        (tmp / "a").mkdir(parents=True)
        config = bench_config(tmp / "a", fake, engine, framework)
        updates = _untagged(fake, texts)
        elapsed, rss = await _throughput(fake, ["-m", "bot.cli", "run", "--config", str(config)], updates)
        results["untagged"] = {
            "seconds": elapsed,
            "updates_per_s": len(updates) / elapsed,
            "peak_rss_mib": rss / 1024,
        }
    # 3. tagged complaints at a steady rate: latency from injection to the department card
    async with FakeBotAPI() as fake:
        fake.add_chat(CITY_CHAT, type="supergroup", title="Астана | жители")
        (tmp / "b").mkdir()
        config = bench_config(tmp / "b", fake, engine, framework)
        process = await spawn_bot(config)
        await wait_for_polling(fake, process, 120)
        sent_at: dict[str, float] = {}
        chatter_per_tagged = max(1, len(texts) // max(tagged_total, 1) // 10)
        for n in range(tagged_total):
            problem, _ = COMPLAINTS[n % len(COMPLAINTS)]
            marker = f"bench-{n:05d}"
            for _ in range(chatter_per_tagged):
                fake.inject_message(CITY_CHAT, rng.choice(CHATTER))
            sent_at[marker] = time.time()
            fake.inject_message(CITY_CHAT, f"@akim_astana {problem} {marker}")
            await asyncio.sleep(0.05)  # 20 tagged complaints a second

        def delivered(_: object) -> bool:
            return (
                sum(1 for c in fake.sent if c.method == "sendMessage" and "bench-" in (c.text or ""))
                >= tagged_total
            )

        await fake.wait_for(delivered, 300)
        latencies = []
        for call in fake.sent:
            if call.method != "sendMessage":
                continue
            for marker, at in sent_at.items():
                if marker in (call.text or ""):
                    latencies.append((call.time - at) * 1000)
                    break
        rss = await stop(process)
        latencies.sort()
        results["tagged"] = {
            "complaints": len(latencies),
            "p50_ms": statistics.median(latencies),
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            "max_ms": latencies[-1],
            "peak_rss_mib": rss / 1024,
        }
    return results


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=20000, help="untagged updates for the throughput runs")
    parser.add_argument("--tagged", type=int, default=300, help="tagged complaints for the latency run")
    parser.add_argument("--engine", choices=["keywords", "model"], default="model")
    parser.add_argument(
        "--framework", choices=[*FRAMEWORKS, "both"], default="both", help="Telegram library under Shagym"
    )
    args = parser.parse_args(argv)
    frameworks = FRAMEWORKS if args.framework == "both" else (args.framework,)
    results = asyncio.run(run(args.updates, args.tagged, args.engine, frameworks))
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
