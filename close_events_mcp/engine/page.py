"""One page of ``list_events``: straight from Close, or, when filters must be checked on our
side, from a scan of the window that stops as soon as a page of matches is found."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from close_events_mcp import catalog
from close_events_mcp.close.client import CloseClient
from close_events_mcp.engine.scan import OnPage, ScanLimits, Scanner, StoreNarrowing
from close_events_mcp.errors import ArgumentError, BadRequest
from close_events_mcp.event import Event, from_micros, micros
from close_events_mcp.query.filters import EVENT_ID, MAX_PAGE, EventFilters, echo, parse_limit
from close_events_mcp.query.plan import FilterPlan, ScanNote, plan_filters
from close_events_mcp.query.tokens import CURSOR, PageToken, conflicting_filters, valid_micros
from close_events_mcp.render.notes import page_cut_note, retention_note
from close_events_mcp.render.store import store_notes
from close_events_mcp.store.events import query_key

if TYPE_CHECKING:
    from close_events_mcp.store.gateway import StoreGateway


@dataclass(slots=True)
class Page:
    filters: EventFilters
    events: list[Event]
    next_cursor: str | None
    """Continues after the last of ``events``."""
    notes: list[str] = field(default_factory=list)
    page_size: int = MAX_PAGE
    skipped: frozenset[str] = frozenset()
    """Events at ``boundary - 1`` that earlier pages showed already (when resuming a cut page)."""
    boundary: int | None = None
    scan: ScanNote | None = None
    """What the scan for this page read and dropped (its note is among ``notes``)."""

    def continuation(self, shown: int) -> str | None:
        """The cursor for an answer that shows only the first ``shown`` events (the rest did not fit
        the answer's size cap): it resumes right after the last one shown, skipping none."""
        if shown >= len(self.events) or shown < 1:
            return self.next_cursor
        return self.resume_after(shown)

    def resume_after(self, shown: int) -> str:
        """A cursor that continues right after the ``shown``-th event."""
        last = micros(self.events[shown - 1].date_updated)
        skip = [e.id for e in self.events[:shown] if micros(e.date_updated) == last]
        if self.boundary == last + 1:
            skip += sorted(self.skipped - set(skip))
        resume = {"b": last + 1, "k": skip}
        return PageToken(self.filters, "", self.page_size, resume).encode()


@dataclass(slots=True)
class Matches:
    """A scan sink: the events that pass the local filters, newest first. Every event read, match or
    not, goes to ``on_event`` (the name book learns from it); each one a local check drops is counted
    in ``dropped`` under that check (``FilterPlan.rejects``)."""

    plan: FilterPlan
    skip: frozenset[str]
    want: int
    events: list[Event] = field(default_factory=list)
    on_event: Callable[[Event], None] | None = None
    dropped: Counter[str] = field(default_factory=Counter)

    def add(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(event)
        if event.id in self.skip:
            return
        if (check := self.plan.rejects(event)) is None:
            self.events.append(event)
        else:
            self.dropped[check] += 1

    @property
    def satisfied(self) -> bool:
        return len(self.events) >= self.want


MAX_SKIPPED = 500
"""Events sharing one microsecond that a cursor may skip: every event of a page can share it, and a
cut page of a cut page adds its own."""


def _resume_state(extra: dict[str, Any]) -> tuple[int | None, frozenset[str]]:
    boundary, skip = extra.get("b"), extra.get("k", [])
    valid_boundary = boundary is None or valid_micros(boundary)
    valid_skip = (
        isinstance(skip, list)
        and len(skip) <= MAX_SKIPPED
        and all(isinstance(i, str) and EVENT_ID.fullmatch(i) for i in skip)
    )
    if not (valid_boundary and valid_skip):
        raise CURSOR.error()
    return boundary, frozenset(skip)


async def list_page(
    client: CloseClient,
    filters: EventFilters,
    *,
    limit: int | None,
    cursor: str | None,
    now: datetime,
    limits: ScanLimits,
    on_page: OnPage | None = None,
    on_event: Callable[[Event], None] | None = None,
    store: StoreGateway | None = None,
) -> Page:
    """A page of events; when filters are checked here, every event the scan reads goes to
    ``on_event``, not only those shown. With a store, a window reaching past Close's retention is
    scanned (the store answers for what Close no longer has) and every page read is kept."""
    notes: list[str] = []
    token: PageToken | None = None
    if cursor:
        token = PageToken.decode(cursor, now=now).with_limit(limit)
        conflicts = conflicting_filters(token.filters, filters)
        if conflicts:
            raise ArgumentError(
                f"cursor continues a query with different {', '.join(conflicts)}; pass cursor alone to "
                "continue it, or drop cursor to start a new query."
            )
        filters, page_size = token.filters, token.limit
    else:
        page_size = parse_limit(limit)
    horizon = now - timedelta(days=catalog.RETENTION_DAYS)
    older_than_close = (filters.since is not None and filters.since < horizon) or (
        filters.until is not None and filters.until <= horizon
    )
    if older_than_close and store is None:
        notes.append(retention_note(catalog.RETENTION_DAYS, horizon))
    plan = plan_filters(filters)
    through_store = store is not None and (
        older_than_close or (token is None and await _store_holds_some(store, plan, horizon, now))
    )
    if plan.is_local or (token is not None and token.extra) or through_store:
        page = await _scan_page(
            client, plan, filters, page_size, token, now, limits, on_page, on_event, store
        )
    else:
        page = await _close_page(client, filters, page_size, token.close_cursor if token else None, store)
    page.notes[:0] = notes
    return page


async def _store_holds_some(store: StoreGateway, plan: FilterPlan, horizon: datetime, now: datetime) -> bool:
    """Whether the store holds any of the query's window: then it answers for that part, Close for
    the rest (the page is a scan's)."""
    filters = plan.close
    window = (micros(filters.since or horizon), micros(filters.until or now))
    return bool(await store.held(query_key(filters.to_params()), window))


async def _close_page(
    client: CloseClient,
    filters: EventFilters,
    page_size: int,
    close_cursor: str | None,
    store: StoreGateway | None,
) -> Page:
    params = {**filters.to_params(), "_limit": str(page_size)}
    if close_cursor:
        params["_cursor"] = close_cursor
    try:
        body = await client.list_events(params)
    except BadRequest as refused:
        if not close_cursor:
            raise
        # The same filters made the page this cursor came from: what Close refuses now is its cursor
        # (one from another process of the emulator, or one Close no longer keeps).
        raise BadRequest(
            f"{refused} Close no longer accepts the place this {CURSOR.argument} continues from (it may "
            f"come from another server process, or be too old); start again without {CURSOR.argument}, "
            f"with the filters it carried: {start_again(filters, page_size)}"
        ) from None
    raws = [raw for raw in body["data"] if isinstance(raw, dict)]
    events = [Event.from_close(raw) for raw in raws]
    if store is not None:
        await store.keep(raws)
    next_close = body.get("cursor_next")
    next_cursor = None
    if isinstance(next_close, str) and next_close and events:
        next_cursor = PageToken(filters, next_close, page_size).encode()
    return Page(filters, events, next_cursor, page_size=page_size)


def start_again(filters: EventFilters, page_size: int) -> str:
    """The call that starts the query ``filters`` describe over: ``list_events object_type=lead
    action=deleted since=2026-11-19T10:00:00Z limit=3``, times in UTC (a window back from now was
    made a time when the query began)."""
    arguments = dict(filters.to_json())
    if page_size != MAX_PAGE:
        arguments["limit"] = str(page_size)
    return " ".join(["list_events", *(f"{key}={_argument_text(value)}" for key, value in arguments.items())])


def _argument_text(value: str) -> str:
    return (
        value if value and not any(char.isspace() or char in "'\"\\" for char in value) else echo(value, 80)
    )


async def _scan_page(
    client: CloseClient,
    plan: FilterPlan,
    filters: EventFilters,
    page_size: int,
    token: PageToken | None,
    now: datetime,
    limits: ScanLimits,
    on_page: OnPage | None,
    on_event: Callable[[Event], None] | None,
    store: StoreGateway | None,
) -> Page:
    boundary, skip = _resume_state(token.extra) if token else (None, frozenset[str]())
    # Without since: Close's 30 days; with a store, the 30 days before until, however old.
    back_from = min(now, filters.until or now) if store is not None else now
    since = filters.since or back_from - timedelta(days=catalog.RETENTION_DAYS)
    until = filters.until or now
    if boundary is not None:
        until = min(until, from_micros(boundary))
    dropped: Counter[str] = Counter()  # shared by every slice's sink: all the scan read
    result = await Scanner(
        client,
        plan.close,
        lambda: Matches(plan, skip, page_size, on_event=on_event, dropped=dropped),
        since=since,
        until=until,
        limits=limits,
        on_page=on_page,
        store=store,
        narrowing=StoreNarrowing.of(plan, chunk=4 * page_size + len(skip)),
    ).run()
    found = [event for sink in result.sinks for event in sink.events]
    events = found[:page_size]
    notes = [note] if (note := plan.note()) else []
    scan = ScanNote(result.events, result.pages, dropped.total(), plan.dropped_text(dropped))
    notes.append(scan.text)
    notes.extend(store_notes(result))
    page = Page(filters, events, None, notes, page_size, skip, boundary, scan)
    if len(found) > page_size or (events and len(events) == page_size and not result.complete):
        page.next_cursor = page.resume_after(len(events))
    elif not result.complete:
        page.next_cursor = PageToken(filters, "", page_size, {"b": result.covered_from}).encode()
        notes.append(page_cut_note(result.cut_by, from_micros(result.covered_from)))
    return page
