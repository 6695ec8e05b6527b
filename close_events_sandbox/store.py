"""The emulator's event store: Close's listing semantics over an in-memory index.

Newest first by ``date_updated`` (ties by id), the supported filter combinations, date
filters, ``_limit`` capped at 50, keyset cursors in both directions that are only valid with
the filters they were issued for, 30-day retention and the one-hour data visibility rule for
non-admins. Events can be added or consolidated (their ``date_updated`` moved) at any time; with
``up_to_now``, one dated after the clock waits until its time comes.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import hmac
import json
import secrets
import struct
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from close_events_sandbox import close_rules as rules
from close_events_sandbox.close_rules import parse_timestamp
from close_events_sandbox.org import JSONDict

MAX_LIMIT = rules.MAX_LIMIT
Key = tuple[int, str]
"""Sort key of an event: (date_updated in microseconds since the epoch, id)."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NEVER, _FOREVER = -(2**62), 2**62


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


class QueryError(ValueError):
    """A request Close would refuse with 400; the message is what Close would say."""


@dataclass(frozen=True, slots=True)
class Page:
    data: list[JSONDict]
    cursor_next: str | None
    cursor_previous: str | None


def _key(event: Mapping[str, Any]) -> Key:
    moment = parse_timestamp(event["date_updated"])
    if moment is None:
        raise ValueError(f"event {event.get('id')} has no valid date_updated")
    return (_micros(moment), str(event["id"]))


class _Index:
    """Event keys sorted ascending, overall and per filter value."""

    def __init__(self, events: Iterable[JSONDict]) -> None:
        self.all: list[Key] = []
        self.by: dict[tuple[str, str], list[Key]] = defaultdict(list)
        for event in events:
            key = _key(event)
            self.all.append(key)
            for name in rules.FILTER_NAMES:
                value = event.get(name)
                if isinstance(value, str):
                    self.by[(name, value)].append(key)
        self.all.sort()
        for keys in self.by.values():
            keys.sort()


class EventStore:
    def __init__(
        self,
        events: Iterable[JSONDict] = (),
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        cursor_secret: bytes | None = None,
        up_to_now: bool = False,
    ) -> None:
        """``up_to_now``: an event dated after ``clock()`` is not served until its time comes, as in
        the demo organization, whose day is told in advance. Off, every event is served (tests add
        events on either side of their clock)."""
        self._events: dict[str, JSONDict] = {}
        self._index: _Index | None = None
        self.clock = clock
        self._secret = cursor_secret or secrets.token_bytes(16)
        self._up_to_now = up_to_now
        for event in events:
            self._events[event["id"]] = event

    def __len__(self) -> int:
        return len(self._events)

    def add(self, event: JSONDict) -> None:
        self._events[event["id"]] = event
        self._index = None

    def consolidate(self, event_id: str, moment: datetime, **changes: Any) -> JSONDict:
        """Move an event's ``date_updated`` (as Close does when it merges recent events on one object)."""
        event = {**self._events[event_id], **changes}
        event["date_updated"] = moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
        self.add(event)
        return event

    def _indexed(self) -> _Index:
        if self._index is None:
            self._index = _Index(self._events.values())
        return self._index

    # --- reading ------------------------------------------------------------------------

    def get(self, event_id: str, *, is_admin: bool) -> JSONDict | None:
        event = self._events.get(event_id)
        if event is None or not self._horizon() <= _key(event)[0] < self._ceiling():
            return None
        return self._visible(event, is_admin)

    def query(self, params: Mapping[str, str], *, is_admin: bool) -> Page:
        filters: dict[str, str] = {name: params[name] for name in rules.FILTER_NAMES if params.get(name)}
        if frozenset(filters) not in rules.ACCEPTED_COMBINATIONS:
            raise QueryError(
                f"Unsupported combination of filters: {rules.combination_label(frozenset(filters))}."
            )
        limit = _parse_limit(params.get("_limit"))
        low, high = _date_bounds(params)
        direction, position = "next", None
        if params.get("_cursor"):
            direction, position, low, high = self._open_cursor(params["_cursor"], filters)
        keys = self._candidates(filters)
        matches = list(self._walk(keys, filters, low, high, direction, position, limit))
        if direction == "prev":
            matches.reverse()
        data = [self._visible(self._events[key[1]], is_admin) for key in matches]
        if not matches:
            return Page(data, None, None)
        older = self._walk(keys, filters, low, high, "next", matches[-1], 1)
        return Page(
            data,
            self._cursor(filters, "next", matches[-1], low, high) if next(older, None) else None,
            self._cursor(filters, "prev", matches[0], low, high),
        )

    def _candidates(self, filters: Mapping[str, str]) -> list[Key]:
        index = self._indexed()
        lists = [index.by.get((name, value), []) for name, value in filters.items()]
        return min(lists, key=len) if lists else index.all

    def _walk(
        self,
        keys: list[Key],
        filters: Mapping[str, str],
        low: int,
        high: int,
        direction: str,
        position: Key | None,
        limit: int,
    ) -> Iterator[Key]:
        """Keys matching ``filters`` within [low, high), newest first after ``position`` (or
        oldest first before it, for ``prev``), at most ``limit``."""
        low, high = max(low, self._horizon()), min(high, self._ceiling())
        found = 0
        if direction == "next":
            top = bisect.bisect_left(keys, (high, ""))
            if position is not None:
                top = min(top, bisect.bisect_left(keys, position))
            order: Iterable[int] = range(top - 1, -1, -1)
        else:
            start = bisect.bisect_right(keys, position) if position is not None else 0
            order = range(start, len(keys))
        for i in order:
            key = keys[i]
            if key[0] < low:
                if direction == "next":
                    return
                continue
            if key[0] >= high:
                return
            event = self._events[key[1]]
            if all(event.get(name) == value for name, value in filters.items()):
                yield key
                found += 1
                if found >= limit:
                    return

    def _horizon(self) -> int:
        return _micros(self.clock() - timedelta(days=rules.RETENTION_DAYS))

    def _ceiling(self) -> int:
        """Events at or after this are not served yet (only with ``up_to_now``)."""
        return _micros(self.clock()) + 1 if self._up_to_now else _FOREVER

    def _visible(self, event: JSONDict, is_admin: bool) -> JSONDict:
        if is_admin:
            return event
        created = parse_timestamp(event.get("date_created")) or self.clock()
        if self.clock() - created <= timedelta(hours=rules.DATA_VISIBILITY_HOURS):
            return event
        return {**event, "data": None, "previous_data": None}

    # --- cursors ------------------------------------------------------------------------

    def _cursor(self, filters: Mapping[str, str], direction: str, key: Key, low: int, high: int) -> str:
        """Opaque and signed: direction, position, date window and the filters' fingerprint."""
        body = (
            _CURSOR_HEAD.pack(direction == "prev", key[0], low, high)
            + _fingerprint(filters)
            + key[1].encode()
        )
        return base64.urlsafe_b64encode(body + self._sign(body)).decode().rstrip("=")

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()[:_SIGNATURE]

    def _open_cursor(self, cursor: str, filters: Mapping[str, str]) -> tuple[str, Key, int, int]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (ValueError, binascii.Error):
            raise QueryError("Invalid cursor.") from None
        body, signature = raw[:-_SIGNATURE], raw[-_SIGNATURE:]
        if len(body) <= _CURSOR_HEAD.size + _FINGERPRINT or not hmac.compare_digest(
            signature, self._sign(body)
        ):
            raise QueryError("Invalid cursor.")
        previous, micros, low, high = _CURSOR_HEAD.unpack_from(body)
        fingerprint = body[_CURSOR_HEAD.size : _CURSOR_HEAD.size + _FINGERPRINT]
        if fingerprint != _fingerprint(filters):
            raise QueryError("This cursor was issued for different filters; send the same filters with it.")
        event_id = body[_CURSOR_HEAD.size + _FINGERPRINT :].decode()
        return ("prev" if previous else "next"), (micros, event_id), low, high


_CURSOR_HEAD = struct.Struct(">?qqq")
_FINGERPRINT = 6
_SIGNATURE = 9


def _fingerprint(filters: Mapping[str, str]) -> bytes:
    canonical = json.dumps(sorted(filters.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()[:_FINGERPRINT]


def _parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return MAX_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise QueryError("_limit must be an integer.") from None
    if limit < 1:
        raise QueryError("_limit must be a positive integer.")
    return min(limit, MAX_LIMIT)


DATE_FILTERS = {
    "date_updated__gte": (0, 0),
    "date_updated__gt": (0, 1),
    "date_updated__lt": (1, 0),
    "date_updated__lte": (1, 1),
}


def _date_bounds(params: Mapping[str, str]) -> tuple[int, int]:
    """The date filters as a half-open window [low, high) in microseconds."""
    bounds = [_NEVER, _FOREVER]
    for name, (side, nudge) in DATE_FILTERS.items():
        raw = params.get(name)
        if raw is None:
            continue
        moment = parse_timestamp(raw.replace("Z", "+00:00"))
        if moment is None:
            raise QueryError(f"{name} must be an ISO 8601 date or datetime.")
        value = _micros(moment) + nudge
        bounds[side] = max(bounds[side], value) if side == 0 else min(bounds[side], value)
    return bounds[0], bounds[1]
