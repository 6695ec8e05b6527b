"""A digest of a time window: counts, actors, busiest leads, and the events worth reading.

Aggregation streams: each scan slice feeds its own ``Tally`` of counters and a few notable
events per kind, so memory stays flat however many events are read; the tallies of the
stretch that was fully read are merged at the end.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from close_events_mcp import catalog
from close_events_mcp.event import Event, format_timestamp
from close_events_mcp.names import NameBook
from close_events_mcp.render import event_item, event_line
from close_events_mcp.results import ActorCount, EventDigest, LeadCount, NotableGroup
from close_events_mcp.scan import ScanResult
from close_events_mcp.text import id_text, key_text, name_text, quote

NOTABLE_PER_KIND: Final = 8
TOP_LEADS: Final = 5
_DELETABLE = frozenset({"lead", "contact", "opportunity", "custom_object"})


def _status_type(event: Event) -> str | None:
    data = event.data or {}
    value = data.get("status_type")
    return value if isinstance(value, str) else None


def _notable_kind(event: Event) -> str | None:
    kind, action = catalog.LEGACY_NAMES.get(event.object_type, event.object_type), event.action
    changed = set(event.changed_fields)
    if kind == "lead" and action == "merged":
        return "Merges"
    if action == "deleted" and kind == "lead":
        return "Leads deleted"
    if action == "deleted" and (kind in _DELETABLE or kind.startswith(("activity.", "task."))):
        if event.merge_source:
            return None  # the merge itself is listed; its moved children are noise
        return "Other records deleted"
    status_changed = bool(changed & {"status_id", "status_label", "status_type"})
    if (
        kind == "opportunity"
        and action == "updated"
        and status_changed
        and _status_type(event) in ("won", "lost")
    ):
        return "Opportunities won or lost"
    if kind == "lead" and action == "updated" and changed & {"status_id", "status_label"}:
        return "Lead status changes"
    if action == "updated" and any(f.startswith("custom.") for f in changed):
        return "Custom field changes"
    if kind.startswith("bulk_action.") and action in ("created", "completed", "paused"):
        return "Bulk actions and imports"
    if kind == "import" and action in ("created", "completed", "reverting", "reverted"):
        return "Bulk actions and imports"
    return None


NOTABLE_KINDS: Final = (
    "Leads deleted",
    "Other records deleted",
    "Merges",
    "Opportunities won or lost",
    "Lead status changes",
    "Custom field changes",
    "Bulk actions and imports",
)


NO_USER: Final = "no user (automatic)"
_API_KEY: Final = "API key "


def actor_key(event: Event) -> str:
    if event.user_id:
        return event.user_id
    if event.api_key_id:
        return _API_KEY + event.api_key_id
    return NO_USER


def actor_text(actor: ActorCount) -> str:
    """Who, as the text shows it: a name quoted; else the user or API key ID, marked when it is not one."""
    if actor.name:
        return name_text(actor.name)
    if actor.actor == NO_USER:
        return NO_USER
    if actor.actor.startswith(_API_KEY):
        return _API_KEY + id_text(actor.actor.removeprefix(_API_KEY))
    return id_text(actor.actor)


@dataclass
class Tally:
    """Counters and the newest few notable events of one slice of the window."""

    total: int = 0
    by_type: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_actor: Counter[str] = field(default_factory=Counter)
    by_lead: Counter[str] = field(default_factory=Counter)
    notable_counts: Counter[str] = field(default_factory=Counter)
    notable: dict[str, list[tuple[datetime, str, Event]]] = field(default_factory=dict)
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
        kind = _notable_kind(event)
        if kind:
            self.notable_counts[kind] += 1
            _keep_newest(self.notable.setdefault(kind, []), (event.date_updated, event.id, event))

    def merge(self, other: Tally) -> None:
        self.total += other.total
        self.by_type.update(other.by_type)
        self.by_actor.update(other.by_actor)
        self.by_lead.update(other.by_lead)
        self.notable_counts.update(other.notable_counts)
        for kind, entries in other.notable.items():
            mine = self.notable.setdefault(kind, [])
            for entry in entries:
                _keep_newest(mine, entry)


def _keep_newest(heap: list[tuple[datetime, str, Event]], entry: tuple[datetime, str, Event]) -> None:
    if len(heap) < NOTABLE_PER_KIND:
        heapq.heappush(heap, entry)
    elif entry[:2] > heap[0][:2]:
        heapq.heapreplace(heap, entry)


def combine(tallies: Iterable[Tally]) -> Tally:
    combined = Tally()
    for tally in tallies:
        combined.merge(tally)
    return combined


def build_digest(
    tally: Tally, names: NameBook, scan: ScanResult[Tally], *, since: datetime, until: datetime, now: datetime
) -> EventDigest:
    by_type: dict[str, dict[str, int]] = {}
    for (kind, action), count in sorted(tally.by_type.items(), key=lambda kv: (-kv[1], kv[0])):
        by_type.setdefault(kind, {})[action] = count
    notable = [
        NotableGroup(
            kind=kind,
            count=tally.notable_counts[kind],
            events=[
                event_item(e, names, now) for _, _, e in sorted(tally.notable.get(kind, []), reverse=True)
            ],
        )
        for kind in NOTABLE_KINDS
        if tally.notable_counts[kind]
    ]
    return EventDigest(
        since=format_timestamp(since),
        until=format_timestamp(until),
        total=tally.total,
        lead_count=len(tally.by_lead),
        by_type=dict(sorted(by_type.items(), key=lambda kv: -sum(kv[1].values()))),
        by_actor=[
            ActorCount(actor=key, name=names.user(key), count=count)
            for key, count in tally.by_actor.most_common()
        ],
        top_leads=[
            LeadCount(lead_id=lead, name=names.lead(lead), count=count)
            for lead, count in tally.by_lead.most_common(TOP_LEADS)
        ],
        notable=notable,
        complete=scan.complete,
        scanned=scan.events,
        pages=scan.pages,
    )


def _type_text(kind: str, actions: dict[str, int]) -> str:
    entry = catalog.lookup(kind)
    noisy = {a.name for a in entry.actions if a.noise} if entry else set()
    parts = [
        f"{key_text(action)}{' (autosaves)' if action in noisy else ''} {count}"
        for action, count in actions.items()
    ]
    return f"{key_text(kind)} {sum(actions.values())} ({', '.join(parts)})"


def digest_text(digest: EventDigest) -> str:
    users = sum(1 for a in digest.by_actor if a.actor.startswith("user_"))
    leads = f" on {digest.lead_count} leads" if digest.lead_count else ""
    lines = [
        f"Digest {digest.since} → {digest.until}, times UTC: {digest.total} events by {users} "
        f"{'user' if users == 1 else 'users'}{leads}."
    ]
    if digest.notable:
        lines.append("Highlights: " + " · ".join(f"{group.kind} {group.count}" for group in digest.notable))
    if digest.total:
        lines.append("What: " + " · ".join(_type_text(k, v) for k, v in digest.by_type.items()))
        lines.append("Who: " + " · ".join(f"{actor_text(a)} {a.count}" for a in digest.by_actor))
        lines.append(
            "Busiest leads: "
            + " · ".join(
                f"{quote(lead.name, 40) + ' ' if lead.name else ''}{id_text(lead.lead_id)} {lead.count}"
                for lead in digest.top_leads
            )
        )
    for group in digest.notable:
        shown = len(group.events)
        more = f", newest {shown} shown" if group.count > shown else ""
        lines.append(f"{group.kind} ({group.count}{more}):")
        lines += [f"  {event_line(item, standalone=True)}" for item in group.events]
    lines += [f"Note: {note}" for note in digest.notes]
    return "\n".join(lines)
