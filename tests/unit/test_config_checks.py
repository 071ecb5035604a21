"""Config checks of issue #12: webhook url and secret, 64-bit Telegram ids, duplicate keys, booleans for
numbers, the real cause of a missing section, YAML syntax errors in plain words, and warnings about
invisible or mixed-script characters. Everything goes through the loader or `shagym check-config`."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Config, ConfigError, load_config, parse_config
from tests.unit.test_config import MINIMAL


def issues_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="c.yaml", environ={})
    return [issue.located("c.yaml") for issue in caught.value.issues]


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def line_of(text: str, fragment: str) -> int:
    """The 1-based line of the first line containing `fragment`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(fragment)


def webhook(url: str | None, secret: str = '""') -> str:
    value = "null" if url is None else url
    return MINIMAL.replace(
        "  mode: polling\n",
        f"  mode: webhook\n  webhook:\n    url: {value}\n    secret_token: {secret}\n",
    )


# point 1, the config side: a webhook needs a public https url; the secret follows Telegram's rule


def test_webhook_mode_needs_a_url() -> None:
    text = webhook(None)
    (issue,) = issues_of(text)
    assert issue.startswith(f"c.yaml:{line_of(text, 'url: null')}: telegram.webhook.url: ")
    assert "webhook" in issue and "https://" in issue


def test_webhook_mode_without_a_webhook_section_needs_a_url() -> None:
    text = MINIMAL.replace("  mode: polling", "  mode: webhook")
    (issue,) = issues_of(text)
    assert f"c.yaml:{line_of(text, 'mode: webhook')}: telegram.webhook.url: " in issue


@pytest.mark.parametrize(
    "url",
    [
        "http://bot.example.org/telegram/webhook",
        "http://10.0.0.5:8080/hook",
        "ftp://bot.example.org/x",
        "bot.kz",
    ],
)
def test_webhook_url_must_be_https(url: str) -> None:
    text = webhook(url)
    (issue,) = issues_of(text)
    assert issue.startswith(f"c.yaml:{line_of(text, f'url: {url}')}: telegram.webhook.url: ")
    assert "https://" in issue


@pytest.mark.parametrize(
    "url",
    [
        "https://bot.example.org/telegram/webhook",
        "http://127.0.0.1:8080/telegram/webhook",
        "http://127.5.0.1/hook",
        "http://localhost:8443/hook",
        "http://[::1]:8080/hook",
    ],
)
def test_https_and_loopback_http_urls_are_accepted(url: str) -> None:
    config = parse_config(webhook(url, secret="s3cret_token-1"), environ={})
    assert config.telegram.webhook.url == url


@pytest.mark.parametrize("secret", ["'has space'", "'пароль'", "x" * 257, "'a+b'"])
def test_secret_token_follows_telegrams_rule(secret: str) -> None:
    text = webhook("https://bot.example.org/hook", secret=secret)
    (issue,) = issues_of(text)
    assert issue.startswith(f"c.yaml:{line_of(text, 'secret_token')}: telegram.webhook.secret_token: ")
    assert "A-Z" in issue and "256" in issue
    assert "пароль" not in issue and "has space" not in issue  # a secret is never echoed


def test_check_config_says_an_empty_secret_is_generated(tmp_path: Path) -> None:
    path = tmp_path / "hook.yaml"
    path.write_text(webhook("https://bot.example.org/hook"), encoding="utf-8")
    code, out, err = run_cli("check-config", str(path))
    assert code == 0, err
    assert "generated" in out and "database" in out
    path.write_text(webhook("https://bot.example.org/hook", secret="s3cret"), encoding="utf-8")
    code, out, err = run_cli("check-config", str(path))
    assert code == 0, err
    assert "generated" not in out


def test_check_config_refuses_plain_http_webhook(tmp_path: Path) -> None:
    path = tmp_path / "hook.yaml"
    path.write_text(webhook("http://bot.example.org/hook"), encoding="utf-8")
    code, _out, err = run_cli("check-config", str(path))
    assert code != 0
    assert "telegram.webhook.url" in err


# point 7: every Telegram id fits in 64 bits, or the loader says so before `run` overflows

TOO_BIG = "-100100000000200000000000"


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("    chat_id: -1001000000001", f"    chat_id: {TOO_BIG}", "departments[0].chat_id"),
        ("    staff: [200001, 200002]", f"    staff: [200001, {TOO_BIG}]", "departments[0].staff[1]"),
        ("    head: 200001", "    head: 9223372036854775808", "departments[0].head"),
        ("    user_ids: [100001]", f"    user_ids: [{TOO_BIG}]", "officials[0].user_ids[0]"),
        ("{chat_id: 100001,", f"{{chat_id: {TOO_BIG},", "officials[0].digest.chat_id"),
        ("  chats: all", f"  chats: [-100, {TOO_BIG}]", "watch.chats[1]"),
        ("  chats: all", f"  chats: all\n  acknowledge_chats: [{TOO_BIG}]", "watch.acknowledge_chats[0]"),
        ("  mode: polling", f"  mode: polling\n  admins: [{TOO_BIG}]", "telegram.admins[0]"),
        ("watch:\n", f"digests:\n  allowed_chats: [{TOO_BIG}]\nwatch:\n", "digests.allowed_chats[0]"),
    ],
)
def test_telegram_ids_must_fit_in_64_bits(old: str, new: str, key: str) -> None:
    text = MINIMAL.replace(old, new)
    assert text != MINIMAL
    (issue,) = issues_of(text)
    number = line_of(text, TOO_BIG if TOO_BIG in new else "9223372036854775808")
    assert issue.startswith(f"c.yaml:{number}: {key}: "), issue
    assert "64-bit" in issue


def test_the_largest_64_bit_ids_are_fine() -> None:
    text = MINIMAL.replace("    head: 200001", "    head: 9223372036854775807").replace(
        "    chat_id: -1001000000001", "    chat_id: -9223372036854775808"
    )
    config = parse_config(text, environ={})
    assert config.departments[0].head == 2**63 - 1


def test_load_config_raises_the_config_error_not_an_overflow(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        MINIMAL.replace("    chat_id: -1001000000001", f"    chat_id: {TOO_BIG}"), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"departments\[0\]\.chat_id"):
        load_config(path, environ={})
    code, _out, err = run_cli("check-config", str(path))
    assert code != 0
    assert f"{path}:23: departments[0].chat_id: " in err


# point 8: duplicate keys, booleans for numbers, the real cause, plain-word syntax errors, warnings


def test_a_duplicated_top_level_key_is_an_error() -> None:
    text = MINIMAL.replace("timezone: Asia/Almaty\n", "timezone: Asia/Almaty\ncity: Almaty\n")
    (issue,) = issues_of(text)
    assert issue.startswith("c.yaml:3: city: ")
    assert "line 1" in issue and "line 3" in issue and "duplicate key" in issue


def test_a_duplicated_nested_key_names_its_path_and_both_lines() -> None:
    text = MINIMAL.replace("    sla_hours: 24\n", "    sla_hours: 24\n    staff: [1]\n")
    (issue,) = issues_of(text)
    first, second = line_of(text, "staff: [200001"), line_of(text, "staff: [1]")
    assert issue.startswith(f"c.yaml:{second}: departments[0].staff: ")
    assert f"line {first}" in issue and f"line {second}" in issue


def test_a_duplicated_key_in_a_flow_mapping_is_an_error() -> None:
    text = MINIMAL.replace("{ru: Сарыарка, kk: Сарыарқа,", "{ru: Сарыарка, ru: Сарыарқа, kk: Сарыарқа,")
    (issue,) = issues_of(text)
    assert "districts[0].name.ru: " in issue and "twice" in issue


@pytest.mark.parametrize(
    ("old", "new", "key", "value"),
    [
        ("    sla_hours: 24", "    sla_hours: yes", "departments[0].sla_hours", "yes"),
        ("    sla_hours: 24", "    sla_hours: true", "departments[0].sla_hours", "true"),
        ("    sla_hours: 24", "    sla_hours: On", "departments[0].sla_hours", "On"),
        ("  mode: polling", "  mode: polling\n  polling_timeout: off", "telegram.polling_timeout", "off"),
        ("  mode: polling", "  mode: polling\n  request_timeout_seconds: yes",
         "telegram.request_timeout_seconds", "yes"),
        ("    aliases: [Сарыаркинский]\n", "    aliases: [Сарыаркинский]\nduplicates:\n  similarity: true\n",
         "duplicates.similarity", "true"),
        ("    chat_id: -1001000000001", "    chat_id: no", "departments[0].chat_id", "no"),
        ("    staff: [200001, 200002]", "    staff: [200001, yes]", "departments[0].staff[1]", "yes"),
    ],
)  # fmt: skip
def test_a_boolean_is_not_a_number(old: str, new: str, key: str, value: str) -> None:
    text = MINIMAL.replace(old, new)
    (issue,) = issues_of(text)
    assert issue.startswith(f"c.yaml:{line_of(text, new.rstrip().splitlines()[-1])}: "), issue
    assert f"{key}: " in issue
    assert "number" in issue or "integer" in issue
    assert "boolean" in issue and f"'{value}'" in issue


def test_a_real_number_still_works_and_an_infinite_one_does_not() -> None:
    config = parse_config(MINIMAL.replace("    sla_hours: 24", "    sla_hours: 48"), environ={})
    assert config.departments[0].sla_hours == 48
    (issue,) = issues_of(MINIMAL + "duplicates: {window_hours: .inf}\n")
    assert "duplicates.window_hours: " in issue


def test_a_missing_categories_section_is_named_as_the_cause() -> None:
    start = MINIMAL.index("categories:")
    end = MINIMAL.index("districts:")
    text = MINIMAL[:start] + MINIMAL[end:] + "classifier:\n  fallback_category: other\n"
    issues = issues_of(text)
    assert len(issues) == 1, issues
    assert "categories" in issues[0] and "missing" in issues[0]
    assert "unknown category" not in issues[0]


def test_an_empty_categories_section_is_named_as_the_cause() -> None:
    start = MINIMAL.index("categories:")
    end = MINIMAL.index("districts:")
    text = MINIMAL[:start] + "categories: []\n" + MINIMAL[end:] + "classifier: {fallback_category: other}\n"
    (issue,) = issues_of(text)
    assert issue.startswith(f"c.yaml:{line_of(text, 'categories: []')}: categories: ")
    assert "empty" in issue


def test_missing_departments_is_one_error_not_one_per_category() -> None:
    start = MINIMAL.index("departments:")
    end = MINIMAL.index("categories:")
    text = MINIMAL[:start] + MINIMAL[end:]
    water = "  - id: water\n    department: utilities\n    name: {ru: a, kk: a, en: a}\n"
    text = text.replace("districts:\n", water + "districts:\n")
    (issue,) = issues_of(text)
    assert "departments" in issue and "missing" in issue


def test_key_indented_less_than_the_one_above_is_said_in_plain_words() -> None:
    text = "city: Astana\ntelegram:\n    token: ''\n  mode: polling\n"
    (issue,) = issues_of(text)
    assert issue.startswith("c.yaml:4: ")
    assert "not valid YAML" in issue
    assert "mode" in issue and "indented less" in issue
    assert "<block" not in issue and "expected" not in issue


def test_key_moved_back_to_the_margin_names_its_own_line() -> None:
    text = MINIMAL.replace("  framework: aiogram\n", "framework: aiogram\n")
    (issue,) = issues_of(text)
    assert issue.startswith(f"c.yaml:{line_of(text, 'framework: aiogram')}: "), issue
    assert "framework" in issue and "margin" in issue
    assert "mapping values" not in issue


def test_last_key_moved_back_to_the_margin_says_where_it_belongs() -> None:
    text = MINIMAL.replace("  mode: polling\n", "mode: polling\n")
    (issue,) = issues_of(text)
    assert issue.startswith(f"c.yaml:{line_of(text, 'mode: polling')}: mode: unknown key"), issue
    assert "telegram" in issue and "indent" in issue


def test_key_indented_too_far_names_its_own_line() -> None:
    (issue,) = issues_of("city: Astana\n  timezone: Asia/Almaty\n")
    assert issue.startswith("c.yaml:2: ")
    assert "timezone" in issue and "indented more" in issue


def test_key_at_the_level_of_a_lists_dashes() -> None:
    text = MINIMAL.replace("    chat_id: -1001000000001", "  chat_id: -1001000000001")
    (issue,) = issues_of(text)
    assert issue.startswith(f"c.yaml:{line_of(text, '  chat_id: -1001')}: ")
    assert "chat_id" in issue and "list" in issue and "- " in issue
    assert "'?'" not in issue


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("city: Astana\ntelegram:\n\ttoken: x\n", 3, "tab"),
        ("city: Astana\nwatch:\n  chats: [all\nofficials: []\n", 3, "not closed"),
        ('city: "Astana\ntimezone: x\n', 1, "never closed"),
        ("city: Astana: Almaty\n", 1, "quote"),
        ("city: Astana\nofficials:\n  - id: akim\n    usernames: @akim\n", 4, "'@'"),
    ],
)
def test_other_syntax_errors_in_plain_words(text: str, line: int, words: str) -> None:
    (issue,) = issues_of(text)
    assert issue.startswith(f"c.yaml:{line}: "), issue
    assert words in issue
    assert "not valid YAML" in issue


def warnings_of(text: str) -> list[str]:
    config = parse_config(text, source="c.yaml", environ={})
    return [warning.located("c.yaml") for warning in config.warnings]


def test_a_clean_config_has_no_warnings(example_config: Config) -> None:
    assert parse_config(MINIMAL, environ={}).warnings == ()
    assert example_config.warnings == ()


@pytest.mark.parametrize(
    ("old", "new", "key", "character"),
    [
        ("aliases: [Сарыаркинский]", "aliases: [\"Сарыаркинский\u00a0\"]", "districts[0].aliases[0]",
         "U+00A0 NO-BREAK SPACE"),
        ("aliases: [Касымбек,", "aliases: [\"Касым\u200bбек\",", "officials[0].aliases[0]",
         "U+200B ZERO WIDTH SPACE"),
        ("{ru: Сарыарка,", "{ru: \"Сарыар\u00adка\",", "districts[0].name.ru", "U+00AD SOFT HYPHEN"),
        ("[отопление, батареи]", "[\"\ufeffотопление\", батареи]", "categories[0].keywords.ru[0]",
         "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        ("usernames: [akim_astana]", "usernames: [\"akim_astana\u200d\"]", "officials[0].usernames[0]",
         "U+200D ZERO WIDTH JOINER"),
    ],
)  # fmt: skip
def test_invisible_characters_are_warnings(old: str, new: str, key: str, character: str) -> None:
    text = MINIMAL.replace(old, new)
    assert text != MINIMAL
    (warning,) = warnings_of(text)
    assert warning.startswith(f"c.yaml:{line_of(text, new)}: {key}: "), warning
    assert character in warning


def test_an_invisible_character_in_a_username_does_not_hide_the_username() -> None:
    config = parse_config(
        MINIMAL.replace("usernames: [akim_astana]", 'usernames: ["akim_astana\u200b"]'), environ={}
    )
    assert config.officials[0].usernames == ["akim_astana"]


def test_a_latin_letter_in_a_cyrillic_word_is_a_warning() -> None:
    text = MINIMAL.replace("{ru: Сарыарка,", "{ru: Сaрыарка,")  # Latin a
    (warning,) = warnings_of(text)
    assert warning.startswith(f"c.yaml:{line_of(text, 'Сaрыарка')}: districts[0].name.ru: ")
    assert "U+0061 LATIN SMALL LETTER A" in warning and "Cyrillic" in warning
    text = MINIMAL.replace("en: Heating and hot water}", "en: Неating and hot water}")  # Cyrillic Н
    (warning,) = warnings_of(text)
    assert "categories[0].name.en: " in warning and "U+041D CYRILLIC CAPITAL LETTER EN" in warning


def test_kazakh_letters_are_not_mixed_scripts() -> None:
    text = MINIMAL.replace("aliases: [Сарыаркинский]", "aliases: [Сарыаркинский, Сарыарқа ауданы, Esil-2]")
    assert warnings_of(text) == []


def test_check_config_prints_warnings_and_still_passes(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    text = MINIMAL.replace("aliases: [Сарыаркинский]", 'aliases: ["Сарыаркинский\u00a0"]')
    path.write_text(text, "utf-8")
    code, out, err = run_cli("check-config", str(path))
    assert code == 0, err
    assert f"{path}: OK" in out
    assert f"{path}:{line_of(text, 'Сарыаркинский')}: districts[0].aliases[0]: warning: " in err
    assert "U+00A0 NO-BREAK SPACE" in err


def test_a_section_with_nothing_under_it_is_left_out() -> None:
    text = MINIMAL.replace("watch:\n  chats: all\n", "watch:\n  # chats: all\n") + "classifier:\n"
    config = parse_config(text, environ={})
    assert config.watch.chats == "all" and config.classifier.engine == "model"
    start, end = MINIMAL.index("categories:"), MINIMAL.index("districts:")
    text = MINIMAL[:start] + "categories:\n" + MINIMAL[end:] + "classifier: {fallback_category: other}\n"
    (issue,) = issues_of(text)
    assert issue.startswith(f"c.yaml:{line_of(text, 'categories:')}: categories: no categories")


def test_a_boolean_where_text_is_expected_says_to_quote_it() -> None:
    (issue,) = issues_of(MINIMAL.replace("en: Saryarka}", "en: No}"))
    assert "districts[0].name.en: " in issue and "'No'" in issue and "quotes" in issue


def test_a_duplicated_key_points_at_the_value_that_is_kept() -> None:
    text = MINIMAL + "duplicates:\n  window_hours: 12\nduplicates:\n  window_hours: -1\n"
    issues = issues_of(text)
    assert any("duplicates: duplicate key" in issue for issue in issues), issues
    assert f"c.yaml:{line_of(text, 'window_hours: -1')}: duplicates.window_hours: " in "\n".join(issues)


def test_an_indented_first_key_names_its_line() -> None:
    (issue,) = issues_of("# Shagym\n city: Astana\ntimezone: Asia/Almaty\n")
    assert issue.startswith("c.yaml:2: "), issue
    assert "city" in issue and "margin" in issue and "<" not in issue


def test_run_logs_the_warnings_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    import bot.app.runtime

    served: list[Config] = []

    async def serve(config: Config, stop: object) -> None:  # the bot itself is not what is tested here
        served.append(config)

    monkeypatch.setattr(bot.app.runtime, "serve", serve)
    text = MINIMAL.replace('token: ""', 'token: "123:abc"').replace(
        "aliases: [Сарыаркинский]", 'aliases: ["Сарыаркинский\u00a0"]'
    )
    config = parse_config(text, source="c.yaml", environ={})
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        assert bot.app.runtime.run_bot(config, stderr=stream) == 0
    finally:
        root.handlers[:], root.level = handlers, level
    assert served == [config]
    assert "districts[0].aliases[0]: warning: " in stream.getvalue()
    assert "U+00A0 NO-BREAK SPACE" in stream.getvalue()
