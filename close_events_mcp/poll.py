"""What is new since last time, for unattended workflows.

Close's advice for polling: cursors do not stream new events (they can become visible out of
order, and recent events on one object are consolidated, which moves their ``date_updated``),
so rescan the latest five minutes and de-duplicate by event id. The checkpoint carries what is
needed for that — the watermark, and the events already delivered inside the overlap — so
it is self-contained and any replica can serve the next poll.

An event is delivered once per (id, date_updated): a consolidated event, whose date moved
because Close merged later changes into it, is delivered again and marked as such.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from close_events_mcp.close_api import CloseClient
from close_events_mcp.errors import ArgumentError
from close_events_mcp.event import Event
from close_events_mcp.filtering import plan_filters
from close_events_mcp.listing import Matches
from close_events_mcp.query import EventFilters
from close_events_mcp.scan import OnPage, ScanLimits, Scanner, from_micros, micros
from close_events_mcp.tokens import (
    CHECKPOINT,
    conflicting_filters,
    filters_body,
    filters_from_body,
    seal,
    unseal,
    valid_micros,
)

OVERLAP: Final = timedelta(minutes=5)
_ENTRY = struct.Struct(">8sq")


def _id_hash(event_id: str) -> bytes:
    return hashlib.blake2b(event_id.encode(), digest_size=8).digest()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    filters: EventFilters
    watermark: int
    """Everything before this microsecond (less the overlap) has been delivered."""
    floor: int
    """Nothing before this microsecond is ever delivered (the first poll's start)."""
    seen: dict[bytes, int] = field(default_factory=dict)
    """Events delivered inside the overlap: id hash → date_updated in microseconds."""

    def encode(self) -> str:
        packed = b"".join(_ENTRY.pack(h, at) for h, at in sorted(self.seen.items(), key=lambda kv: kv[1]))
        body = {
            **filters_body(self.filters),
            "w": self.watermark,
            "fl": self.floor,
            "h": base64.b64encode(packed).decode(),
        }
        return seal(CHECKPOINT, body)

    @classmethod
    def decode(cls, token: str, *, now: datetime) -> Checkpoint:
        body, _ = unseal(CHECKPOINT, token)
        watermark, floor, packed = body.get("w"), body.get("fl"), body.get("h", "")
        if not (valid_micros(watermark) and valid_micros(floor) and isinstance(packed, str)):
            raise CHECKPOINT.error()
        try:
            raw = base64.b64decode(packed, validate=True)
        except (binascii.Error, ValueError):
            raise CHECKPOINT.error() from None
        if len(raw) % _ENTRY.size or watermark > micros(now + OVERLAP) or floor > watermark:
            raise CHECKPOINT.error()
        seen = dict(_ENTRY.iter_unpack(raw))
        return cls(filters_from_body(CHECKPOINT, body, now=now), watermark, floor, seen)


@dataclass(slots=True)
class PollResult:
    delivered: list[tuple[Event, bool]]
    """New events, oldest first, each with whether it is a consolidated re-delivery."""
    checkpoint: str
    more: bool
    """More new events are waiting: poll again right away."""
    since: datetime
    until: datetime
    scanned: int


async def poll(
    client: CloseClient,
    filters: EventFilters,
    *,
    checkpoint: str | None,
    limit: int,
    now: datetime,
    limits: ScanLimits,
    on_page: OnPage | None = None,
) -> PollResult:
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
    plan = plan_filters(state.filters)
    window_start = max(state.floor, state.watermark - OVERLAP // timedelta(microseconds=1))
    result = await Scanner(
        client,
        plan.close,
        lambda: Matches(plan, frozenset(), 10**9),
        since=from_micros(window_start),
        until=now,
        limits=limits,
        order="oldest",
        on_page=on_page,
    ).run()
    found = sorted(
        (event for sink in result.sinks for event in sink.events), key=lambda e: (e.date_updated, e.id)
    )
    fresh = [
        (e, _id_hash(e.id) in state.seen)
        for e in found
        if state.seen.get(_id_hash(e.id)) != micros(e.date_updated)
    ]
    delivered = fresh[:limit]
    more = len(fresh) > limit or not result.complete
    if len(fresh) > limit:
        watermark = micros(delivered[-1][0].date_updated)
    elif not result.complete:
        watermark = result.covered_to
    else:
        watermark = micros(now)
    delivered_ids = {e.id for e, _ in delivered}
    keep_from = watermark - OVERLAP // timedelta(microseconds=1)
    seen = {
        _id_hash(e.id): micros(e.date_updated)
        for e in found
        if micros(e.date_updated) >= keep_from
        and (e.id in delivered_ids or state.seen.get(_id_hash(e.id)) == micros(e.date_updated))
    }
    new_state = Checkpoint(state.filters, watermark, state.floor, seen)
    return PollResult(delivered, new_state.encode(), more, from_micros(window_start), now, result.events)
