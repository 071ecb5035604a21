"""What a `shagym run --role` process runs: which of the bot's loops, and which setups refuse a split.

`all` runs every loop (one process, or several alike, as before). A big city splits the work in two:
`ingest` processes take the updates in and work the inbox (handlers, pipeline, the department queues'
writes), `deliver` processes send the department cards. The same leases as between `all` instances keep
one poller and one delivery leader, whatever mix of roles runs (bot/workers/leases.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

from bot.config import Config

Role = Literal["all", "ingest", "deliver"]
ROLES: tuple[Role, ...] = get_args(Role)
DEFAULT_ROLE: Role = "all"
ROLE_VARIABLE = "SHAGYM_ROLE"

Loop = Literal["ingress", "inbox", "notices", "scheduler", "delivery"]

# Which loops each role starts. `ingest` and `deliver` split `all` in two with nothing left out and
# nothing run twice. Notices go with ingest: the desk actions that store them are handled by the inbox
# processor, which wakes its own process's sender at once, and a resident's chat keeps its replies and
# its notices in one process's rate budget. The scheduler goes with deliver: its deadline reminders are
# posted in the department chats, so the chat's budget stays with the process that sends the cards, and
# the digests' database work stays off the process that answers residents.
LOOPS: Mapping[Role, frozenset[Loop]] = {
    "all": frozenset({"ingress", "inbox", "notices", "scheduler", "delivery"}),
    "ingest": frozenset({"ingress", "inbox", "notices"}),
    "deliver": frozenset({"scheduler", "delivery"}),
}


def parse_role(text: str, *, source: str) -> Role:
    """The role named by `text`; ValueError naming `source` (an option or variable) when it is none."""
    for role in ROLES:
        if text == role:
            return role
    raise ValueError(f"{source}: unknown role {text!r}; known: {', '.join(ROLES)}")


def choose_role(option: str | None, environ: Mapping[str, str]) -> Role:
    """The role from `--role`, else from $SHAGYM_ROLE, else `all`; ValueError for an unknown name."""
    if option is not None:
        return parse_role(option, source="--role")
    value = environ.get(ROLE_VARIABLE, "").strip()
    return parse_role(value, source=ROLE_VARIABLE) if value else DEFAULT_ROLE


def role_problems(config: Config, role: Role) -> list[str]:
    """Why `config` cannot run as `role` (empty: it can), each naming the config key to change."""
    from storage.db import is_sqlite  # here: the command line reads ROLES without loading SQLAlchemy

    if role == "all":
        return []
    problems = []
    if is_sqlite(config.storage.database_url):
        # SQLite lets one writer at a time into the whole file, so a second process only queues behind
        # the first (and an in-memory database cannot be shared at all): splitting gains nothing there
        problems.append(
            f"storage.database_url: --role {role} runs beside another process, and SQLite is for one "
            "process only; use PostgreSQL (shared by the ingest and deliver processes), or --role all"
        )
    return problems
