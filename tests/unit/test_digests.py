"""Digests without a database: texts, schedules, recipients, the spike rule and the chart."""

from __future__ import annotations

import io
import string
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.config import Config
from bot.services.digests import (
    DIGEST_TEXTS,
    ChartData,
    DigestBuilder,
    DigestRecipient,
    find_spikes,
    previous_run,
    render_chart,
)
from bot.views.digest_text import _duration, _with_delta
from bot.views.i18n import LANGUAGES
from storage.uow import UnitOfWork

ALMATY = ZoneInfo("Asia/Almaty")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_text_in_every_language_with_the_same_placeholders() -> None:
    for key, entry in DIGEST_TEXTS.items():
        assert set(entry) == set(LANGUAGES), key
        assert all(entry[language].strip() for language in LANGUAGES), key
        assert _fields(entry["kk"]) == _fields(entry["ru"]) == _fields(entry["en"]), key


def test_previous_run_daily_in_almaty() -> None:
    schedule = "0 9 * * *"
    at = datetime(2025, 3, 10, 10, 30, tzinfo=ALMATY)
    assert previous_run(schedule, at, ALMATY) == datetime(2025, 3, 10, 9, 0, tzinfo=ALMATY)
    # on the fire time itself the period starts at the previous fire: a full day
    on_time = datetime(2025, 3, 10, 9, 0, tzinfo=ALMATY)
    assert previous_run(schedule, on_time, ALMATY) == datetime(2025, 3, 9, 9, 0, tzinfo=ALMATY)
    early = datetime(2025, 3, 10, 8, 59, tzinfo=ALMATY)
    assert previous_run(schedule, early, ALMATY) == datetime(2025, 3, 9, 9, 0, tzinfo=ALMATY)
    # `now` in UTC: 04:30 UTC is 09:30 in Astana, so today's 09:00 there (04:00 UTC), not 09:00 UTC
    utc = datetime(2025, 3, 10, 4, 30, tzinfo=UTC)
    result = previous_run(schedule, utc, ALMATY)
    assert result == datetime(2025, 3, 10, 4, 0, tzinfo=UTC)
    assert result.utcoffset() == timedelta(hours=5)


def test_previous_run_weekdays_and_naive_time() -> None:
    monday = datetime(2025, 3, 10, 8, 0, tzinfo=ALMATY)
    assert previous_run("0 9 * * 1-5", monday, ALMATY) == datetime(2025, 3, 7, 9, 0, tzinfo=ALMATY)
    with pytest.raises(ValueError, match="timezone-aware"):
        previous_run("0 9 * * *", datetime(2025, 3, 10, 9, 0), ALMATY)


def test_recipients_officials_and_department_heads(example_config: Config) -> None:
    recipients = DigestBuilder(example_config, lambda: UnitOfWork(async_sessionmaker())).recipients()
    by_key = {r.key: r for r in recipients}
    assert by_key["official:akim"] == DigestRecipient("official:akim", 100001, "ru", None)
    assert by_key["official:deputy_social"].language == "kk"
    assert "official:akim_esil_district" not in by_key  # no digest configured
    assert by_key["head:utilities"] == DigestRecipient("head:utilities", 200001, "ru", "utilities")
    heads = [r for r in recipients if r.key.startswith("head:")]
    assert len(heads) == len(example_config.departments)
    assert len(recipients) == len(heads) + 3


def test_no_head_digests_without_a_schedule_or_a_head(example_config: Config) -> None:
    digests = example_config.digests.model_copy(update={"department_heads_schedule": None})
    config = example_config.model_copy(update={"digests": digests})
    keys = [r.key for r in DigestBuilder(config, lambda: UnitOfWork(async_sessionmaker())).recipients()]
    assert keys == ["official:akim", "official:deputy_utilities", "official:deputy_social"]
    headless = [
        d.model_copy(update={"head": None}) if d.id == "police" else d for d in example_config.departments
    ]
    config = example_config.model_copy(update={"departments": headless})
    keys = [r.key for r in DigestBuilder(config, lambda: UnitOfWork(async_sessionmaker())).recipients()]
    assert "head:police" not in keys and "head:utilities" in keys


async def test_build_wants_an_aware_non_empty_period(example_config: Config) -> None:
    builder = DigestBuilder(example_config, lambda: UnitOfWork(async_sessionmaker()))
    recipient = DigestRecipient("official:akim", 1, "ru", None)
    end = datetime(2025, 3, 10, 4, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        await builder.build(recipient, end=end.replace(tzinfo=None), start=end - timedelta(days=1))
    with pytest.raises(ValueError, match="before"):
        await builder.build(recipient, end=end, start=end)


def test_spike_rule() -> None:
    history = {
        "heating": [4, 5, 3, 4, 6, 4, 5, 3, 4, 4, 5, 4, 3, 5, 4, 4, 6, 3, 4, 5, 4, 4, 3, 5, 4, 4, 5, 4],
        "water": [2] * 28,
        "gas": [0] * 28,
    }
    current = {"heating": 7, "water": 20, "gas": 2, "snow": 3}
    spikes = find_spikes("category", current, history, 28)
    assert [s.key for s in spikes] == ["snow", "water"]  # snow: from nothing, scores infinite
    water = next(s for s in spikes if s.key == "water")
    assert water.count == 20 and water.mean == pytest.approx(2.0)
    assert water.std == pytest.approx(2**0.5)  # σ = 0 floored at √μ
    assert not find_spikes("category", current, history, 0)  # no history, no spikes


def test_spike_threshold_is_mean_plus_three_floored_sigmas() -> None:
    steady = {"roads": [10] * 7}
    # μ = 10, σ = 0 → floor √10 ≈ 3.16 → threshold ≈ 19.49
    assert not find_spikes("category", {"roads": 19}, steady, 7)
    assert [s.key for s in find_spikes("category", {"roads": 20}, steady, 7)] == ["roads"]
    noisy = {"roads": [0, 20] * 7}  # μ = 10, σ = 10 → threshold 40
    assert not find_spikes("category", {"roads": 40}, noisy, 14)
    assert find_spikes("category", {"roads": 41}, noisy, 14)
    # missing windows count as zero: a short history list is padded, a long one cut to the windows
    assert find_spikes("district", {"esil": 3}, {"esil": [1]}, 28)
    assert not find_spikes("district", {"esil": 3}, {"esil": [5] * 28}, 28)


def test_delta_and_duration_formats() -> None:
    assert _with_delta(12, 8) == "12 (▲ +4)"
    assert _with_delta(8, 10) == "8 (▼ −2)"
    assert _with_delta(5, 5) == "5 (±0)"
    assert _duration(45 * 60, "ru") == "45 мин"
    assert _duration(5, "en") == "1 min"
    assert _duration(3 * 3600 + 20 * 60, "kk") == "3 сағ 20 мин"
    assert _duration(2 * 86400 + 5 * 3600, "ru") == "2 д 5 ч"
    assert _duration(86400, "en") == "1 d"


def _chart(rows: tuple[tuple[str, int, int], ...]) -> ChartData:
    return ChartData(
        title="Бөлімдер бойынша жаңа және шешілген 📊",
        new_label="Жаңа",
        resolved_label="Шешілген",
        axis_label="Өтініштер саны",
        empty_label="Кезеңде өтініш жоқ",
        rows=rows,
    )


def _size(png: bytes) -> tuple[int, int]:
    from matplotlib import image

    pixels = image.imread(io.BytesIO(png), format="png")
    return int(pixels.shape[1]), int(pixels.shape[0])


def test_chart_png_is_small_fixed_size_and_deterministic() -> None:
    rows = tuple(
        (f"Управление номер {n} с очень длинным названием ($ и 🚧)", n * 7 % 40, n * 3 % 25)
        for n in range(18)
    )
    png = render_chart(_chart(rows))
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) < 200_000
    assert _size(png) == (800, 600)
    assert render_chart(_chart(rows)) == png  # same data, same bytes
    few = render_chart(_chart((("Жылу және ыстық су", 3, 1),)))
    assert _size(few) == (800, 600)


def test_chart_without_data() -> None:
    png = render_chart(_chart((("Энергетика және ТКШ басқармасы", 0, 0),)))
    assert png.startswith(PNG_SIGNATURE) and _size(png) == (800, 600)
    assert _size(render_chart(_chart(()))) == (800, 600)
