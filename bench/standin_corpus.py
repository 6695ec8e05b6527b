"""The stand-in's Event Log: a generated organization of its own, indexed for Close's filters.

Not the demo organization, and written without the project's code: another mix of work (mostly
emails and calls, opportunity pipelines with custom fields, bulk deletes in bursts that share a
request and often a microsecond), other payload shapes, and busier US afternoons. Everything
derives from the seed: the same arguments give the same events, IDs and payloads.

Each event is kept as a few columns; its JSON is built when a page asks for it (from a generator
seeded by the event's index), so 150,000 events take a few tens of MB. Queries cost O(log n +
page): one posting list per filter combination Close supports (built on first use, then kept),
in the Event Log's order (newest ``date_updated`` first), cut to the date filters by bisection.
"""

from __future__ import annotations

import bisect
import itertools
import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

JSONDict = dict[str, Any]
FILTERS = ("object_type", "object_id", "action", "lead_id", "user_id", "request_id")
SUPPORTED = frozenset(
    frozenset(combo.split("+")) if combo else frozenset()
    for combo in (
        "object_type+object_id",
        "object_type+action",
        "object_id+action",
        "lead_id+object_type",
        "lead_id+object_type+action",
        "lead_id+user_id+object_type",
        "lead_id+user_id+object_type+action",
        "lead_id+user_id",
        "user_id+object_id",
        "user_id+object_id+action",
        "user_id+object_type",
        "user_id+object_type+action",
        "lead_id",
        "user_id",
        "request_id",
        "object_type",
        "",
    )
)
"""Close's supported filter combinations (its docs), plus object_type alone and none at all."""

# Kind of work, its share of events, and the actions it records with their shares.
MIX: tuple[tuple[str, float, tuple[tuple[str, float], ...]], ...] = (
    ("activity.email", 0.27, (("created", 0.25), ("updated", 0.45), ("sent", 0.30))),
    ("activity.call", 0.19, (("created", 0.45), ("updated", 0.35), ("completed", 0.20))),
    ("opportunity", 0.14, (("updated", 0.85), ("created", 0.15))),
    ("lead", 0.12, (("updated", 0.75), ("created", 0.25))),
    ("activity.note", 0.06, (("created", 0.7), ("updated", 0.3))),
    ("contact", 0.06, (("created", 0.4), ("updated", 0.6))),
    ("task.lead", 0.06, (("created", 0.5), ("completed", 0.3), ("updated", 0.2))),
    ("activity.sms", 0.04, (("created", 0.5), ("sent", 0.5))),
    ("activity.meeting", 0.02, (("created", 0.6), ("completed", 0.4))),
)
BULK_DELETE_SHARE = 0.04
"""Of all events, the lead deletions done by bulk actions (in bursts of 20 to 200)."""
PREFIX = {
    "activity.email": "acti",
    "activity.call": "acti",
    "activity.note": "acti",
    "activity.sms": "acti",
    "activity.meeting": "acti",
    "opportunity": "oppo",
    "lead": "lead",
    "contact": "cont",
    "task.lead": "task",
}
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 9, 10, 10, 9, 8, 7, 6, 4, 3, 2)
"""Activity by UTC hour: a US-based team's afternoons."""
FIRST = ("Ava", "Bram", "Chidi", "Dara", "Esme", "Farid", "Gus", "Hana", "Ines", "Jonas", "Kemi", "Lior")
LAST = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Ibarra", "Novak", "Haddad", "Quinn", "Sato", "Varga")
WORDS = [
    "pricing",
    "renewal",
    "pilot",
    "seats",
    "budget",
    "contract",
    "demo",
    "follow-up",
    "onboarding",
    "procurement",
    "legal",
]
STAGES = ("Qualified", "Demo booked", "Proposal", "Negotiation", "Verbal yes", "Won", "Lost")
CUSTOM_FIELDS = (
    ("cf_seatCount000000000000001", "Seat count"),
    ("cf_competitor0000000000002", "Competitor"),
    ("cf_renewalMonth00000000003", "Renewal month"),
    ("cf_procurementStep00000004", "Procurement step"),
)
_ALPHABET = string.ascii_letters + string.digits


def object_id(prefix: str, rng: random.Random) -> str:
    return f"{prefix}_" + "".join(rng.choices(_ALPHABET, k=22))


@dataclass(frozen=True, slots=True)
class Row:
    """One event, as kept: what its filters match and what its JSON is built from."""

    date: int
    """date_updated, microseconds since the epoch."""
    id: str
    object_type: str
    action: str
    object_id: str
    lead_id: str
    user_id: str | None
    request_id: str
    bulk_action_id: str | None


class Corpus:
    """``Corpus(events=150_000, days=7, now=…, seed=1)``: the events, newest first."""

    def __init__(self, *, events: int, days: float, now: datetime, seed: int) -> None:
        self.now, self.seed = now.astimezone(UTC), seed
        rng = random.Random(seed)
        self.organization = {"id": object_id("orga", rng), "name": "Northwind Freight Robotics"}
        self.users = [
            {
                "id": object_id("user", rng),
                "first_name": FIRST[i % len(FIRST)],
                "last_name": LAST[(i * 7) % len(LAST)],
                "email": f"{FIRST[i % len(FIRST)].lower()}.{i}@northwind.example",
            }
            for i in range(30)
        ]
        leads = [object_id("lead", rng) for _ in range(max(40, events // 12))]
        rows = _generate(rng, events, days, self.now, leads, [u["id"] for u in self.users])
        rows.sort(key=lambda row: (row.date, row.id), reverse=True)
        self.rows = rows
        self._negated = [-row.date for row in rows]
        self._by_id = {row.id: position for position, row in enumerate(rows)}
        self._postings: dict[tuple[str, ...], dict[tuple[str, ...], list[int]]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def position(self, event_id: str) -> int | None:
        return self._by_id.get(event_id)

    def matching(self, filters: Mapping[str, str]) -> Sequence[int]:
        """Positions of the events matching ``filters`` (equality filters only), newest first."""
        names = tuple(sorted(filters))
        if not names:
            return range(len(self.rows))
        index = self._postings.get(names)
        if index is None:
            index = {}
            for position, row in enumerate(self.rows):
                key = tuple(str(getattr(row, name)) for name in names)
                index.setdefault(key, []).append(position)
            self._postings[names] = index
        return index.get(tuple(filters[name] for name in names), [])

    def cut(self, positions: Sequence[int], low: int, high: int) -> tuple[int, int]:
        """The slice of ``positions`` whose events have ``low <= date < high``."""
        negated = self._negated
        start = bisect.bisect_right(positions, -high, key=lambda p: negated[p])
        end = bisect.bisect_right(positions, -low, key=lambda p: negated[p])
        return start, max(start, end)

    def event(self, position: int) -> JSONDict:
        return _render(self.rows[position], random.Random(f"{self.seed}:{position}"), self)


def _generate(
    rng: random.Random, count: int, days: float, now: datetime, leads: list[str], users: list[str]
) -> list[Row]:
    start = now - timedelta(days=days)
    span = int(days * 86_400 * 1_000_000)
    start_micros = (start - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    busy = list(itertools.accumulate(1 / (rank + 1) ** 0.8 for rank in range(len(leads))))  # a few busy leads
    kinds = [kind for kind, _, _ in MIX]
    shares = [share for _, share, _ in MIX]
    recent: dict[tuple[str, str], list[str]] = {}
    rows: list[Row] = []
    bulk_target = int(count * BULK_DELETE_SHARE)
    while len(rows) < count - bulk_target:
        moment = _moment(rng, start_micros, span)
        kind = rng.choices(kinds, shares)[0]
        actions = dict(MIX[kinds.index(kind)][2])
        action = rng.choices(list(actions), list(actions.values()))[0]
        lead = rng.choices(leads, cum_weights=busy)[0]
        if kind == "lead":
            target = lead
        else:
            known = recent.setdefault((kind, lead), [])
            if action == "created" or not known:
                known.append(object_id(PREFIX[kind], rng))
                del known[:-4]
            target = known[-1] if action == "created" else rng.choice(known)
        user = rng.choice(users) if rng.random() > 0.07 else None  # some work by integrations
        rows.append(
            Row(moment, object_id("ev", rng), kind, action, target, lead, user, object_id("req", rng), None)
        )
    while len(rows) < count:
        rows.extend(_bulk_delete(rng, count - len(rows), start_micros, span, leads, users))
    return rows


def _moment(rng: random.Random, start: int, span: int) -> int:
    day = rng.randrange(max(span // 86_400_000_000, 1))
    hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
    offset = ((day * 24 + hour) * 3600 + rng.random() * 3600) * 1_000_000
    return start + min(int(offset), span - 1)


def _bulk_delete(
    rng: random.Random, room: int, start: int, span: int, leads: list[str], users: list[str]
) -> list[Row]:
    """A bulk delete of 20 to 200 leads in a couple of seconds, one request, groups of five sharing
    a microsecond (a boundary between pages must not split or repeat them)."""
    size = min(rng.randint(20, 200), room)
    moment = _moment(rng, start, span)
    request, bulk, user = object_id("req", rng), object_id("bulk", rng), rng.choice(users)
    rows = []
    for i in range(size):
        lead = rng.choice(leads)
        at = moment + (i // 5) * rng.randint(1_000, 20_000)
        rows.append(Row(at, object_id("ev", rng), "lead", "deleted", lead, lead, user, request, bulk))
    return rows


def _iso(micros: int) -> str:
    moment = datetime(1970, 1, 1) + timedelta(microseconds=micros)
    return moment.isoformat(timespec="microseconds")


def _render(row: Row, rng: random.Random, corpus: Corpus) -> JSONDict:
    """The event's JSON, as Close's Event Log gives it."""
    when = _iso(row.date)
    created = _iso(row.date - rng.randint(0, 3_600_000_000)) if row.action != "created" else when
    data, previous, changed = _payload(row, rng, when)
    meta: JSONDict = {"request_path": f"/api/v1/{row.object_type.split('.')[-1]}/", "request_method": "PUT"}
    if row.bulk_action_id:
        meta = {"bulk_action_id": row.bulk_action_id, "request_method": "POST"}
    return {
        "id": row.id,
        "date_created": created,
        "date_updated": when,
        "organization_id": corpus.organization["id"],
        "user_id": row.user_id,
        "request_id": row.request_id,
        "api_key_id": None if row.user_id else "api_" + row.request_id[4:26],
        "oauth_client_id": None,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "lead_id": row.lead_id,
        "action": row.action,
        "changed_fields": changed,
        "data": data,
        "previous_data": previous,
        "meta": meta,
    }


def _payload(row: Row, rng: random.Random, when: str) -> tuple[JSONDict | None, JSONDict, list[str]]:
    """(data, previous_data, changed_fields) for the event's kind and action."""
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    base: JSONDict = {"id": row.object_id, "lead_id": row.lead_id, "date_updated": when + "+00:00"}
    kind, action = row.object_type, row.action
    if action == "deleted":
        return None, {**base, "display_name": f"{name} Logistics", "status_label": "Cold"}, []
    if kind == "activity.email":
        subject = f"Re: {rng.choice(WORDS)} for {name.split()[1]}"
        body = " ".join(rng.choices(WORDS, k=rng.randint(8, 40)))
        status = {"sent": "sent", "created": "draft"}.get(action, "draft")
        data = {**base, "subject": subject, "body_text": body, "status": status, "direction": "outgoing"}
        if action == "updated":
            return data, {"body_text": body[: len(body) // 2]}, ["body_text", "date_updated"]
        return data, {}, []
    if kind == "activity.call":
        data = {**base, "direction": rng.choice(("outbound", "inbound")), "duration": rng.randint(0, 1800)}
        data["disposition"] = rng.choice(("answered", "no-answer", "vm-left"))
        if action == "updated":
            note = " ".join(rng.choices(WORDS, k=12))
            return {**data, "note": note}, {"note": ""}, ["note"]
        return data, {}, []
    if kind == "opportunity":
        field_id, _ = rng.choice(CUSTOM_FIELDS)
        before, after = rng.sample(STAGES, 2)
        data = {**base, "status_label": after, "value": rng.randint(5, 400) * 1000, "value_period": "annual"}
        data[f"custom.{field_id}"] = rng.randint(5, 500) if "seat" in field_id.lower() else rng.choice(WORDS)
        if action == "updated":
            previous = {"status_label": before, f"custom.{field_id}": None}
            return data, previous, ["status_label", f"custom.{field_id}"]
        return data, {}, []
    if kind == "lead":
        data = {
            **base,
            "display_name": f"{name} Logistics",
            "status_label": rng.choice(("Potential", "Trial")),
        }
        if action == "updated":
            return data, {"status_label": "Cold"}, ["status_label"]
        return data, {}, []
    if kind == "task.lead":
        data = {
            **base,
            "text": f"Call {name} about {rng.choice(WORDS)}",
            "is_complete": action == "completed",
        }
        if action in ("updated", "completed"):
            return data, {"is_complete": False}, ["is_complete"]
        return data, {}, []
    text = " ".join(rng.choices(WORDS, k=rng.randint(4, 30)))
    data = {**base, "text": text, "name": name}
    if action == "updated":
        return data, {"text": text[:10]}, ["text"]
    return data, {}, []
