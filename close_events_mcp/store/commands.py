"""The store's commands: ``sync`` (``--follow``), ``store status`` and ``store purge``. What they
print is for the person at the terminal; it names places and counts, never what the events say."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx

from close_events_mcp.close.client import CloseClient
from close_events_mcp.config import Settings
from close_events_mcp.errors import UserFacingError
from close_events_mcp.event import format_timestamp, from_micros, micros, parse_timestamp
from close_events_mcp.store import gateway_for
from close_events_mcp.store.backends import SqliteDatabase, StoreFailed
from close_events_mcp.store.events import EventStore, StoreStatus
from close_events_mcp.store.gateway import Owner, StoreGateway
from close_events_mcp.store.location import StorePlace, store_place
from close_events_mcp.store.sync import FOLLOW_EVERY, Pass, sync_pass

OFF = (
    "The local store is off (CLOSE_EVENTS_STORE=off): unset it to keep events in SQLite under the user "
    "data directory, or set it to a path or a postgresql:// address."
)


def _fail(message: str) -> int:
    print(f"close-events-mcp: {message}", file=sys.stderr)
    return 1


class _Unusable(Exception):
    """The store is off or cannot be opened: the message says which."""


@asynccontextmanager
async def _opened(
    settings: Settings, client: CloseClient, clock: Callable[[], datetime]
) -> AsyncIterator[tuple[StoreGateway, EventStore]]:
    """The credential's organization's store, open for a command, closed after it."""
    gateway = gateway_for(settings, clock)
    if gateway is None:
        raise _Unusable(OFF)
    gateway.owner = Owner.from_me(await client.me())  # Close's refusal is the command's error
    store = await gateway.open(client)
    if store is None:
        raise _Unusable(f"the local store ({gateway.where}) cannot be used: {gateway.failure or 'unknown'}.")
    try:
        yield gateway, store
    finally:
        gateway.close()


async def run_sync(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None,
    *,
    follow: bool,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    try:
        async with (
            CloseClient(settings, transport=transport) as client,
            _opened(settings, client, clock) as (gateway, store),
        ):
            with store.database.syncer_lock(store.org_id) as mine:
                if not mine:
                    return _fail(
                        "another sync of this organization is running on this store; it keeps the store "
                        "filled for every server sharing it."
                    )
                print(f"Syncing {store.org_id} into {gateway.where}.", flush=True)
                while True:
                    done = await sync_pass(
                        client, gateway, concurrency=settings.scan_concurrency, clock=clock
                    )
                    print(pass_line(done, clock()), flush=True)
                    if (note := gateway.take_note()) is not None:
                        return _fail(note)
                    if not follow:
                        return 0 if not done.missing else 1
                    await anyio.sleep(FOLLOW_EVERY.total_seconds())
    except _Unusable as error:
        return _fail(str(error))
    except UserFacingError as error:
        return _fail(f"sync stopped: {error} Run it again: it goes on from where it stopped.")
    except StoreFailed as error:
        return _fail(f"sync stopped: the store failed ({error}).")


def pass_line(done: Pass, now: datetime) -> str:
    rate = done.requests / done.seconds if done.seconds > 0 else 0.0
    line = (
        f"{format_timestamp(now)} read {done.read:,} events from Close in {done.requests:,} requests "
        f"({done.seconds:.1f} s, {rate:.1f} requests/s); {done.held:,} already held."
    )
    if done.missing:
        line += f" Stopped early ({done.cut_by or 'error'}): run sync again to go on."
    return line


def statuses(place: StorePlace) -> list[StoreStatus]:
    """Every organization the store holds, without asking Close."""
    if place.kind == "postgresql":
        database = place.open("")
        try:
            with database.transaction(write=False) as tx:
                orgs = [row[0] for row in tx.execute("SELECT org_id FROM store_owner ORDER BY org_id")]
            return [EventStore(database, org).status() for org in orgs]
        finally:
            database.close()
    files = (
        [Path(place.target)] if place.kind == "sqlite-file" else sorted(Path(place.target).glob("*.sqlite3"))
    )
    found = []
    for path in files:
        if not path.exists():
            continue
        database = SqliteDatabase(path)
        try:
            with database.transaction(write=False) as tx:
                orgs = [row[0] for row in tx.execute("SELECT org_id FROM store_owner")]
            found += [EventStore(database, org).status() for org in orgs]
        finally:
            database.close()
    return found


def status_lines(status: StoreStatus) -> list[str]:
    held = ", ".join(
        f"{format_timestamp(from_micros(a))} → {format_timestamp(from_micros(b))}" for a, b in status.held
    )
    span = (
        f"{format_timestamp(from_micros(status.oldest))} → {format_timestamp(from_micros(status.newest))}"
        if status.oldest is not None and status.newest is not None
        else "none"
    )
    return [
        f"Organization {status.org_id}: {status.events:,} events, {_size(status.size_bytes)} "
        f"({status.kind}, {status.where})",
        f"  dated {span}",
        f"  held complete (every event): {held or 'nothing yet (run close-events-mcp sync)'}",
    ]


def run_status(settings: Settings) -> int:
    place = store_place(settings.store)
    if place is None:
        print(OFF)
        return 0
    try:
        found = statuses(place)
    except StoreFailed as error:
        return _fail(f"the store cannot be read: {error}")
    print(f"Store: {place.describe()}; retention {_retention(settings.store_retention_days)}.")
    if not found:
        print("It holds nothing yet: every tool call fills it, and close-events-mcp sync fills it ahead.")
    for status in found:
        print("\n".join(status_lines(status)))
    return 0


async def run_purge(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None,
    before: str | None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    cutoff = None
    if before is not None:
        moment = parse_timestamp(before)
        if moment is None:
            return _fail(
                f"--before wants a date or time such as 2026-09-01 or 2026-09-01T12:00:00Z, got {before!r}."
            )
        cutoff = micros(moment)
    try:
        async with (
            CloseClient(settings, transport=transport) as client,
            _opened(settings, client, clock) as (gateway, store),
        ):
            gone = await anyio.to_thread.run_sync(store.purge, cutoff)
    except _Unusable as error:
        return _fail(str(error))
    except UserFacingError as error:
        return _fail(f"purge needs to know the credential's organization: {error}")
    except StoreFailed as error:
        return _fail(f"nothing was purged: {error}.")
    when = f"dated before {format_timestamp(from_micros(cutoff))}" if cutoff is not None else "(all)"
    print(f"Purged {gone:,} events {when} of {store.org_id} from {gateway.where}.")
    return 0


def _size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} bytes"


def _retention(days: int) -> str:
    return "for ever (CLOSE_EVENTS_STORE_RETENTION=0)" if days == 0 else f"{days} days"


def store_summary(settings: Settings) -> str:
    """One line for ``check``: where the store is and how big."""
    place = store_place(settings.store)
    if place is None:
        if settings.demo:
            return "Local store: off for the demo organization (set CLOSE_EVENTS_STORE to keep its events)."
        return "Local store: off (CLOSE_EVENTS_STORE=off)."
    try:
        found = statuses(place)
    except StoreFailed as error:
        return f"Local store: {place.describe()}, which cannot be read ({error})."
    events = sum(s.events for s in found)
    size = sum(s.size_bytes for s in found)
    retention = _retention(settings.store_retention_days)
    return f"Local store: {place.describe()}; {events:,} events, {_size(size)}; retention {retention}."
