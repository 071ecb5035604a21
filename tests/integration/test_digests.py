"""Digests from a real database, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import io
import re
import threading
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config
from bot.core.text import utf16_len
from bot.services import digests
from bot.services.digests import ChartData, Digest, DigestBuilder, DigestRecipient
from storage.models import ComplaintRow, ResidentRow
from storage.uow import UnitOfWork

END = datetime(2025, 3, 10, 4, 0, tzinfo=UTC)  # 09:00 in Astana
START = END - timedelta(days=1)
PRIVATE_SUPERGROUP = -1001234567890
_message_ids = count(1)


def complaint(created_at: datetime, **overrides: object) -> ComplaintRow:
    values: dict[str, object] = {
        "source": "group",
        "chat_id": PRIVATE_SUPERGROUP,
        "message_id": next(_message_ids),
        "chat_username": None,
        "text": "нет горячей воды",
        "language": "ru",
        "category": "heating",
        "department_id": "utilities",
        "urgent": False,
        "district": "saryarka",
        "status": "delivered",
        "duplicate_count": 0,
        "created_at": created_at,
        "updated_at": created_at,
    }
    values.update(overrides)
    return ComplaintRow(**values)


async def insert(factory: async_sessionmaker[AsyncSession], rows: list[ComplaintRow]) -> list[int]:
    async with factory() as session:
        session.add_all(rows)
        await session.commit()
        return [row.id for row in rows]


def city(language: str = "ru") -> DigestRecipient:
    return DigestRecipient("official:akim", 100001, language, None)


def head(department: str = "utilities", language: str = "ru") -> DigestRecipient:
    return DigestRecipient(f"head:{department}", 200001, language, department)


async def build(
    factory: async_sessionmaker[AsyncSession], config: Config, recipient: DigestRecipient
) -> Digest:
    return await DigestBuilder(config, lambda: UnitOfWork(factory)).build(recipient, end=END, start=START)


def section(digest: Digest, heading: str) -> str:
    """The paragraph of the digest that starts with `heading`."""
    text = "\n".join(digest.parts)
    for paragraph in text.split("\n\n"):
        if heading in paragraph.split("\n", 1)[0]:
            return paragraph
    raise AssertionError(f"no section {heading!r} in:\n{text}")


async def scenario(factory: async_sessionmaker[AsyncSession]) -> None:
    """Previous period: 3 new, 1 resolved, 1 overdue at its end; this period: 8 new, 2 resolved, 2 overdue."""
    hour = timedelta(hours=1)
    await insert(
        factory,
        [
            complaint(START - timedelta(days=3), status="delivered"),  # before both periods
            # the previous period
            complaint(
                START - 20 * hour, status="resolved", resolved_at=START + 2 * hour, deadline_at=START - hour
            ),
            complaint(START - 10 * hour, status="resolved", resolved_at=START - 5 * hour),
            complaint(
                START - 5 * hour,
                category="roads",
                department_id="transport_roads",
                status="in_progress",
                deadline_at=START + hour,
                district="esil",
            ),
            # this period
            complaint(START + 1 * hour, status="resolved", resolved_at=START + 8 * hour),
            complaint(START + 2 * hour),
            complaint(START + 3 * hour),
            complaint(START + 4 * hour),
            complaint(START + 5 * hour),
            complaint(START + 3 * hour, status="duplicate"),
            complaint(
                START + 6 * hour,
                category="roads",
                department_id="transport_roads",
                district="esil",
                deadline_at=END - hour,
            ),
            complaint(START + 7 * hour, category="roads", department_id="transport_roads", district="esil"),
            complaint(START + 8 * hour, status="rejected"),  # not a complaint: never counted
            complaint(END + hour),  # after the period
        ],
    )


async def test_counts_and_changes_vs_previous_period(
    session_factory: async_sessionmaker[AsyncSession], example_config: Config
) -> None:
    await scenario(session_factory)
    digest = await build(session_factory, example_config, city())
    summary = section(digest, "Итоги")
    assert "Новые обращения: 8 (▲ +5)" in summary
    assert "Решено: 2 (▲ +1)" in summary
    assert "Просрочено: 2 (▲ +1)" in summary
    departments = section(digest, "По отделам")
    assert "Управление энергетики и ЖКХ: новых 6 (▲ +4), решено 2, просрочено 0" in departments
    roads = "Управление транспорта и развития дорожно-транспортной инфраструктуры"
    assert f"{roads}: новых 2 (▲ +1), решено 0, просрочено 2" in departments
    categories = section(digest, "По категориям")
    assert "Отопление и горячая вода: 6 (▲ +4)" in categories
    assert "Дороги и тротуары: 2 (▲ +1)" in categories
    assert "Период: 09.03.2025 09:00 — 10.03.2025 09:00" in digest.parts[0]
    places = section(digest, "Повторяющиеся проблемы")
    assert "Отопление и горячая вода · Сарыарка — обращений: 6" in places
    assert "Дороги и тротуары · Есиль — обращений: 2" in places


async def test_department_head_sees_only_their_department(
    session_factory: async_sessionmaker[AsyncSession], example_config: Config
) -> None:
    await scenario(session_factory)
    await insert(
        session_factory,
        [
            complaint(
                START + timedelta(hours=2), category="roads", department_id="transport_roads", urgent=True
            )
        ],
    )
    digest = await build(session_factory, example_config, head("utilities"))
    text = "\n".join(digest.parts)
    assert "Отдел: Управление энергетики и ЖКХ" in text
    summary = section(digest, "Итоги")
    assert "Новые обращения: 6 (▲ +4)" in summary
    assert "Просрочено: 0 (▼ −1)" in summary
    assert "Дороги" not in text and "транспорта" not in text and "Есиль" not in text
    assert "По отделам" not in text
    assert "нет" in section(digest, "Срочные")
    assert "Отдел: Управление энергетики и ЖКХ" in digest.caption

    roads = await build(session_factory, example_config, head("transport_roads", "en"))
    assert "New complaints: 3 (▲ +2)" in section(roads, "Summary")
    assert "Heating" not in "\n".join(roads.parts)


async def test_headings_in_each_language(
    session_factory: async_sessionmaker[AsyncSession], example_config: Config
) -> None:
    await scenario(session_factory)
    expected = {
        "ru": ("Сводка обращений — Astana", "Итоги", "Отопление и горячая вода", "Сарыарка", "Срочные"),
        "kk": ("Өтініштер шолуы — Astana", "Қорытынды", "Жылу және ыстық су", "Сарыарқа", "шұғыл"),
        "en": ("Complaints digest — Astana", "Summary", "Heating and hot water", "Saryarka", "Urgent"),
    }
    for language, phrases in expected.items():
        digest = await build(session_factory, example_config, city(language))
        text = "\n".join(digest.parts)
        for phrase in phrases:
            assert phrase in text, (language, phrase)
    kk = await build(session_factory, example_config, city("kk"))
    assert "Жаңа өтініштер: 8 (▲ +5)" in kk.caption
    assert "Энергетика және ТКШ басқармасы: жаңа 6 (▲ +4)" in "\n".join(kk.parts)


async def test_spike_flags_a_jump_and_not_steady_categories(
    session_factory: async_sessionmaker[AsyncSession], example_config: Config
) -> None:
    rows = []
    for day in range(1, 29):  # four weeks of history before the period
        base = START - timedelta(days=day) + timedelta(hours=1)
        for n in range(3 + day % 3):  # heating: 3, 4 or 5 a day
            rows.append(complaint(base + timedelta(minutes=n), district="esil"))
        for n in range(2):  # water: 2 a day
            rows.append(complaint(base + timedelta(minutes=30 + n), category="water", district="nura"))
    for n in range(5):  # heating stays at its usual level
        rows.append(complaint(START + timedelta(hours=1, minutes=n), district="esil"))
    for n in range(20):  # water jumps tenfold
        rows.append(complaint(START + timedelta(hours=2, minutes=n), category="water", district="nura"))
    await insert(session_factory, rows)

    digest = await build(session_factory, example_config, city("en"))
    spikes = section(digest, "Emerging problems")
    assert "Category: Cold water and sewage — 20 (usually 2.0 ± 1.4)" in spikes
    assert "District: Nura — 20" in spikes
    assert "Heating" not in spikes and "Esil" not in spikes
    assert "mean + 3σ" in spikes

    # a department head of another department sees no spike of this one
    roads = await build(session_factory, example_config, head("transport_roads", "en"))
    assert "Cold water" not in section(roads, "Emerging problems")


async def test_spikes_need_history(
    session_factory: async_sessionmaker[AsyncSession], example_config: Config
) -> None:
    await insert(
        session_factory,
        [complaint(START + timedelta(minutes=n), category="water") for n in range(10)],
    )
    digest = await build(session_factory, example_config, city("en"))
    assert "Not enough history to compare yet." in section(digest, "Emerging problems")


async def test_urgent_items_with_links(
    session_factory: async_sessionmaker[AsyncSession], example_config: Config
) -> None:
    at = START + timedelta(hours=3)
    private_group, public_group, private_chat = await insert(
        session_factory,
        [
            complaint(at, urgent=True, message_id=501, status="in_progress"),
            complaint(
                at,
                urgent=True,
                chat_id=-1009876543210,
                chat_username="astana_chat",
                message_id=77,
                category="gas",
                district="nura",
            ),
            # a resident's private chat with the bot: its "username" is the resident's, never linked
            complaint(at, urgent=True, source="private", chat_id=555001, chat_username="dana_resident"),
        ],
    )
    await insert(session_factory, [complaint(at, urgent=True, status="rejected")])
    digest = await build(session_factory, example_config, city())
    urgent = section(digest, "Срочные")
    lines = urgent.split("\n")[1:]
    assert len(lines) == 3
    by_number = {int(re.search(r"№(\d+)", line).group(1)): line for line in lines}  # type: ignore[union-attr]
    assert set(by_number) == {private_group, public_group, private_chat}
    assert "Отопление и горячая вода · Сарыарка · в работе" in by_number[private_group]
    assert '<a href="https://t.me/c/1234567890/501">сообщение</a>' in by_number[private_group]
    assert "Газоснабжение · Нура · передано в отдел" in by_number[public_group]
    assert '<a href="https://t.me/astana_chat/77">сообщение</a>' in by_number[public_group]
    assert "href" not in by_number[private_chat]
    assert "dana_resident" not in "\n".join(digest.parts)


async def test_repeated_problems_link_to_the_original(
    session_factory: async_sessionmaker[AsyncSession], example_config: Config
) -> None:
    (original,) = await insert(
        session_factory,
        [complaint(START - timedelta(days=2), duplicate_count=7, message_id=900, chat_username="esil_chat")],
    )
    await insert(
        session_factory,
        [
            complaint(START - timedelta(days=2), duplicate_count=9, status="resolved", resolved_at=START),
            complaint(START + timedelta(hours=1), duplicate_count=2, category="water", district="nura"),
        ],
    )
    digest = await build(session_factory, example_config, city("en"))
    repeated = section(digest, "Most repeated problems").split("\n")
    assert repeated[1].startswith(f"• #{original} · Heating and hot water · Saryarka — more residents: 7")
    assert '<a href="https://t.me/esil_chat/900">message</a>' in repeated[1]
    assert "more residents: 2" in repeated[2]
    assert "more residents: 9" not in "\n".join(repeated)  # resolved: no longer a problem


async def test_no_personal_data(
    session_factory: async_sessionmaker[AsyncSession], example_config: Config
) -> None:
    async with session_factory() as session:
        resident = ResidentRow(
            telegram_user_id=7001, username="aigerim_n", full_name="Айгерим Нурланова", phone="+77015551234"
        )
        session.add(resident)
        await session.commit()
        resident_id = resident.id
    secret_text = "Меня зовут Айгерим Нурланова, звоните +7 701 555 12 34, третий день нет отопления"
    rows = [
        complaint(
            START + timedelta(hours=n),
            text=secret_text,
            author_name="Айгерим Нурланова (@aigerim_n)",
            resident_id=resident_id,
            urgent=True,
            duplicate_count=3,
            chat_username="saryarka_chat" if n % 2 else None,
        )
        for n in range(4)
    ]
    rows.append(
        complaint(
            START + timedelta(hours=5),
            source="private",
            chat_id=7001,
            chat_username="aigerim_n",
            text=secret_text,
            author_name="Айгерим Нурланова (@aigerim_n)",
            resident_id=resident_id,
            urgent=True,
        )
    )
    await insert(session_factory, rows)
    forbidden = [
        "Айгерим",
        "Нурланова",
        "aigerim",
        "701",
        "555",
        "12 34",
        "+7",
        "7001",
        "третий день",
        "зовут",
    ]
    for recipient in (city("ru"), city("kk"), city("en"), head("utilities")):
        digest = await build(session_factory, example_config, recipient)
        for text in [*digest.parts, digest.caption]:
            for word in forbidden:
                assert word not in text, (recipient.key, word)
        assert len(section(digest, "🔴").split("\n")) == 6  # the heading and the five urgent items


async def test_many_items_split_within_the_limit(
    session_factory: async_sessionmaker[AsyncSession], example_config: Config
) -> None:
    config = example_config.model_copy(
        update={"digests": example_config.digests.model_copy(update={"top_problems": 20})}
    )
    districts = [d.id for d in config.districts]
    rows = [
        complaint(
            START + timedelta(minutes=n),
            urgent=True,
            category=config.categories[n % len(config.categories)].id,
            department_id=config.categories[n % len(config.categories)].department,
            district=districts[n % len(districts)],
            chat_username="astana_left_bank_residents_chat" if n % 2 else None,
            duplicate_count=n % 5,
        )
        for n in range(150)
    ]
    await insert(session_factory, rows)
    for language in ("ru", "kk", "en"):
        digest = await build(session_factory, config, city(language))
        assert len(digest.parts) >= 2
        for part in digest.parts:
            assert 0 < utf16_len(part) <= 4096
            # every part is valid HTML on its own: no tag is cut by a split
            for tag in ("a", "b", "i"):
                assert part.count(f"<{tag}") == part.count(f"</{tag}>"), (language, tag)
        assert utf16_len(digest.caption) <= 1024
    digest = await build(session_factory, config, city("en"))
    assert "… and 90 more" in "\n".join(digest.parts)


async def test_speed_of_departments(
    session_factory: async_sessionmaker[AsyncSession], example_config: Config
) -> None:
    def resolved(department: str, category: str, hours: float) -> ComplaintRow:
        created = START + timedelta(hours=1)
        return complaint(
            created,
            department_id=department,
            category=category,
            status="resolved",
            resolved_at=created + timedelta(hours=hours),
        )

    await insert(
        session_factory,
        [resolved("utilities", "heating", h) for h in (1, 2, 3)]
        + [resolved("transport_roads", "roads", h) for h in (5, 10, 15, 20)]
        + [resolved("police", "public_order", h) for h in (0.5, 0.5)],  # too few to rank
    )
    digest = await build(session_factory, example_config, city("en"))
    speed = section(digest, "Time to resolution").split("\n")
    assert speed[1:] == [
        "<i>Fastest</i>",
        "• Energy and Utilities: 2 h (3 resolved)",
        "<i>Slowest</i>",
        "• Transport and Roads: 12 h 30 min (4 resolved)",
    ]
    own = await build(session_factory, example_config, head("transport_roads", "ru"))
    assert (
        "• Управление транспорта и развития дорожно-транспортной инфраструктуры: 12 ч 30 мин (решено: 4)"
        in (section(own, "Время решения"))
    )


async def test_chart_is_a_png(
    session_factory: async_sessionmaker[AsyncSession], example_config: Config
) -> None:
    await scenario(session_factory)
    for recipient in (city("kk"), head("utilities", "en")):
        digest = await build(session_factory, example_config, recipient)
        png = digest.chart_png
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(png) < 200_000
        assert _png_size(png) == (800, 600)


async def test_chart_is_drawn_off_the_event_loop(
    session_factory: async_sessionmaker[AsyncSession], example_config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    draw = digests.render_chart

    def recording(data: ChartData) -> bytes:
        threads.append(threading.current_thread())
        return draw(data)

    monkeypatch.setattr(digests, "render_chart", recording)
    await scenario(session_factory)
    digest = await build(session_factory, example_config, city("en"))
    assert digest.chart_png.startswith(b"\x89PNG")
    assert threads and threads[0] is not threading.current_thread()


def _png_size(png: bytes) -> tuple[int, int]:
    """Decode the image (PIL when present, else matplotlib's reader) and return (width, height)."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - matplotlib brings Pillow along
        from matplotlib import image

        pixels = image.imread(io.BytesIO(png), format="png")
        return int(pixels.shape[1]), int(pixels.shape[0])
    with Image.open(io.BytesIO(png)) as picture:
        picture.load()
        return picture.size
