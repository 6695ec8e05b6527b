"""Names Close knows that events do not always carry: users, custom fields and leads.

Fetched on demand (``GET /user/`` paged, ``GET /custom_field/<kind>/``; ``GET /lead/{id}/`` for each
lead an answer shows without a name, and for a lead Close no longer has, deleted or merged away, its
``lead deleted`` event, whose ``previous_data`` holds the lead as it was), cached per process for a
while, and never allowed to fail a tool: when a lookup is not permitted or fails, answers fall back
to the IDs.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Final

import anyio

from close_events_mcp.close.client import CloseClient
from close_events_mcp.errors import CloseError, NotFound, PermissionDenied
from close_events_mcp.text import clean

logger = logging.getLogger(__name__)

CUSTOM_FIELD_KINDS = ("lead", "contact", "opportunity", "activity", "shared")
_MAX_USER_PAGES = 50
_RETRY_AFTER_FAILURE = 60.0
MAX_LEAD_LOOKUPS: Final = 50
"""Most leads one answer asks Close to name: every lead of a list page (at most 50 events) and of a
digest (its busiest, deleted, won or lost and merged leads, and those worth opening: about 20); of a
poll page (up to 500 events), the 50 shown most. A lookup is one request, two for a deleted lead (its
``lead deleted`` event), so at most 100 requests: about 10 s at Close's per-key 10 requests/s, more
than the quarter of a call's time left that lookups may take (``state.NAME_LOOKUP_SHARE``), which
bounds them first. Polls stop at 50 because a poll is read mostly by programs, which go by the IDs,
and the names are kept: a poller asks only about the leads it has not met yet, 50 more each call."""
LEAD_LOOKUP_CONCURRENCY: Final = 8
"""Lead lookups in flight at once, all through the rate gate (as many as a scan keeps)."""
_LEAD_ID: Final = re.compile(r"lead_[A-Za-z0-9]{1,100}")
_MAX_UNNAMED = 5_000


class _Cached:
    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self.names: dict[str, str] = {}
        self._ttl = ttl
        self._clock = clock
        self._loaded_at: float | None = None
        self.lock = anyio.Lock()

    @property
    def fresh(self) -> bool:
        return self._loaded_at is not None and self._clock() - self._loaded_at < self._ttl

    def store(self, names: dict[str, str], *, failed: bool = False) -> None:
        """Keep ``names``; after a failed lookup, try again sooner than the full TTL."""
        self.names = names
        self._loaded_at = self._clock() - (self._ttl - _RETRY_AFTER_FAILURE if failed else 0)


class Directory:
    def __init__(self, ttl: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._users = _Cached(ttl, clock)
        self._fields = _Cached(ttl, clock)
        self._ttl = ttl
        self._clock = clock
        self._unnamed: OrderedDict[str, float] = OrderedDict()
        """Leads Close had no name for (deleted, merged away, not there): when it said so."""
        self._leads_refused_at: float | None = None

    def user(self, user_id: str | None) -> str | None:
        return self._users.names.get(user_id) if user_id else None

    def field(self, field_id: str) -> str | None:
        return self._fields.names.get(field_id)

    def field_id(self, name: str) -> str | None:
        """The ``cf_…`` ID of a custom field called ``name`` (case-insensitive)."""
        wanted = name.strip().casefold()
        return next((fid for fid, fname in self._fields.names.items() if fname.casefold() == wanted), None)

    @property
    def field_names(self) -> list[str]:
        return sorted(set(self._fields.names.values()))

    async def load_users(self, client: CloseClient) -> None:
        async with self._users.lock:
            if self._users.fresh:
                return
            names: dict[str, str] = {}
            failed = False
            try:
                for page in range(_MAX_USER_PAGES):
                    body = await client.get_json("/user/", {"_skip": str(page * 100), "_limit": "100"})
                    for user in body.get("data") or []:
                        if isinstance(user, dict) and isinstance(user.get("id"), str):
                            full = " ".join(
                                str(user.get(k) or "") for k in ("first_name", "last_name")
                            ).strip()
                            names[user["id"]] = clean(full or str(user.get("email") or ""), 80)
                    if not body.get("has_more"):
                        break
            except CloseError as exc:
                logger.info("user lookup unavailable, showing user IDs: %s", exc)
                failed = True
            self._users.store(names, failed=failed)

    async def load_fields(self, client: CloseClient) -> None:
        async with self._fields.lock:
            if self._fields.fresh:
                return
            names: dict[str, str] = {}
            failures: list[str] = []

            async def load(kind: str) -> None:
                try:
                    body = await client.get_json(f"/custom_field/{kind}/")
                except CloseError as exc:
                    logger.info("custom field lookup (%s) unavailable: %s", kind, exc)
                    failures.append(kind)
                    return
                for item in body.get("data") or []:
                    if isinstance(item, dict) and isinstance(item.get("id"), str) and item.get("name"):
                        names[item["id"]] = clean(str(item["name"]), 60)

            async with anyio.create_task_group() as group:
                for kind in CUSTOM_FIELD_KINDS:
                    group.start_soon(load, kind)
            self._fields.store(names, failed=bool(failures))

    async def look_up_leads(
        self,
        client: CloseClient,
        lead_ids: Iterable[str],
        learn: Callable[[str, str], None],
        *,
        limit: int = MAX_LEAD_LOOKUPS,
    ) -> None:
        """Ask Close for the names of the first ``limit`` of ``lead_ids`` (a few at a time, in that
        order) and ``learn`` each as it comes: a lead Close has from ``GET /lead/{id}/``, one it no
        longer has from its ``lead deleted`` event. Leads Close has no name for are not asked again
        for a while, nor any lead for a minute after Close refused a lookup."""
        now = self._clock()
        if self._lookups_refused():
            return
        wanted: list[str] = []
        for lead_id in dict.fromkeys(lead_ids):
            said_none = self._unnamed.get(lead_id)
            if _LEAD_ID.fullmatch(lead_id) and (said_none is None or now - said_none >= self._ttl):
                wanted.append(lead_id)
        wanted = wanted[:limit]
        turns = anyio.Semaphore(LEAD_LOOKUP_CONCURRENCY)

        async def look_up(lead_id: str) -> None:
            async with turns:
                if self._lookups_refused():
                    return
                try:
                    name = await _lead_name(client, lead_id)
                except PermissionDenied as exc:
                    logger.info("lead lookup not permitted, showing lead IDs: %s", exc)
                    self._leads_refused_at = self._clock()
                    return
                except CloseError as exc:
                    logger.info("lead lookup of %s failed, showing its ID: %s", lead_id, exc)
                    return
            if name:
                learn(lead_id, name)
            else:
                self._no_name(lead_id)

        async with anyio.create_task_group() as group:
            for lead_id in wanted:
                group.start_soon(look_up, lead_id)

    def _lookups_refused(self) -> bool:
        refused = self._leads_refused_at
        return refused is not None and self._clock() - refused < _RETRY_AFTER_FAILURE

    def _no_name(self, lead_id: str) -> None:
        self._unnamed[lead_id] = self._clock()
        self._unnamed.move_to_end(lead_id)
        while len(self._unnamed) > _MAX_UNNAMED:
            self._unnamed.popitem(last=False)


async def _lead_name(client: CloseClient, lead_id: str) -> str | None:
    """The lead's name as Close has it, or, once deleted or merged away (a 404), as its ``lead deleted``
    event left it (Close combines ``lead_id``, ``object_type`` and ``action``). None when neither
    says (a deletion older than the 30 days the Event Log keeps, or its data withheld from a
    non-admin after an hour)."""
    try:
        return _display_name(await client.get_json(f"/lead/{lead_id}/", {"_fields": "id,display_name"}))
    except NotFound:
        pass
    params = {"lead_id": lead_id, "object_type": "lead", "action": "deleted", "_limit": "1"}
    for event in (await client.list_events(params))["data"]:
        if isinstance(event, dict) and event.get("object_id") == lead_id:
            for payload in (event.get("previous_data"), event.get("data")):
                name = _display_name(payload)
                if name:
                    return name
    return None


def _display_name(lead: object) -> str | None:
    if not isinstance(lead, dict):
        return None
    name = lead.get("display_name") or lead.get("name")
    return name if isinstance(name, str) and name.strip() else None
