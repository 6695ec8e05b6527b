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
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, TypeVar

from close_events_mcp import catalog
from close_events_mcp.close.names import NameBook
from close_events_mcp.engine.scan import ScanResult
from close_events_mcp.event import Event, format_timestamp
from close_events_mcp.query.filters import EventFilters
from close_events_mcp.query.plan import fields_matched
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
from close_events_mcp.text import key_text

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

_STATUS_FIELDS = frozenset({"status_id", "status_label", "status_type"})
_STATUS_NAMES = frozenset({"status", "status_label", "status_id"})
_STATUS_MATCHED = fields_matched("status")
"""What the follow-up call's ``changed_field=status`` lists (the plan's own rule, so counts match it)."""
_TYPE_MATCHED = fields_matched("status_type")
_JOB_ACTIONS = frozenset({"created", "completed", "paused", "canceled", "reverting", "reverted"})
HOWS: Final = ("by hand", "via API", "by bulk action", "by merge", "by import revert")

NO_USER: Final = "no user (automatic)"
OTHER_ACTORS: Final = "other actors"
"""Deletions past ``MAX_KEYS`` groups in one slice, by actors not counted apart."""
API_KEY_ACTOR: Final = "API key "


def actor_key(event: Event) -> str:
    if event.user_id:
        return event.user_id
    if event.api_key_id:
        return API_KEY_ACTOR + event.api_key_id
    return NO_USER


def _kind(event: Event) -> str:
    return catalog.LEGACY_NAMES.get(event.object_type, event.object_type)


def _outcome(event: Event) -> str | None:
    """won or lost, for an opportunity update that moved it to a won or lost status."""
    if catalog.digest_rule(_kind(event)) != "outcome" or event.action != "updated":
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
    if event.action != "deleted" or not catalog.trait(kind, lambda entry: entry.deletable, False):
        return False
    # A merge moves the source lead's records: the merge and the lead it deletes are what happened.
    return catalog.digest_rule(kind) == "lead" or not event.merge_source


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
        rule = catalog.digest_rule(kind)
        if rule == "lead" and action == "merged":
            self._keep(MERGES, event)
        if _is_deletion(event):
            self._deletion(event, kind, is_lead=rule == "lead")
        changed = set(event.changed_fields)
        withheld = self.now is not None and is_withheld(event, self.now)
        self.withheld += withheld
        if rule == "outcome" and action == "updated":
            self.type_changes += bool(changed & _TYPE_MATCHED)
            self.status_changes += bool(changed & _STATUS_MATCHED)
            self.withheld_outcomes += withheld and bool(changed & _TYPE_MATCHED)
        if withheld and rule in ("lead", "outcome") and changed & _STATUS_FIELDS:
            self.withheld_status[kind] += 1
        if outcome := _outcome(event):
            self.outcomes[outcome] += 1
            self.outcomes_by_label += "status_type" not in changed
            self._keep(OUTCOMES, event)
        if rule in ("lead", "outcome") and (change := _status_change(event)):
            if not _count_bounded(self.transitions, (kind, *change)):
                self.transitions_dropped += 1
            if rule == "lead":
                self._keep(LEAD_STATUS, event)
        if action == "updated":
            custom = [f for f in event.changed_fields if f.startswith("custom.")]
            for key in custom:
                if not _count_bounded(self.fields, key):
                    self.fields_dropped += 1
            if custom:
                self._keep(CUSTOM_FIELDS, event)
        if rule == "job" and action in _JOB_ACTIONS:
            self._keep(JOBS, event)

    def _deletion(self, event: Event, kind: str, *, is_lead: bool) -> None:
        how, actor = _how(event), actor_key(event)
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
