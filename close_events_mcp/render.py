"""From events to what the model reads: one line per event, a detail view, helpful notes.

The structured item is built first; the text is written from it, so the two always carry the
same facts. Text layout for lists: a day header, then runs of consecutive events on one lead
under that lead's ID and name (said once), then one line per event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from close_events_mcp import catalog
from close_events_mcp.changes import Change, field_changes
from close_events_mcp.event import Event, format_timestamp
from close_events_mcp.names import NameBook
from close_events_mcp.objects import custom_values, fact_values, facts_for, gist, object_name
from close_events_mcp.query import EventFilters
from close_events_mcp.results import EventDetail, EventItem, EventList, FieldChange
from close_events_mcp.text import clean, quote

LINE_CHANGES = 4
WITHHELD_NOTE = (
    "Close shows an event's values to non-admin users only for one hour after it happened, so values "
    "are missing on events marked [values withheld]; an admin's credential sees them."
)
_VERBS = {
    "reverting": "started reverting",
    "activated": "activated a membership:",
    "deactivated": "deactivated a membership:",
}


def is_withheld(event: Event, now: datetime) -> bool:
    age = now - event.date_created
    return not event.has_payload and age > timedelta(hours=catalog.DATA_VISIBILITY_HOURS)


def how(event: Event) -> str | None:
    """The mechanism behind a change, from ``meta``: merge, bulk action or import revert."""
    source, destination = event.merge_source, event.merge_destination
    if source or destination:
        if event.object_type == "lead" and event.action == "merged":
            return f"merge of {source} into {destination}"
        if event.object_type == "lead" and event.action == "deleted" and event.object_id == source:
            return f"deleted by merging it into {destination}"
        return f"part of merging {source} into {destination}"
    if event.bulk_action_id:
        return f"by bulk action {event.bulk_action_id}"
    if event.revert_import_id:
        return f"by reverting import {event.revert_import_id}"
    return None


def via(event: Event) -> str | None:
    if event.api_key_id:
        return f"API key {event.api_key_id}"
    if event.oauth_client_id:
        return f"OAuth app {event.oauth_client_id}"
    return None


def event_item(event: Event, names: NameBook, now: datetime) -> EventItem:
    payload = event.payload
    withheld = is_withheld(event, now)
    changes = field_changes(event)
    if event.action == "updated" and changes:
        name = object_name(event.object_type, payload)
        name_changed = any(c.field in facts_for(event.object_type)[0].keys for c in changes)
        summary = quote(name, 50) if name and event.object_type != "lead" and not name_changed else None
    else:
        summary = gist(event.object_type, payload) or None
    return EventItem(
        id=event.id,
        at=format_timestamp(event.date_updated),
        object_type=event.object_type,
        action=event.action,
        object_id=event.object_id,
        lead_id=event.lead_id,
        lead_name=names.lead(event.lead_id),
        user_id=event.user_id,
        user_name=names.user(event.user_id),
        summary=summary,
        changes=[_field_change(c, names) for c in changes],
        how=how(event),
        via=via(event),
        data_withheld=True if withheld else None,
    )


def _field_change(change: Change, names: NameBook) -> FieldChange:
    label = names.field(change.field)
    key = change.field if label != change.field else None
    return FieldChange(field=label, key=key, before=change.before, after=change.after)


def _change_text(change: FieldChange | Change) -> str:
    if change.before is None and change.after is None:
        return change.field
    return f"{change.field} {change.before} → {change.after}"


def changes_text(changes: Sequence[FieldChange], shown: int = LINE_CHANGES) -> str:
    if not changes:
        return ""
    if all(c.before is None and c.after is None for c in changes):
        return "changed " + ", ".join(c.field for c in changes)
    parts = [_change_text(c) for c in changes[:shown]]
    if len(changes) > shown:
        parts.append(f"+{len(changes) - shown} more fields")
    return "; ".join(parts)


def _actor_text(item: EventItem) -> str:
    who = item.user_name or item.user_id
    text = f" by {who}" if who else ""
    return f"{text} via {item.via}" if item.via else text


def event_line(item: EventItem, *, standalone: bool = False) -> str:
    """``14:02:11 lead updated by Gob Bluth: status Potential → Qualified · ev_…``. A standalone
    line (outside day and lead headers) starts with the date and names the lead itself."""
    target = f" {item.object_id}" if item.object_id and item.object_id != item.lead_id else ""
    if standalone and item.lead_id:
        lead_name = f" {quote(item.lead_name, 40)}" if item.lead_name else ""
        target += f" on {item.lead_id}{lead_name}" if target else f" {item.lead_id}{lead_name}"
    details = [part for part in (item.summary, changes_text(item.changes)) if part]
    if item.how:
        details.append(f"({item.how})")
    if item.data_withheld:
        details.append("[values withheld]")
    if item.consolidated:
        details.append("[consolidated: Close merged later changes into this event]")
    body = f": {'; '.join(details)}" if details else ""
    stamp = f"{item.at[:10]} {item.at[11:19]}" if standalone else item.at[11:19]
    return f"{stamp} {item.object_type} {item.action}{target}{_actor_text(item)}{body} · {item.id}"


def _lead_header(item: EventItem) -> str:
    if not item.lead_id:
        return "  not on a lead"
    name = f" {quote(item.lead_name, 60)}" if item.lead_name else ""
    return f"  {item.lead_id}{name}"


def list_lines(items: Iterable[EventItem]) -> list[str]:
    """Events newest first, under day headers and runs of the same lead."""
    lines: list[str] = []
    day = lead = None
    for item in items:
        if item.at[:10] != day:
            day, lead = item.at[:10], None
            lines.append(day)
        if (item.lead_id or "") != lead:
            lead = item.lead_id or ""
            lines.append(_lead_header(item))
        lines.append("    " + event_line(item))
    return lines


def empty_reasons(filters: EventFilters) -> str:
    reasons = [f"Close keeps events for {catalog.RETENTION_DAYS} days"]
    if filters.object_id and not filters.object_type:
        reasons.append("object_id matches that object only (use lead_id for everything on a lead)")
    if filters.since or filters.until:
        reasons.append("the time window may be too narrow")
    if filters.names:
        reasons.append("the filters may not match (describe_event_types lists types and actions)")
    return "No events matched. Possible reasons: " + "; ".join(reasons) + "."


def render_list(
    events: Sequence[Event],
    names: NameBook,
    filters: EventFilters,
    *,
    now: datetime,
    next_cursor: str | None,
    notes: Sequence[str] = (),
) -> tuple[str, EventList]:
    for event in events:
        names.learn(event)
    items = [event_item(event, names, now) for event in events]
    users = {i.user_id: i.user_name for i in items if i.user_id and i.user_name}
    all_notes = list(notes)
    if any(i.data_withheld for i in items):
        all_notes.append(WITHHELD_NOTE)
    result = EventList(
        events=items,
        count=len(items),
        query=filters.to_json(),
        next_cursor=next_cursor,
        notes=all_notes,
        users=users,
    )
    return list_text(result, filters), result


def list_text(result: EventList, filters: EventFilters) -> str:
    if not result.events:
        lines = [f"0 events · {filters.describe()}", empty_reasons(filters)]
    else:
        noun = "event" if result.count == 1 else "events"
        lines = [f"{result.count} {noun} · {filters.describe()} · newest first, times UTC"]
        lines += list_lines(result.events)
        if result.users:
            lines.append("Users: " + ", ".join(f"{name}={uid}" for uid, name in result.users.items()))
    lines += [f"Note: {note}" for note in result.notes]
    if result.next_cursor:
        lines.append(f"More: call list_events with cursor={result.next_cursor} for older events.")
    elif result.events:
        lines.append("End of results.")
    return "\n".join(lines)


# --- one event in detail -----------------------------------------------------------------


def _describe(event: Event, item: EventItem, name: str | None) -> str:
    entry = catalog.lookup(event.object_type)
    noun = entry.label.lower() if entry else event.object_type
    target = f"{noun} {quote(name, 80)}" if name else f"{noun} {event.object_id or ''}".rstrip()
    who = item.user_name or item.user_id or "Close (no user)"
    verb = _VERBS.get(event.action, event.action)
    sentence = f"{who} {verb} {target}"
    if event.action == "merged" and event.merge_source:
        sentence = f"{who} merged lead {event.merge_source} into {target} ({event.merge_destination})"
    if item.changes:
        sentence += ": " + changes_text(item.changes, shown=3)
    return sentence + "."


def render_detail(event: Event, names: NameBook, *, now: datetime) -> tuple[str, EventDetail]:
    names.learn(event)
    item = event_item(event, names, now)
    payload = event.payload
    name = object_name(event.object_type, payload)
    facts = {
        fact.label: value
        for fact, value in fact_values(event.object_type, payload, line_only=False, limit=120)
    }
    facts.update((names.field(key), value) for key, value in custom_values(payload, 80))
    method, path = event.meta.get("request_method"), event.meta.get("request_path")
    notes = []
    if item.data_withheld:
        notes.append(WITHHELD_NOTE)
    elif event.data is None and event.previous_data:
        notes.append("The object was deleted; the key fields are from previous_data, as it was before.")
    detail = EventDetail(
        **item.model_dump(),
        description=_describe(event, item, name),
        request_id=event.request_id,
        request=clean(f"{method} {path}", 200) if isinstance(method, str) and isinstance(path, str) else None,
        object_name=name,
        facts=facts,
        notes=notes,
    )
    return detail_text(detail), detail


def detail_text(detail: EventDetail) -> str:
    lines = [
        f"Event {detail.id} · {detail.object_type} {detail.action} · {detail.at}",
        detail.description,
    ]
    object_name_text = f" {quote(detail.object_name, 80)}" if detail.object_name else ""
    if detail.object_id and detail.object_id != detail.lead_id:
        lines.append(f"Object: {detail.object_id}{object_name_text}")
    if detail.lead_id:
        lead_name = f" {quote(detail.lead_name, 80)}" if detail.lead_name else ""
        lines.append(f"Lead: {detail.lead_id}{lead_name}")
    if detail.user_id or detail.via:
        who = f"{detail.user_name} ({detail.user_id})" if detail.user_name else (detail.user_id or "no user")
        lines.append(f"By: {who}" + (f" via {detail.via}" if detail.via else ""))
    if detail.request or detail.request_id:
        request = " · ".join(part for part in (detail.request, detail.request_id) if part)
        lines.append(f"Request: {request}")
    if detail.how:
        lines.append(f"How: {detail.how}")
    if detail.changes:
        lines.append("Changed:")
        lines += [
            f"  {c.field}: {c.before} → {c.after}" if c.before or c.after else f"  {c.field}"
            for c in detail.changes
        ]
    if detail.facts:
        lines.append("Before deletion:" if detail.action == "deleted" else "As of this event:")
        lines += [f"  {label}: {value}" for label, value in detail.facts.items()]
    lines += [f"Note: {note}" for note in detail.notes]
    if detail.request_id:
        lines.append(f"Everything this request did: list_events request_id={detail.request_id}")
    return "\n".join(lines)
