"""One page of events: from validated arguments (or a cursor) to Close's answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from close_events_mcp import catalog
from close_events_mcp.close_api import CloseClient
from close_events_mcp.errors import ArgumentError
from close_events_mcp.event import Event, format_timestamp
from close_events_mcp.query import EventFilters, PageToken, check_supported, conflicting_filters, parse_limit


@dataclass(frozen=True, slots=True)
class PagePlan:
    filters: EventFilters
    page_size: int
    close_cursor: str | None
    notes: tuple[str, ...]

    def params(self) -> dict[str, str]:
        params = {**self.filters.to_params(), "_limit": str(self.page_size)}
        if self.close_cursor:
            params["_cursor"] = self.close_cursor
        return params


def plan_page(filters: EventFilters, *, limit: int | None, cursor: str | None, now: datetime) -> PagePlan:
    """The request to make: a new query from ``filters``, or the continuation ``cursor`` carries."""
    notes = []
    close_cursor = None
    if cursor:
        token = PageToken.decode(cursor, now=now).with_limit(limit)
        conflicts = conflicting_filters(token, filters)
        if conflicts:
            raise ArgumentError(
                f"cursor continues a query with different {', '.join(conflicts)}; pass cursor alone to "
                "continue it, or drop cursor to start a new query."
            )
        filters, close_cursor, page_size = token.filters, token.close_cursor, token.limit
    else:
        page_size = parse_limit(limit)
        if limit is not None and limit > page_size:
            notes.append(f"limit is capped at {page_size} events per page by Close.")
    check_supported(filters)
    horizon = now - timedelta(days=catalog.RETENTION_DAYS)
    if filters.since is not None and filters.since < horizon:
        notes.append(
            f"Close keeps {catalog.RETENTION_DAYS} days of events: nothing before "
            f"{format_timestamp(horizon)} exists."
        )
    return PagePlan(filters, page_size, close_cursor, tuple(notes))


async def fetch_page(client: CloseClient, plan: PagePlan) -> tuple[list[Event], str | None]:
    """The page's events and our cursor for the next (older) page, if there is one."""
    page = await client.list_events(plan.params())
    events = [Event.from_close(raw) for raw in page["data"] if isinstance(raw, dict)]
    next_close = page.get("cursor_next")
    if not (isinstance(next_close, str) and next_close and events):
        return events, None
    return events, PageToken(plan.filters, next_close, plan.page_size).encode()
