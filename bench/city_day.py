"""A city-day load run: 200,000 chat messages, 5,000 of them tagged complaints, against PostgreSQL and Redis.

Run by hand: `python -m bench.city_day [--messages N] [--tagged M] [--rate R] [--framework aiogram|ptb]
[--database-url URL] [--redis-url URL | --sqlite] [--engine model|keywords] [--seed S]`.

The whole bot runs as `shagym run` in a subprocess against the fake Bot API (tests/fakes/bot_api.py),
watching eight city chats. The traffic is mixed Russian, Kazakh and English chatter; the tagged
complaints (every category, unique addresses, some with photos, some in a district) include edits,
Telegram redeliveries (the same update twice), the same message under a new update id, and "me too"
repeats of earlier complaints that the duplicate finder is expected to merge. Updates are offered at
`--rate` per second (0: the whole day is waiting before the bot starts, as after an outage).

The database named in `--database-url` is dropped, created and migrated (its name must contain "bench");
the Redis database in `--redis-url` is flushed first. `--sqlite` runs on a SQLite file and the SQL queue
instead. Telegram's flood limits are raised in the bench config (the fake enforces none): with the real
ones (20 messages a minute per group) the busiest department's cards alone would take hours one by one,
and a fraction of that in combined messages (`delivery.combine_max` complaints each); the result says
how long.

Reported: ingest throughput (updates/s) and lag, update→card latency p50/p95/p99 for the tagged
complaints, time until every card is out, the department queues' maximum depth, the bot's peak RSS, and a
count check: one complaint per tagged message, each either carded once or merged into an earlier one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, make_url, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.harness import ROOT, bench_config, spawn_bot, stop, wait_for_polling
from bot.app.resources import build_resources
from bot.classifier import build_classifier
from bot.config import Config, load_config
from bot.core.mentions import MentionDetector
from storage import migrate
from storage.db import create_engine
from storage.models import ComplaintRow, InboxRow
from tests.fakes.bot_api import FakeBotAPI, SentCall

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/shagym_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
# Far above what the run needs, so the pipeline is measured and not the (simulated) flood control.
BENCH_RATE_LIMIT = {"per_chat_per_second": 1000, "per_group_per_minute": 60000, "global_per_second": 3000}
TELEGRAM_PER_GROUP_PER_MINUTE = 20

# (chat id, title, public username or None, share of the day's messages)
CHATS = [
    (-1001999000111, "Астана | жители", "astana_zhiteli", 0.30),
    (-1001999000112, "Сарыарка район — соседи", None, 0.14),
    (-1001999000113, "Есиль / левый берег чат", "esil_chat", 0.14),
    (-1001999000114, "ЖК Highvill | жильцы", None, 0.10),
    (-1001999000115, "Алматы ауданы тұрғындары", None, 0.10),
    (-1001999000116, "Нура онлайн", "nura_online", 0.08),
    (-1001999000117, "Astana Expats", "astana_expats", 0.07),
    (-1001999000118, "Байконур родители", None, 0.07),
]

FIRST_NAMES = [
    *("Айгерим", "Ерлан", "Динара", "Нурлан", "Асель", "Тимур", "Жанна", "Бауыржан", "Мадина", "Арман"),
    *("Ольга", "Сергей", "Наталья", "Дмитрий", "Елена", "Алексей", "Гульнара", "Данияр", "Сауле", "Кайрат"),
    *("Aruzhan", "Alikhan", "Dana", "John", "Maria", "Aisulu", "Yerzhan", "Kamila", "Miras", "Zarina"),
]
LAST_NAMES = [None, None, "К.", "С.", "Ахметова", "Иванов", "Сейткали", "Smith", "Омаров", "Жумабаева"]

# --- chatter: what a city chat is mostly made of (never stored) ------------------------------------------

CHATTER_OPENERS = [
    *("", "", "", "Всем привет! ", "Добрый вечер, соседи. ", "Сәлеметсіздер ме! ", "Hi all, "),
    *("Ребята, ", "Қайырлы таң! ", "Кто знает, ", "Подскажите, ", "Айтыңызшы, ", "Quick question: "),
]
CHATTER_BODIES = [
    "где поблизости хороший стоматолог?",
    "кто-нибудь видел рыжего кота у третьего подъезда?",
    "продам детскую коляску, почти новая, недорого",
    "во сколько открывается ЦОН в субботу?",
    "сегодня морозно, одевайтесь теплее",
    "ертең жиналыс бар ма?",
    "бүгін кешке футбол қарайсыңдар ма?",
    "кім балабақшаға кезекке тұрды, қанша күттіңіздер?",
    "does anyone know a good English-speaking pediatrician?",
    "is the ice rink in the park open this weekend?",
    "отдам даром книги, самовывоз",
    "спасибо всем, кто помог с переездом!",
    "какой интернет-провайдер лучше в нашем доме?",
    "нашла ключи у детской площадки, пишите в личку",
    "кто едет на концерт в пятницу?",
    "сатамын: балалар велосипеді, жақсы күйде",
    "anyone selling winter tyres?",
    "поздравляю всех с праздником!",
    "мешок картошки, кто возьмёт? свежая, с дачи",
    "ищу репетитора по математике для сына",
    "қандай мектеп жақсы, ақыл беріңіздер",
    "does the bus to the airport still stop near the mall?",
    "Happy New Year everyone 🎄🎉",
    "😂😂😂",
    "👍",
    "согласна",
    "дұрыс айтасыз",
    "вчера был отличный салют, видели?",
    "кто в курсе, скоро откроют новый ТРЦ?",
    "лучший шашлык в городе — где?",
]
CHATTER_CLOSERS = ["", "", "", " Спасибо!", " Рахмет!", " Thanks!", " 🙏", " 😊", " заранее спасибо", " 🙂"]
LONG_CHATTER = (
    "Хочу рассказать историю. Вчера вечером шли с детьми из садика, увидели, как соседи вместе "
    "собирают деньги на новую горку во двор. Очень приятно, что люди у нас такие дружные. "
    "Давайте и весной устроим субботник, посадим деревья, покрасим лавочки. Кто за? "
)

# --- complaints: every category, in Russian, Kazakh, English and mixed; {a} is a unique address -------------

COMPLAINTS = {
    "ru": [
        "третий день нет отопления, батареи ледяные, {a}",
        "в квартире холодно, отопление еле тёплое, дети мёрзнут, {a}",
        "нет горячей воды с утра, {a}",
        "из крана идёт ржавая вода уже неделю, {a}",
        "прорвало трубу во дворе, всё затопило, {a}",
        "огромная яма на дороге, пробили колесо, {a}",
        "разбитый асфальт, ямы по колено, {a}",
        "не работает светофор на перекрёстке, {a}",
        "мусор не вывозят неделю, контейнеры переполнены, {a}",
        "стихийная свалка за домом, крысы бегают, {a}",
        "нет света во всём подъезде, {a}",
        "фонари во дворе не горят уже месяц, темно и страшно, {a}",
        "двор не чистят от снега, машины не могут выехать, {a}",
        "огромные сосульки над входом в подъезд, опасно, {a}",
        "в подъезде не работает лифт, ОСИ не отвечает, {a}",
        "течёт крыша, квартиру заливает после каждого дождя, {a}",
        "стая бродячих собак у школы, дети боятся ходить, {a}",
        "ночью шум и драка во дворе, никто не реагирует, {a}",
        "детская площадка сломана, качели оторваны, {a}",
        "стройка шумит по ночам, спать невозможно, {a}",
        "пахнет газом в подъезде, {a}",
        "автобус на остановке не ходит по расписанию, ждали почти час, {a}",
        "ямочный ремонт сделали плохо, асфальт уже раскрошился, {a}",
        "на остановке нет навеса и лавочки, {a}",
        "в сквере сломаны скамейки и урны, {a}",
        "тротуар разбит, с коляской не пройти, {a}",
        "во дворе после ремонта теплотрассы так и не восстановили газон, {a}",
        "мусорные баки стоят прямо у окон, запах ужасный, {a}",
        "в подъезде не убирают, грязь и окурки, {a}",
        "напор холодной воды очень слабый по вечерам, {a}",
        "разметку на дороге не обновляли, пешеходный переход не видно, {a}",
        "вечером во дворе не горит ни один фонарь, {a}",
    ],
    "kk": [
        "{a} жылу жоқ, батареялар суық, балалар тоңып жатыр",
        "{a} ыстық су жоқ, үшінші күн",
        "{a} жолда үлкен шұңқыр бар, көлік дөңгелегі жарылды",
        "{a} қоқыс шығарылмай жатыр, контейнерлер толып кетті",
        "{a} жарық жоқ, подъезд қараңғы",
        "{a} аулада қар тазаланбаған, көлікпен шыға алмаймыз",
        "{a} лифт жұмыс істемейді, қарт адамдар үйден шыға алмайды",
        "{a} шатырдан су ағып жатыр, пәтерді су басты",
        "{a} иесіз иттер балаларға шабуыл жасап жүр",
        "{a} көше шамдары жанбайды, кешке қараңғы",
        "{a} аялдамада орындық жоқ, күтетін жер жоқ",
        "{a} тротуар бұзылған, балалар арбасымен жүру қиын",
        "{a} подъезд тазаланбайды, лас",
        "{a} саябақтағы орындықтар сынған",
    ],
    "en": [
        "no heating for three days at {a}, the radiators are cold",
        "huge pothole at {a}, my car tyre burst",
        "garbage has not been collected for a week at {a}, bins overflowing",
        "no hot water since the morning at {a}",
        "street lights are out near {a}, it is pitch dark",
        "the lift has been broken for a week at {a}",
        "stray dogs chasing kids near the school at {a}",
        "the sidewalk at {a} is broken, hard to walk with a stroller",
        "the benches in the park near {a} are broken",
        "the bus stop at {a} has no shelter",
    ],
    "mixed": [
        "{a} свет жоқ already second day, балалар сабақ оқи алмайды",
        "{a} ыстық су жоқ, вообще никакой реакции от ОСИ",
        "{a} қоқыс не вывозят, везде мусор, please do something",
        "{a} яма на дороге, жол бұзылған, колесо пробил",
    ],
}
ADDRESSES = {
    "ru": ["ул. {s}, дом {n}", "{s}, {n}", "{s} {n}"],
    "kk": ["{s} көшесі, {n} үй", "{s} {n} үйдің жанында"],
    "en": ["{n} {s} street", "building {n} on {s} street"],
    "mixed": ["{s} көшесі, дом {n},", "{s} {n} үй,"],
}
STREETS = [
    *("Кенесары", "Абая", "Сейфуллина", "Кабанбай батыра", "Туран", "Мангилик Ел", "Жубанова", "Иманова"),
    *("Республики", "Бейбитшилик", "Ауэзова", "Сарайшык", "Достык", "Момышулы", "Петрова", "Богенбай батыра"),
]
DISTRICT_PHRASES = ["", "", "", " в Сарыаркинском районе", " на левом берегу", " Нұра ауданы", " в Байконуре"]
OPENERS = ["", "", "", "Срочно! ", "Помогите, ", "Уважаемый аким, ", "Құрметті әкім, ", "Dear akim, "]
CLOSERS = ["", "", "", " когда решат?", " 😡", " сколько можно?!", " жауап беріңіздерші", " please help"]
TAGS = [
    *("@akim_astana", "@akim_astana", "@akim_astana", "@zamakim_zhkh", "@akim_saryarka", "@akim_esil"),
    *("Касымбек", "аким Астаны", "Қасымбек"),
]
ME_TOO = ["+ у нас то же самое:", "поддерживаю, у нас тоже", "бізде де солай:", "same here:"]
EDIT_SUFFIXES = [" UPD: до сих пор не сделали", " UPD: әлі жөнделген жоқ", " UPD: still not fixed"]


# --- the day's traffic -------------------------------------------------------------------------------------


@dataclass
class Planned:
    """One update to offer, and what it is for the checks."""

    update: dict[str, Any]
    tagged_key: tuple[int, int] | None = None  # (chat id, message id) of a tagged complaint's first update
    kind: str = "chatter"  # chatter | chatter_edit | tagged | edit | redelivery | resend | repeat


@dataclass
class Traffic:
    """The day, in the order it is offered, with counts for the report."""

    plan: list[Planned] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    planned_merges: int = 0


def _message_texts(rng: random.Random, lang: str, number: int) -> str:
    address = rng.choice(ADDRESSES[lang]).format(s=rng.choice(STREETS), n=number)
    body = rng.choice(COMPLAINTS[lang]).format(a=address)
    return body + rng.choice(DISTRICT_PHRASES) + rng.choice(CLOSERS)


def _with_tag(rng: random.Random, body: str) -> str:
    tag = rng.choice(TAGS)
    opener = rng.choice(OPENERS)
    return f"{tag} {opener}{body}" if rng.random() < 0.6 else f"{opener}{body} {tag}"


def build_traffic(
    fake: FakeBotAPI, config: Config, classify: Callable[[str], Any], messages: int, tagged: int, seed: int
) -> Traffic:
    """Generate the day: `messages` distinct chat messages of which `tagged` are complaints the configured
    classifier accepts (every other message tags no one), plus edits, redeliveries and resends."""
    rng = random.Random(seed)
    detector = MentionDetector(config.officials)
    chat_ids = [chat for chat, *_ in CHATS]
    weights = [share for *_, share in CHATS]
    senders = [
        {"id": 7_000_000 + n, "is_bot": False, "first_name": rng.choice(FIRST_NAMES)}
        | ({"last_name": last} if (last := rng.choice(LAST_NAMES)) else {})
        | ({"username": f"resident_{n}"} if rng.random() < 0.4 else {})
        | {"language_code": rng.choice(["ru", "ru", "kk", "en"])}
        for n in range(20_000)
    ]
    # one address number per complaint: two different complaints are never merged by chance
    numbers = rng.sample(range(1, 100_000), tagged)

    # the tagged complaints first (the classifier filters them), then placed at random points of the day
    complaints: list[tuple[str, dict[str, Any]]] = []  # (text, its verdict as the bot will see it)
    languages = ["ru"] * 55 + ["kk"] * 20 + ["en"] * 10 + ["mixed"] * 15
    repeats_wanted = tagged * 3 // 100
    while len(complaints) < tagged - repeats_wanted:
        number = numbers[len(complaints)]
        text_ = _with_tag(rng, _message_texts(rng, rng.choice(languages), number))
        verdict = classify(text_)
        if verdict.complaint and detector.detect_text(text_):
            complaints.append((text_, {"category": verdict.category, "district": verdict.district}))
    repeats: list[tuple[str, int]] = []  # (text, index of the complaint it repeats)
    attempts = 0
    # complaints sit at sorted positions: the first 90% leave room for a repeat later in the day
    repeatable = max(1, len(complaints) * 9 // 10)
    while len(complaints) + len(repeats) < tagged:
        attempts += 1
        index = rng.randrange(repeatable)
        original, verdict = complaints[index]
        core = original
        for tag in TAGS:
            core = core.replace(tag, "").strip()
        text_ = f"{rng.choice(TAGS)} {rng.choice(ME_TOO)} {core}"
        again = classify(text_)
        same = again.complaint and again.category == verdict["category"]
        same = same and again.district == verdict["district"]
        if (same and detector.detect_text(text_)) or attempts > 50 * tagged:
            repeats.append((text_, index))

    def chatter_text() -> str:
        while True:
            if rng.random() < 0.03:
                body = LONG_CHATTER * rng.randint(1, 6)
            else:
                body = rng.choice(CHATTER_OPENERS) + rng.choice(CHATTER_BODIES) + rng.choice(CHATTER_CLOSERS)
            if not detector.detect_text(body):
                return body

    # positions: complaints spread over the day; a repeat comes after the complaint it repeats
    slots = sorted(rng.sample(range(messages), tagged))
    complaint_slots = slots[: len(complaints)]
    order: dict[int, tuple[str, Any]] = {}
    for slot, (text_, _) in zip(complaint_slots, complaints, strict=True):
        order[slot] = ("tagged", text_)
    late_slots = [s for s in range(messages) if s not in order]
    rng.shuffle(late_slots)
    slot_of_complaint = dict(enumerate(complaint_slots))
    gap = min(500, messages // 10)  # a repeat comes minutes later in the day
    for text_, index in repeats:
        after = slot_of_complaint[index]
        slot = next((s for s in late_slots if s > after + gap), None) or max(late_slots)
        late_slots.remove(slot)
        order[slot] = ("repeat", text_)

    traffic = Traffic()
    later: dict[int, list[Planned]] = {}  # edits and resends, due at a later position

    def sender() -> dict[str, Any]:
        return rng.choice(senders)

    for position in range(messages):
        for due in later.pop(position, []):
            traffic.plan.append(due)
            traffic.counts[due.kind] += 1
        kind, text_ = order.get(position, ("chatter", None))
        chat = rng.choices(chat_ids, weights)[0]
        if kind == "chatter":
            photo = rng.random() < 0.02
            body = chatter_text()
            update = (
                fake.message_update(chat, caption=body, photo=True, from_user=sender())
                if photo
                else fake.message_update(chat, body, from_user=sender())
            )
            traffic.plan.append(Planned(update))
            traffic.counts["chatter"] += 1
            if rng.random() < 0.01:  # an edited chat message: dropped like the original
                message = update["message"]
                edit = fake.message_update(
                    chat, body + "!", from_user=message["from"], message_id=message["message_id"], edited=True
                )
                due = position + rng.randint(5, 200)
                later.setdefault(due, []).append(Planned(edit, kind="chatter_edit"))
            continue
        photo = rng.random() < 0.10
        who = sender()
        update = (
            fake.message_update(chat, caption=text_, photo=True, from_user=who)
            if photo
            else fake.message_update(chat, text_, from_user=who)
        )
        message = update["message"]
        key = (chat, message["message_id"])
        traffic.plan.append(Planned(update, tagged_key=key, kind=kind))
        traffic.counts[kind] += 1
        traffic.counts["tagged_with_photo"] += photo
        if kind == "repeat":
            traffic.planned_merges += 1
            continue
        roll = rng.random()
        if roll < 0.02:  # the resident edits the complaint a little later
            edited = text_ + rng.choice(EDIT_SUFFIXES)
            if classify(edited).complaint:
                edit = fake.message_update(
                    chat,
                    None if photo else edited,
                    caption=edited if photo else None,
                    photo=photo,
                    from_user=who,
                    message_id=message["message_id"],
                    edited=True,
                )
                later.setdefault(position + rng.randint(200, 3000), []).append(Planned(edit, kind="edit"))
        elif roll < 0.03:  # Telegram delivers the same update (same update id, set when offered) twice
            traffic.plan.append(Planned(update, kind="redelivery"))
            traffic.counts["redelivery"] += 1
        elif roll < 0.035:  # the same message again under a new update id
            resend = json.loads(json.dumps(update))  # a copy, offered before it has an update id
            later.setdefault(position + rng.randint(1, 50), []).append(Planned(resend, kind="resend"))
    for position in sorted(later):
        for due in later[position]:
            traffic.plan.append(due)
            traffic.counts[due.kind] += 1
    traffic.counts["distinct_messages"] = traffic.counts["chatter"] + traffic.counts["tagged"]
    traffic.counts["distinct_messages"] += traffic.counts["repeat"]
    return traffic


# --- storage ------------------------------------------------------------------------------------------------


class ServiceUnavailable(RuntimeError):
    """PostgreSQL or Redis cannot be reached."""


async def fresh_postgres(url: str) -> None:
    """Drop and create the database in `url`, then migrate it to the head revision."""
    target = make_url(url)
    name = target.database or ""
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    last_error: Exception | None = None
    for maintenance in ("postgres", "test", "template1"):
        admin = create_async_engine(target.set(database=maintenance), isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
            break
        except Exception as exc:  # try the next maintenance database
            last_error = exc
        finally:
            await admin.dispose()
    else:
        raise ServiceUnavailable(f"cannot create database {name!r}: {last_error}")
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


async def flush_redis(url: str) -> None:
    """Empty the Redis database in `url` (the bench's own database number)."""
    redis = Redis.from_url(url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


# --- the run ------------------------------------------------------------------------------------------------

_CARD_NUMBER = re.compile(r"d:(?:take|resolve):(\d+)")


def _card_number(call: SentCall) -> int | None:
    match = _CARD_NUMBER.search(json.dumps(call.params.get("reply_markup") or {}))
    return int(match.group(1)) if match else None


def _percentile(sorted_values: list[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * share))]


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
    last_update_id = max(item.update["update_id"] for item in plan) if args.rate <= 0 else None
    log = config_path.parent / "bot.log"
    process = await spawn_bot(config_path, log=log)
    watch = Watch()
    async with build_resources(config, prepare=False) as resources:
        try:
            await wait_for_polling(fake, process, 180)
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
                lambda: (fake.confirmed_offset or 0) > last_update_id, args.timeout, process
            )
            ingest_s = ingested_at - day_started
            loads.append(os.getloadavg()[0])
            done = await _wait_for_cards(fake, resources, departments, args.timeout, process)
            monitor_stop.set()
            await monitor
            loads.append(os.getloadavg()[0])
            peak_rss = await stop(process)
            results = await _collect(fake, resources, departments, traffic, tagged_at)
        finally:
            if process.returncode is None:
                await stop(process)
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
    busiest = max(results["cards_by_department"].values(), default=0)
    return {
        "setup": {
            "framework": config.telegram.framework,
            "engine": config.classifier.engine,
            "database": make_url(config.storage.database_url).get_backend_name(),
            "queue": "redis streams" if config.storage.redis_url else "sql table",
            "offered_rate_per_s": args.rate if args.rate > 0 else "all at once",
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
            "all_out_after_s": round(last_card - day_started, 2) if done else None,
            "complete": done,
            **{k: v for k, v in results.items() if k not in ("latency_ms", "check")},
        },
        "latency_ms": results["latency_ms"],
        "queues": {"max_depth": watch.max_queue_depth, "max_oldest_age_s": round(watch.max_queue_age_s, 2)},
        "memory": {
            "bot_peak_rss_mib": round(peak_rss / 1024, 1),
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


async def _wait_until(
    condition: Callable[[], bool], timeout: float, process: asyncio.subprocess.Process
) -> float:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.returncode is not None:
            raise RuntimeError("the bot exited during the run")
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


async def _wait_for_cards(
    fake: FakeBotAPI,
    resources: Any,
    departments: dict[int, str],
    timeout: float,
    process: asyncio.subprocess.Process,
) -> bool:
    """Wait until the inbox is worked off, the queues are empty and every unmerged complaint has its card."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise RuntimeError("the bot exited during the run")
        async with resources.unit_of_work() as uow:
            pending = await uow.session.scalar(
                select(func.count()).select_from(InboxRow).where(InboxRow.status == "pending")
            )
            open_complaints = await uow.session.scalar(
                select(func.count()).select_from(ComplaintRow).where(ComplaintRow.status != "duplicate")
            )
        depth = 0
        for queue in departments.values():
            depth += (await resources.queue.stats(queue)).depth
        carded = {
            number
            for call in fake.sent
            if call.ok and call.method in ("sendMessage", "sendPhoto") and call.chat_id in departments
            if (number := _card_number(call)) is not None
        }
        if not pending and not depth and len(carded) >= (open_complaints or 0):
            return True
        await asyncio.sleep(1.0)
    return False


async def _collect(
    fake: FakeBotAPI,
    resources: Any,
    departments: dict[int, str],
    traffic: Traffic,
    tagged_at: dict[tuple[int, int], float],
) -> dict[str, Any]:
    async with resources.unit_of_work() as uow:
        rows = (
            await uow.session.execute(
                select(
                    ComplaintRow.id,
                    ComplaintRow.chat_id,
                    ComplaintRow.message_id,
                    ComplaintRow.status,
                    ComplaintRow.urgent,
                )
            )
        ).all()
        inbox = dict(
            (await uow.session.execute(select(InboxRow.status, func.count()).group_by(InboxRow.status))).all()
        )
    by_id = {row.id: row for row in rows}
    cards: dict[int, SentCall] = {}  # each complaint's first card
    seen: set[tuple[int, Any]] = set()
    repeated_cards = 0  # a second card for the same complaint in the same chat: must not happen
    moved = 0  # an edit moved the complaint to another department, which gets a card of its own
    by_department: Counter[str] = Counter()
    edits = 0
    for call in fake.sent:
        if not call.ok or call.chat_id not in departments:
            continue
        if call.method in ("editMessageText", "editMessageCaption"):
            edits += 1
            continue
        if call.method not in ("sendMessage", "sendPhoto"):
            continue
        number = _card_number(call)
        if number is None:
            continue
        if (number, call.chat_id) in seen:
            repeated_cards += 1
            continue
        seen.add((number, call.chat_id))
        by_department[departments[call.chat_id]] += 1
        if number in cards:
            moved += 1
            continue
        cards[number] = call
    latencies = sorted(
        (call.time - tagged_at[(by_id[number].chat_id, by_id[number].message_id)]) * 1000
        for number, call in cards.items()
        if number in by_id and (by_id[number].chat_id, by_id[number].message_id) in tagged_at
    )
    merged = sum(1 for row in rows if row.status == "duplicate")
    tagged_messages = traffic.counts["tagged"] + traffic.counts["repeat"]
    carded_rows = {row.id for row in rows if row.status != "duplicate"}
    check = {
        "tagged_messages": tagged_messages,
        "complaints_stored": len(rows),
        "merged_as_duplicates": merged,
        "planned_repeats": traffic.planned_merges,
        "cards_expected": len(rows) - merged,
        "cards_sent": len(cards),
        "inbox_rows": sum(inbox.values()),
        "inbox_rows_expected": tagged_messages + traffic.counts["edit"] + traffic.counts["resend"],
        "cards_sent_twice": repeated_cards,
        "carded_again_after_an_edit_moved_it": moved,
        "ok": (
            len(rows) == tagged_messages
            and set(cards) == carded_rows
            and repeated_cards == 0
            and sum(inbox.values()) == tagged_messages + traffic.counts["edit"] + traffic.counts["resend"]
        ),
        "explanation": (
            "every tagged message is one complaint (edits, redeliveries and resends add none); a 'me too' "
            "repeat of an open complaint is merged into it (the original's card shows +N residents), so "
            "the cards are the complaints minus the merged ones, each sent once to its department chat "
            "(an edit that changes the department leaves the old card as history and sends a new one); "
            "the inbox holds only tagged updates (the first delivery of each, edits, resends): untagged "
            "chatter and its edits are never stored"
        ),
    }
    last_card = max((call.time for call in cards.values()), default=0.0)
    return {
        "_last_card_time": last_card,
        "sent": len(cards),
        "edited": edits,
        "urgent_complaints": sum(1 for row in rows if row.urgent),
        "cards_by_department": dict(by_department.most_common()),
        "inbox_rows": inbox,
        "latency_ms": {
            "cards": len(latencies),
            "p50": round(statistics.median(latencies), 1) if latencies else None,
            "p95": round(_percentile(latencies, 0.95), 1) if latencies else None,
            "p99": round(_percentile(latencies, 0.99), 1) if latencies else None,
            "max": round(latencies[-1], 1) if latencies else None,
        },
        "check": check,
    }


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
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for each phase")
    args = parser.parse_args(argv)
    if args.tagged > args.messages:
        parser.error("--tagged cannot exceed --messages")
    results = asyncio.run(run(args))
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
