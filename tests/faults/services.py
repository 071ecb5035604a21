"""Private PostgreSQL and Redis servers for fault tests: started on spare ports in a temporary directory,
so a test may stop and start them without disturbing anything else on the machine."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shlex
import shutil
import signal
import socket
import tempfile
from pathlib import Path

import pytest


def _unavailable(reason: str) -> None:
    message = f"{reason}: fault tests start their own PostgreSQL and Redis"
    if os.environ.get("SHAGYM_REQUIRE_SERVICES"):
        pytest.fail(message)  # CI must run the fault tests, never skip them
    pytest.skip(message)


def spare_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _run(*argv: str, check: bool = True) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    if check and process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {process.returncode}:\n{text}")
    return int(process.returncode or 0), text


def _postgres_bindir() -> Path | None:
    on_path = shutil.which("pg_ctl")
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if on_path and Path(on_path).with_name("initdb").exists():
        candidates.append(str(Path(on_path).parent))
    for candidate in reversed(candidates):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (trust auth, user postgres) on a spare port."""

    def __init__(self, bindir: Path, root: Path) -> None:
        self._bindir = bindir
        self.root = root
        self.data = root / "data"
        self.socket_dir = root / "sock"
        self.port = spare_port()
        # initdb refuses to run as root: then the cluster belongs to the postgres user
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                _unavailable("running as root and there is no postgres user to own a test cluster")
            runuser = shutil.which("runuser")
            self._as = (
                [runuser, "-u", "postgres", "--"] if runuser else ["su", "-s", "/bin/sh", "postgres", "-c"]
            )

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the cluster's `postgres` database."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _command(self, *argv: str) -> list[str]:
        if self._as and self._as[0] == "su":
            return [*self._as, shlex.join(argv)]
        return [*self._as, *argv]

    async def init(self) -> None:
        """Create the cluster and start it."""
        self.socket_dir.mkdir()
        if self._as:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.socket_dir, "postgres")
        await _run(
            *self._command(
                str(self._bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                "-E", "UTF8", "--no-sync",
            )
        )  # fmt: skip
        await self.start()

    async def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        await _run(
            *self._command(
                str(self._bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                "-w", "-t", "60", "-o", options, "start",
            )
        )  # fmt: skip

    async def stop(self, mode: str = "immediate") -> None:
        """Stop the server; `immediate` is a crash (no checkpoint, connections cut at once)."""
        await _run(
            *self._command(str(self._bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
        )

    async def close(self) -> None:
        """Stop the server if it runs and delete the cluster."""
        with contextlib.suppress(RuntimeError):
            await self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A redis-server on a spare port that persists every write (AOF, fsync always), as production must."""

    def __init__(self, binary: str, root: Path) -> None:
        self._binary = binary
        self.root = root
        self.port = spare_port()
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """redis:// URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Start the server (replaying its AOF) and wait until it answers PING."""
        log = (self.root / "redis.log").open("ab")
        with log:
            self._process = await asyncio.create_subprocess_exec(
                self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root),
                "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
                stdout=log, stderr=log,
            )  # fmt: skip
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while True:
            with contextlib.suppress(OSError):
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.write(b"PING\r\n")
                await writer.drain()
                answer = await asyncio.wait_for(reader.readline(), 5)
                writer.close()
                await writer.wait_closed()
                if answer.startswith(b"+PONG"):
                    return
            if self._process.returncode is not None or loop.time() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{(self.root / 'redis.log').read_text()}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Kill the server (SIGKILL: a crash); what it acknowledged is in its AOF."""
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(signal.SIGKILL)
            await self._process.wait()
        self._process = None

    async def close(self) -> None:
        """Stop the server and delete its files."""
        await self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


async def private_postgres() -> PrivatePostgres:
    """A started private PostgreSQL, or skip (fail under SHAGYM_REQUIRE_SERVICES) without binaries."""
    bindir = _postgres_bindir()
    if bindir is None:
        _unavailable("initdb and pg_ctl not found (/usr/lib/postgresql/*/bin or PATH)")
    assert bindir is not None
    server = PrivatePostgres(bindir, Path(tempfile.mkdtemp(prefix="shagym-pg-")))
    try:
        await server.init()
    except BaseException:
        await server.close()
        raise
    return server


async def private_redis() -> PrivateRedis:
    """A started private Redis, or skip (fail under SHAGYM_REQUIRE_SERVICES) without redis-server."""
    binary = shutil.which("redis-server")
    if binary is None:
        _unavailable("redis-server not found on PATH")
    assert binary is not None
    server = PrivateRedis(binary, Path(tempfile.mkdtemp(prefix="shagym-redis-")))
    try:
        await server.start()
    except BaseException:
        await server.close()
        raise
    return server
