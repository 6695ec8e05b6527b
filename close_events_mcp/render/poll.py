"""The text of a poll_events answer: the new events, oldest first, and the checkpoint to pass next."""

from __future__ import annotations

from close_events_mcp.render.capping import left_out_note
from close_events_mcp.render.events import event_line
from close_events_mcp.results import PollEvents


def poll_text(result: PollEvents, *, left_out: int) -> str:
    window = f"{result.since} → {result.until}"
    if result.events:
        noun = "event" if result.count == 1 else "events"
        lines = [f"{result.count} new {noun} ({window}), oldest first, times UTC:"]
        lines += [f"  {event_line(item, standalone=True)}" for item in result.events]
    else:
        lines = [f"No new events ({window}, times UTC)."]
    if left_out:
        lines.append(f"Note: {left_out_note(left_out, 'the checkpoint')}")
    lines.append(f"checkpoint: {result.checkpoint}")
    lines.append(
        "More are waiting: call poll_events again now with this checkpoint."
        if result.more
        else "Next time, call poll_events with this checkpoint."
    )
    return "\n".join(lines)
