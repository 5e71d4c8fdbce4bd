"""A real PostgreSQL server for the distributed tuning tests (initdb + pg_ctl in a temp dir)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("LRKIT_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_user() -> list[str]:
    # initdb refuses to run as root: run the server as the unprivileged postgres OS user.
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", PG_USER, "--"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Start a throwaway PostgreSQL on 127.0.0.1; yield its base URL; stop it by PID."""
    missing = [b for b in ("initdb", "pg_ctl", "postgres") if not (PG_BIN / b).exists()]
    if missing:
        print(f"skipping PostgreSQL tests: missing binaries {missing} in {PG_BIN}")
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN}: {', '.join(missing)}")
    pytest.importorskip("psycopg2", reason="psycopg2 is needed to talk to PostgreSQL")
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam(PG_USER)
        except KeyError:
            pytest.skip(f"running as root and no {PG_USER!r} OS user to run initdb as")
    root = Path(tempfile.mkdtemp(prefix="lrkit-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        os.chown(root, pw.pw_uid, pw.pw_gid)
    port = _free_port()
    pid: int | None = None
    try:
        subprocess.run(
            [
                *_as_user(),
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        opts = (
            f"-k {root} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c max_connections=200"
        )
        subprocess.run(
            [
                *_as_user(),
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(root / "log"),
                "-o",
                opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=90,
        )
        pid = int((data / "postmaster.pid").read_text().split()[0])
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        if data.exists():
            with contextlib.suppress(Exception):
                subprocess.run(
                    [
                        *_as_user(),
                        str(PG_BIN / "pg_ctl"),
                        "-D",
                        str(data),
                        "-m",
                        "immediate",
                        "-w",
                        "-t",
                        "20",
                        "stop",
                    ],
                    capture_output=True,
                    timeout=30,
                )
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_db(postgres_server: str) -> Callable[[], str]:
    """A factory of fresh, empty databases on the session's server (one URL per call)."""
    import psycopg2

    def make() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        conn = psycopg2.connect(f"{postgres_server}/postgres")
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE {name}")
        finally:
            conn.close()
        return f"{postgres_server}/{name}"

    return make
