"""What an answer says about the local store: which part of it the store gave, and which part no
source holds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from close_events_mcp import catalog
from close_events_mcp.event import format_timestamp, from_micros

if TYPE_CHECKING:
    from close_events_mcp.engine.scan import ScanResult


def store_notes(result: ScanResult[Any]) -> list[str]:
    """``From the local store: 1,204 events …``, and a line per stretch neither Close nor the store holds."""
    notes = []
    if result.stored:
        until = f" up to {format_timestamp(from_micros(result.stored_until))}" if result.stored_until else ""
        notes.append(
            f"From the local store: {result.stored:,} events of this window, held complete{until}; "
            f"from Close: {result.events:,} read."
        )
    for start, end in result.missing:
        notes.append(
            f"Missing: {format_timestamp(from_micros(start))} → {format_timestamp(from_micros(end))} is "
            f"older than Close keeps ({catalog.RETENTION_DAYS} days) and the local store does not hold it; "
            "no event of that time is in this answer."
        )
    return notes
