"""What is new since last time, for unattended workflows.

Close's advice for polling: cursors do not stream new events (they can become visible out of
order, and recent events on one object are consolidated, which moves their ``date_updated``),
so rescan the latest five minutes and de-duplicate by event id. The checkpoint carries what is
needed for that — the watermark, when it was read, and the events already delivered inside the
overlap — so it is self-contained and any replica can serve the next poll.

A poll walks forward in time from the checkpoint and reads only about as much as it delivers:
Close pages newest first, so the walk sizes a slice ``[from, to)`` that holds about ``limit``
events (from the density its first page shows, or the one the checkpoint remembers), reads that
slice whole, and moves on. A backlog of any size is delivered ``limit`` events a call, each call
costing about ``limit / 50`` requests, and the checkpoint always moves forward.

An event is delivered once per (id, date_updated): a consolidated event, whose date moved
because Close merged later changes into it, is delivered again and marked as such.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

import anyio

from close_events_mcp.close.client import CloseClient
from close_events_mcp.engine.page import Matches
from close_events_mcp.engine.scan import OnPage, ScanLimits, Scanner, StoreNarrowing
from close_events_mcp.errors import ArgumentError, RateLimited
from close_events_mcp.event import Event, format_timestamp, from_micros, micros
from close_events_mcp.query.filters import MAX_PAGE, EventFilters
from close_events_mcp.query.plan import FilterPlan, plan_filters
from close_events_mcp.query.tokens import (
    CHECKPOINT,
    conflicting_filters,
    filters_body,
    filters_from_body,
    seal,
    unseal,
    valid_micros,
)

if TYPE_CHECKING:
    from close_events_mcp.store.gateway import StoreGateway

OVERLAP: Final = timedelta(minutes=5)
_OVERLAP_MICROS: Final = OVERLAP // timedelta(microseconds=1)
_ENTRY = struct.Struct(">8sq")
_SLACK: Final = 1.5
"""A slice is read whole when it is expected to hold at most this many times what is wanted (plus a page);
otherwise it is narrowed first. Estimates come from one page, so some slack saves a narrowing."""
_MAX_NARROWING: Final = 8


def _id_hash(event_id: str) -> bytes:
    return hashlib.blake2b(event_id.encode(), digest_size=8).digest()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    filters: EventFilters
    resume: int
    """Where the next poll starts reading (microseconds): everything before it was delivered, and
    nothing dated before it can still appear late."""
    floor: int
    """Nothing before this microsecond is ever delivered (the first poll's start)."""
    seen: dict[bytes, int] = field(default_factory=dict)
    """Events delivered at or after ``resume``: id hash → date_updated in microseconds."""
    density: float = 0.0
    """Events per microsecond where the last poll stopped (0: unknown), to size the next slice."""

    def encode(self) -> str:
        packed = b"".join(_ENTRY.pack(h, at) for h, at in sorted(self.seen.items(), key=lambda kv: kv[1]))
        body = {
            **filters_body(self.filters),
            "at": self.resume,
            "fl": self.floor,
            "h": base64.b64encode(packed).decode(),
        }
        if self.density > 0:
            body["d"] = float(f"{self.density:.6g}")
        return seal(CHECKPOINT, body)

    @classmethod
    def decode(cls, token: str, *, now: datetime) -> Checkpoint:
        body, _ = unseal(CHECKPOINT, token)
        floor, packed, density = body.get("fl"), body.get("h", ""), body.get("d", 0.0)
        resume = body.get("at")
        if resume is None and valid_micros(body.get("w")) and valid_micros(floor):
            resume = max(floor, body["w"] - _OVERLAP_MICROS)  # a checkpoint of 0.x: a watermark
        if not (
            valid_micros(resume)
            and valid_micros(floor)
            and isinstance(packed, str)
            and isinstance(density, int | float)
            and not isinstance(density, bool)
            and math.isfinite(density)
            and density >= 0
        ):
            raise CHECKPOINT.error()
        try:
            raw = base64.b64decode(packed, validate=True)
        except (binascii.Error, ValueError):
            raise CHECKPOINT.error() from None
        if len(raw) % _ENTRY.size or resume > micros(now + OVERLAP) or floor > resume:
            raise CHECKPOINT.error()
        seen = dict(_ENTRY.iter_unpack(raw))
        filters = filters_from_body(CHECKPOINT, body, now=now)
        return cls(filters, resume, floor, seen, float(density))


@dataclass(slots=True)
class PollResult:
    """A poll's outcome. An answer may show fewer events than were read (it has a size cap):
    ``checkpoint(shown)`` then resumes right after the last event shown."""

    delivered: list[tuple[Event, bool]]
    """New events, oldest first, each with whether it is a consolidated re-delivery."""
    since: datetime
    until: datetime
    scanned: int
    requests: int
    complete: bool
    """Everything new up to ``until`` is in ``delivered``."""
    state: Checkpoint
    read_to: int
    """Every event before this microsecond was read (when ``delivered`` holds all that was new)."""
    density: float

    @property
    def more(self) -> bool:
        """More new events are waiting: poll again right away."""
        return not self.complete

    def more_after(self, shown: int) -> bool:
        return self.more or shown < len(self.delivered)

    def checkpoint(self, shown: int | None = None) -> str:
        """The checkpoint for an answer showing the first ``shown`` delivered events (default: all)."""
        shown = len(self.delivered) if shown is None else shown
        given = self.delivered[:shown]
        if shown == len(self.delivered):
            frontier = self.read_to
        else:
            frontier = micros(given[-1][0].date_updated) if given else self.state.resume
        # Events dated within OVERLAP of this read may still appear late: read them again next time.
        resume = max(self.state.floor, min(frontier, micros(self.until) - _OVERLAP_MICROS))
        resume = max(resume, self.state.resume)
        seen = {h: at for h, at in self.state.seen.items() if at >= resume}
        seen.update(
            (_id_hash(e.id), micros(e.date_updated)) for e, _ in given if micros(e.date_updated) >= resume
        )
        return Checkpoint(self.state.filters, resume, self.state.floor, seen, self.density).encode()


@dataclass(slots=True)
class _Walk:
    """One poll's walk forward from the checkpoint."""

    client: CloseClient
    plan: FilterPlan
    state: Checkpoint
    limits: ScanLimits
    on_page: OnPage | None
    store: StoreGateway | None = None
    found: list[Event] = field(default_factory=list)
    requests: int = 0
    events_read: int = 0
    density: float = 0.0
    """Events per microsecond where the walk is: sizes the next slice."""

    def fresh(self) -> list[tuple[Event, bool]]:
        seen = self.state.seen
        ordered = sorted(self.found, key=lambda e: (e.date_updated, e.id))
        return [
            (e, _id_hash(e.id) in seen) for e in ordered if seen.get(_id_hash(e.id)) != micros(e.date_updated)
        ]

    async def _count(self, pages: int, events: int) -> None:
        self.requests += pages
        self.events_read += events
        if self.on_page is not None:
            await self.on_page(self.requests, self.events_read)

    async def first_page(self, low: int, high: int, size: int = MAX_PAGE) -> tuple[list[Event], bool]:
        """The newest page of ``[low, high)``, and whether it holds all of it."""
        params = {
            **self.plan.close.to_params(),
            "date_updated__gte": format_timestamp(from_micros(low), "microseconds"),
            "date_updated__lt": format_timestamp(from_micros(high), "microseconds"),
            "_limit": str(size),
        }
        page = await self.client.list_events(params)
        raws = [raw for raw in page["data"] if isinstance(raw, dict)]
        events = [Event.from_close(raw) for raw in raws]
        if self.store is not None:
            await self.store.keep(raws)
        await self._count(1, len(events))
        cursor = page.get("cursor_next")
        return events, not (isinstance(cursor, str) and cursor and events)

    async def read_whole(self, low: int, high: int) -> int:
        """Read every event of ``[low, high)``; returns how far (from ``low``) it was read."""
        result = await Scanner(
            self.client,
            self.plan.close,
            lambda: Matches(self.plan, frozenset(), 10**9),
            since=from_micros(low),
            until=from_micros(high),
            limits=self.limits,
            order="oldest",
            on_page=self._scan_progress(),
            store=self.store,
            narrowing=StoreNarrowing.of(self.plan),
        ).run()
        self.found += (event for sink in result.sinks for event in sink.events)
        return result.covered_to

    def _scan_progress(self) -> OnPage:
        before_pages, before_events = self.requests, self.events_read

        async def report(pages: int, events: int) -> None:
            self.requests, self.events_read = before_pages + pages, before_events + events
            if self.on_page is not None:
                await self.on_page(self.requests, self.events_read)

        return report

    def out_of_budget(self, soft_deadline: float) -> bool:
        return self.requests >= self.limits.max_pages or anyio.current_time() >= soft_deadline

    async def forward(self, low: int, end: int, limit: int) -> int:
        """Read forward from ``low`` until ``limit`` new events are found or ``end`` is reached, a slice
        sized to hold about what is still wanted at a time; returns how far everything was read."""
        span = limit / self.density if self.density > 0 else None
        started, deadline = anyio.current_time(), anyio.current_effective_deadline()
        share = self.limits.time_share
        soft_deadline = started + (deadline - started) * share if math.isfinite(deadline) else math.inf
        narrowed = 0
        while low < end and len(self.fresh()) < limit and not self.out_of_budget(soft_deadline):
            wanted = limit - len(self.fresh())
            high = end if span is None else min(end, low + max(int(span), 1))
            try:
                page, whole = await self.first_page(low, high)
            except RateLimited:
                if not self.requests:
                    raise
                break  # deliver what was read; the checkpoint goes on from there
            if whole:
                self.found += (e for e in page if self.plan.matches(e))
                read_to = high
            else:
                oldest = micros(page[-1].date_updated)
                self.density = len(page) / max(high - oldest, 1)
                expected = self.density * (high - low)
                if expected > _SLACK * wanted + MAX_PAGE and high - low > 1 and narrowed < _MAX_NARROWING:
                    span, narrowed = (wanted + MAX_PAGE / 2) / self.density, narrowed + 1
                    continue
                read_to = await self.read_whole(low, high)
            if read_to > low:
                gained = sum(1 for e in self.found if low <= micros(e.date_updated) < read_to)
                self.density = max(gained, 1) / (read_to - low)
                span = max(wanted - gained, MAX_PAGE) / self.density if gained else (read_to - low) * 4
            narrowed = 0
            if read_to < high:  # the scan's budget ran out inside the slice
                return read_to
            low = read_to
        return low


async def poll(
    client: CloseClient,
    filters: EventFilters,
    *,
    checkpoint: str | None,
    limit: int,
    now: datetime,
    limits: ScanLimits,
    on_page: OnPage | None = None,
    store: StoreGateway | None = None,
) -> PollResult:
    """What is new since ``checkpoint``; with a store, what it holds completely is read from it (and
    what Close returns is kept in it), so a checkpoint resumes exactly where it left off whichever
    process serves it."""
    if checkpoint:
        state = Checkpoint.decode(checkpoint, now=now)
        conflicts = conflicting_filters(state.filters, filters)
        if conflicts:
            raise ArgumentError(
                f"checkpoint belongs to a poll with different {', '.join(conflicts)}; pass the same filters "
                "(or none) with it, or start a new poll without checkpoint."
            )
    else:
        start = micros(filters.since or now)
        state = Checkpoint(filters, start, start)
    walk = _Walk(client, plan_filters(state.filters), state, limits, on_page, store, density=state.density)
    end = micros(now)
    low = await walk.forward(state.resume, end, limit)
    if walk.requests == 0:
        # Nothing to read yet (a first poll from now): one request all the same, so a wrong key or
        # an unreachable Close fails this call, not the next.
        await walk.first_page(end, end + 1, size=1)
    fresh = walk.fresh()
    delivered = fresh[:limit]
    complete = low >= end and len(fresh) <= limit
    read_to = low if len(fresh) <= limit else micros(delivered[-1][0].date_updated)
    return PollResult(
        delivered,
        since=from_micros(state.resume),
        until=now,
        scanned=walk.events_read,
        requests=walk.requests,
        complete=complete,
        state=state,
        read_to=read_to,
        density=walk.density,
    )
