"""A real PostgreSQL for the store's tests: ``CLOSE_EVENTS_TEST_POSTGRES`` if set (a server CI or
a developer started), otherwise a throwaway cluster started here from the server binaries of
Debian's ``postgresql`` package (``initdb``/``pg_ctl``, as the ``postgres`` user when run as root),
stopped when the session ends. Each test gets a database of its own."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from glob import glob
from pathlib import Path

import psycopg
import pytest

_numbers = itertools.count()


def _server_binaries() -> Path:
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
    on_path = shutil.which("initdb")
    if found:
        return Path(found[-1]).parent
    if on_path:
        return Path(on_path).parent
    pytest.fail(
        "The store's tests need PostgreSQL: install its server (apt-get install -y postgresql) or set "
        "CLOSE_EVENTS_TEST_POSTGRES to a postgresql:// URL of a server they may create databases on."
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a server the tests may create databases on."""
    if url := os.environ.get("CLOSE_EVENTS_TEST_POSTGRES"):
        yield url
        return
    binaries = _server_binaries()
    home = Path(tempfile.mkdtemp(prefix="close-events-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(home, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = home / "data", _free_port()
    run = lambda *args: subprocess.run([*as_user, *args], check=True, capture_output=True)  # noqa: E731
    run(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    run(str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(home, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """A new, empty database on ``server_url``; its URL."""
    name = f"store_test_{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name
