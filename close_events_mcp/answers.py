"""The work behind each tool: validate the filters, call Close (or scan), render the answer.

``tools`` declares what the model sees (names, arguments, descriptions) and imports this module
only when a tool is called: start-up (``initialize``, ``tools/list``) never pays for the scan
engine, the renderers or the digest.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from close_events_mcp import catalog
from close_events_mcp.engine.digest import TOP_LEADS, Tally, build_digest, combine
from close_events_mcp.engine.page import list_page
from close_events_mcp.engine.poll import poll
from close_events_mcp.engine.scan import OnPage, Scanner, StoreNarrowing
from close_events_mcp.errors import ArgumentError, NotFound
from close_events_mcp.event import Event, format_timestamp, from_micros
from close_events_mcp.query.filters import EventFilters, FilterArguments, parse_event_id, parse_object_type
from close_events_mcp.query.plan import plan_filters
from close_events_mcp.render.capping import Draft, left_out_note
from close_events_mcp.render.describe import describe_catalog
from close_events_mcp.render.digest import digest_text
from close_events_mcp.render.events import event_item, render_detail, render_list
from close_events_mcp.render.notes import digest_cut_note
from close_events_mcp.render.poll import poll_text
from close_events_mcp.render.store import store_notes
from close_events_mcp.results import EventList, PollEvents
from close_events_mcp.state import AppState


async def filters_for(state: AppState, now: datetime, arguments: FilterArguments) -> EventFilters:
    """Validated filters, with a custom field named by its name resolved to its key."""
    filters = arguments.parse(now)
    wanted = filters.changed_field
    if wanted and not wanted.startswith("custom."):
        await state.names.directory.load_fields(state.client)
        field_id = state.names.directory.field_id(wanted)
        if field_id:
            filters = replace(filters, changed_field=f"custom.{field_id}")
    return filters


async def list_events(
    state: AppState, on_page: OnPage, arguments: FilterArguments, *, limit: int | None, cursor: str | None
) -> Draft:
    now = state.clock()
    filters = await filters_for(state, now, arguments)
    store = await state.open_store()
    page = await list_page(
        state.client,
        filters,
        limit=limit,
        cursor=cursor,
        now=now,
        limits=state.limits(),
        on_page=on_page,
        on_event=state.names.learn,
        store=store,
    )
    page.notes.extend(state.store_note())
    await state.learn_names(page.events)

    def render(shown: int) -> tuple[str, EventList]:
        left_out = len(page.events) - shown
        notes = [*page.notes, left_out_note(left_out, "next_cursor")] if left_out else page.notes
        return render_list(
            page.events[:shown],
            state.names,
            page.filters,
            now=now,
            next_cursor=page.continuation(shown),
            notes=notes,
            scan=page.scan,
        )

    return Draft(render, len(page.events))


async def event_detail(state: AppState, event_id: str) -> Draft:
    """One event rendered in full (get_event and the event resource)."""
    event_id = parse_event_id(event_id)
    store = await state.open_store()
    try:
        raw = await state.client.get_event(event_id)
    except NotFound:
        kept = await store.get(event_id) if store is not None else None
        if kept is None:
            raise ArgumentError(
                f"No event {event_id}: it does not exist in this organization, or it is older than "
                f"Close's {catalog.RETENTION_DAYS}-day retention"
                f"{' and not in the local store' if store is not None else ''}. list_events finds current "
                "event IDs."
            ) from None
        raw = kept
    else:
        if store is not None:
            await store.keep([raw])
    event = Event.from_close(raw)
    await state.learn_names([event], payload_fields=True)
    now = state.clock()
    return Draft(lambda _: render_detail(event, state.names, now=now))


async def summarize_events(
    state: AppState, on_page: OnPage, arguments: FilterArguments, *, max_events: int | None
) -> Draft:
    now = state.clock()
    filters = await filters_for(state, now, arguments)
    plan = plan_filters(filters)
    until = filters.until or now
    since = filters.since or until - timedelta(days=1)
    store = await state.open_store()
    result = await Scanner(
        state.client,
        plan.close,
        lambda: Tally(accept=plan.matches, on_event=state.names.learn, now=now),
        since=since,
        until=until,
        limits=state.limits(max_events),
        on_page=on_page,
        store=store,
        narrowing=StoreNarrowing.of(plan),
    ).run()
    tally = combine(result.sinks)
    notable = [entry[2] for entries in tally.notable.values() for entry in entries]
    busiest = [lead for lead, _ in tally.by_lead.most_common(TOP_LEADS)]
    await state.learn_names(notable, leads=busiest, actors=tally.by_actor)
    covered_since = since if result.complete else from_micros(result.covered_from)
    digest = build_digest(
        tally, state.names, result, since=covered_since, until=until, now=now, filters=filters
    )
    if note := plan.note():
        digest.notes.append(note)
    digest.notes.extend([*store_notes(result), *state.store_note()])
    if not result.complete:
        digest.notes.append(
            digest_cut_note(
                result.cut_by,
                result.events,
                asked_since=since,
                covered_since=covered_since,
                until=until,
                kept=store is not None and store.store is not None,
            )
        )
    return Draft(lambda _: (digest_text(digest), digest))


async def poll_events(
    state: AppState, on_page: OnPage, arguments: FilterArguments, *, checkpoint: str | None, limit: int
) -> Draft:
    now = state.clock()
    if checkpoint and arguments.since:
        raise ArgumentError("since is only for the first poll; the checkpoint already says where to go on.")
    filters = await filters_for(state, now, arguments)
    outcome = await poll(
        state.client, filters, checkpoint=checkpoint, limit=limit, now=now, limits=state.limits(),
        on_page=on_page, store=await state.open_store(),
    )  # fmt: skip
    await state.learn_names([event for event, _ in outcome.delivered])
    items = [
        event_item(event, state.names, now).model_copy(update={"consolidated": True if again else None})
        for event, again in outcome.delivered
    ]

    def render(shown: int) -> tuple[str, PollEvents]:
        result = PollEvents(
            events=items[:shown],
            count=shown,
            checkpoint=outcome.checkpoint(shown),
            more=outcome.more_after(shown),
            since=format_timestamp(outcome.since),
            until=format_timestamp(outcome.until),
        )
        return poll_text(result, left_out=len(items) - shown), result

    return Draft(render, len(items))


async def describe_event_types(object_type: str | None) -> Draft:
    object_type = parse_object_type(object_type)
    return Draft(lambda _: describe_catalog(object_type))
