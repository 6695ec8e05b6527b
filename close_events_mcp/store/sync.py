"""``close-events-mcp sync``: fill the store with everything Close still has, ahead of any question,
and (``--follow``) keep it filled.

A pass is a scan of Close's whole retention with no filter, through the store: what the store
already holds completely is not read again, so a pass that was killed resumes where it stopped
(every page is kept with the range it completes, in one transaction), and a pass after a pass reads
only the newest stretch (the latest hour always, as events still arrive and merge there). One
syncer runs per organization at a time (a lock file beside SQLite, an advisory lock on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio

from close_events_mcp.catalog import RETENTION_DAYS
from close_events_mcp.close.client import CloseClient
from close_events_mcp.engine.scan import ScanLimits, Scanner, ScanResult, StoreNarrowing
from close_events_mcp.event import Event
from close_events_mcp.query.filters import EventFilters
from close_events_mcp.store.gateway import StoreGateway

_UNBOUNDED = 2**62
FOLLOW_EVERY = timedelta(seconds=60)
"""How often ``sync --follow`` reads what is new."""


@dataclass(slots=True)
class _Count:
    """A scan sink that only counts: sync keeps events in the store, not in memory."""

    events: int = 0

    def add(self, event: Event) -> None:
        self.events += 1

    @property
    def satisfied(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class Pass:
    read: int
    """Events read from Close."""
    requests: int
    held: int
    """Events the store already held completely (not read again)."""
    seconds: float
    missing: bool
    """Part of the window could not be read (the pass ended early, see ``cut_by``)."""
    cut_by: str | None


async def sync_pass(
    client: CloseClient, gateway: StoreGateway, *, concurrency: int, clock: Callable[[], datetime]
) -> Pass:
    """Read everything Close keeps that the store does not hold yet."""
    now = clock()
    started = anyio.current_time()
    result: ScanResult[_Count] = await Scanner(
        client,
        EventFilters(),
        _Count,
        since=now - timedelta(days=RETENTION_DAYS),
        until=now,
        limits=ScanLimits(
            max_events=_UNBOUNDED, max_pages=_UNBOUNDED, concurrency=concurrency, time_share=1.0
        ),
        store=gateway,
        narrowing=StoreNarrowing(count_only=True),
    ).run()
    return Pass(
        read=result.events,
        requests=result.pages,
        held=result.stored,
        seconds=anyio.current_time() - started,
        missing=not result.complete,
        cut_by=result.cut_by,
    )
