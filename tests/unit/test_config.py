"""Config validation: errors name the key and the YAML line; env vars override."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_config, parse_config
from tests.conftest import EXAMPLE_CONFIG

MINIMAL = """\
city: Astana
timezone: Asia/Almaty
telegram:
  token: ""
  api_url: https://api.telegram.org
  framework: aiogram
  mode: polling
storage:
  database_url: sqlite+aiosqlite:///var/shagym.db
  redis_url: null
watch:
  chats: all
officials:
  - id: akim
    name: {ru: Женис Касымбек, kk: Жеңіс Қасымбек, en: Zhenis Kassymbek}
    usernames: [akim_astana]
    user_ids: [100001]
    aliases: [Касымбек, Қасымбек, аким города, қала әкімі]
    digest: {chat_id: 100001, schedule: "0 9 * * *", language: ru}
departments:
  - id: utilities
    name: {ru: Управление энергетики и ЖКХ, kk: Энергетика және ТКШ басқармасы, en: Energy and Utilities}
    chat_id: -1001000000001
    staff: [200001, 200002]
    head: 200001
    sla_hours: 24
categories:
  - id: heating
    department: utilities
    name: {ru: Отопление и горячая вода, kk: Жылу және ыстық су, en: Heating and hot water}
    keywords: {ru: [отопление, батареи], kk: [жылу], en: [heating]}
districts:
  - id: saryarka
    name: {ru: Сарыарка, kk: Сарыарқа, en: Saryarka}
    aliases: [Сарыаркинский]
"""


def issues_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="c.yaml", environ={})
    return [issue.located("c.yaml") for issue in caught.value.issues]


def test_minimal_config_from_the_issue_is_valid_and_takes_defaults() -> None:
    config = parse_config(MINIMAL.replace("fallback", ""), environ={})
    assert config.officials[0].usernames == ["akim_astana"]
    assert config.telegram.rate_limit.per_group_per_minute == 20
    assert config.storage.queue_lease_seconds == 60
    assert config.classifier.fallback_category == "other"


def test_minimal_config_needs_only_city() -> None:
    config = parse_config("city: Astana\n", environ={})
    assert config.timezone == "Asia/Almaty"
    assert config.departments == []
    assert config.watch.watches(-100123)


def test_example_config_is_complete(example_config) -> None:  # type: ignore[no-untyped-def]
    categories = {c.id for c in example_config.categories}
    assert categories == {
        "roads", "public_transport", "heating", "water", "electricity", "gas", "waste", "snow",
        "landscaping", "housing", "construction", "animals", "public_order", "ecology", "health",
        "education", "social", "other",
    }  # fmt: skip
    departments = {d.id for d in example_config.departments}
    assert departments == {
        "transport_roads", "utilities", "city_environment", "housing_inspection", "architecture",
        "police", "health", "education", "social", "general",
    }  # fmt: skip
    assert {d.id for d in example_config.districts} == {"almaty", "baikonyr", "esil", "saryarka", "nura"}
    for category in example_config.categories:
        assert category.name.ru and category.name.kk and category.name.en


def test_misspelled_key_names_key_and_line() -> None:
    text = MINIMAL.replace("  framework: aiogram", "  framwork: aiogram")
    assert issues_of(text) == ["c.yaml:6: telegram.framwork: unknown key (misspelled?)"]


def test_category_pointing_at_missing_department() -> None:
    text = MINIMAL.replace("    department: utilities", "    department: utilites")
    (issue,) = issues_of(text)
    assert issue.startswith("c.yaml:29: categories[0].department: unknown department 'utilites'")


def test_broken_yaml_names_the_line() -> None:
    text = MINIMAL.replace("  chats: all", "  chats: [all")
    (issue,) = issues_of(text)
    assert issue.startswith("c.yaml:")
    assert "not valid YAML" in issue
    line = int(issue.split(":")[1])
    assert 12 <= line <= 14


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    chat_id: -1001000000001",
            "    chat_id: '-1001000000001'",
            "departments[0].chat_id: must be an integer",
        ),
        (
            'schedule: "0 9 * * *"',
            'schedule: "0 25 * * *"',
            "officials[0].digest.schedule: '0 25 * * *' is not a valid cron",
        ),
        ("timezone: Asia/Almaty", "timezone: Asia/Astana_City", "timezone: unknown timezone"),
        ("  chats: all", "  chats: [-100, x]", "watch.chats[1]: must be an integer"),
        ("usernames: [akim_astana]", "usernames: ['akim astana']", "officials[0].usernames: "),
        ("  mode: polling", "  mode: pull", "telegram.mode: Input should be 'polling' or 'webhook'"),
    ],
)
def test_invalid_values_name_the_key(old: str, new: str, expected: str) -> None:
    text = MINIMAL.replace(old, new)
    assert text != MINIMAL
    issues = issues_of(text)
    assert any(expected in issue for issue in issues), issues


def test_duplicate_ids_are_errors() -> None:
    duplicated = MINIMAL.replace(
        "districts:\n",
        "  - id: heating\n    department: utilities\n    name: {ru: a, kk: a, en: a}\ndistricts:\n",
    )
    assert any("categories[1].id: duplicate id 'heating'" in issue for issue in issues_of(duplicated))


def test_environment_overrides_config(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    config = load_config(
        path,
        environ={
            "SHAGYM_BOT_TOKEN": "123:secret",
            "SHAGYM_API_URL": "http://127.0.0.1:8081/",
            "SHAGYM_DATABASE_URL": "postgresql+asyncpg://u@h/db",
            "SHAGYM_REDIS_URL": "redis://127.0.0.1:6379/1",
        },
    )
    assert config.telegram.token.get_secret_value() == "123:secret"
    assert "123:secret" not in repr(config)
    assert config.telegram.api_url == "http://127.0.0.1:8081"
    assert config.storage.database_url == "postgresql+asyncpg://u@h/db"
    assert config.storage.redis_url == "redis://127.0.0.1:6379/1"


def test_the_model_cache_is_a_config_key_the_environment_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_config(path, environ={}).classifier.cache_dir == Path("var/cache")
    moved = load_config(path, environ={"SHAGYM_CACHE_DIR": str(tmp_path / "models")})
    assert moved.classifier.cache_dir == tmp_path / "models"


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "elsewhere.yaml"
    path.write_text("city: Kosshy\n", encoding="utf-8")
    monkeypatch.setenv("SHAGYM_CONFIG", str(path))
    assert load_config().city == "Kosshy"


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "nope.yaml", environ={})


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_check_config_example_passes() -> None:
    code, out, err = run_cli("check-config", str(EXAMPLE_CONFIG))
    assert code == 0, err
    assert "officials (8)" in out
    assert "departments (10)" in out
    assert "categories (18)" in out
    assert "districts (5)" in out
    assert "watched: all chats" in out


def test_check_config_reports_every_error_and_fails(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        MINIMAL.replace("  framework: aiogram", "  framwork: aiogram").replace(
            "    chat_id: -1001000000001", "    chat_id: abc"
        ),
        encoding="utf-8",
    )
    code, _out, err = run_cli("check-config", "--config", str(path))
    assert code != 0
    assert f"{path}:6: telegram.framwork: unknown key" in err
    assert f"{path}:23: departments[0].chat_id: must be an integer" in err


def test_check_config_broken_yaml_fails(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("city: Astana\ntelegram:\n  token: [\n", encoding="utf-8")
    code, _, err = run_cli("check-config", str(path))
    assert code != 0
    assert "not valid YAML" in err


def test_combining_needs_room_for_its_minimum() -> None:
    config = parse_config(MINIMAL, source="c.yaml", environ={})
    assert (config.delivery.combine_min, config.delivery.combine_max) == (3, 10)
    (issue,) = issues_of(MINIMAL + "delivery: {combine_min: 5, combine_max: 4}\n")
    assert "delivery.combine_max: " in issue and "combine_min" in issue
    off = parse_config(MINIMAL + "delivery: {combine_min: 0, combine_max: 2}\n", source="c.yaml", environ={})
    assert off.delivery.combine_min == 0
