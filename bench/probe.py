"""`python -m bench.probe run --config …`: `shagym run` with its database work counted, for the benchmarks.

The bot is unchanged: this entry point listens to SQLAlchemy's engine events (every engine the process
makes) and, on SIGUSR1, writes what it counted and the process's CPU time to the file named by
$SHAGYM_BENCH_PROBE, so the bench can take the difference over the part of the run it measures.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

PROBE_VARIABLE = "SHAGYM_BENCH_PROBE"


@dataclass
class Counts:
    """What the process has done so far; `cpu_s` is its CPU time (every thread, user and system)."""

    seq: int = 0  # one more at each snapshot written, so the reader knows its signal was answered
    statements: int = 0  # cursor executions: one per statement sent (an executemany counts once)
    executemany: int = 0
    transactions: int = 0  # BEGINs on a connection (an autobegin counts too)
    commits: int = 0
    rollbacks: int = 0
    cpu_s: float = 0.0

    def minus(self, earlier: Counts) -> Counts:
        """The work done between `earlier` and this snapshot."""
        fields = asdict(self)
        return Counts(**{k: v - getattr(earlier, k) for k, v in fields.items()})

    def plus(self, other: Counts) -> Counts:
        """Two processes' work together."""
        return Counts(**{k: v + getattr(other, k) for k, v in asdict(self).items()})


def _install(counts: Counts) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def executed(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        counts.statements += 1
        counts.executemany += many

    def began(conn: Any) -> None:
        counts.transactions += 1

    def committed(conn: Any) -> None:
        counts.commits += 1

    def rolled_back(conn: Any) -> None:
        counts.rollbacks += 1

    # on the Engine class: every engine made later (the async engine's sync core included) reports here
    event.listen(Engine, "before_cursor_execute", executed)
    event.listen(Engine, "begin", began)
    event.listen(Engine, "commit", committed)
    event.listen(Engine, "rollback", rolled_back)


def _writer(counts: Counts, path: Path) -> Any:
    def write(signum: int = 0, frame: FrameType | None = None) -> None:
        counts.cpu_s = time.process_time()
        counts.seq += 1
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(asdict(counts)), encoding="utf-8")
        os.replace(partial, path)  # the reader never sees half a file

    return write


def main(argv: list[str] | None = None) -> int:
    """Count, then hand the command line to `shagym` (bot/cli.py)."""
    counts = Counts()
    path = Path(os.environ[PROBE_VARIABLE])
    write = _writer(counts, path)
    signal.signal(signal.SIGUSR1, write)
    write()  # seq 1: the handler is in place, so SIGUSR1 no longer kills the process
    _install(counts)
    from bot.cli import main as shagym

    return shagym(argv)


async def snapshot(path: Path, pid: int, timeout: float = 30.0) -> Counts:
    """Ask the probed process `pid` for its counts and wait for the answer in `path`."""
    before = read(path)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while True:
        now = read(path)
        if now is not None and (before is None or now.seq > before.seq):
            return now
        if time.monotonic() > deadline:
            raise RuntimeError(f"process {pid} did not answer SIGUSR1 within {timeout:.0f}s")
        await asyncio.sleep(0.01)


def read(path: Path) -> Counts | None:
    """The last snapshot written to `path`, if any."""
    try:
        return Counts(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
