"""A digest of a time window, for a manager to read at a glance: what mattered, aggregated, then the
counts, the people, the busiest leads and the few events worth opening.

Aggregation streams: each scan slice feeds its own ``Tally`` of bounded counters (status transitions
keyed by kind and from → to, deletions by how and by whom, custom fields by key) and keeps only the
newest few events of each notable kind, so memory stays flat however many events are read; the
tallies of the stretch that was fully read are merged at the end. The text is bounded too: every
list shows its biggest or newest entries and says what it left out, and where the left-out part is
worth having, the exact ``list_events`` call that lists all of it over the digest's own window.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, TypeVar

from close_events_mcp import catalog
from close_events_mcp.close.names import NameBook
from close_events_mcp.engine.scan import ScanResult
from close_events_mcp.event import Event, format_timestamp
from close_events_mcp.query.filters import EventFilters
from close_events_mcp.render.changes import field_changes
from close_events_mcp.render.events import is_withheld
from close_events_mcp.render.objects import key_facts
from close_events_mcp.render.values import Shown, value_of
from close_events_mcp.results import (
    ActorCount,
    DeletedLead,
    DeletionGroup,
    EventDigest,
    EventPointer,
    FieldCount,
    JobItem,
    LeadCount,
    LeftOut,
    MergeItem,
    NotableGroup,
    OpportunityOutcome,
    StatusTransition,
)
from close_events_mcp.text import id_text, key_text, quote

TOP_LEADS: Final = 5
TOP_TYPES: Final = 4
TOP_ACTIONS: Final = 3
TOP_ACTORS: Final = 5
ACTORS_KEPT: Final = 20
"""Actors in the structured content (the text shows ``TOP_ACTORS``)."""
TOP_TRANSITIONS: Final = 3
TOP_FIELDS: Final = 5
OUTCOMES_SHOWN: Final = 4
DELETED_LEADS_SHOWN: Final = 4
MERGES_SHOWN: Final = 1
JOBS_SHOWN: Final = 2
DELETION_GROUPS_SHOWN: Final = 5
DELETION_GROUPS_KEPT: Final = 12
"""Deletion groups in the structured content (the text shows ``DELETION_GROUPS_SHOWN``)."""
WORTH_OPENING: Final = 3
NAME_CHARS: Final = 24
"""Names (leads, people, fields) are cut to this many characters in the text."""
MAX_KEYS: Final = 300
"""Most distinct keys a counter of user-defined values (statuses, fields) keeps per slice."""

# What each kind of notable event keeps: its newest few events.
LEADS_DELETED: Final = "Leads deleted"
OTHERS_DELETED: Final = "Other records deleted"
MERGES: Final = "Merges"
OUTCOMES: Final = "Opportunities won or lost"
LEAD_STATUS: Final = "Lead status changes"
CUSTOM_FIELDS: Final = "Custom field changes"
JOBS: Final = "Bulk actions and imports"
NOTABLE_KINDS: Final = (LEADS_DELETED, OTHERS_DELETED, MERGES, OUTCOMES, LEAD_STATUS, CUSTOM_FIELDS, JOBS)
_KEEP: Final = {
    LEADS_DELETED: DELETED_LEADS_SHOWN + 1,
    OTHERS_DELETED: 1,
    MERGES: MERGES_SHOWN,
    OUTCOMES: OUTCOMES_SHOWN + 1,
    LEAD_STATUS: 1,
    CUSTOM_FIELDS: 1,
    JOBS: 12,
    "by hand": 2,
}
"""Events kept per kind: enough to list, plus one to know the list is longer. ``by hand`` keeps the
newest leads deleted one by one (worth opening); custom field changes keep one, so that their names
are looked up."""

_DELETABLE = frozenset({"lead", "contact", "opportunity", "custom_object"})
_STATUS_FIELDS = frozenset({"status_id", "status_label", "status_type"})
_STATUS_NAMES = frozenset({"status", "status_label", "status_id"})
_MATCH_SUFFIXES = ("", "_id", "_label", "_name", "_formatted")
"""What ``changed_field=X`` matches besides ``X`` (``query.plan``'s rule, so counts match the calls)."""
_STATUS_MATCHED = frozenset("status" + suffix for suffix in _MATCH_SUFFIXES)
_TYPE_MATCHED = frozenset("status_type" + suffix for suffix in _MATCH_SUFFIXES)
_JOB_ACTIONS = frozenset({"created", "completed", "paused", "canceled", "reverting", "reverted"})
HOWS: Final = ("by hand", "via API", "by bulk action", "by merge", "by import revert")

NO_USER: Final = "no user (automatic)"
OTHER_ACTORS: Final = "other actors"
"""Deletions past ``MAX_KEYS`` groups in one slice, by actors not counted apart."""
_API_KEY: Final = "API key "


def actor_key(event: Event) -> str:
    if event.user_id:
        return event.user_id
    if event.api_key_id:
        return _API_KEY + event.api_key_id
    return NO_USER


def _kind(event: Event) -> str:
    return catalog.LEGACY_NAMES.get(event.object_type, event.object_type)


def _outcome(event: Event) -> str | None:
    """won or lost, for an opportunity update that moved it to a won or lost status."""
    if _kind(event) != "opportunity" or event.action != "updated":
        return None
    changed = set(event.changed_fields)
    if not _STATUS_FIELDS & changed:
        return None
    data = event.data or {}
    status_type = data.get("status_type")
    if status_type is not None and "status_type" not in changed:
        return None  # from one won (or lost) status to another: not a new outcome
    if status_type is None:  # no type: a status called Won or Lost
        label = data.get("status_label")
        status_type = label.strip().lower() if isinstance(label, str) else None
    return status_type if status_type in ("won", "lost") else None


def _how(event: Event) -> str:
    if event.merge_source or event.merge_destination:
        return "by merge"
    if event.bulk_action_id:
        return "by bulk action"
    if event.revert_import_id:
        return "by import revert"
    if event.api_key_id or event.oauth_client_id:
        return "via API"
    return "by hand"


def _how_id(event: Event) -> str | None:
    """The bulk action, import or merge destination behind a deletion."""
    return event.bulk_action_id or event.revert_import_id or event.merge_destination


def _is_deletion(event: Event) -> bool:
    kind = _kind(event)
    if event.action != "deleted" or not (kind in _DELETABLE or kind.startswith(("activity.", "task."))):
        return False
    # A merge moves the source lead's records: the merge and the lead it deletes are what happened.
    return kind == "lead" or not event.merge_source


def _status_change(event: Event) -> tuple[Shown, Shown] | None:
    if event.action != "updated" or not {"status_id", "status_label"} & set(event.changed_fields):
        return None
    for change in field_changes(event):
        if change.field in _STATUS_NAMES and change.before is not None and change.after is not None:
            return change.before, change.after
    return None


Entry = tuple[datetime, str, Event]
Transition = tuple[str, Shown, Shown]
DeletionKey = tuple[str, str]
"""(how, actor)."""


K = TypeVar("K")


def _count_bounded(counter: Counter[K], key: K, amount: int = 1) -> bool:
    """Count ``key`` unless the counter is full of other keys; False when it was not counted."""
    if key in counter or len(counter) < MAX_KEYS:
        counter[key] += amount
        return True
    return False


@dataclass
class Tally:
    """Bounded counters and the newest few notable events of one slice of the window."""

    total: int = 0
    by_type: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_actor: Counter[str] = field(default_factory=Counter)
    by_lead: Counter[str] = field(default_factory=Counter)
    notable_counts: Counter[str] = field(default_factory=Counter)
    notable: dict[str, list[Entry]] = field(default_factory=dict)
    """The newest few events of each notable kind (``_KEEP``), as heaps."""
    outcomes: Counter[str] = field(default_factory=Counter)
    transitions: Counter[Transition] = field(default_factory=Counter)
    transitions_dropped: int = 0
    deletions: Counter[tuple[str, str, bool]] = field(default_factory=Counter)
    """(how, actor, is a lead) → deletions."""
    deletion_ids: dict[DeletionKey, set[str]] = field(default_factory=dict)
    """The first few bulk actions, imports or merge destinations of each (how, actor)."""
    deleted_kinds: Counter[str] = field(default_factory=Counter)
    fields: Counter[str] = field(default_factory=Counter)
    fields_dropped: int = 0
    type_changes: int = 0
    """Opportunity updates whose changed_fields name status_type (what ``changed_field=status_type``
    lists): moves to won or lost, reopenings, and those whose values were withheld."""
    status_changes: int = 0
    """Opportunity updates whose changed_fields name a status (what ``changed_field=status`` lists)."""
    outcomes_by_label: int = 0
    """Won or lost told by the status's label alone (the event carries no status_type)."""
    withheld: int = 0
    """Events whose values Close withheld (a key that is not an admin's, events older than an hour)."""
    withheld_status: Counter[str] = field(default_factory=Counter)
    """lead or opportunity → status changes whose values were withheld (not in ``transitions``)."""
    withheld_outcomes: int = 0
    """Opportunity status-type changes whose values were withheld: won, lost or reopened, unknown."""
    now: datetime | None = None
    """When the digest was asked for: events older than Close's visibility window without values were
    withheld (without it, withheld values are not told apart)."""
    accept: Callable[[Event], bool] | None = None
    """Events that fail this (filters checked on our side) are not counted."""
    on_event: Callable[[Event], None] | None = None

    @property
    def satisfied(self) -> bool:
        return False

    def add(self, event: Event) -> None:
        if self.accept is not None and not self.accept(event):
            return
        if self.on_event is not None:
            self.on_event(event)
        self.total += 1
        self.by_type[(event.object_type, event.action)] += 1
        self.by_actor[actor_key(event)] += 1
        if event.lead_id:
            self.by_lead[event.lead_id] += 1
        kind, action = _kind(event), event.action
        if kind == "lead" and action == "merged":
            self._keep(MERGES, event)
        if _is_deletion(event):
            self._deletion(event, kind)
        changed = set(event.changed_fields)
        withheld = self.now is not None and is_withheld(event, self.now)
        self.withheld += withheld
        if kind == "opportunity" and action == "updated":
            self.type_changes += bool(changed & _TYPE_MATCHED)
            self.status_changes += bool(changed & _STATUS_MATCHED)
            self.withheld_outcomes += withheld and bool(changed & _TYPE_MATCHED)
        if withheld and kind in ("lead", "opportunity") and changed & _STATUS_FIELDS:
            self.withheld_status[kind] += 1
        if outcome := _outcome(event):
            self.outcomes[outcome] += 1
            self.outcomes_by_label += "status_type" not in changed
            self._keep(OUTCOMES, event)
        if kind in ("lead", "opportunity") and (change := _status_change(event)):
            if not _count_bounded(self.transitions, (kind, *change)):
                self.transitions_dropped += 1
            if kind == "lead":
                self._keep(LEAD_STATUS, event)
        if action == "updated":
            custom = [f for f in event.changed_fields if f.startswith("custom.")]
            for key in custom:
                if not _count_bounded(self.fields, key):
                    self.fields_dropped += 1
            if custom:
                self._keep(CUSTOM_FIELDS, event)
        if (kind.startswith("bulk_action.") or kind == "import") and action in _JOB_ACTIONS:
            self._keep(JOBS, event)

    def _deletion(self, event: Event, kind: str) -> None:
        how, actor, is_lead = _how(event), actor_key(event), kind == "lead"
        if not _count_bounded(self.deletions, (how, actor, is_lead)):
            self.deletions[(how, OTHER_ACTORS, is_lead)] += 1  # only past MAX_KEYS (how, actor) pairs
        if (via := _how_id(event)) is not None:
            known = self.deletion_ids.setdefault((how, actor), set())
            if len(known) < 3:
                known.add(via)
        if is_lead:
            self._keep(LEADS_DELETED, event)
            if how in ("by hand", "via API"):
                self._keep("by hand", event, count=False)
        else:
            self.deleted_kinds[kind] += 1
            self._keep(OTHERS_DELETED, event)

    def _keep(self, kind: str, event: Event, *, count: bool = True) -> None:
        if count:
            self.notable_counts[kind] += 1
        _keep_newest(self.notable.setdefault(kind, []), (event.date_updated, event.id, event), _KEEP[kind])

    def merge(self, other: Tally) -> None:
        self.total += other.total
        self.by_type.update(other.by_type)
        self.by_actor.update(other.by_actor)
        self.by_lead.update(other.by_lead)
        self.notable_counts.update(other.notable_counts)
        self.outcomes.update(other.outcomes)
        self.deleted_kinds.update(other.deleted_kinds)
        self.deletions.update(other.deletions)  # bounded by the actors, already counted
        for kind, entries in other.notable.items():
            mine = self.notable.setdefault(kind, [])
            for entry in entries:
                _keep_newest(mine, entry, _KEEP[kind])
        for key, count in other.transitions.items():
            if not _count_bounded(self.transitions, key, count):
                self.transitions_dropped += count
        self.transitions_dropped += other.transitions_dropped
        for name, count in other.fields.items():
            if not _count_bounded(self.fields, name, count):
                self.fields_dropped += count
        self.fields_dropped += other.fields_dropped
        self.type_changes += other.type_changes
        self.status_changes += other.status_changes
        self.outcomes_by_label += other.outcomes_by_label
        self.withheld += other.withheld
        self.withheld_status.update(other.withheld_status)
        self.withheld_outcomes += other.withheld_outcomes
        for group, ids in other.deletion_ids.items():
            known = self.deletion_ids.setdefault(group, set())
            known.update(sorted(ids)[: max(3 - len(known), 0)])


def _keep_newest(heap: list[Entry], entry: Entry, size: int) -> None:
    if len(heap) < size:
        heapq.heappush(heap, entry)
    elif entry[:2] > heap[0][:2]:
        heapq.heapreplace(heap, entry)


def combine(tallies: Iterable[Tally]) -> Tally:
    combined = Tally()
    for tally in tallies:
        combined.merge(tally)
    return combined


# --- from the tally to the digest ----------------------------------------------------------------


def follow_up(filters: EventFilters | None, since: datetime, until: datetime, **wanted: str) -> str:
    """The ``list_events`` call that lists a part of this digest: its filters, its window, and ``wanted``
    (a filter the digest already has wins: the events counted all match it)."""
    asked: dict[str, str] = dict(wanted)
    if filters is not None:
        for name in catalog.FILTER_NAMES:
            value = getattr(filters, name)
            if value is not None:
                asked[name] = value
        if filters.changed_field:
            asked["changed_field"] = filters.changed_field
        if filters.exclude_noisy and _may_be_noise(asked.get("object_type"), asked.get("action")):
            asked["exclude_noisy"] = "true"
    order = (*catalog.FILTER_NAMES, "changed_field", "exclude_noisy")
    parts = [f"{name}={key_text(asked[name])}" for name in order if name in asked]
    parts += [f"since={format_timestamp(since, 'exact')}", f"until={format_timestamp(until, 'exact')}"]
    return "list_events " + " ".join(parts)


def _may_be_noise(object_type: str | None, action: str | None) -> bool:
    """Whether events of this type and action can be noise (exclude_noisy then changes what is listed)."""
    entry = catalog.lookup(object_type) if object_type else None
    if object_type is None or entry is None:
        return True
    return any(a.noise for a in entry.actions if action is None or a.name == action)


def _value(event: Event) -> str | None:
    data = event.data or {}
    formatted = data.get("value_formatted")
    if isinstance(formatted, str) and formatted.strip():
        return value_of(formatted, 30).plain  # Close's own words: "$15,000 annually"
    value = data.get("value")
    if value is None or value == "" or isinstance(value, bool):
        return None
    shown = value_of(value, 30).plain
    period = data.get("value_period")
    return f"{shown} {period}" if isinstance(period, str) and period not in ("", "one_time") else shown


def _newest(tally: Tally, kind: str) -> list[Event]:
    return [event for _, _, event in sorted(tally.notable.get(kind, []), reverse=True)]


def _left_out(counts: list[int], shown: int) -> LeftOut | None:
    rest = counts[shown:]
    return LeftOut(items=len(rest), events=sum(rest)) if rest else None


def build_digest(
    tally: Tally,
    names: NameBook,
    scan: ScanResult[Tally],
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    filters: EventFilters | None = None,
) -> EventDigest:
    """The digest of ``tally`` over [since, until); ``filters`` (the digest's own) go into its follow-up
    calls, so that each lists exactly the events it counted."""
    del now  # the tally told withheld values apart as it read (``Tally.now``)
    by_type: dict[str, dict[str, int]] = {}
    for (kind, action), count in sorted(tally.by_type.items(), key=lambda kv: (-kv[1], kv[0])):
        by_type.setdefault(kind, {})[action] = count
    actors = tally.by_actor.most_common()

    def call(**wanted: str) -> str:
        return follow_up(filters, since, until, **wanted)

    calls = {
        LEADS_DELETED: call(object_type="lead", action="deleted"),
        OTHERS_DELETED: None,
        MERGES: call(object_type="lead", action="merged"),
        OUTCOMES: call(
            object_type="opportunity", changed_field="status" if tally.outcomes_by_label else "status_type"
        ),
        LEAD_STATUS: call(object_type="lead", changed_field="status"),
        CUSTOM_FIELDS: None,
        JOBS: None,
    }
    listed = {OUTCOMES: tally.status_changes if tally.outcomes_by_label else tally.type_changes}
    notable = [
        NotableGroup(
            kind=kind,
            count=tally.notable_counts[kind],
            follow_up=calls[kind],
            listed=listed[kind] if listed.get(kind, 0) > tally.notable_counts[kind] else None,
        )
        for kind in NOTABLE_KINDS
        if tally.notable_counts[kind]
    ]
    shown_transitions: dict[str, list[StatusTransition]] = {"lead": [], "opportunity": []}
    transitions_left_out: dict[str, LeftOut] = {}
    for (kind, before, after), count in tally.transitions.most_common():
        if len(shown_transitions[kind]) < TOP_TRANSITIONS:
            shown_transitions[kind].append(
                StatusTransition(object_type=kind, before=before.plain, after=after.plain, count=count)
            )
        else:
            left = transitions_left_out.setdefault(kind, LeftOut(items=0, events=0))
            left.items, left.events = left.items + 1, left.events + count
    if tally.transitions_dropped:
        transitions_left_out["other"] = LeftOut(items=0, events=tally.transitions_dropped)
    fields = tally.fields.most_common()
    deletions: dict[DeletionKey, DeletionGroup] = {}
    for (how, actor, is_lead), count in tally.deletions.items():
        group = deletions.get((how, actor))
        if group is None:
            ids = sorted(tally.deletion_ids.get((how, actor), ()))
            group = DeletionGroup(how=how, actor=actor, name=names.user(actor), via=ids)
            deletions[(how, actor)] = group
        if is_lead:
            group.leads += count
        else:
            group.others += count
    groups = sorted(deletions.values(), key=lambda g: (-(g.leads + g.others), HOWS.index(g.how), g.actor))
    return EventDigest(
        since=format_timestamp(since),
        until=format_timestamp(until),
        total=tally.total,
        user_count=sum(1 for key in tally.by_actor if key.startswith("user_")),
        lead_count=len(tally.by_lead),
        by_type=dict(sorted(by_type.items(), key=lambda kv: -sum(kv[1].values()))),
        by_actor=[
            ActorCount(actor=key, name=names.user(key), count=count) for key, count in actors[:ACTORS_KEPT]
        ],
        actors_left_out=_left_out([count for _, count in actors], ACTORS_KEPT),
        top_leads=[
            LeadCount(lead_id=lead, name=names.lead(lead), count=count)
            for lead, count in tally.by_lead.most_common(TOP_LEADS)
        ],
        notable=notable,
        opportunities_won=tally.outcomes["won"],
        opportunities_lost=tally.outcomes["lost"],
        outcomes=[_outcome_item(event, names) for event in _newest(tally, OUTCOMES)[:OUTCOMES_SHOWN]],
        transitions=[t for kind in ("lead", "opportunity") for t in shown_transitions[kind]],
        transitions_left_out=transitions_left_out,
        deletions=groups[:DELETION_GROUPS_KEPT],
        deletions_left_out=_left_out([g.leads + g.others for g in groups], DELETION_GROUPS_KEPT),
        deleted_other=dict(tally.deleted_kinds.most_common()),
        deleted_leads=[
            _deleted_lead(event, names) for event in _newest(tally, LEADS_DELETED)[:DELETED_LEADS_SHOWN]
        ],
        merges=[_merge_item(event, names) for event in _newest(tally, MERGES)],
        jobs=_jobs(_newest(tally, JOBS), names, filtered=_narrowed(filters)),
        custom_fields=[
            FieldCount(field=names.field(key), key=key, count=n) for key, n in fields[:TOP_FIELDS]
        ],
        custom_fields_left_out=_left_out(
            [count for _, count in fields] + [tally.fields_dropped] * bool(tally.fields_dropped), TOP_FIELDS
        ),
        withheld=tally.withheld,
        withheld_status=dict(tally.withheld_status),
        withheld_outcomes=tally.withheld_outcomes,
        worth_opening=_worth_opening(tally, names),
        complete=scan.complete,
        scanned=scan.events,
        pages=scan.pages,
    )


def _outcome_item(event: Event, names: NameBook) -> OpportunityOutcome:
    return OpportunityOutcome(
        outcome=_outcome(event) or "",
        opportunity_id=event.object_id,
        lead_id=event.lead_id,
        lead_name=names.lead(event.lead_id),
        value=_value(event),
        user_id=event.user_id,
        user_name=names.user(event.user_id),
        at=format_timestamp(event.date_updated),
        event_id=event.id,
    )


def _deleted_lead(event: Event, names: NameBook) -> DeletedLead:
    lead = event.object_id or event.lead_id or ""
    return DeletedLead(
        lead_id=lead,
        name=names.lead(lead),
        how=_how(event),
        at=format_timestamp(event.date_updated),
        event_id=event.id,
    )


def _merge_item(event: Event, names: NameBook) -> MergeItem:
    source, destination = event.merge_source, event.merge_destination or event.object_id
    return MergeItem(
        source=source,
        source_name=names.lead(source),
        destination=destination,
        destination_name=names.lead(destination),
        user_id=event.user_id,
        user_name=names.user(event.user_id),
        at=format_timestamp(event.date_updated),
        event_id=event.id,
    )


def _narrowed(filters: EventFilters | None) -> bool:
    """Whether the filters may leave out some of a job's events (a user, a lead, a changed field…)."""
    if filters is None:
        return False
    narrowing = [getattr(filters, name) for name in catalog.FILTER_NAMES if name != "object_type"]
    return any(value is not None for value in narrowing) or bool(filters.changed_field)


def _jobs(events: list[Event], names: NameBook, *, filtered: bool = False) -> list[JobItem]:
    """The newest bulk actions and imports, each once: its latest state, who started it. ``filtered``:
    the filters may hide its later events, so no progress is given (it may be stale)."""
    jobs: dict[str, JobItem] = {}
    for event in events:  # newest first
        job_id = event.object_id or event.id
        known = jobs.get(job_id)
        if known is None:
            if len(jobs) == JOBS_SHOWN:
                continue
            summary = (
                None if filtered else key_facts(event.object_type, event.payload, action=event.action) or None
            )
            jobs[job_id] = JobItem(
                object_type=event.object_type,
                job_id=job_id,
                state=event.action,
                summary=summary,
                filtered=filtered or None,
                user_id=event.user_id,
                user_name=names.user(event.user_id),
                at=format_timestamp(event.date_updated),
                event_id=event.id,
            )
        elif known.user_id is None and event.user_id:
            known.user_id, known.user_name = event.user_id, names.user(event.user_id)
        if known is not None and event.action == "created":
            known.event_id = event.id  # its creation says what it was asked to do
    return list(jobs.values())


def _worth_opening(tally: Tally, names: NameBook) -> list[EventPointer]:
    """A few events to read in full, besides those the highlights list with their IDs: leads deleted
    one by one, the newest bulk delete or import revert, an opportunity lost."""
    picks: list[EventPointer] = []

    def add(event: Event, why: str, lead_id: str | None) -> None:
        if len(picks) < WORTH_OPENING and all(p.event_id != event.id for p in picks):
            picks.append(
                EventPointer(
                    event_id=event.id,
                    at=format_timestamp(event.date_updated),
                    why=why,
                    object_id=event.object_id if event.object_id != lead_id else None,
                    lead_id=lead_id,
                    lead_name=names.lead(lead_id),
                    user_id=event.user_id,
                    user_name=names.user(event.user_id),
                )
            )

    for event in _newest(tally, "by hand")[:2]:
        add(event, f"lead deleted {_how(event)}", event.object_id)
    for event in _newest(tally, JOBS):
        kind = _kind(event)
        if kind == "bulk_action.delete" and event.action == "created":
            add(event, "bulk delete started", None)
            break
        if kind == "import" and event.action in ("reverting", "reverted"):
            add(event, f"import {event.action}", None)
            break
    for event in _newest(tally, OUTCOMES)[OUTCOMES_SHOWN:]:  # the newest are listed with their IDs
        if _outcome(event) == "lost":
            add(event, "opportunity lost", event.lead_id)
            break
    return picks


# --- the text ------------------------------------------------------------------------------------

TEXT_BUDGET: Final = 2_000
"""Most tokens the text may take, by ``estimate_tokens`` (which counts high): fewer entries are shown,
and names cut shorter, until it fits."""

_PIECE = re.compile(r"[A-Za-z]+|[0-9]+|[^\x00-\x7f]|\s+|.", re.DOTALL)
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+")


def estimate_tokens(text: str) -> int:
    """An estimate of the text's cl100k tokens that errs high, whatever the alphabet: a character
    outside ASCII counts one per UTF-8 byte (no token is shorter than a byte), a word one per five
    letters, a run of mixed letters (an ID, a random name) three per four, digits one per three,
    anything else one each."""
    total = 0
    for match in _PIECE.finditer(text):
        piece = match.group()
        first = piece[0]
        if not first.isascii():
            total += len(piece.encode())
        elif first.isalpha():
            size = len(piece)
            wordy = size <= 12 and _WORD.fullmatch(piece)
            total += 1 + (size - 1) // 5 if wordy else -(-size * 3 // 4)
        elif first.isdigit():
            total += -(-len(piece) // 3)
        elif first.isspace():
            total += piece != " "
        else:
            total += 1
    return total


def fitted(value: str, chars: int, tokens: int) -> str:
    """User text quoted, cut to ``chars`` characters and, shorter still, to about ``tokens`` tokens."""
    text = quote(value, chars)
    while chars > 1 and estimate_tokens(text) > tokens + 2:  # the quotes
        chars = max(1, min(chars - 1, chars * tokens // max(estimate_tokens(text), 1)))
        text = quote(value, chars)
    return text


@dataclass(frozen=True)
class Shape:
    """How much of the digest the text shows: names' length and how many entries each list shows."""

    name_tokens: int = 12
    leads: int = TOP_LEADS
    outcomes: int = OUTCOMES_SHOWN
    deleted: int = DELETED_LEADS_SHOWN
    groups: int = DELETION_GROUPS_SHOWN
    actors: int = TOP_ACTORS
    types: int = TOP_TYPES
    transitions: int = TOP_TRANSITIONS
    fields: int = TOP_FIELDS
    jobs: int = JOBS_SHOWN
    worth: int = WORTH_OPENING

    def name(self, value: str) -> str:
        return fitted(value, NAME_CHARS, self.name_tokens)

    def status(self, value: str) -> str:
        """A status: as it is when it is one word, else quoted (it is user text)."""
        if _TOKEN.fullmatch(value) and estimate_tokens(value) <= self.name_tokens:
            return value
        return fitted(value, 20, self.name_tokens)


SHAPES: Final = (
    Shape(),
    Shape(name_tokens=8, leads=3, outcomes=3, deleted=3, groups=4, actors=4, transitions=2, fields=3),
    Shape(6, 2, 2, 2, 3, 3, 3, 2, 2, 1, 1),
    Shape(3, 0, 1, 1, 2, 2, 2, 1, 1, 1, 0),
    Shape(1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0),
)
"""Tried in turn until the text fits ``TEXT_BUDGET``."""

_TOKEN = re.compile(r"[A-Za-z0-9_.+-]{1,20}")


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


_NOISE_WORDS = {"autosave": "autosaves", "progress": "progress"}


def _type_text(kind: str, actions: Mapping[str, int]) -> str:
    entry = catalog.lookup(kind)
    noise = {a.name: a.noise for a in entry.actions if a.noise} if entry else {}
    listed = list(actions.items())
    parts = [
        f"{key_text(action)}{f' ({_NOISE_WORDS[noise[action]]})' if action in noise else ''} {count}"
        for action, count in listed[:TOP_ACTIONS]
    ]
    if rest := listed[TOP_ACTIONS:]:
        parts.append(f"+{_plural(len(rest), 'more action')} ({_plural(sum(n for _, n in rest), 'event')})")
    return f"{key_text(kind)} {sum(actions.values())} ({', '.join(parts)})"


def _more(left_out: LeftOut | None, noun: str, unit: str = "event", extra: tuple[int, int] = (0, 0)) -> str:
    items = (left_out.items if left_out else 0) + extra[0]
    events = (left_out.events if left_out else 0) + extra[1]
    if not items:
        return ""
    return f" (+{_plural(items, 'more ' + noun)}, {_plural(events, unit)})"


def _value_text(value: str, shape: Shape) -> str:
    return fitted(value, 24, shape.name_tokens)


def _lead_text(lead_id: str | None, name: str | None, shape: Shape) -> str:
    if not lead_id:
        return "no lead"
    return (f"{shape.name(name)} " if name else "") + id_text(lead_id)


def _lead_name(lead_id: str | None, name: str | None, shape: Shape) -> str:
    """A lead by its name alone when it has one (its ID is a get_event away)."""
    return shape.name(name) if name else _lead_text(lead_id, None, shape)


def _who(user_name: str | None, user_id: str | None, shape: Shape) -> str:
    if user_name:
        return f" by {shape.name(user_name)}"
    return f" by {id_text(user_id)}" if user_id else ""


def _outcome_lines(digest: EventDigest, groups: Mapping[str, NotableGroup], shape: Shape) -> list[str]:
    group = groups.get(OUTCOMES)
    lines = []
    if group is not None:
        outcomes = digest.outcomes[: shape.outcomes]
        lines.append(
            f"Opportunities: {digest.opportunities_won} won, {digest.opportunities_lost} lost"
            + (":" if outcomes else "")
        )
        for item in outcomes:
            value = f" {_value_text(item.value, shape)}" if item.value else ""
            lines.append(
                f"  {item.outcome}{value} on {_lead_name(item.lead_id, item.lead_name, shape)}"
                f"{_who(item.user_name, item.user_id, shape)} {item.at[:10]} · {id_text(item.event_id)}"
            )
        if group.count > len(outcomes):
            among = ""
            if group.listed:
                by_type = "changed_field=status_type" in (group.follow_up or "")
                change = "status-type change" if by_type else "status change"
                among = f", among {_plural(group.listed, change)} this call lists"
            lines.append(f"  +{group.count - len(outcomes)} more{among}: {group.follow_up}")
    if digest.withheld_outcomes:
        lead = "  " if group is not None else ""
        lines.append(
            f"{lead}{'Opportunities: ' if group is None else ''}"
            f"{_plural(digest.withheld_outcomes, 'status-type change')} with values withheld "
            "(won, lost or reopened: not counted)"
        )
    return lines


def _transition_lines(digest: EventDigest, shape: Shape) -> list[str]:
    lines = []
    for kind, label in (("lead", "Lead status"), ("opportunity", "Opportunity status")):
        moves = [t for t in digest.transitions if t.object_type == kind]
        withheld = digest.withheld_status.get(kind, 0)
        if not moves and not withheld:
            continue
        shown, hidden = moves[: shape.transitions], moves[shape.transitions :]
        parts = [f"{shape.status(t.before)} → {shape.status(t.after)} ×{t.count}" for t in shown]
        more = _more(
            digest.transitions_left_out.get(kind),
            "transition",
            extra=(len(hidden), sum(t.count for t in hidden)),
        )
        if withheld:
            parts.append(f"{_plural(withheld, 'change')} with values withheld")
        lines.append(f"{label}: " + " · ".join(parts) + more)
    if other := digest.transitions_left_out.get("other"):
        lines.append(f"Other status changes (too many distinct statuses): {_plural(other.events, 'event')}")
    return lines


def _deletion_lines(digest: EventDigest, groups: Mapping[str, NotableGroup], shape: Shape) -> list[str]:
    leads = groups.get(LEADS_DELETED)
    others = groups.get(OTHERS_DELETED)
    if leads is None and others is None:
        return []
    parts = []
    if leads:
        parts.append(_plural(leads.count, "lead"))
    if others:
        kinds = list(digest.deleted_other.items())
        listed = ", ".join(f"{key_text(k)} {n}" for k, n in kinds[:3])
        more = f", +{len(kinds) - 3} more types" if len(kinds) > 3 else ""
        parts.append(f"{_plural(others.count, 'other record')} ({listed}{more})")
    lines = [f"Deleted: {' and '.join(parts)}:"]
    shown_groups = digest.deletions[: shape.groups]
    for how in HOWS:
        parts = [_deletion_text(g, shape) for g in shown_groups if g.how == how]
        if parts:
            lines.append(f"  {how}: " + " · ".join(parts))
    rest = digest.deletions[shape.groups :]
    hidden, count = len(rest), sum(g.leads + g.others for g in rest)
    if digest.deletions_left_out:
        hidden, count = hidden + digest.deletions_left_out.items, count + digest.deletions_left_out.events
    if hidden:
        lines.append(f"  +{_plural(hidden, 'more group')} ({_plural(count, 'deletion')})")
    if leads:
        deleted = digest.deleted_leads[: shape.deleted]
        if len(deleted) < leads.count:
            lines.append(
                f"  Leads deleted, newest {len(deleted)} of {leads.count} (all: {leads.follow_up})"
                + (":" if deleted else "")
            )
        else:
            lines.append("  Leads deleted:")
        if deleted:
            lines.append("    " + " · ".join(_lead_text(d.lead_id, d.name, shape) for d in deleted))
    return lines


_VIA_NOUN = {"by bulk action": "bulk actions", "by import revert": "imports"}


def actor_text(actor: ActorCount | DeletionGroup, shape: Shape = SHAPES[0]) -> str:
    """Who, as the text shows it: a name quoted; else the user or API key ID, marked when it is not one."""
    if actor.name:
        return shape.name(actor.name)
    if actor.actor in (NO_USER, OTHER_ACTORS):
        return actor.actor
    if actor.actor.startswith(_API_KEY):
        return _API_KEY + id_text(actor.actor.removeprefix(_API_KEY))
    return id_text(actor.actor)


def _deletion_text(group: DeletionGroup, shape: Shape) -> str:
    counts = [_plural(group.leads, "lead")] if group.leads else []
    counts += [_plural(group.others, "other record")] if group.others else []
    via = ""
    if len(group.via) == 1 and group.how in _VIA_NOUN:
        via = f" ({id_text(group.via[0])})"
    elif group.via and group.how in _VIA_NOUN:
        via = f" ({len(group.via)}{'+' if len(group.via) >= 3 else ''} {_VIA_NOUN[group.how]})"
    return f"{actor_text(group, shape)} {' and '.join(counts)}{via}"


def _merge_lines(digest: EventDigest, groups: Mapping[str, NotableGroup], shape: Shape) -> list[str]:
    group = groups.get(MERGES)
    if group is None:
        return []
    merges = digest.merges[: max(shape.outcomes, 1) if shape.name_tokens > 1 else 0]
    lines = [f"Merges: {group.count}" + (f" (all: {group.follow_up})" if group.count > len(merges) else "")]
    lines += [
        f"  {_lead_text(m.source, m.source_name, shape)} into "
        f"{_lead_text(m.destination, m.destination_name, shape)}"
        f"{_who(m.user_name, m.user_id, shape)} {m.at[:10]} · {id_text(m.event_id)}"
        for m in merges
    ]
    return lines


def _job_lines(digest: EventDigest, groups: Mapping[str, NotableGroup], shape: Shape) -> list[str]:
    if JOBS not in groups:
        return []
    started = Counter[str]()
    for kind, actions in digest.by_type.items():
        if kind.startswith("bulk_action.") or catalog.LEGACY_NAMES.get(kind, kind) == "import":
            for action in ("created", "completed", "reverted"):
                if actions.get(action):
                    started[action] += actions[action]
    counts = ", ".join(f"{n} {a}" for a, n in started.items()) or "none started"
    jobs = digest.jobs[: shape.jobs]
    lines = [
        f"Bulk actions and imports: {counts}" + (f"; newest {_plural(len(jobs), 'job')}:" if jobs else "")
    ]
    for job in jobs:
        summary = f": {job.summary}" if job.summary else ""
        state = f"last seen with these filters: {job.state}" if job.filtered else job.state
        lines.append(
            f"  {key_text(job.object_type)} {id_text(job.job_id)}{_who(job.user_name, job.user_id, shape)} "
            f"{state}{summary}"
        )
    return lines


def _withheld_note(digest: EventDigest) -> str | None:
    if not digest.withheld:
        return None
    return (
        f"For this key Close withholds the values of events older than {catalog.DATA_VISIBILITY_HOURS} hour "
        f"(it is not an admin's): {_plural(digest.withheld, 'event')} here came without them, so won/lost, "
        "status transitions and custom-field values could not be counted for them (their numbers by type, "
        "person and lead are counted). An admin's key sees everything."
    )


def digest_text(digest: EventDigest) -> str:
    """The digest as the model reads it: in the first shape whose text fits ``TEXT_BUDGET``."""
    for shape in SHAPES:
        text = render_digest(digest, shape)
        if estimate_tokens(text) <= TEXT_BUDGET:
            break
    return text


def render_digest(digest: EventDigest, shape: Shape) -> str:
    leads = f" on {_plural(digest.lead_count, 'lead')}" if digest.lead_count else ""
    lines = [
        f"Digest {digest.since} → {digest.until}, times UTC: {_plural(digest.total, 'event')} by "
        f"{_plural(digest.user_count, 'user')}{leads}."
    ]
    groups = {group.kind: group for group in digest.notable}
    highlights = [
        *_outcome_lines(digest, groups, shape),
        *_transition_lines(digest, shape),
        *_deletion_lines(digest, groups, shape),
        *_merge_lines(digest, groups, shape),
        *_job_lines(digest, groups, shape),
    ]
    if digest.custom_fields:
        shown, hidden = digest.custom_fields[: shape.fields], digest.custom_fields[shape.fields :]
        fields = " · ".join(f"{_field_text(f, shape)} {f.count}" for f in shown)
        more = _more(
            digest.custom_fields_left_out, "field", "change", (len(hidden), sum(f.count for f in hidden))
        )
        highlights.append(f"Custom fields changed: {fields or 'changes'}{more}")
    if highlights:
        lines.append("Highlights:")
        lines += [f"  {line}" for line in highlights]
    if digest.total:
        types = list(digest.by_type.items())
        shown_types = " · ".join(_type_text(k, v) for k, v in types[: shape.types])
        rest = [sum(v.values()) for _, v in types[shape.types :]]
        more = f" · +{_plural(len(rest), 'more type')} ({_plural(sum(rest), 'event')})" if rest else ""
        lines.append(f"What: {shown_types}{more}")
        actors = digest.by_actor[: shape.actors]
        left = digest.by_actor[shape.actors :]
        extra_items = len(left) + (digest.actors_left_out.items if digest.actors_left_out else 0)
        extra_events = sum(a.count for a in left) + (
            digest.actors_left_out.events if digest.actors_left_out else 0
        )
        who = " · ".join(f"{actor_text(a, shape)} {a.count}" for a in actors)
        if extra_items:
            who += f" · +{_plural(extra_items, 'more actor')} ({_plural(extra_events, 'event')})"
        lines.append(f"Who: {who}")
        top_leads = digest.top_leads[: shape.leads]
        if top_leads:
            lines.append(
                "Busiest leads: "
                + " · ".join(
                    f"{_lead_text(lead.lead_id, lead.name, shape)} {lead.count}" for lead in top_leads
                )
            )
    worth = digest.worth_opening[: shape.worth]
    if worth:
        lines.append("Worth opening (get_event):")
        lines += [f"  {_pointer_text(p, shape)}" for p in worth]
    notes = [note for note in (_withheld_note(digest),) if note]
    lines += [f"Note: {note}" for note in [*notes, *digest.notes]]
    return "\n".join(lines)


def _pointer_text(pointer: EventPointer, shape: Shape) -> str:
    target = f" {id_text(pointer.object_id)}" if pointer.object_id and not pointer.lead_id else ""
    lead = f" {_lead_name(pointer.lead_id, pointer.lead_name, shape)}" if pointer.lead_id else ""
    who = _who(pointer.user_name, pointer.user_id, shape)
    return f"{id_text(pointer.event_id)} {pointer.at[:10]} {pointer.why}{target}{lead}{who}"


def _field_text(field_count: FieldCount, shape: Shape) -> str:
    if field_count.field != field_count.key:
        return shape.name(field_count.field)
    return key_text(field_count.key)
