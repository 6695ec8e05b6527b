"""The notes an answer adds about what Close keeps and what a scan left unread."""

from __future__ import annotations

from datetime import datetime

from close_events_mcp.event import format_timestamp

CUT_WORDS = {
    "events": "events read",
    "pages": "requests made",
    "time": "time for one call",
    "rate limit": "Close's rate limit, which asked to wait longer than the call had left",
}
"""What stopped a scan early (``ScanResult.cut_by``), in words."""


def _cut_words(cut_by: str | None) -> str:
    return CUT_WORDS.get(cut_by or "", "budget")


def retention_note(retention_days: int, horizon: datetime) -> str:
    return f"Close keeps {retention_days} days of events: nothing before {format_timestamp(horizon)} exists."


def page_cut_note(cut_by: str | None, reached: datetime) -> str:
    """A ``list_events`` page whose scan stopped before it found a page of matches."""
    return (
        f"The scan budget ({_cut_words(cut_by)}) was reached after reading back to "
        f"{format_timestamp(reached)}; next_cursor continues from there."
    )


def digest_cut_note(
    cut_by: str | None,
    events: int,
    *,
    asked_since: datetime,
    covered_since: datetime,
    until: datetime,
    kept: bool = False,
) -> str:
    """A digest whose scan stopped before it read back to ``asked_since``: the call for the rest (and,
    when the local store ``kept`` what was read, that asking again finishes it)."""
    rest = format_timestamp(covered_since, "microseconds")
    note = (
        f"The scan budget ({_cut_words(cut_by)}) stopped it after {events} events: this digest covers "
        f"{format_timestamp(covered_since)} → {format_timestamp(until)} only. For the earlier part call "
        f"summarize_events with since={format_timestamp(asked_since)} until={rest} (and the same filters)."
    )
    if kept:
        note += (
            " Or ask again with the same arguments: what was read is kept, so the next call reads only "
            "the rest."
        )
    return note
