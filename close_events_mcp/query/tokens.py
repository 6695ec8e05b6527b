"""Opaque, self-contained tokens: the paging cursor and the polling checkpoint.

A token carries the whole query (and its own state), so any replica can continue it; no
session is kept on the server. Layout: ``<prefix><base64url JSON>.<checksum>[.<tail>]``. On
decode the query is validated exactly like fresh tool arguments, so an altered token can only
ask for what the tool allows anyway; the checksum catches tokens cut or edited by accident.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final, TypeGuard

from close_events_mcp import catalog
from close_events_mcp.errors import ArgumentError
from close_events_mcp.event import format_timestamp
from close_events_mcp.query.filters import MAX_PAGE, EventFilters, parse_filters, parse_limit

MAX_TOKEN: Final = 65_536
MAX_INFLATED: Final = 262_144
"""The most a compressed token may inflate to: a real checkpoint is mostly random hashes, which do not
compress, so this is four times the longest token; a forged one that inflates further is refused
before it takes more memory or time."""
_CLOSE_CURSOR: Final = re.compile(r"[A-Za-z0-9_.:+/=-]{0,2048}")
"""Close's cursor; empty for continuations of our own scans (their state is in ``extra``)."""
_SHORT: Final = {
    "object_type": "t",
    "action": "a",
    "object_id": "o",
    "lead_id": "l",
    "user_id": "u",
    "request_id": "r",
    "changed_field": "c",
}


@dataclass(frozen=True, slots=True)
class TokenKind:
    prefix: str
    argument: str
    returned_as: str
    compressed: bool = False

    def error(self) -> ArgumentError:
        return ArgumentError(
            f"{self.argument} is not a {self.argument} this server issued, or it was cut or altered; pass "
            f"{self.returned_as} exactly as it was returned, or start again without {self.argument}."
        )


CURSOR: Final = TokenKind("ce1.", "cursor", "next_cursor")
CHECKPOINT: Final = TokenKind("cp1.", "checkpoint", "checkpoint", compressed=True)


def _checksum(raw: bytes, tail: str) -> str:
    return hashlib.sha256(raw + b"|" + tail.encode()).hexdigest()[:8]


def seal(kind: TokenKind, body: dict[str, Any], tail: str = "") -> str:
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    packed = zlib.compress(raw, 9) if kind.compressed else raw
    payload = base64.urlsafe_b64encode(packed).decode().rstrip("=")
    token = f"{kind.prefix}{payload}.{_checksum(raw, tail)}"
    return f"{token}.{tail}" if tail or kind is CURSOR else token


def unseal(kind: TokenKind, token: str) -> tuple[dict[str, Any], str]:
    token = (token or "").strip()
    if not token.startswith(kind.prefix) or len(token) > MAX_TOKEN:
        raise kind.error()
    parts = token[len(kind.prefix) :].split(".", 2)
    tail = parts[2] if len(parts) == 3 else ""
    if len(parts) < 2 or not _CLOSE_CURSOR.fullmatch(tail):
        raise kind.error()
    payload, checksum = parts[0], parts[1]
    try:
        packed = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        raw = _inflate(packed, kind) if kind.compressed else packed
        body = json.loads(raw)
    except (binascii.Error, ValueError, zlib.error):
        raise kind.error() from None
    if checksum != _checksum(raw, tail) or not isinstance(body, dict):
        raise kind.error()
    return body, tail


def _inflate(packed: bytes, kind: TokenKind) -> bytes:
    inflater = zlib.decompressobj()
    raw = inflater.decompress(packed, MAX_INFLATED)
    if inflater.unconsumed_tail or not inflater.eof:
        raise kind.error()
    return raw


def filters_body(filters: EventFilters) -> dict[str, Any]:
    body: dict[str, Any] = {
        short: getattr(filters, name) for name, short in _SHORT.items() if getattr(filters, name)
    }
    if filters.since:
        body["s"] = filters.since.timestamp()
    if filters.until:
        body["e"] = filters.until.timestamp()
    if filters.exclude_noisy:
        body["z"] = 1
    return body


_EARLIEST_MICROS: Final = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000
_LATEST_MICROS: Final = int(datetime(2101, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000


def valid_micros(value: object) -> TypeGuard[int]:
    """An instant a token carries (microseconds since the epoch) within the years the tools accept, so a
    forged one can neither overflow a datetime nor open a window the arguments could not."""
    return (
        isinstance(value, int) and not isinstance(value, bool) and _EARLIEST_MICROS <= value < _LATEST_MICROS
    )


def _valid_time(value: object) -> bool:
    return value is None or (
        isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 2**33
    )


def _iso(epoch: float | None) -> str | None:
    """Exact to the microsecond: continuations resume at a precise instant."""
    return None if epoch is None else format_timestamp(datetime.fromtimestamp(epoch, UTC), "microseconds")


def filters_from_body(kind: TokenKind, body: dict[str, Any], *, now: datetime) -> EventFilters:
    names = {short: name for name, short in _SHORT.items()}
    arguments = {names[k]: v for k, v in body.items() if k in names}
    since, until = body.get("s"), body.get("e")
    if not all(isinstance(v, str) for v in arguments.values()) or not (
        _valid_time(since) and _valid_time(until)
    ):
        raise kind.error()
    try:
        return parse_filters(
            **arguments, since=_iso(since), until=_iso(until), exclude_noisy=body.get("z") == 1, now=now
        )
    except ArgumentError as exc:
        raise ArgumentError(
            f"This {kind.argument} carries an invalid query ({exc}) Start again without {kind.argument}."
        ) from None


@dataclass(frozen=True, slots=True)
class PageToken:
    """What ``next_cursor`` carries: Close's cursor and the whole query, so it alone continues."""

    filters: EventFilters
    close_cursor: str
    limit: int
    extra: dict[str, Any] = field(default_factory=dict)
    """State of tools that page differently (scans with local filters)."""

    def encode(self) -> str:
        body = {**filters_body(self.filters), "n": self.limit}
        if self.extra:
            body["x"] = self.extra
        return seal(CURSOR, body, self.close_cursor)

    @classmethod
    def decode(cls, token: str, *, now: datetime) -> PageToken:
        body, close_cursor = unseal(CURSOR, token)
        limit, extra = body.get("n"), body.get("x", {})
        valid_limit = isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= MAX_PAGE
        if not valid_limit or not isinstance(extra, dict):
            raise CURSOR.error()
        return cls(filters_from_body(CURSOR, body, now=now), close_cursor, parse_limit(limit), extra)

    def with_limit(self, limit: int | None) -> PageToken:
        return self if limit is None else replace(self, limit=parse_limit(limit))


def conflicting_filters(token_filters: EventFilters, given: EventFilters) -> list[str]:
    """Filters passed alongside a token that disagree with the token's own. Dates are not
    compared: the token froze its window when the query began ("24h" then is not "24h" now)."""
    names = (*catalog.FILTER_NAMES, "changed_field")
    conflicts = [
        n for n in names if getattr(given, n) is not None and getattr(given, n) != getattr(token_filters, n)
    ]
    if given.exclude_noisy and not token_filters.exclude_noisy:
        conflicts.append("exclude_noisy")
    return conflicts
