"""``close-events-mcp sync`` and ``store status|purge`` as real processes, against ``close-events-mcp
sandbox`` served on loopback with latency and a rate limit: a sync killed mid-run resumes and the
store then holds every event of Close's window exactly once; one sync at a time per store; status,
purge and ``check`` say what the store holds and where.

The emulator's events are rebuilt here from the same seed and day as the sandbox process builds
them (checked against the count it prints), so "what Close serves" is known without asking it.
Events keep arriving in real time (the demo's day unfolds until noon UTC), so the window is compared
as the runs saw it: everything dated in the window of the last run must be held, and nothing
outside the span of every run may be.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg
import pytest

from close_events_sandbox.seed import DEMO_API_KEY, build_demo_org
from close_events_sandbox.serve import demo_day

SCRIPT = Path(sys.executable).with_name("close-events-mcp")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "close_events_mcp"]
FILLER = 3000
LATENCY_MS = 100
RATE_LIMIT = 20
PATIENCE = 180.0
"""Seconds any wait here allows: generous, as a busy machine may be slow; the waits end as soon as
what they wait for happens."""
MONTH = timedelta(days=30)
ANOTHER_SYNC = "another sync of this organization is running on this store"


def end_process(process: subprocess.Popen[Any]) -> None:
    """Ask ``process`` to stop; kill it if it has not within 30 s."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port: int = sock.getsockname()[1]
        return port


def wait_until(condition: Callable[[], bool], what: str, alive: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if alive is not None and alive.poll() is not None:
            pytest.fail(f"the process ended (status {alive.returncode}) before {what}")
        assert time.monotonic() < deadline, f"gave up waiting {PATIENCE:g} s for {what}"
        time.sleep(0.02)


def _micros(stamp: str) -> int:
    moment = datetime.fromisoformat(stamp)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


def micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


@dataclass
class Sandbox:
    """A ``close-events-mcp sandbox`` process, and the events it serves."""

    base_url: str
    org_id: str
    dated: list[tuple[int, str]]
    """(date_updated in microseconds, id) of every event of its organization."""

    def ids_dated(self, low: datetime, high: datetime) -> set[str]:
        """The events the sandbox serves, or served, in ``[low, high]``."""
        return {event_id for at, event_id in self.dated if micros(low) <= at <= micros(high)}

    def env(self, store: str, key: str = DEMO_API_KEY, **extra: str) -> dict[str, str]:
        """The environment of a process using this sandbox as Close, and ``store``."""
        inherited = {name: value for name, value in os.environ.items() if not name.startswith("CLOSE_")}
        return {
            **inherited,
            "CLOSE_API_BASE_URL": self.base_url,
            "CLOSE_API_KEY": key,
            "CLOSE_EVENTS_STORE": store,
            **extra,
        }


@contextmanager
def sandbox_process(filler: int = FILLER) -> Iterator[Sandbox]:
    port = free_port()
    process = subprocess.Popen(
        [
            *COMMAND,
            "sandbox",
            "--port",
            str(port),
            "--latency",
            str(LATENCY_MS),
            "--rate-limit",
            str(RATE_LIMIT),
            "--filler-events",
            str(filler),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}/api/v1"
    org = build_demo_org(demo_day(datetime.now(UTC)), filler_events=filler)

    def answers() -> bool:
        try:
            httpx.get(base_url + "/me/", timeout=5)
        except httpx.TransportError:
            return False
        return True

    try:
        wait_until(answers, "the sandbox to answer", process)
        assert process.stderr is not None
        served = re.search(r"\((\d+) events\)", process.stderr.readline())
        assert served and int(served.group(1)) == len(org.events), "the sandbox serves the org rebuilt here"
        yield Sandbox(
            base_url,
            org.organization["id"],
            [(_micros(event["date_updated"]), event["id"]) for event in org.events],
        )
    finally:
        end_process(process)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with sandbox_process() as served:
        yield served


# --- The store, read directly --------------------------------------------------------------------


def stored(store: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on the store (its one SQLite file, or its PostgreSQL database); none while the
    store or its tables do not exist yet."""
    if store.startswith("postgresql://"):
        try:
            with psycopg.connect(store, connect_timeout=10) as connection:
                return list(connection.execute(sql).fetchall())  # type: ignore[arg-type]
        except psycopg.errors.UndefinedTable:
            return []
    files = sorted(Path(store).glob("*.sqlite3"))
    if not files:
        return []
    assert len(files) == 1, files
    with closing(sqlite3.connect(files[0], timeout=30)) as connection:
        try:
            return connection.execute(sql).fetchall()
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return []
            raise


def row_count(store: str) -> int:
    rows = stored(store, "SELECT COUNT(*) FROM events")
    return int(rows[0][0]) if rows else 0


def stored_ids(store: str) -> set[str]:
    """Every event the store holds, after checking it holds each once."""
    ((rows, distinct),) = stored(store, "SELECT COUNT(*), COUNT(DISTINCT id) FROM events")
    assert rows == distinct, f"{rows - distinct} events are stored twice"
    ids = [row[0] for row in stored(store, "SELECT id FROM events")]
    assert len(ids) == len(set(ids)) == rows
    return set(ids)


def assert_holds_the_window(sandbox: Sandbox, ids: set[str], first_start: datetime, last: Run) -> None:
    """``ids`` are what Close served in the window: every event dated in the last run's window (as
    late as it may have started, as early as it may have ended), nothing outside every run's."""
    must = sandbox.ids_dated(last.ended - MONTH, last.started)
    may = sandbox.ids_dated(first_start - MONTH, last.ended)
    assert len(must) > FILLER // 2, "the window holds the emulator's month"
    assert not must - ids, (
        f"{len(must - ids)} events of the window are missing, e.g. {sorted(must - ids)[:3]}"
    )
    assert not ids - may, f"{len(ids - may)} events were stored that Close never served in the window"


# --- The commands, as processes -------------------------------------------------------------------


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    started: datetime
    ended: datetime


def run_cli(sandbox: Sandbox, store: str, *args: str) -> Run:
    started = datetime.now(UTC)
    done = subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        env=sandbox.env(store),
        timeout=PATIENCE * 2,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr, started, datetime.now(UTC))


class Spawned:
    """A command running in the background; what it prints goes to files, read while it runs."""

    def __init__(self, sandbox: Sandbox, store: str, where: Path, *args: str) -> None:
        self.started = datetime.now(UTC)
        where.mkdir(parents=True, exist_ok=True)
        self.out_path, self.err_path = where / "stdout", where / "stderr"
        self._out: IO[str] = self.out_path.open("w")
        self._err: IO[str] = self.err_path.open("w")
        self.process = subprocess.Popen(
            [*COMMAND, *args], stdout=self._out, stderr=self._err, text=True, env=sandbox.env(store)
        )

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    def finish(self) -> Run:
        try:
            self.process.wait(timeout=PATIENCE * 2)
        finally:
            self.stop()
        return Run(self.process.returncode, self.stdout, self.stderr, self.started, datetime.now(UTC))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._out.close()
        self._err.close()


PASS_LINE = re.compile(r"read ([\d,]+) events from Close in ([\d,]+) requests .*; ([\d,]+) already held\.")


def pass_figures(run: Run) -> tuple[int, int]:
    """Events read from Close and events already held, as the pass's line says."""
    found = PASS_LINE.search(run.stdout)
    assert found, run.stdout + run.stderr
    return int(found.group(1).replace(",", "")), int(found.group(3).replace(",", ""))


# --- The tests ------------------------------------------------------------------------------------


def test_a_sync_killed_mid_run_resumes_and_then_holds_every_event_of_the_window_once(
    sandbox: Sandbox, store_setting: str, tmp_path: Path
) -> None:
    first = Spawned(sandbox, store_setting, tmp_path / "first", "sync")
    try:
        wait_until(
            lambda: row_count(store_setting) >= 300, "the first sync to keep some pages", first.process
        )
        assert first.process.poll() is None, "the first sync was to be killed before it finished"
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
    finally:
        first.stop()
    assert first.process.returncode == -signal.SIGKILL
    kept = stored_ids(store_setting)
    whole = sandbox.ids_dated(first.started - MONTH, datetime.now(UTC))
    assert 300 <= len(kept) < len(whole), "the kill came mid-run"

    second = run_cli(sandbox, store_setting, "sync")
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"Syncing {sandbox.org_id} into" in second.stdout
    read, held = pass_figures(second)
    assert held > 0, "what the killed run kept is not read again"
    assert read < len(whole), f"the second run read {read:,} events of {len(whole):,}"
    assert "Stopped early" not in second.stdout
    ids = stored_ids(store_setting)
    assert kept <= ids, "nothing the killed run kept is lost"
    assert_holds_the_window(sandbox, ids, first.started, second)


def test_a_second_sync_of_the_same_store_refuses_while_one_runs(sandbox: Sandbox, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    first = Spawned(sandbox, store, tmp_path / "first", "sync")
    try:
        wait_until(lambda: "Syncing" in first.stdout, "the first sync to take the lock", first.process)
        first.process.send_signal(signal.SIGSTOP)  # it keeps the lock, however slow the second is
        try:
            second = run_cli(sandbox, store, "sync")
        finally:
            first.process.send_signal(signal.SIGCONT)
        assert second.returncode == 1, second.stdout + second.stderr
        assert ANOTHER_SYNC in second.stderr
        assert "Syncing" not in second.stdout
        done = first.finish()
    finally:
        first.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert_holds_the_window(sandbox, stored_ids(store), first.started, done)


def test_status_purge_and_check_say_what_the_store_holds_and_where(sandbox: Sandbox, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    synced = run_cli(sandbox, store, "sync")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    events = row_count(store)

    status = run_cli(sandbox, store, "store", "status")
    assert status.returncode == 0, status.stderr
    assert f"Store: SQLite, one file per organization in {store}; retention 365 days." in status.stdout
    line = re.search(
        rf"Organization {sandbox.org_id}: ([\d,]+) events, ([\d,.]+) (bytes|KB|MB|GB) ", status.stdout
    )
    assert line, status.stdout
    assert int(line.group(1).replace(",", "")) == events
    assert float(line.group(2).replace(",", "")) > 0
    assert re.search(r"held complete \(every event\): \S+ → \S+", status.stdout), status.stdout

    cutoff = (datetime.now(UTC) - timedelta(days=15)).date()
    older = stored(store, f"SELECT COUNT(*) FROM events WHERE date_updated < {micros(_midnight(cutoff))}")
    purged = run_cli(sandbox, store, "store", "purge", "--before", cutoff.isoformat())
    assert purged.returncode == 0, purged.stdout + purged.stderr
    gone = older[0][0]
    assert 0 < gone < events
    assert f"Purged {gone:,} events dated before {cutoff.isoformat()}T00:00:00" in purged.stdout
    assert row_count(store) == events - gone
    assert not stored(store, f"SELECT id FROM events WHERE date_updated < {micros(_midnight(cutoff))}")

    after = run_cli(sandbox, store, "store", "status")
    assert f"Organization {sandbox.org_id}: {events - gone:,} events" in after.stdout, after.stdout

    check = run_cli(sandbox, store, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert (
        f"Local store: SQLite, one file per organization in {store}; {events - gone:,} events, "
        in check.stdout
    ), check.stdout


def _midnight(day: Any) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
