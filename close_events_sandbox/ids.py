"""Identity and time: seeded IDs, Close's timestamp formats, and the event log that gives
every change an event id, a request id and a timestamp.

Close IDs are a type prefix and a base62 body: 43 characters for records and most
configuration objects (``lead_…``, ``acti_…``, ``user_…``), 22 for events, requests and
job-like objects (``ev_…``, ``req_…``, ``imp_…``). Envelope timestamps are naive UTC with
microseconds; timestamps inside payloads carry ``+00:00``.

Objects live in an :class:`EventLog` as plain dicts that are replaced, never mutated, on
each change; an event's ``data`` is a shallow copy of the object, so nested lists and dicts
are shared between events and must be treated as read-only.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from close_events_sandbox.org import JSONDict

BASE62: Final = string.digits + string.ascii_letters

LONG_BODY: Final = 43
SHORT_BODY: Final = 22

LONG_PREFIXES: Final = frozenset(
    {
        "lead_",
        "cont_",
        "oppo_",
        "acti_",
        "task_",
        "user_",
        "orga_",
        "stat_",
        "cf_",
        "pipe_",
        "tmpl_",
        "save_",
        "phon_",
        "memb_",
    }
)
"""Prefixes whose bodies are 43 characters long; every other prefix gets 22."""


@dataclass(frozen=True, slots=True)
class Person:
    """A user of the demo organization."""

    id: str
    first_name: str
    last_name: str
    email: str
    is_admin: bool
    name: str = field(init=False)
    """The full name, built once: it appears in most payloads."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", f"{self.first_name} {self.last_name}")


_BYTE_TO_BASE62: Final = bytes(ord(BASE62[i % len(BASE62)]) for i in range(256))


class IdMaker:
    """Hands out unique, seeded IDs; the same seed gives the same IDs in the same order."""

    __slots__ = ("_issued", "_rng")

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._issued: set[str] = set()

    def new(self, prefix: str) -> str:
        size = LONG_BODY if prefix in LONG_PREFIXES else SHORT_BODY
        while True:
            candidate = prefix + self.token(size)
            if candidate not in self._issued:
                self._issued.add(candidate)
                return candidate

    def token(self, size: int) -> str:
        """A bare base62 string (message ids, tracking tokens); not checked for uniqueness.

        Random bytes mapped onto the alphabet in one ``translate``: fast enough for the
        100k-event filler. (The first 8 characters come up a shade more often; no matter here.)"""
        return self._rng.randbytes(size).translate(_BYTE_TO_BASE62).decode("ascii")


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; refuses naive datetimes, whose zone would be a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("expected a timezone-aware datetime, got a naive one")
    return moment.astimezone(UTC)


def envelope_time(moment: datetime) -> str:
    """An event envelope timestamp: naive UTC, always with microseconds."""
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds")


def payload_time(moment: datetime) -> str:
    """A timestamp inside ``data``/``previous_data``: UTC with ``+00:00``."""
    return moment.isoformat(timespec="microseconds")


def payload_date(moment: datetime) -> str:
    """A calendar date field such as an opportunity's ``date_won``."""
    return moment.date().isoformat()


# --- The event log ---------------------------------------------------------------------------

AUDIT_KEYS: Final = ("date_updated", "updated_by", "updated_by_name")
ENVELOPE_DELAY: Final = timedelta(milliseconds=1)
"""An event is written a moment after the change it records."""


@dataclass(slots=True)
class Request:
    """One API request (or job step): every event it causes shares its id and meta."""

    id: str
    user: Person | None
    method: str
    path: str
    api_key_id: str | None = None
    oauth_client_id: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    emitted: int = 0


class EventLog:
    """The current objects of the organization and the events their changes produced."""

    def __init__(self, ids: IdMaker, org_id: str) -> None:
        self.ids = ids
        self.org_id = org_id
        self.events: list[JSONDict] = []
        self.capacity: int | None = None
        """Stop recording (but keep applying changes) once this many events exist."""
        self._objects: dict[str, JSONDict] = {}
        self._types: dict[str, str] = {}
        self._children: dict[str, dict[str, str]] = {}
        self._handed_out: set[str] = set()
        """Objects whose current dict is already some event's ``data``: the next event gets a copy."""

    def __getitem__(self, object_id: str) -> JSONDict:
        return self._objects[object_id]

    def children(self, lead_id: str) -> list[tuple[str, str]]:
        """``(object_id, object_type)`` of everything that belongs to the lead, oldest first."""
        return list(self._children.get(lead_id, {}).items())

    @property
    def full(self) -> bool:
        return self.capacity is not None and len(self.events) >= self.capacity

    def request(
        self,
        user: Person | None,
        method: str,
        path: str,
        *,
        api_key_id: str | None = None,
        oauth_client_id: str | None = None,
        **meta: str,
    ) -> Request:
        return Request(self.ids.new("req_"), user, method, path, api_key_id, oauth_client_id, meta)

    # --- changes ---------------------------------------------------------------------------

    def current(self, object_type: str) -> list[JSONDict]:
        """The objects of one type as they stand now."""
        return [self._objects[i] for i, kind in self._types.items() if kind == object_type]

    def put(self, object_type: str, obj: JSONDict) -> JSONDict:
        """Store an object without an event (it predates the story, or an event follows)."""
        object_id = obj["id"]
        self._objects[object_id] = obj
        self._types[object_id] = object_type
        self._handed_out.discard(object_id)
        owner = self._owner(object_type, obj)
        if owner is not None:
            self._children.setdefault(owner, {})[object_id] = object_type
        return obj

    def create(self, req: Request, at: datetime, object_type: str, obj: JSONDict) -> JSONDict:
        self.put(object_type, obj)
        self.signal(req, at, obj["id"], "created")
        return obj

    def signal(self, req: Request, at: datetime, object_id: str, action: str) -> None:
        """A non-update action (created, sent, completed, merged, …): the object as it is now."""
        self._emit(req, at, object_id, action, [], self.snapshot(object_id), {})

    def update(
        self, req: Request, at: datetime, object_id: str, changes: Mapping[str, Any], *, signal: str = ""
    ) -> JSONDict:
        """Apply ``changes``, record ``updated`` with the old values of what changed, then
        optionally a second action (``sent``, ``completed``, …) in the same request."""
        old = self._objects[object_id]
        new = {**old, **changes}
        if "date_updated" in old:
            stamp = payload_time(at)
            if old["date_updated"] >= stamp:
                at = datetime.fromisoformat(old["date_updated"]) + ENVELOPE_DELAY
                stamp = payload_time(at)
            new["date_updated"] = stamp
        if "updated_by" in old and req.user is not None:
            new["updated_by"], new["updated_by_name"] = req.user.id, req.user.name
        changed = sorted(key for key in {*changes, *AUDIT_KEYS} if key in new and old.get(key) != new[key])
        self._replace(object_id, old, new)
        self._emit(
            req, at, object_id, "updated", changed, self.snapshot(object_id), {k: old.get(k) for k in changed}
        )
        if signal:
            self.signal(req, at, object_id, signal)
        return new

    def delete(self, req: Request, at: datetime, object_id: str) -> JSONDict:
        previous = self.snapshot(object_id)
        object_type = self._types[object_id]
        self._emit(req, at, object_id, "deleted", [], None, previous)
        owner = self._owner(object_type, previous)
        if owner is not None:
            self._children.get(owner, {}).pop(object_id, None)
        self._children.pop(object_id, None)
        del self._objects[object_id], self._types[object_id]
        return previous

    def _replace(self, object_id: str, old: JSONDict, new: JSONDict) -> None:
        self._objects[object_id] = new
        self._handed_out.discard(object_id)
        object_type = self._types[object_id]
        before, after = self._owner(object_type, old), self._owner(object_type, new)
        if before != after and before is not None and after is not None:
            self._children.get(before, {}).pop(object_id, None)
            self._children.setdefault(after, {})[object_id] = object_type

    @staticmethod
    def _owner(object_type: str, obj: JSONDict) -> str | None:
        return None if object_type == "lead" else obj.get("lead_id")

    # --- events ----------------------------------------------------------------------------

    def snapshot(self, object_id: str) -> JSONDict:
        """The object as Close's API returns it; a lead embeds its contacts, opportunities and tasks.

        The object's own dict is handed out once (it is never mutated, only replaced); later
        snapshots of the same version are copies, so no two events share a ``data`` dict."""
        obj = self._objects[object_id]
        if self._types[object_id] != "lead":
            if object_id in self._handed_out:
                return dict(obj)
            self._handed_out.add(object_id)
            return obj
        contacts = [self._objects[c] for c in obj["contact_ids"] if c in self._objects]
        kids = self._children.get(object_id, {})
        first = contacts[0] if contacts else {}
        return {
            **obj,
            "contacts": contacts,
            "opportunities": [self._objects[i] for i, kind in kids.items() if kind == "opportunity"],
            "tasks": [self._objects[i] for i, kind in kids.items() if kind.startswith("task.")],
            "primary_email": (first.get("emails") or [None])[0],
            "primary_phone": (first.get("phones") or [None])[0],
        }

    def _emit(
        self,
        req: Request,
        at: datetime,
        object_id: str,
        action: str,
        changed: list[str],
        data: JSONDict | None,
        previous: JSONDict,
    ) -> None:
        if self.full:
            return
        object_type = self._types[object_id]
        stamp = envelope_time(at + ENVELOPE_DELAY + timedelta(microseconds=97 * req.emitted))
        req.emitted += 1
        source = data if data is not None else previous
        self.events.append(
            {
                "id": self.ids.new("ev_"),
                "date_created": stamp,
                "date_updated": stamp,
                "organization_id": self.org_id,
                "user_id": req.user.id if req.user else None,
                "request_id": req.id,
                "api_key_id": req.api_key_id,
                "oauth_client_id": req.oauth_client_id,
                "object_type": object_type,
                "object_id": object_id,
                "lead_id": object_id if object_type == "lead" else source.get("lead_id"),
                "action": action,
                "changed_fields": changed,
                "data": data,
                "previous_data": previous,
                "meta": {"request_method": req.method, "request_path": req.path, **req.meta},
            }
        )
