"""The store's settings: ``CLOSE_EVENTS_STORE_RETENTION`` (events older than it are dropped when a
store is opened; 0 keeps everything; a bad value is refused naming the variable), and a PostgreSQL
address's password, which no output ever shows: not ``store status``, ``check``, ``sync``, the
note that the store could not be used, nor the logs."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from close_events_mcp import cli
from close_events_mcp.config import ConfigError, settings_from_env
from close_events_mcp.event import micros
from close_events_mcp.store.events import EventStore, StoreStatus
from close_events_mcp.store.location import store_place
from close_events_sandbox.org import DemoOrg
from tests.conftest import NOW
from tests.test_store import Setup, ask
from tests.test_store_sync import COMMAND

pytestmark = pytest.mark.anyio
PASSWORD = "SECRETPW-c4n4ry-7e1d"


def status_of(store: str, org_id: str) -> StoreStatus:
    place = store_place(store)
    assert place is not None
    database = place.open(org_id)
    try:
        return EventStore(database, org_id).status()
    finally:
        database.close()


def in_days(demo_org: DemoOrg, days: int) -> int:
    since = (NOW - timedelta(days=days)).replace(tzinfo=None).isoformat(timespec="microseconds")
    return sum(1 for e in demo_org.events if since <= e["date_updated"][:26])


@pytest.mark.parametrize("days", [7, 0])
async def test_a_store_opened_later_keeps_only_its_retention(
    store_setting: str, demo_org: DemoOrg, days: int
) -> None:
    org_id = demo_org.organization["id"]
    setup = Setup(demo_org, store_setting)
    async with setup.client() as client:
        _, month = await ask(client, "summarize_events", since="30d")
    filled = status_of(store_setting, org_id)
    assert filled.events == month["total"] == in_days(demo_org, 30) > in_days(demo_org, 7)

    kept = Setup(demo_org, store_setting, store_retention_days=days)
    kept.sandbox = setup.sandbox
    async with kept.client() as client:
        _, recent = await ask(client, "summarize_events", since="2d")  # opens the store
        after = status_of(store_setting, org_id)
        text, older = await ask(client, "summarize_events", since="20d", until=_iso(NOW - timedelta(days=10)))
    if days == 0:
        assert after.events == filled.events and after.oldest == filled.oldest, "0 keeps everything"
        assert after.held == filled.held
        assert "From the local store" in text
    else:
        assert after.events == in_days(demo_org, days) < filled.events
        assert after.oldest is not None and after.oldest >= micros(NOW - timedelta(days=days))
        assert after.held and all(start >= micros(NOW - timedelta(days=days)) for start, _ in after.held), (
            "no range of dropped events is said to be held"
        )
        assert "From the local store" not in text, "what was dropped is read from Close again"
    assert recent["total"] == in_days(demo_org, 2)
    assert older["complete"] and older["total"] == in_days(demo_org, 20) - in_days(demo_org, 10)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("value", ["-1", "ten", "1.5", "36501", "7d"])
def test_a_bad_retention_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="CLOSE_EVENTS_STORE_RETENTION") as refused:
        settings_from_env({"CLOSE_EVENTS_STORE_RETENTION": value})
    assert repr(value) in str(refused.value)


def test_retention_defaults_to_a_year_and_0_is_for_ever() -> None:
    assert settings_from_env({}).store_retention_days == 365
    assert settings_from_env({"CLOSE_EVENTS_STORE_RETENTION": "0"}).store_retention_days == 0
    assert settings_from_env({"CLOSE_EVENTS_STORE_RETENTION": " 30 "}).store_retention_days == 30


# --- The password of a PostgreSQL store -----------------------------------------------------------


def with_password(url: str) -> str:
    """``url`` with the canary password (the test cluster trusts every local connection, so it works)."""
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{PASSWORD}@{host}"


DOWN = f"postgresql://canary:{PASSWORD}@127.0.0.1:9/none"


def test_the_password_is_one_of_the_settings_secrets() -> None:
    assert PASSWORD in settings_from_env({"CLOSE_EVENTS_STORE": DOWN}).secrets


def test_the_settings_repr_never_shows_the_password() -> None:
    assert PASSWORD not in repr(settings_from_env({"CLOSE_EVENTS_STORE": DOWN}))


@pytest.fixture(params=["reachable", "down"])
def password_store(request: pytest.FixtureRequest) -> str:
    """A PostgreSQL store whose address carries the canary password: one that works, one that is down."""
    if request.param == "down":
        return DOWN
    from tests.postgres import fresh_database  # noqa: PLC0415

    return with_password(fresh_database(request.getfixturevalue("postgres_url")))


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record at DEBUG, also once the CLI has replaced the root logger's handlers."""
    for name in (None, "httpx", "close_events_mcp", "mcp", "psycopg", "psycopg.pool"):
        caplog.set_level(logging.DEBUG, logger=name)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield caplog
    root.handlers[:] = handlers
    root.setLevel(level)


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [formatter.format(record) + repr(record.args) + repr(record.exc_info) for record in caplog.records]


async def test_the_store_password_never_shows_in_answers_or_logs(
    password_store: str, demo_org: DemoOrg, debug_logs: pytest.LogCaptureFixture
) -> None:
    outputs: list[str] = []
    async with Setup(demo_org, password_store, log_level="DEBUG").client() as client:
        for tool, arguments in (
            ("list_events", {"limit": 5}),
            ("summarize_events", {"since": "7d"}),
            ("poll_events", {"since": "1d", "limit": 5}),
            ("get_event", {"event_id": demo_org.events[-1]["id"]}),
        ):
            text, structured = await ask(client, tool, **arguments)
            outputs += [text, repr(structured)]
    noted = "\n".join(outputs)
    down = password_store == DOWN
    assert ("could not be used" in noted) == down, noted[:2000]
    if down:
        assert "postgresql://canary@127.0.0.1:9/none" in noted, (
            "the note names the store, without its password"
        )
    outputs += logged(debug_logs)
    assert not [text[:300] for text in outputs if PASSWORD in text]


def test_the_store_password_never_shows_in_the_commands(
    password_store: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    original = cli.configure_logging

    def keep_capturing(level: str, secrets: Any) -> None:
        original(level, secrets)
        logging.getLogger().addHandler(debug_logs.handler)

    monkeypatch.setattr(cli, "configure_logging", keep_capturing)
    monkeypatch.setenv("CLOSE_EVENTS_STORE", password_store)
    monkeypatch.setenv("CLOSE_EVENTS_LOG_LEVEL", "DEBUG")
    outputs: list[str] = []
    codes = {}
    for name, argv in (
        ("sync", ["sync", "--demo"]),
        ("status", ["store", "status"]),
        ("check", ["check", "--demo"]),
        ("purge", ["store", "purge", "--demo", "--before", "2026-01-01"]),
    ):
        codes[name] = cli.main(argv)
        captured = capsys.readouterr()
        outputs.append(captured.out + captured.err)
    printed = "\n".join(outputs)
    if password_store != DOWN:
        assert codes == {"sync": 0, "status": 0, "check": 0, "purge": 0}, printed
        assert "Organization " in printed and "Local store: PostgreSQL postgresql://postgres@" in printed
    else:
        assert codes["sync"] == codes["status"] == codes["purge"] == 1 and codes["check"] == 0, printed
        assert "Local store: PostgreSQL postgresql://canary@127.0.0.1:9/none, which cannot be read" in printed

    process = subprocess.run(
        [*COMMAND, "store", "status", "--log-level", "DEBUG"],
        capture_output=True,
        text=True,
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(Path.home()),
            "CLOSE_EVENTS_STORE": password_store,
        },
        timeout=120,
        check=False,
    )
    outputs += [process.stdout, process.stderr]
    assert "postgresql://" in process.stdout + process.stderr, "the store is named, without its password"
    outputs += logged(debug_logs)
    assert not [text[:300] for text in outputs if PASSWORD in text]
