"""PostgreSQL and Redis for the production drill: Debian's packages, run by us in a temporary folder
on free ports, never as system services.

A machine without them gets them (``apt-get update`` once, then ``apt-get install -y``). PostgreSQL
refuses to run as root, so the cluster belongs to the ``postgres`` user (``initdb`` through
``runuser``, the server started as that user). Both servers get SIGTERM if this process dies
(``PR_SET_PDEATHSIG``), so a killed drill leaves no database running on a shared machine.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dev.local_airflow import free_port

APT_PACKAGES = {"postgresql": "postgresql", "redis-server": "redis-server"}


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def ensure_packages(say: Callable[[str], None] = print) -> None:
    """Install PostgreSQL and Redis from Debian's packages if either is missing."""
    missing = []
    if _postgres_bin() is None:
        missing.append(APT_PACKAGES["postgresql"])
    if shutil.which("redis-server") is None:
        missing.append(APT_PACKAGES["redis-server"])
    if not missing:
        return
    say(f"installing {' '.join(missing)} (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)
    if _postgres_bin() is None or shutil.which("redis-server") is None:
        raise RuntimeError(f"apt-get installed {missing} but the programs are still missing")


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the drill process dies (Linux ``prctl``)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Server:
    """One server process we started, with its log."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, sig: int = signal.SIGTERM, grace: float = 20.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)

    def check(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} exited ({self.popen.returncode}):\n{tail}")


def _wait_for_port(server: Server, port: int, timeout: float) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.check()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} not listening on {port} after {timeout:.0f} s")


@dataclass
class Postgres:
    """A running cluster: :attr:`url` is what Airflow's ``sql_alchemy_conn`` takes."""

    folder: Path
    port: int
    server: Server
    database: str = "airflow"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{self.database}"

    def dump(self, path: Path) -> Path:
        """``pg_dump --data-only`` of the whole database as plain SQL text (for the secrets search)."""
        bin_dir = _postgres_bin()
        assert bin_dir is not None
        with path.open("wb") as out:
            subprocess.run(
                [
                    *("runuser", "-u", "postgres", "--", str(bin_dir / "pg_dump")),
                    *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"),
                    *("--data-only", self.database),
                ],
                stdout=out,
                check=True,
                timeout=300,
            )
        return path


@contextlib.contextmanager
def postgres(root: Path, max_connections: int = 300) -> Iterator[Postgres]:
    """A fresh cluster under ``root`` (owned by ``postgres``) with an ``airflow`` database."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (ensure_packages installs it)")
    user = pwd.getpwnam("postgres")
    folder = root / "postgres"
    folder.mkdir(parents=True)
    os.chown(folder, user.pw_uid, user.pw_gid)
    os.chmod(root, 0o755)  # the postgres user must reach its folder
    subprocess.run(
        [
            *("runuser", "-u", "postgres", "--", str(bin_dir / "initdb")),
            *("-D", str(folder / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8"),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=300,
    )
    port = free_port()
    log_path = root / "postgres.log"
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            [
                *(str(bin_dir / "postgres"), "-D", str(folder / "data"), "-p", str(port)),
                *("-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={folder}"),
                *("-c", f"max_connections={max_connections}", "-c", "fsync=off"),
                *("-c", "shared_buffers=128MB", "-c", "synchronous_commit=off"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            user=user.pw_uid,
            group=user.pw_gid,
            extra_groups=[],
            cwd=folder,
            preexec_fn=_die_with_parent,
        )
    server = Server("postgres", popen, log_path)
    try:
        _wait_for_port(server, port, 60)
        for attempt in range(20):
            done = subprocess.run(
                [
                    *("runuser", "-u", "postgres", "--", str(bin_dir / "createdb")),
                    *("-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "airflow"),
                ],
                capture_output=True,
                timeout=60,
            )
            if done.returncode == 0:
                break
            if attempt == 19:
                raise RuntimeError(f"createdb failed: {done.stderr.decode(errors='replace')}")
            time.sleep(0.5)
        yield Postgres(folder, port, server)
    finally:
        server.stop(signal.SIGINT)  # PostgreSQL's "fast" shutdown


@dataclass
class Redis:
    port: int
    server: Server

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def contents(self) -> bytes:
        """Every key and value in every database, as bytes (for the secrets search)."""
        import redis

        out: list[bytes] = []
        for db in range(16):
            client: Any = redis.Redis(host="127.0.0.1", port=self.port, db=db)  # sync: not awaitables
            for key in client.scan_iter(count=1000):
                out.append(bytes(key))
                kind = client.type(key)
                values: list[Any] = []
                if kind == b"string":
                    values = [client.get(key) or b""]
                elif kind == b"list":
                    values = list(client.lrange(key, 0, -1))
                elif kind == b"hash":
                    values = [part for pair in client.hgetall(key).items() for part in pair]
                elif kind == b"set":
                    values = list(client.smembers(key))
                elif kind == b"zset":
                    values = list(client.zrange(key, 0, -1))
                out.extend(v if isinstance(v, bytes) else str(v).encode() for v in values)
            client.close()
        return b"\n".join(out)


@contextlib.contextmanager
def redis_server(root: Path) -> Iterator[Redis]:
    """A Redis on a free port, no persistence (the Celery broker and result backend)."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("redis-server is not installed (ensure_packages installs it)")
    port = free_port()
    folder = root / "redis"
    folder.mkdir(parents=True)
    log_path = root / "redis.log"
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            [
                *(executable, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    server = Server("redis", popen, log_path)
    try:
        _wait_for_port(server, port, 30)
        yield Redis(port, server)
    finally:
        server.stop()
