"""From events to what the model reads: one line per event, a detail view, helpful notes.

The structured item is built first; the text is written from it, so the two always carry the
same facts. Text layout for lists: a header per UTC day; under it, all of the day's events on one
lead under that lead's ID and name (leads in the order of their newest event); under those, two
or more events on one object under its type, ID and title; then one line per event, newest first,
its time (to the minute) and event ID first. Whatever a header says (and the gist, the actor or
the "how" that all the events under it share) its lines leave out: each fact is said once, which
is most of what keeps a page of events under a tenth of Close's JSON, on the demo organization and
on another one written apart from it (docs/benchmarks.md). Fields that changed alike are named
together, a long text that only grew says what was added, and an update that changed nothing but
its timestamp says so.

The structured item carries what Close sent cleaned but plain (``user_name: Gob Bluth``); the text
quotes it where it shows it: names always (``by "Gob Bluth"``), user text as its value says, keys,
types and actions unless they are one identifier, and an ID that is not shaped like a Close ID,
marked (``"…" (not a Close ID)``). Nothing Close sent reaches the text any other way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby

from close_events_mcp import catalog
from close_events_mcp.close.names import NameBook
from close_events_mcp.event import Event, format_timestamp, is_close_id
from close_events_mcp.query.filters import EventFilters
from close_events_mcp.query.plan import ScanNote
from close_events_mcp.render.changes import BOOKKEEPING, MAX_LIST_ITEMS, Change, field_changes
from close_events_mcp.render.objects import (
    custom_values,
    fact_values,
    facts_for,
    key_facts,
    object_name,
    title,
    title_fact,
)
from close_events_mcp.results import EventDetail, EventItem, EventList, FieldChange
from close_events_mcp.text import ELLIPSIS, id_text, key_text, name_text, path_text, quote, quote_whole

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


THIS_LEAD = "this lead"
TOUCHED = "touched, no field changed"
"""What a touch-only update says: Close bumped ``date_updated`` (and who updated it) and nothing else."""
_HOW = (
    "deleted by merging it into {}",
    "merge of {} into {}",
    "part of merging {} into {}",
    "by bulk action {}",
    "by reverting import {}",
)
"""What ``how`` says, each ``{}`` an ID (or "this lead")."""
_VIA = ("API key {}", "OAuth app {}")


def how(event: Event) -> str | None:
    """The mechanism behind a change, from ``meta``: merge, bulk action or import revert. A merge
    calls the event's own lead "this lead", since the line or header beside it names that lead."""
    source, destination = event.merge_source, event.merge_destination
    if source or destination:
        if event.object_type == "lead" and event.action == "deleted" and event.object_id == source:
            return _HOW[0].format(destination)
        source_text = THIS_LEAD if source and source == event.lead_id else source
        destination_text = THIS_LEAD if destination and destination == event.lead_id else destination
        if event.object_type == "lead" and event.action == "merged":
            return _HOW[1].format(source_text, destination_text)
        return _HOW[2].format(source_text, destination_text)
    if event.bulk_action_id:
        return _HOW[3].format(event.bulk_action_id)
    if event.revert_import_id:
        return _HOW[4].format(event.revert_import_id)
    return None


def via(event: Event) -> str | None:
    if event.api_key_id:
        return _VIA[0].format(event.api_key_id)
    if event.oauth_client_id:
        return _VIA[1].format(event.oauth_client_id)
    return None


def _template(template: str) -> re.Pattern[str]:
    return re.compile(re.escape(template).replace(re.escape("{}"), "(.+)"), re.DOTALL)


_HOW_PATTERNS = tuple((template, _template(template)) for template in _HOW)
_VIA_PATTERNS = tuple((template, _template(template)) for template in _VIA)


def _with_ids_marked(phrase: str, patterns: Sequence[tuple[str, re.Pattern[str]]]) -> str:
    """One of our phrases about IDs (``how``, ``via``) as the text shows it: its IDs as they are when they
    are Close IDs, else quoted and marked. A phrase that is none of ours is quoted whole."""
    for template, pattern in patterns:
        if found := pattern.fullmatch(phrase):
            return template.format(*(part if part == THIS_LEAD else id_text(part) for part in found.groups()))
    return quote_whole(phrase)


def how_text(value: str) -> str:
    return _with_ids_marked(value, _HOW_PATTERNS)


def via_text(value: str) -> str:
    return _with_ids_marked(value, _VIA_PATTERNS)


def is_touch_only(event: Event) -> bool:
    """An update whose changed fields are only bookkeeping (``date_updated``…): nothing changed but
    its timestamp, as when a request on another object (``PUT /task/…``) touches a lead."""
    fields = event.changed_fields
    return event.action == "updated" and bool(fields) and all(field in BOOKKEEPING for field in fields)


def touched_fields(event: Event) -> list[str]:
    """The bookkeeping fields a touch changed, as Close names them, once each, in its order."""
    return list(dict.fromkeys(field for field in event.changed_fields if field in BOOKKEEPING))


def _and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def request_line(event: Event) -> str | None:
    """The request that caused the event, ``PUT /api/v1/task/…/``, as the text may show it."""
    method, path = event.meta.get("request_method"), event.meta.get("request_path")
    return path_text(method, path) if isinstance(method, str) and isinstance(path, str) else None


def event_item(event: Event, names: NameBook, now: datetime) -> EventItem:
    payload = event.payload
    withheld = is_withheld(event, now)
    changes = field_changes(event)
    touch_only = is_touch_only(event)
    updated = event.action == "updated" and (changes or touch_only)
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
        object_name=None if event.object_type == "lead" else title(event.object_type, payload),
        summary=None if updated else key_facts(event.object_type, payload, action=event.action) or None,
        changes=[_field_change(c, names) for c in changes],
        how=how(event),
        via=via(event),
        data_withheld=True if withheld else None,
        touch_only=True if touch_only else None,
        request_id=event.request_id if touch_only else None,
        request=request_line(event) if touch_only else None,
    )


def _field_change(change: Change, names: NameBook) -> FieldChange:
    label = names.field(change.field)
    key = change.field if label != change.field else None
    values = [v for v in (change.before, change.after, *change.added, *change.removed) if v is not None]
    return FieldChange(
        field=label,
        key=key,
        before=change.before.plain if change.before else None,
        after=change.after.plain if change.after else None,
        added=[v.plain for v in change.added],
        removed=[v.plain for v in change.removed],
    ).with_bare(v.plain for v in values if not v.quoted)


def field_text(change: FieldChange) -> str:
    """The field as the text shows it: a custom field's name quoted, a key unless it is one identifier."""
    return name_text(change.field, 60) if change.key else key_text(change.field)


def _value_text(change: FieldChange, value: str) -> str:
    return value if change.is_bare(value) else quote_whole(value)


def _items_text(change: FieldChange, items: Sequence[str], shown: int = 3) -> str:
    more = f" +{len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(_value_text(change, item) for item in items[:shown]) + more


def _change_values(change: FieldChange, shown: int = 3) -> str:
    """``Potential → Qualified``; for a text that only grew, ``"old" + "what was added"``; for a
    list ``added a, b, removed c``; empty when withheld."""
    if change.added or change.removed:
        parts = [f"added {_items_text(change, change.added, shown)}"] if change.added else []
        parts += [f"removed {_items_text(change, change.removed, shown)}"] if change.removed else []
        return ", ".join(parts)
    if change.before is None and change.after is None:
        return ""
    if appended := _appended(change):
        return f"{quote_whole(change.before or '')} + {quote_whole(appended)}"
    before = "None" if change.before is None else _value_text(change, change.before)
    after = "None" if change.after is None else _value_text(change, change.after)
    return f"{before} → {after}"


def _appended(change: FieldChange) -> str | None:
    """What a long text edit (both sides cut to where they differ, ``…``) added at the end, as an
    autosave that went on writing does, when that is all it did."""
    before, after = change.before, change.after
    if not before or not after or change.is_bare(before) or not before.startswith(ELLIPSIS):
        return None
    if before.endswith(ELLIPSIS) or not after.startswith(before) or len(after) <= len(before):
        return None
    return after[len(before) :].strip() or None


def _change_text(change: FieldChange) -> str:
    values = _change_values(change)
    return f"{field_text(change)} {values}" if values else field_text(change)


def _is_withheld(change: FieldChange) -> bool:
    return change.before is None and change.after is None and not change.added and not change.removed


def changes_text(changes: Sequence[FieldChange], shown: int = LINE_CHANGES) -> str:
    """What changed, from → to, for the first ``shown`` fields; the others by name."""
    if not changes:
        return ""
    if all(_is_withheld(c) for c in changes):
        return "changed " + ", ".join(field_text(c) for c in changes)
    groups: dict[tuple[object, ...], list[FieldChange]] = {}
    for change in changes:  # fields that changed alike (status_label, status_display_name) said once
        same = (change.before, change.after, tuple(change.added), tuple(change.removed))
        groups.setdefault(same if not _is_withheld(change) else (id(change),), []).append(change)
    alike = list(groups.values())
    parts = [_alike_text(group) for group in alike[:shown]]
    if len(alike) > shown:
        rest = (change for group in alike[shown:] for change in group)
        parts.append("also changed " + ", ".join(field_text(c) for c in rest))
    return "; ".join(parts)


def _alike_text(group: Sequence[FieldChange]) -> str:
    """Fields that changed from and to the same values: ``status/status_display_name A → B``."""
    first = group[0]
    if len(group) == 1:
        return _change_text(first)
    values = _change_values(first)
    names = "/".join(field_text(change) for change in group)
    return f"{names} {values}" if values else names


def touch_text(item: EventItem) -> str:
    """``touched, no field changed (by PUT /api/v1/task/…/)``: the path names the object the request
    was about; its ID is in the structured item and ``get_event``. Without the path, the request's
    ID (``by request req_…``), for ``list_events request_id=``; without either, nothing more."""
    if item.request:
        return f"{TOUCHED} (by {item.request})"
    return f"{TOUCHED} (by request {id_text(item.request_id)})" if item.request_id else TOUCHED


def _title_changed(item: EventItem) -> bool:
    fact = title_fact(item.object_type)
    return fact is not None and any((c.key or c.field) in fact.keys for c in item.changes)


def who_text(name: str | None, user_id: str | None) -> str | None:
    """Who did it, as the text shows it: the name quoted, else the ID (marked when it is not one)."""
    if name:
        return name_text(name)
    return id_text(user_id) if user_id else None


def _actor_text(item: EventItem) -> str:
    who = who_text(item.user_name, item.user_id)
    text = f" by {who}" if who else ""
    return f"{text} via {via_text(item.via)}" if item.via else text


@dataclass(frozen=True, slots=True)
class SaidAbove:
    """What the headers above a line already say, so that the line need not."""

    object: bool = False
    """The object's type, ID and title."""
    actor: bool = False
    how: bool = False
    summary: bool = False
    """The object's gist (``outgoing to a@b.com``), when every line under the header shares it."""


def event_line(item: EventItem, *, standalone: bool = False, said: SaidAbove = SaidAbove()) -> str:
    """``14:02 ev_… lead updated by Gob Bluth: status Potential → Qualified``: under the day's header,
    the time to the minute (``get_event`` has the second). A standalone line (outside day and lead
    headers) starts with the date and the time to the second and names the lead itself; a line under
    headers leaves out what they ``said``."""
    target = f" {id_text(item.object_id)}" if item.object_id and item.object_id != item.lead_id else ""
    if standalone and item.lead_id:
        lead = id_text(item.lead_id) + (f" {quote(item.lead_name, 40)}" if item.lead_name else "")
        target += f" on {lead}" if target else f" {lead}"
    shown_title = None if said.object or _title_changed(item) else item.object_name
    summary = None if said.summary else item.summary
    what = " ".join(part for part in (quote(shown_title, 50) if shown_title else "", summary) if part)
    details = [part for part in (what, changes_text(item.changes)) if part]
    if item.touch_only:
        details.append(touch_text(item))
    if item.how and not said.how:
        details.append(f"({how_text(item.how)})")
    if item.data_withheld:
        details.append("[values withheld]")
    if item.consolidated:
        details.append("[consolidated: Close merged later changes into this event]")
    body = f": {'; '.join(details)}" if details else ""
    stamp = f"{item.at[:10]} {item.at[11:19]}" if standalone else item.at[11:16]
    action = key_text(item.action)
    head = action if said.object else f"{key_text(item.object_type)} {action}{target}"
    actor = "" if said.actor else _actor_text(item)
    return f"{stamp} {id_text(item.id)} {head}{actor}{body}"


def _shared_how(run: Sequence[EventItem]) -> str | None:
    """The "how" of a run of two or more events, when they all share it, or when they are all parts
    of one merge (the lead's ``merged`` or ``deleted`` event among them): then that merge."""
    hows = {item.how for item in run}
    if len(run) < 2:
        return None
    if len(hows) == 1:
        return hows.pop()
    merges = {_merge_of(how) for how in hows}
    merge = merges.pop() if len(merges) == 1 else None
    return _HOW[2].format(*merge) if merge else None


def _merge_of(how: str | None) -> tuple[str, str] | None:
    """The (source, destination) of a merge that ``how`` tells of; None for any other ``how``."""
    for template, pattern in _HOW_PATTERNS[:3]:
        if how and (found := pattern.fullmatch(how)):
            parts = found.groups()
            return (THIS_LEAD, parts[0]) if template == _HOW[0] else (parts[0], parts[1])
    return None


def _shared_actor(run: Sequence[EventItem]) -> str:
    """The actor (`` by "Gob Bluth"``) of a run of two or more events, when they all share one."""
    actors = {_actor_text(item) for item in run}
    return actors.pop() if len(run) > 1 and len(actors) == 1 else ""


def _lead_header(run: Sequence[EventItem], how: str | None, actor: str = "") -> str:
    first = run[0]
    if not first.lead_id:
        header = "  not on a lead"
    else:
        name = f" {quote(first.lead_name, 60)}" if first.lead_name else ""
        header = f"  {id_text(first.lead_id)}{name}"
    return header + actor + (f" ({how_text(how)})" if how else "")


def _own_object(item: EventItem) -> str | None:
    """The object an event is about, when it is not the lead itself."""
    return item.object_id if item.object_id and item.object_id != item.lead_id else None


def object_header(
    events: Sequence[EventItem], *, how_said: bool, actor_said: bool = False
) -> tuple[str, SaidAbove]:
    """The header of a run of events on one object: its type, ID and title, and its gist, the actor
    and the "how" when every event of the run shares them (unless the lead's header said them); and
    what it says for the lines under it."""
    first = events[0]
    name = next((item.object_name for item in events if item.object_name), None)
    header = f"{key_text(first.object_type)} {id_text(first.object_id or '')}"
    header += f" {quote(name, 50)}" if name else ""
    summaries = {item.summary for item in events}
    summary = summaries.pop() if len(summaries) == 1 else None
    header += f" {summary}" if summary else ""
    actors = {_actor_text(item) for item in events}
    actor = actors.pop() if len(actors) == 1 and not actor_said else ""
    how = None if how_said else _shared_how(events)
    header += actor + (f" ({how_text(how)})" if how else "")
    said = SaidAbove(
        object=True, actor=actor_said or bool(actor), how=how_said or how is not None, summary=bool(summary)
    )
    return header, said


def grouped_by_lead(items: Iterable[EventItem]) -> list[EventItem]:
    """Within each UTC day, the events of one lead together (leads in the order of their newest
    event), and within a lead those of one object together (objects likewise); each group keeps
    its events newest first. A busy day interleaves a few leads' work, and a merge or a bulk action
    writes many events in one second: this says each lead's and each object's ID once per day."""
    ordered: list[EventItem] = []
    for _, on_day in groupby(items, key=lambda i: i.at[:10]):
        leads: dict[str, dict[str | None, list[EventItem]]] = {}
        for item in on_day:
            leads.setdefault(item.lead_id or "", {}).setdefault(_own_object(item), []).append(item)
        ordered += [item for objects in leads.values() for run in objects.values() for item in run]
    return ordered


def list_lines(items: Iterable[EventItem]) -> list[str]:
    """Events newest first: under a header per UTC day, then per run of events on one lead (its ID
    and name said once), then per run of two or more events on one object (its type, ID and title
    said once). A header also says the actor or the "how" (bulk action, merge, import revert) that
    all the events under it share."""
    lines: list[str] = []
    for day, on_day in groupby(items, key=lambda i: i.at[:10]):
        lines.append(day)
        for _, on_lead in groupby(on_day, key=lambda i: i.lead_id or ""):
            run = list(on_lead)
            lead_how = _shared_how(run)
            lead_actor = _shared_actor(run)
            lines.append(_lead_header(run, lead_how, lead_actor))
            on_lead_said = SaidAbove(actor=bool(lead_actor), how=lead_how is not None)
            for target, on_object in groupby(run, key=_own_object):
                events = list(on_object)
                if target is None or len(events) == 1:
                    lines += ["    " + event_line(item, said=on_lead_said) for item in events]
                    continue
                header, said = object_header(events, how_said=on_lead_said.how, actor_said=on_lead_said.actor)
                lines.append("    " + header)
                lines += ["      " + event_line(item, said=said) for item in events]
    return lines


def empty_reasons(filters: EventFilters, scan: ScanNote | None = None) -> str:
    """Why nothing matched: when the checks made here dropped the events Close returned, that (which
    checks, how many); else what may explain it."""
    if scan is not None and (dropped := scan.empty_reason()):
        return dropped
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
    scan: ScanNote | None = None,
) -> tuple[str, EventList]:
    """The list's text and result; ``scan``, when a scan found it, is what it read (its note is among
    ``notes``)."""
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
    return list_text(result, filters, scan), result


def list_text(result: EventList, filters: EventFilters, scan: ScanNote | None = None) -> str:
    """The list as the text shows it. ``scan`` is the note of the scan that found it (among
    ``result.notes``): an empty list says what the checks here dropped in its first line, and the
    note then only how much was read."""
    notes = list(result.notes)
    if not result.events:
        lines = [f"0 events · {filters.describe()}", empty_reasons(filters, scan)]
        if scan is not None and scan.empty_reason():
            notes = [scan.read_text if note == scan.text else note for note in notes]
    else:
        noun = "event" if result.count == 1 else "events"
        lines = [f"{result.count} {noun} · {filters.describe()} · by day and lead, newest first, times UTC"]
        lines += list_lines(grouped_by_lead(result.events))
        if result.users:
            users = (f"{name_text(name)}={id_text(uid)}" for uid, name in result.users.items())
            lines.append("Users: " + ", ".join(users))
    lines += [f"Note: {note}" for note in notes]
    if result.next_cursor:
        lines.append(f"More: call list_events with cursor={result.next_cursor} for older events.")
    elif result.events:
        lines.append("End of results.")
    return "\n".join(lines)


# --- one event in detail -----------------------------------------------------------------


def _describe(event: Event, item: EventItem, name: str | None) -> str:
    """The event in one sentence, as the text shows it. Structured content carries the same sentence:
    prose to read, whose names and IDs its own fields carry plain."""
    entry = catalog.lookup(event.object_type)
    noun = entry.label.lower() if entry else key_text(event.object_type)
    target = noun
    if name:
        target += f" {quote(name, 80)}"
    elif event.object_id:
        target += f" {id_text(event.object_id)}"
    who = who_text(item.user_name, item.user_id) or "Close (no user)"
    verb = _VERBS.get(event.action, key_text(event.action))
    sentence = f"{who} {verb} {target}"
    if event.action == "merged" and event.merge_source:
        destination = id_text(event.merge_destination) if event.merge_destination else None
        sentence = f"{who} merged lead {id_text(event.merge_source)} into {target} ({destination})"
    if item.changes:
        sentence += ": " + changes_text(item.changes, shown=3)
    elif item.touch_only:
        sentence += f": {TOUCHED} (only {_and([key_text(f) for f in touched_fields(event)])})"
        if request := item.request or (id_text(event.request_id) if event.request_id else None):
            sentence += f", by the request {request}"
    return sentence + "."


def render_detail(event: Event, names: NameBook, *, now: datetime) -> tuple[str, EventDetail]:
    item = event_item(event, names, now)
    payload = event.payload
    name = object_name(event.object_type, payload)
    values = {
        fact.label: value
        for fact, value in fact_values(event.object_type, payload, line_only=False, limit=120)
    }
    values.update((names.field(key), value) for key, value in custom_values(payload, 80))
    notes = []
    if item.data_withheld:
        notes.append(WITHHELD_NOTE)
    elif event.data is None and event.previous_data:
        notes.append("The object was deleted; the key fields are from previous_data, as it was before.")
    detail = EventDetail(
        **{**dict(item), "object_name": name, "request_id": event.request_id, "request": request_line(event)},
        description=_describe(event, item, name),
        facts={label: value.plain for label, value in values.items()},
        notes=notes,
    ).with_bare_facts(label for label, value in values.items() if not value.quoted)
    return detail_text(detail, touched_fields(event)), detail


def _fact_label_text(detail: EventDetail, label: str) -> str:
    """A fact's label as the text shows it: ours as it is; a custom field's name quoted, its key (when
    its name is not known) unless it is one identifier."""
    if any(fact.label == label for fact in facts_for(detail.object_type)):
        return label
    return key_text(label) if label.startswith("custom.") else name_text(label, 60)


def detail_text(detail: EventDetail, touched: Sequence[str] = ("date_updated",)) -> str:
    """The event in detail; ``touched``, the bookkeeping fields a touch-only update changed."""
    what = f"{key_text(detail.object_type)} {key_text(detail.action)}"
    lines = [f"Event {id_text(detail.id)} · {what} · {detail.at}", detail.description]
    object_name_text = f" {quote(detail.object_name, 80)}" if detail.object_name else ""
    if detail.object_id and detail.object_id != detail.lead_id:
        lines.append(f"Object: {id_text(detail.object_id)}{object_name_text}")
    if detail.lead_id:
        lead_name = f" {quote(detail.lead_name, 80)}" if detail.lead_name else ""
        lines.append(f"Lead: {id_text(detail.lead_id)}{lead_name}")
    if detail.user_id or detail.via:
        if detail.user_name:
            who = f"{name_text(detail.user_name)} ({id_text(detail.user_id or '')})"
        else:
            who = id_text(detail.user_id) if detail.user_id else "no user"
        lines.append(f"By: {who}" + (f" via {via_text(detail.via)}" if detail.via else ""))
    if detail.request or detail.request_id:
        request_id = id_text(detail.request_id) if detail.request_id else None
        request = " · ".join(part for part in (detail.request, request_id) if part)
        lines.append(f"Request: {request}")
    if detail.how:
        lines.append(f"How: {how_text(detail.how)}")
    if detail.touch_only:
        by = ", by the request above" if detail.request or detail.request_id else ""
        lines.append(f"Changed: nothing but {_and([key_text(f) for f in touched])} (a touch{by})")
    if detail.changes:
        lines.append("Changed:")
        for change in detail.changes:
            values = _change_values(change, shown=MAX_LIST_ITEMS)
            lines.append(f"  {field_text(change)}: {values}" if values else f"  {field_text(change)}")
    if detail.facts:
        lines.append(
            "Before deletion:"
            if detail.action == "deleted"
            else "As of this event (unchanged by it):"
            if detail.touch_only
            else "As of this event:"
        )
        for label, value in detail.facts.items():
            shown = value if detail.is_bare_fact(label) else quote_whole(value)
            lines.append(f"  {_fact_label_text(detail, label)}: {shown}")
    lines += [f"Note: {note}" for note in detail.notes]
    if is_close_id(detail.request_id):
        lines.append(f"Everything this request did: list_events request_id={detail.request_id}")
    return "\n".join(lines)
