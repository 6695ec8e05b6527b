"""The store as one server process uses it: opened on first use for the credential's organization,
called from worker threads so that no query stalls other clients, and never in the way.

When the store cannot be used (a damaged or locked SQLite file, PostgreSQL down, a failed migration,
a file of another organization), the tools read Close as they would without one, and the next
answer says so once; the store is tried again a minute later.

What the store gives back is what Close would show this credential now: a key that is not an
admin's sees an event's values only for an hour after the event (Close's rule), so values an
admin's key stored are withheld from it past that hour.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from close_events_mcp import catalog
from close_events_mcp.errors import UserFacingError
from close_events_mcp.event import Event, JSONDict, micros, parse_timestamp
from close_events_mcp.store.backends import Database, StoreFailed
from close_events_mcp.store.events import ALL_EVENTS, Covered, EventStore, Range, query_key
from close_events_mcp.store.location import StorePlace

if TYPE_CHECKING:
    from close_events_mcp.close.client import CloseClient

log = logging.getLogger(__name__)


def _close_quietly(database: Database) -> None:
    try:
        database.close()
    except Exception:  # closing a broken database may fail again; nothing to do
        log.debug("closing the failed store failed too")


T = TypeVar("T")

LIMITED = "limited:"
"""Marks the ranges a key that is not an admin's read (``StoreGateway._as_read``)."""
RETRY_AFTER = timedelta(minutes=1)
"""After a failure, how long the store is left alone before it is tried again."""
LATE_MARGIN = timedelta(hours=1)
"""The newest stretch never held: Close's events can still appear or be consolidated there, and what
a non-admin key sees of them changes at one hour."""


@dataclass(frozen=True, slots=True)
class Owner:
    """Who the credential is, as Close's ``/me/`` says: its organization and whether it is an admin's."""

    org_id: str
    admin: bool

    @classmethod
    def from_me(cls, me: Mapping[str, Any]) -> Owner:
        memberships = [m for m in me.get("memberships") or [] if isinstance(m, dict)]
        organizations = [o for o in me.get("organizations") or [] if isinstance(o, dict)]
        org_id = next(
            (str(m["organization_id"]) for m in memberships if m.get("organization_id")),
            next((str(o["id"]) for o in organizations if o.get("id")), ""),
        )
        if not org_id:
            raise StoreFailed("Close did not say which organization the credential belongs to")
        admin = any(m.get("organization_id") == org_id and m.get("role_id") == "admin" for m in memberships)
        return cls(org_id, admin)


@dataclass
class StoreGateway:
    place: StorePlace
    retention_days: int
    clock: Callable[[], datetime]
    _store: EventStore | None = None
    owner: Owner | None = None
    _failed_at: datetime | None = None
    failure: str | None = None
    """Why the store was last set aside (for the commands; a tool's answer gets ``take_note``)."""
    _unsaid: str | None = None
    _lock: anyio.Lock = field(default_factory=anyio.Lock)

    @property
    def store(self) -> EventStore | None:
        """The store once opened (and not set aside since)."""
        return self._store

    @property
    def where(self) -> str:
        return self.place.describe()

    async def open(self, client: CloseClient) -> EventStore | None:
        """The store, opened (and trimmed to its retention) on first use; None while it cannot be used."""
        if self._store is not None:
            return self._store
        now = self.clock()
        if self._failed_at is not None and now - self._failed_at < RETRY_AFTER:
            return None
        async with self._lock:
            if self._store is not None:
                return self._store
            try:
                if self.owner is None:
                    self.owner = Owner.from_me(await client.me())
                owner = self.owner
                store = await anyio.to_thread.run_sync(self._open, owner.org_id, micros(now))
            except UserFacingError:
                return None  # Close's own failure: the tool that needs Close reports it
            except StoreFailed as failure:
                self.fail(failure)
                return None
            self._store, self._failed_at = store, None
            return store

    def _open(self, org_id: str, now: int) -> EventStore:
        database = self.place.open(org_id)
        try:
            store = EventStore.open(database, org_id, created_at=now)
            if self.retention_days:
                store.purge(now - timedelta(days=self.retention_days) // timedelta(microseconds=1))
        except BaseException:
            database.close()  # a store refused (another organization's, a newer schema) is not kept open
            raise
        return store

    def fail(self, failure: StoreFailed) -> None:
        """Stop using the store for a while; the next answer says why, once."""
        if self._store is not None:
            database, self._store = self._store.database, None
            # Closed beside the event loop: it waits for the transactions other calls have under way.
            threading.Thread(target=_close_quietly, args=(database,), daemon=True).start()
        self._failed_at = self.clock()
        self.failure = str(failure)
        self._unsaid = (
            f"The local event store ({self.where}) could not be used: {failure}. This answer was read "
            "from Close alone."
        )
        log.warning("event store unavailable: %s", failure)

    def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.database.close()

    def take_note(self) -> str | None:
        """The fallback note, once."""
        note, self._unsaid = self._unsaid, None
        return note

    async def run(self, job: Callable[[EventStore], T]) -> T | None:
        """``job`` on the store in a worker thread; None (and the store set aside) when it fails."""
        store = self._store
        if store is None:
            return None
        try:
            return await anyio.to_thread.run_sync(job, store)
        except StoreFailed as failure:
            self.fail(failure)
        except (ValueError, TypeError, KeyError) as error:  # what the store held could not be read
            log.warning("event store unreadable: %s", type(error).__name__)
            self.fail(StoreFailed(f"it holds something it cannot read ({type(error).__name__})"))
        return None

    async def keep(self, raws: Sequence[JSONDict], covered: Covered | None = None) -> None:
        """Store what Close returned; when it is all of ``covered``, the store holds that stretch now
        (but for the latest hour and what is past Close's retention, which are never held)."""
        query = None
        if covered is not None:
            now = self.clock()
            start, end = covered.span
            start = max(start, micros(now - timedelta(days=catalog.RETENTION_DAYS)))
            end = min(end, micros(now - LATE_MARGIN))
            covered = replace(covered, span=(start, end)) if end > start else None
            query = self._as_read(query_key(covered.filters)) if covered is not None else None
        if raws or covered is not None:
            await self.run(lambda store: store.put(raws, covered, query))

    async def held(self, query: str, span: Range) -> list[Range]:
        """What the store holds completely of ``span`` for ``query``, as this credential may use it."""
        queries = [query, ALL_EVENTS]
        if self.owner is not None and not self.owner.admin:
            queries += [self._as_read(query), self._as_read(ALL_EVENTS)]
        return await self.run(lambda store: store.held(queries, span)) or []

    def _as_read(self, query: str) -> str:
        """The query a range is recorded under: a key that is not an admin's reads old events without
        their values, so what it read holds completely only for keys like it."""
        return query if self.owner is None or self.owner.admin else LIMITED + query

    async def count(self, close_filters: Mapping[str, str], spans: Sequence[Range]) -> int | None:
        return await self.run(lambda store: sum(store.count(close_filters, span) for span in spans))

    async def events(
        self,
        close_filters: Mapping[str, str],
        span: Range,
        *,
        limit: int | None = None,
        narrow: Mapping[str, str] | None = None,
        changed: Collection[str] = (),
    ) -> tuple[list[Event], int | None] | None:
        """The events Close would return for ``close_filters`` in ``span`` (``EventStore.events``), as
        this credential may see them, newest first; decoded in the worker thread too."""

        def read(store: EventStore) -> tuple[list[Event], int | None]:
            raws, reached = store.events(close_filters, span, limit=limit, narrow=narrow, changed=changed)
            return [Event.from_close(self.visible(raw)) for raw in raws], reached

        return await self.run(read)

    async def get(self, event_id: str) -> JSONDict | None:
        raw = await self.run(lambda store: store.get(event_id))
        return None if raw is None else self.visible(raw)

    def visible(self, raw: JSONDict) -> JSONDict:
        """``raw`` as Close would show it to this credential now."""
        if self.owner is not None and self.owner.admin:
            return raw
        created = parse_timestamp(raw.get("date_created")) or parse_timestamp(raw.get("date_updated"))
        if created is not None and self.clock() - created <= timedelta(hours=catalog.DATA_VISIBILITY_HOURS):
            return raw
        return {**raw, "data": None, "previous_data": None}
