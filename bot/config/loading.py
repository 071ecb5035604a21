"""Reading the YAML: env overrides, cross-checks, warnings, and errors that name the key and line."""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ValidationError,
)

from bot.config.fields import ENV_OVERRIDES, ConfigError, ConfigIssue, LocalizedName, Section
from bot.config.model import Config
from bot.config.source import YamlSource, YamlSyntaxError, read_yaml
from bot.config.text import invisible_characters, mixed_scripts


def _line_for(index: Mapping[tuple[str | int, ...], int], path: tuple[str | int, ...]) -> int | None:
    for end in range(len(path), -1, -1):
        if path[:end] in index:
            return index[path[:end]]
    return None


def _set_path(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = data
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    for variable, path in ENV_OVERRIDES.items():
        if variable in environ:
            _set_path(data, path, environ[variable])


def _duplicates(values: Iterable[Any]) -> set[Any]:
    seen: set[Any] = set()
    dupes: set[Any] = set()
    for value in values:
        (dupes if value in seen else seen).add(value)
    return dupes


def _cross_check(config: Config) -> list[ConfigIssue]:
    """Checks that span sections: references resolve and ids are unique."""
    issues: list[ConfigIssue] = []
    for section in ("officials", "departments", "categories", "districts"):
        items = getattr(config, section)
        dupes = _duplicates(item.id for item in items)
        for position, item in enumerate(items):
            if item.id in dupes:
                issues.append(ConfigIssue((section, position, "id"), f"duplicate id {item.id!r}"))
    department_ids = {department.id for department in config.departments}
    if config.categories and not config.departments:
        # one error for the cause, not one "unknown department" per category
        issues.append(ConfigIssue(("departments",), _empty_section(config, "departments", "categories")))
    for position, category in enumerate(config.categories if config.departments else ()):
        if category.department not in department_ids:
            issues.append(
                ConfigIssue(
                    ("categories", position, "department"),
                    f"unknown department {category.department!r}; known: {', '.join(sorted(department_ids))}",
                )
            )
    category_ids = {category.id for category in config.categories}
    # the default "other" may be absent from a small config; an explicit choice must exist
    explicit = "fallback_category" in config.classifier.model_fields_set
    if explicit and not config.categories:
        issues.append(
            ConfigIssue(
                ("categories",),
                _empty_section(
                    config,
                    "categories",
                    f"classifier.fallback_category ({config.classifier.fallback_category!r})",
                ),
            )
        )
    elif explicit and config.classifier.fallback_category not in category_ids:
        issues.append(
            ConfigIssue(
                ("classifier", "fallback_category"),
                f"unknown category {config.classifier.fallback_category!r}; known: "
                f"{', '.join(sorted(category_ids))}",
            )
        )
    if config.telegram.mode == "webhook" and not config.telegram.webhook.url:
        issues.append(
            ConfigIssue(
                ("telegram", "webhook", "url"),
                "telegram.mode is webhook, so Telegram needs the public https:// URL to post updates to, "
                "e.g. https://bot.example.kz/telegram/webhook (or use mode: polling)",
            )
        )
    usernames = [(p, name) for p, o in enumerate(config.officials) for name in o.usernames]
    dupes = _duplicates(name for _, name in usernames)
    for position, name in usernames:
        if name in dupes:
            issues.append(
                ConfigIssue(("officials", position, "usernames"), f"@{name} belongs to two officials")
            )
    dupes = _duplicates(d.chat_id for d in config.departments)
    for position, department in enumerate(config.departments):
        if department.chat_id in dupes:
            issues.append(
                ConfigIssue(("departments", position, "chat_id"), f"chat {department.chat_id} used twice")
            )
    return issues


def _empty_section(config: Config, section: str, needed_by: str) -> str:
    state = "empty" if section in config.model_fields_set else "missing"
    return f"no {section} are configured (`{section}:` is {state}), but {needed_by} refers to them"


# where residents' words are matched: an invisible character or a look-alike letter there never matches
_MATCHED_TEXT: tuple[tuple[str, ...], ...] = (
    ("city",),
    ("officials", "*", "name", "*"),
    ("officials", "*", "aliases", "*"),
    ("officials", "*", "usernames", "*"),
    ("departments", "*", "name", "*"),
    ("categories", "*", "name", "*"),
    ("categories", "*", "keywords", "*", "*"),
    ("districts", "*", "name", "*"),
    ("districts", "*", "aliases", "*"),
)


def _texts(node: Any, pattern: tuple[str, ...], path: tuple[str | int, ...] = ()) -> Iterable[Any]:
    if not pattern:
        if isinstance(node, str):
            yield path, node
        return
    head, rest = pattern[0], pattern[1:]
    if isinstance(node, dict):
        for key, value in node.items():
            if head in ("*", key):
                yield from _texts(value, rest, (*path, str(key)))
    elif isinstance(node, list) and head == "*":
        for position, value in enumerate(node):
            yield from _texts(value, rest, (*path, position))


def config_warnings(data: Mapping[str, Any], lines: Mapping[tuple[str | int, ...], int]) -> list[ConfigIssue]:
    """Valid but suspicious text in names, aliases, usernames and keywords (invisible or mixed-script)."""
    warnings = []
    for pattern in _MATCHED_TEXT:
        for path, text in _texts(data, pattern):
            line = _line_for(lines, path)
            for character in invisible_characters(text):
                warnings.append(
                    ConfigIssue(
                        path,
                        f"warning: {text!r} contains the invisible character {character}; it keeps the "
                        "text from matching what residents type, delete it (retype the word)",
                        line,
                    )
                )
            for problem in mixed_scripts(text):
                warnings.append(
                    ConfigIssue(
                        path,
                        f"warning: {problem}; letters that look alike but differ never match what "
                        "residents type",
                        line,
                    )
                )
    return warnings


_ANCHORS: dict[tuple[str | int, ...], tuple[str | int, ...]] = {
    ("telegram", "webhook", "url"): ("telegram", "mode"),
    ("categories",): ("classifier", "fallback_category"),
    ("departments",): ("categories",),
}


def _sections(model: type[BaseModel], path: str = "") -> Iterable[tuple[str, type[BaseModel]]]:
    """Every nested section model with its dotted path (list items marked `[]`)."""
    for name, info in model.model_fields.items():
        annotation = info.annotation
        item = typing.get_args(annotation)[0] if typing.get_origin(annotation) is list else annotation
        members = (
            typing.get_args(item) if typing.get_origin(item) in (typing.Union, types.UnionType) else (item,)
        )
        for member in members:
            if isinstance(member, type) and issubclass(member, Section) and member is not LocalizedName:
                dotted = f"{path}.{name}" if path else name
                dotted += "[]" if item is not annotation else ""
                yield dotted, member
                yield from _sections(member, dotted)


def _belongs_elsewhere(key: str) -> str:
    """For an unknown top-level key that some section has: the hint that it lost its indentation."""
    owners = [
        path
        for path, model in _sections(Config)
        if key in model.model_fields or any(f.alias == key for f in model.model_fields.values())
    ]
    if not owners:
        return ""
    return (
        f"; `{key}` is a key of {' and '.join(owners)}: if it belongs there, indent it under its "
        "section (was it moved back to the margin?)"
    )


def _read(text: str, source: str) -> YamlSource:
    try:
        document = read_yaml(text)
    except YamlSyntaxError as exc:
        raise ConfigError(source, [ConfigIssue((), exc.message, exc.line)]) from None
    if document.data is not None and not isinstance(document.data, dict):
        raise ConfigError(source, [ConfigIssue((), "the top level must be a mapping of sections", 1)])
    return document


def parse_config(text: str, *, source: str = "<config>", environ: Mapping[str, str] | None = None) -> Config:
    """Validate YAML text into a Config, applying SHAGYM_* overrides; raise ConfigError listing issues."""
    environ = os.environ if environ is None else environ
    document = _read(text, source)
    data: dict[str, Any] = document.data if document.data is not None else {}
    index = document.lines
    duplicates = [
        ConfigIssue(
            dup.path,
            f"duplicate key: written twice (line {dup.first_line} and line {dup.second_line}); YAML would "
            "silently keep only the last one: delete or rename one of them",
            dup.second_line,
        )
        for dup in document.duplicates
    ]
    _apply_env(data, environ)
    issues: list[ConfigIssue] = []
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            path = tuple(part for part in error["loc"] if isinstance(part, str | int))
            # pydantic adds the union member name to the loc ("list[int]"); it is noise for a human
            path = tuple(p for p in path if not (isinstance(p, str) and ("[" in p or p == "literal")))
            message = _human_message(error, document.scalars.get(path))
            if error["type"] == "extra_forbidden" and len(path) == 1:
                message += _belongs_elsewhere(str(path[0]))
            issues.append(ConfigIssue(path, message, _line_for(index, path)))
        raise ConfigError(source, duplicates + _dedupe(issues)) from None
    for issue in _cross_check(config):
        # a missing key has no line of its own: point at what asked for it
        anchor = issue.path if issue.path in index else _ANCHORS.get(issue.path, issue.path)
        issues.append(ConfigIssue(issue.path, issue.message, _line_for(index, anchor)))
    if duplicates or issues:
        raise ConfigError(source, duplicates + issues)
    config._warnings = tuple(config_warnings(data, index))
    return config


def _dedupe(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """Drop repeats, and errors on a key whose children have errors (union members say the same)."""
    paths = {issue.path for issue in issues}
    seen: set[tuple[tuple[str | int, ...], str]] = set()
    out = []
    for issue in issues:
        if any(len(other) > len(issue.path) and other[: len(issue.path)] == issue.path for other in paths):
            continue
        if (issue.path, issue.message) not in seen:
            seen.add((issue.path, issue.message))
            out.append(issue)
    return out


_MESSAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "extra_forbidden": lambda e: "unknown key (misspelled?)",
    "missing": lambda e: "required key is missing",
    "int_type": lambda e: f"must be an integer, got {e.get('input')!r}",
}


def _human_message(error: Any, written: str | None = None) -> str:
    if isinstance(error.get("input"), bool) and error["type"] in ("bool_for_number", "int_type"):
        # YAML 1.1 reads yes/no/on/off/true/false as booleans; say what was written, not "True"
        shown = repr(written) if written is not None else repr(error["input"]).lower()
        kind = "an integer" if error["type"] == "int_type" else "a number"
        return f"must be {kind}, got {shown}, which YAML reads as a boolean (yes/no/on/off/true/false)"
    if isinstance(error.get("input"), bool) and error["type"] == "string_type" and written is not None:
        return f"must be text, got {written!r}, which YAML reads as a boolean: put it in quotes"
    formatter = _MESSAGES.get(error["type"])
    if formatter is not None:
        return formatter(error)
    return str(error["msg"]).removeprefix("Value error, ")


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """SHAGYM_CONFIG when set, otherwise ./config.yaml."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("SHAGYM_CONFIG") or "config.yaml")


def load_config(path: str | Path | None = None, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config file at `path` (default: SHAGYM_CONFIG, then ./config.yaml)."""
    resolved = Path(path) if path is not None else default_config_path(environ)
    try:
        text = resolved.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(resolved), [ConfigIssue((), f"cannot read the file: {exc.strerror}")]) from None
    return parse_config(text, source=str(resolved), environ=environ)
