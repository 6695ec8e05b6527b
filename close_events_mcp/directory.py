"""Names Close knows that events do not always carry: users and custom fields.

Fetched on demand (``GET /user/`` paged, ``GET /custom_field/<kind>/``), cached per process for
a while, and never allowed to fail a tool: when a lookup is not permitted or fails, answers
fall back to the IDs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio

from close_events_mcp.close_api import CloseClient
from close_events_mcp.errors import CloseError
from close_events_mcp.text import clean

logger = logging.getLogger(__name__)

CUSTOM_FIELD_KINDS = ("lead", "contact", "opportunity", "activity", "shared")
_MAX_USER_PAGES = 50
_RETRY_AFTER_FAILURE = 60.0


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
