"""The `shagym` command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot.config import Config, ConfigError, default_config_path, load_config
from bot.core.text import is_int64


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="config file (default: $SHAGYM_CONFIG, then ./config.yaml)",
    )


def _user_id(text: str) -> int:
    """A Telegram user id: an integer that fits the database's 64-bit column."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a Telegram user id (an integer)") from None
    if not is_int64(value):
        raise argparse.ArgumentTypeError(f"{text!r} is too large for a Telegram user id")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="shagym", description="Shagym: city complaints from Telegram chats")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check-config", help="validate a config file and summarise it")
    check.add_argument("path", nargs="?", type=Path, help="config file (same default as --config)")
    _add_config_option(check)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    _add_config_option(migrate)

    from bot.app.roles import ROLES

    run = commands.add_parser("run", help="run the bot until SIGTERM")
    _add_config_option(run)
    run.add_argument(
        "--role",
        choices=ROLES,
        default=None,
        help="what this process runs: ingest (updates, inbox, notices), deliver (department cards, "
        "scheduler) or all (default: $SHAGYM_ROLE, then all)",
    )

    from bot.classifier.commands import add_commands

    add_commands(commands)

    digest = commands.add_parser("digest", help="send digests (of the last 24 hours) now")
    digest.add_argument("--now", action="store_true", required=True, help="send immediately")
    digest.add_argument("--recipient", help="only this one, e.g. official:akim or head:utilities")
    _add_config_option(digest)

    erase = commands.add_parser("erase-resident", help="erase one resident's personal data now")
    erase.add_argument("user_id", type=_user_id, help="the resident's Telegram user id")
    _add_config_option(erase)

    retention = commands.add_parser("retention", help="erase personal data whose retention period is over")
    retention.add_argument("--now", action="store_true", required=True, help="run the expiry pass now")
    _add_config_option(retention)
    return parser


def summarise(config: Config) -> str:
    """A short human summary of a valid config."""
    watched = "all chats" if config.watch.chats == "all" else f"{len(config.watch.chats)} chat(s)"
    storage = "Redis Streams" if config.storage.redis_url else "SQL table"
    return "\n".join(
        [
            f"city: {config.city} ({config.timezone})",
            f"telegram: {config.telegram.framework}, {config.telegram.mode}, {config.telegram.api_url}",
            f"officials ({len(config.officials)}): {', '.join(o.id for o in config.officials) or '-'}",
            f"departments ({len(config.departments)}): {', '.join(d.id for d in config.departments) or '-'}",
            f"categories ({len(config.categories)}): {', '.join(c.id for c in config.categories) or '-'}",
            f"districts ({len(config.districts)}): {', '.join(d.id for d in config.districts) or '-'}",
            f"watched: {watched}; department queues: {storage}",
        ]
    )


def _load(path: Path | None, stderr: TextIO) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(exc, file=stderr)
        return None


def notes(config: Config) -> list[str]:
    """What a valid config leaves to the bot to decide at start, said so nobody is surprised."""
    found = []
    hook = config.telegram.webhook
    if config.telegram.mode == "webhook":
        secret = (
            "configured"
            if hook.secret_token.get_secret_value()
            else "none configured: one is generated at first start and stored in the database, "
            "so every instance shares it, and given to Telegram with setWebhook"
        )
        found.append(
            f"webhook: {hook.url}, listening on {hook.host}:{hook.port}{hook.path}; secret token {secret}"
        )
    return found


def _check_config(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    path = args.path or args.config or default_config_path()
    config = _load(path, stderr)
    if config is None:
        return 2
    # warnings do not fail the check: the config works, but probably not as meant
    for warning in config.warnings:
        print(warning.located(str(path)), file=stderr)
    print(f"{path}: OK", file=stdout)
    print(summarise(config), file=stdout)
    for note in notes(config):
        print(note, file=stdout)
    return 0


async def _migrate(config: Config) -> str:
    from storage import migrate
    from storage.db import create_engine

    engine = create_engine(config.storage.database_url)
    try:
        await migrate.upgrade(engine)
        return await migrate.current_revision(engine) or "nothing"
    finally:
        await engine.dispose()


def _run_migrate(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    config = _load(args.config, stderr)
    if config is None:
        return 2
    revision = asyncio.run(_migrate(config))
    print(f"database is at revision {revision}", file=stdout)
    return 0


def _run_bot(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from bot.app.roles import choose_role, role_problems
    from bot.app.runtime import run_bot

    try:
        role = choose_role(args.role, os.environ)
    except ValueError as exc:
        print(exc, file=stderr)
        return 2
    config = _load(args.config, stderr)
    if config is None:
        return 2
    problems = role_problems(config, role)
    for problem in problems:
        print(problem, file=stderr)
    if problems:
        return 2
    return run_bot(config, stderr=stderr, role=role)


async def _send_digests(config: Config, key: str | None, stdout: TextIO) -> int:
    from bot.app.resources import build_resources
    from bot.app.runtime import open_gateway
    from bot.services.digest_service import DigestService
    from bot.services.digests import DigestBuilder
    from bot.telegram.outbound import Outbound
    from bot.telegram.ratelimit import RateLimiter
    from storage.base import utcnow

    async with build_resources(config) as resources, open_gateway(config) as gateway:
        outbound = Outbound(gateway, RateLimiter(config.telegram.rate_limit))
        service = DigestService(config, DigestBuilder(config, resources.unit_of_work), outbound)
        recipients = [r for r in service.recipients() if key is None or r.key == key]
        if not recipients:
            print(
                f"no digest recipient {key!r}; known: {', '.join(r.key for r in service.recipients())}",
                file=stdout,
            )
            return 2
        now = utcnow()
        for recipient in recipients:
            digest = await service.send_now(recipient, now)
            print(
                f"{recipient.key}: sent {len(digest.parts)} part(s) and a chart to {recipient.chat_id}",
                file=stdout,
            )
    return 0


def _run_digest(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    config = _load(args.config, stderr)
    if config is None:
        return 2
    if not config.telegram.token.get_secret_value():
        print("telegram.token is empty: set it in the config or in SHAGYM_BOT_TOKEN", file=stderr)
        return 2
    return asyncio.run(_send_digests(config, args.recipient, stdout))


async def _erase_resident(config: Config, user_id: int, stdout: TextIO) -> int:
    from bot.app.resources import build_resources
    from bot.services.pipeline import Enqueuer
    from bot.services.retention import DataEraser

    async with build_resources(config) as resources:
        # the running bot's delivery workers pick the queued cards up and edit them without the author
        enqueuer = Enqueuer(resources.queue, resources.unit_of_work)
        eraser = DataEraser(config.retention, resources.unit_of_work, refresh_card=enqueuer.enqueue)
        report = await eraser.erase_resident(user_id)
    if not report.found:
        print(f"nothing is stored about user {user_id}", file=stdout)
        return 0
    resident = {
        "deleted": "deleted",
        "kept_blocked": "kept blocked: only the Telegram id and the block remain (unblock, then erase again)",
        "none": "none stored",
    }[report.resident]
    print(f"erased the personal data of user {user_id}", file=stdout)
    print(f"resident: {resident}", file=stdout)
    print(
        f"complaints without an author now: {report.complaints} ({report.open_complaints} open)", file=stdout
    )
    print(f"audit events without their id: {report.events}", file=stdout)
    print(f"stored updates emptied: {report.inbox}", file=stdout)
    print(f"drafts deleted: {report.drafts}", file=stdout)
    print(f"department cards queued for re-rendering: {len(report.cards)}", file=stdout)
    if report.open_complaints:
        print(
            "open complaints stay with their departments; the resident can no longer be notified", file=stdout
        )
    return 0


async def _expire(config: Config, stdout: TextIO) -> int:
    from bot.app.resources import build_resources
    from bot.services.retention import DataEraser
    from storage.base import utcnow

    async with build_resources(config) as resources:
        report = await DataEraser(config.retention, resources.unit_of_work).erase_expired(utcnow())
    for kind, number in report.counts().items():
        print(f"{kind}: {number}", file=stdout)
    return 0


def _run_erase(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    config = _load(args.config, stderr)
    if config is None:
        return 2
    return asyncio.run(_erase_resident(config, args.user_id, stdout))


def _run_retention(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    config = _load(args.config, stderr)
    if config is None:
        return 2
    return asyncio.run(_expire(config, stdout))


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Entry point of the `shagym` console script; returns the exit code."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = build_parser().parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is not None:  # the classifier's subcommands dispatch themselves
        return int(handler(args, stdout, stderr))
    commands = {
        "check-config": _check_config,
        "migrate": _run_migrate,
        "run": _run_bot,
        "digest": _run_digest,
        "erase-resident": _run_erase,
        "retention": _run_retention,
    }
    return commands[args.command](args, stdout, stderr)


if __name__ == "__main__":
    sys.exit(main())
