"""What the store keeps of one organization: its events (upserted by id, the newest ``date_updated``
winning) and the time ranges of each query that are held completely.

A range is recorded per query (the Close filters it was read with, dates left out): a range read
with ``object_type=lead`` holds every lead event of that time, not every event. The unfiltered
query (``""``) holds everything, so it answers any query. Ranges are merged as they are recorded,
so a query's ranges never overlap.

Everything here is synchronous and quick (an indexed range read, a batch upsert); the engine calls
it from a worker thread (``store.gateway``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from close_events_mcp import catalog
from close_events_mcp.event import Event, JSONDict, micros
from close_events_mcp.store.backends import Database, StoreFailed, Transaction, migrate

Range = tuple[int, int]
"""``[start, end)`` in microseconds since the epoch."""
ALL_EVENTS: Final = ""
"""The query with no filter: a range it holds holds every event of that time."""
COLUMN_FILTERS: Final = ("object_type", "object_id", "action", "lead_id", "user_id", "request_id")
"""Close's filters, each a column of ``events``."""


def query_key(close_filters: Mapping[str, str]) -> str:
    """The query a range was read with: Close's filters, dates and paging left out, in a fixed order."""
    return "&".join(f"{name}={close_filters[name]}" for name in COLUMN_FILTERS if close_filters.get(name))


@dataclass(frozen=True, slots=True)
class Covered:
    """A stretch Close was read over completely: its filters, its span, and the ids it returned."""

    filters: Mapping[str, str]
    span: Range
    ids: Collection[str]


@dataclass(frozen=True, slots=True)
class StoreStatus:
    org_id: str
    where: str
    kind: str
    events: int
    oldest: int | None
    newest: int | None
    held: list[Range]
    """Ranges held completely for every event."""
    size_bytes: int


_UPSERT = """
INSERT INTO events (org_id, id, date_updated, date_created, object_type, object_id, action, lead_id,
                    user_id, request_id, has_values, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (org_id, id) DO UPDATE SET
    date_updated = excluded.date_updated, date_created = excluded.date_created,
    object_type = excluded.object_type, object_id = excluded.object_id, action = excluded.action,
    lead_id = excluded.lead_id, user_id = excluded.user_id, request_id = excluded.request_id,
    has_values = excluded.has_values, body = excluded.body
WHERE excluded.date_updated > events.date_updated
   OR (excluded.date_updated = events.date_updated AND excluded.has_values >= events.has_values)
"""
_UPSERT_FIELD = """
INSERT INTO changed_fields (org_id, event_id, field, date_updated) VALUES (?, ?, ?, ?)
ON CONFLICT (org_id, event_id, field) DO UPDATE SET date_updated = excluded.date_updated
"""
# Of two copies of one event, the newer wins; of two copies of one moment, the one with values (a
# non-admin key reads an old event without them, and must not blank what an admin's key read).


class EventStore:
    """One organization's events in ``database`` (which may hold other organizations' too)."""

    def __init__(self, database: Database, org_id: str) -> None:
        self.database = database
        self.org_id = org_id

    @classmethod
    def open(cls, database: Database, org_id: str, *, created_at: int) -> EventStore:
        """Migrate, and claim the store for ``org_id``. A SQLite file belongs to one organization: opened
        with another's credential it refuses (PostgreSQL keeps organizations apart by their rows)."""
        migrate(database)
        with database.transaction() as tx:
            tx.lock("owner")
            owners = [row[0] for row in tx.execute("SELECT org_id FROM store_owner")]
            if database.kind == "sqlite" and owners and org_id not in owners:
                raise StoreFailed(
                    "this SQLite store belongs to another Close organization than the credential's; "
                    "point CLOSE_EVENTS_STORE at another file, or use the key of that organization"
                )
            if org_id not in owners:
                tx.execute("INSERT INTO store_owner (org_id, created_at) VALUES (?, ?)", (org_id, created_at))
        return cls(database, org_id)

    # --- writing -----------------------------------------------------------------------------------

    def put(self, raws: Sequence[JSONDict], covered: Covered | None = None, query: str | None = None) -> None:
        """Upsert ``raws`` (events as Close sent them) and, when they are all the events of ``covered``,
        drop what the store had there that Close no longer has (an event moved by consolidation) and
        record the stretch as held for ``query`` (``query_key`` of its filters unless given): in one
        transaction, so a range is never held without its events."""
        rows: list[tuple[Any, ...]] = []
        fields: list[tuple[str, str, str, int]] = []
        for raw in raws:
            event = Event.from_close(raw)
            updated = micros(event.date_updated)
            rows.append((
                self.org_id,
                event.id,
                updated,
                micros(event.date_created),
                event.object_type,
                event.object_id,
                event.action,
                event.lead_id,
                event.user_id,
                event.request_id,
                int(event.data is not None or event.previous_data is not None),
                json.dumps(raw, separators=(",", ":"), ensure_ascii=False),
            ))  # fmt: skip
            fields.extend((self.org_id, event.id, name, updated) for name in set(event.changed_fields))
        rows.sort(key=lambda row: row[1])  # one order for every writer: PostgreSQL locks rows as it goes
        fields.sort(key=lambda row: (row[1], row[2]))
        with self.database.transaction() as tx:
            if covered is not None and covered.span[1] > covered.span[0]:
                self._drop_moved(tx, covered)
            tx.execute_many(_UPSERT, rows)
            if fields:
                tx.execute_many(_UPSERT_FIELD, fields)
            if covered is not None:
                self._hold(tx, query_key(covered.filters) if query is None else query, covered.span)

    def _drop_moved(self, tx: Transaction, covered: Covered) -> None:
        where, params = self._matching(covered.filters, covered.span)
        kept = sorted(covered.ids)
        if kept:
            where += f" AND id NOT IN ({', '.join('?' for _ in kept)})"
            params += kept
        gone = [(self.org_id, row[0]) for row in tx.execute(f"SELECT id FROM events WHERE {where}", params)]
        tx.execute_many("DELETE FROM changed_fields WHERE org_id = ? AND event_id = ?", gone)
        tx.execute_many("DELETE FROM events WHERE org_id = ? AND id = ?", gone)

    def _hold(self, tx: Transaction, query: str, span: Range) -> None:
        start, end = span
        if end <= start:
            return
        tx.lock(f"held:{self.org_id}:{query}")
        for old_start, old_end in self._overlapping(tx, [query], (start, end), touching=True):
            start, end = min(start, old_start), max(end, old_end)
            tx.execute(
                "DELETE FROM held_ranges WHERE org_id = ? AND query = ? AND start_us = ?",
                (self.org_id, query, old_start),
            )
        tx.execute(
            "INSERT INTO held_ranges (org_id, query, start_us, end_us) VALUES (?, ?, ?, ?)",
            (self.org_id, query, start, end),
        )

    def _overlapping(
        self, tx: Transaction, queries: Sequence[str], span: Range, *, touching: bool = False
    ) -> list[Range]:
        """The held ranges of ``queries`` that overlap ``span`` (or touch it). A query's ranges never
        overlap, so they are those starting inside ``span`` and the last one starting before it: two
        index lookups, however many ranges there are."""
        start, end = span
        found: list[Range] = []
        for query in queries:
            before = tx.execute(
                "SELECT start_us, end_us FROM held_ranges WHERE org_id = ? AND query = ? AND start_us < ? "
                "ORDER BY start_us DESC LIMIT 1",
                (self.org_id, query, start),
            )
            inside = tx.execute(
                "SELECT start_us, end_us FROM held_ranges WHERE org_id = ? AND query = ? AND start_us >= ? "
                f"AND start_us {'<=' if touching else '<'} ? ORDER BY start_us",
                (self.org_id, query, start, end),
            )
            found += [(int(a), int(b)) for a, b in before if b > start or (touching and b == start)]
            found += [(int(a), int(b)) for a, b in inside]
        return found

    def purge(self, before: int | None) -> int:
        """Delete the events dated before ``before`` (all of them when None) and what is held of that
        time; returns how many events went."""
        with self.database.transaction() as tx:
            if before is None:
                count = tx.execute("SELECT COUNT(*) FROM events WHERE org_id = ?", (self.org_id,))[0][0]
                for table in ("events", "changed_fields", "held_ranges"):
                    tx.execute(f"DELETE FROM {table} WHERE org_id = ?", (self.org_id,))
                return int(count)
            count = tx.execute(
                "SELECT COUNT(*) FROM events WHERE org_id = ? AND date_updated < ?", (self.org_id, before)
            )[0][0]
            tx.execute("DELETE FROM events WHERE org_id = ? AND date_updated < ?", (self.org_id, before))
            tx.execute(
                "DELETE FROM changed_fields WHERE org_id = ? AND date_updated < ?", (self.org_id, before)
            )
            tx.execute("DELETE FROM held_ranges WHERE org_id = ? AND end_us <= ?", (self.org_id, before))
            tx.execute(
                "UPDATE held_ranges SET start_us = ? WHERE org_id = ? AND start_us < ?",
                (before, self.org_id, before),
            )
            return int(count)

    # --- reading -----------------------------------------------------------------------------------

    def held(self, queries: Sequence[str], span: Range) -> list[Range]:
        """The parts of ``span`` held completely for any of ``queries``, oldest first, merged."""
        start, end = span
        with self.database.transaction(write=False) as tx:
            rows = self._overlapping(tx, queries, span)
        return merge((max(a, start), min(b, end)) for a, b in rows)

    def events(
        self,
        close_filters: Mapping[str, str],
        span: Range,
        *,
        limit: int | None = None,
        narrow: Mapping[str, str] | None = None,
        changed: Collection[str] = (),
    ) -> tuple[list[JSONDict], int | None]:
        """The stored events matching ``close_filters`` in ``span``, newest first as Close pages them;
        only those that can pass the checks the server makes itself, when ``narrow`` (filters on
        columns, an object type under its legacy names too) and ``changed`` (one of these fields
        changed) say them. With ``limit``, about that many: the newest ``limit`` and any others of the
        oldest one's microsecond. Returns them and, when some are left older, the microsecond down to
        which every event was returned (else None)."""
        where, params = self._matching(close_filters, span, narrow, changed)
        order = "ORDER BY date_updated DESC, id DESC"
        with self.database.transaction(write=False) as tx:
            if limit is None:
                rows = tx.execute(f"SELECT body, date_updated FROM events WHERE {where} {order}", params)
                return [orjson.loads(row[0]) for row in rows], None
            rows = tx.execute(
                f"SELECT body, date_updated, id FROM events WHERE {where} {order} LIMIT ?", [*params, limit]
            )
            if len(rows) < limit:
                return [orjson.loads(row[0]) for row in rows], None
            # The rest of the oldest microsecond (the query names no id: an id range would tempt
            # SQLite onto the primary key, a scan of the organization).
            oldest, first = rows[-1][1], {row[2] for row in rows}
            rows += [
                row
                for row in tx.execute(
                    f"SELECT body, date_updated, id FROM events WHERE {where} AND date_updated = ? {order}",
                    [*params, oldest],
                )
                if row[2] not in first
            ]
        return [orjson.loads(row[0]) for row in rows], int(oldest)

    def count(self, close_filters: Mapping[str, str], span: Range) -> int:
        where, params = self._matching(close_filters, span)
        with self.database.transaction(write=False) as tx:
            return int(tx.execute(f"SELECT COUNT(*) FROM events WHERE {where}", params)[0][0])

    def _matching(
        self,
        close_filters: Mapping[str, str],
        span: Range,
        narrow: Mapping[str, str] | None = None,
        changed: Collection[str] = (),
    ) -> tuple[str, list[Any]]:
        """The WHERE clause of Close's filters in ``span`` (an object type as Close matches it: the very
        name), and of the server's own checks if given."""
        where = ["org_id = ?", "date_updated >= ?", "date_updated < ?"]
        params: list[Any] = [self.org_id, span[0], span[1]]
        for name in COLUMN_FILTERS:
            value = close_filters.get(name)
            if value:
                where.append(f"{name} = ?")
                params.append(value)
        for name, value in (narrow or {}).items():
            if name not in COLUMN_FILTERS:
                continue
            names = _type_names(value) if name == "object_type" else [value]
            where.append(f"{name} IN ({', '.join('?' for _ in names)})")
            params += names
        if changed:
            marks = ", ".join("?" for _ in changed)
            where.append(
                f"id IN (SELECT event_id FROM changed_fields WHERE org_id = ? AND field IN ({marks}) "
                "AND date_updated >= ? AND date_updated < ?)"
            )
            params += [self.org_id, *sorted(changed), span[0], span[1]]
        return " AND ".join(where), params

    def get(self, event_id: str) -> JSONDict | None:
        with self.database.transaction(write=False) as tx:
            rows = tx.execute("SELECT body FROM events WHERE org_id = ? AND id = ?", (self.org_id, event_id))
        return orjson.loads(rows[0][0]) if rows else None

    def status(self) -> StoreStatus:
        with self.database.transaction(write=False) as tx:
            count, oldest, newest = tx.execute(
                "SELECT COUNT(*), MIN(date_updated), MAX(date_updated) FROM events WHERE org_id = ?",
                (self.org_id,),
            )[0]
            rows = tx.execute(
                "SELECT start_us, end_us FROM held_ranges WHERE org_id = ? AND query = ? ORDER BY start_us",
                (self.org_id, ALL_EVENTS),
            )
        return StoreStatus(
            org_id=self.org_id,
            where=self.database.where,
            kind=self.database.kind,
            events=int(count),
            oldest=oldest,
            newest=newest,
            held=[(int(a), int(b)) for a, b in rows],
            size_bytes=self.database.size_bytes(self.org_id),
        )


def merge(ranges: Iterable[Range]) -> list[Range]:
    """Ranges sorted and joined where they touch or overlap; empty ones dropped."""
    merged: list[Range] = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def missing(span: Range, held: Sequence[Range]) -> list[Range]:
    """The parts of ``span`` not in ``held`` (merged, oldest first), oldest first too."""
    gaps, cursor = [], span[0]
    for start, end in held:
        if start > cursor:
            gaps.append((cursor, min(start, span[1])))
        cursor = max(cursor, end)
    if cursor < span[1]:
        gaps.append((cursor, span[1]))
    return [gap for gap in gaps if gap[1] > gap[0]]


def _type_names(object_type: str) -> list[str]:
    """An object type and the legacy names Close may still send for it (the server's own checks treat
    them as one)."""
    return [object_type, *sorted(old for old, new in catalog.LEGACY_NAMES.items() if new == object_type)]
