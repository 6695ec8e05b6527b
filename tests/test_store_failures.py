"""A store that cannot be used, or is set up oddly, never stops an answer and never shows a secret:
several PostgreSQL hosts in one address, a file made readable by others, a locked file."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from close_events_mcp import cli
from tests.test_store import Setup, ask

pytestmark = pytest.mark.anyio
PASSWORD = "pw-0f-several-hosts"


async def test_an_address_with_several_postgres_hosts_falls_back_once_without_its_password(demo_org):
    address = f"postgresql://someone:{PASSWORD}@127.0.0.1:9,127.0.0.2:9/events?sslmode=disable"
    async with Setup(demo_org, address).client() as client:
        first, page = await ask(client, "list_events", limit=3)
        second, _ = await ask(client, "list_events", limit=3)
    assert page["count"] == 3
    assert "could not be used" in first and "127.0.0.1:9,127.0.0.2:9" in first
    assert "could not be used" not in second
    assert PASSWORD not in first + second


def test_store_status_of_several_postgres_hosts_says_so_without_a_traceback(monkeypatch, capsys):
    monkeypatch.setenv("CLOSE_EVENTS_STORE", f"postgresql://someone:{PASSWORD}@127.0.0.1:9,127.0.0.2:9/db")
    assert cli.main(["store", "status"]) == 1
    out, err = capsys.readouterr()
    assert "cannot be reached" in err and "Traceback" not in err
    assert PASSWORD not in out + err


async def test_a_store_file_others_could_read_is_made_private(tmp_path, demo_org):
    path = tmp_path / "events.sqlite3"
    sqlite3.connect(path).close()
    path.chmod(0o644)
    async with Setup(demo_org, str(path)).client() as client:
        await ask(client, "summarize_events", since="2d")
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


def test_purge_on_a_locked_store_says_nothing_was_purged(tmp_path, demo_org, monkeypatch, capsys):
    store = tmp_path / "locked"
    monkeypatch.setenv("CLOSE_EVENTS_STORE", str(store))
    assert cli.main(["sync", "--demo"]) == 0
    capsys.readouterr()
    (path,) = store.glob("*.sqlite3")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert cli.main(["store", "purge", "--demo"]) == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert "locked" in err and "This answer" not in err


async def test_a_stored_event_that_cannot_be_read_is_said_once_and_close_answers(tmp_path, demo_org):
    store = tmp_path / "store"
    setup = Setup(demo_org, str(store))
    async with setup.client() as client:
        _, before = await ask(client, "summarize_events", since="3d")
    (path,) = store.glob("*.sqlite3")
    with sqlite3.connect(path) as damage:
        damage.execute("UPDATE events SET body = '{not json' WHERE id IN (SELECT id FROM events LIMIT 5)")
    async with setup.client() as client:
        first, after = await ask(client, "summarize_events", since="3d")
        second, again = await ask(client, "summarize_events", since="3d")
    assert "could not be used" in first and "cannot read" in first
    assert "could not be used" not in second
    assert after["total"] == again["total"] == before["total"]
