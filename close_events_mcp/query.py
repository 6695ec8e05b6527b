"""Tool arguments → a validated query for Close: IDs, types, time windows, paging cursor.

Everything a tool sends to Close passes through here first; anything that fails is refused
with a message that says what would work, before any request is made.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from close_events_mcp import catalog
from close_events_mcp.errors import ArgumentError
from close_events_mcp.event import format_timestamp, parse_timestamp
from close_events_mcp.text import clean

MAX_PAGE: Final = 50
_ID_RULES: Final[dict[str, tuple[re.Pattern[str], str]]] = {
    "object_id": (
        re.compile(r"[a-z][a-z0-9]{0,19}_[A-Za-z0-9]{1,100}"),
        "a Close object ID like acti_…, oppo_…",
    ),
    "lead_id": (re.compile(r"lead_[A-Za-z0-9]{1,100}"), "a lead ID like lead_…"),
    "user_id": (re.compile(r"user_[A-Za-z0-9]{1,100}"), "a user ID like user_…"),
    "request_id": (re.compile(r"req_[A-Za-z0-9]{1,100}"), "a request ID like req_…"),
}
EVENT_ID: Final = re.compile(r"ev_[A-Za-z0-9]{1,100}")
_RELATIVE: Final = re.compile(
    r"(\d{1,6}(?:\.\d{1,3})?)\s*(m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?)(?:\s+ago)?", re.IGNORECASE
)
_UNIT_SECONDS: Final = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
_DATE_ONLY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_CLOSE_CURSOR: Final = re.compile(r"[A-Za-z0-9_.:+/=-]{1,2048}")
_TOKEN_PREFIX: Final = "ce1."
MAX_WINDOW_DAYS: Final = 366


def show(value: object, limit: int = 40) -> str:
    """A caller's value echoed back in an error message: cleaned, short, quoted."""
    return repr(clean(str(value), limit))


def parse_event_id(value: str) -> str:
    value = (value or "").strip()
    if not EVENT_ID.fullmatch(value):
        raise ArgumentError(
            f"event_id must be a Close event ID: 'ev_' followed by letters and digits (got {show(value)}). "
            "Event IDs appear at the end of each list_events line."
        )
    return value


def _parse_id(name: str, value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    pattern, expected = _ID_RULES[name]
    if not pattern.fullmatch(value):
        raise ArgumentError(f"{name} must be {expected} (got {show(value)}).")
    return value


def parse_object_type(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    lowered = value.lower()
    if catalog.lookup(lowered) is not None:
        return catalog.LEGACY_NAMES.get(lowered, lowered)
    # Match the full names and their last part too, so "notes" finds activity.note.
    spellings = {t.name: t.name for t in catalog.OBJECT_TYPES}
    spellings |= {
        t.name.rsplit(".", 1)[-1]: t.name for t in catalog.OBJECT_TYPES if t.name.startswith("activity.")
    }
    guess = dict.fromkeys(
        spellings[m] for m in difflib.get_close_matches(lowered, spellings, n=3, cutoff=0.6)
    )
    hint = f" Did you mean {' or '.join(guess)}?" if guess else ""
    raise ArgumentError(
        f"object_type {show(value)} is not a Close event type.{hint} "
        "Call describe_event_types for the full list (tasks are task.SUBTYPE, e.g. task.lead)."
    )


def parse_action(value: str | None, object_type: str | None) -> str | None:
    value = (value or "").strip().lower()
    if not value:
        return None
    entry = catalog.lookup(object_type) if object_type else None
    allowed = entry.action_names if entry else catalog.ALL_ACTIONS
    if value in allowed:
        return value
    guess = difflib.get_close_matches(value, allowed, n=1, cutoff=0.5)
    hint = f" Did you mean {guess[0]}?" if guess else ""
    scope = f"{object_type} events have" if entry else "Close events have"
    raise ArgumentError(f"action {show(value)} is not valid here.{hint} {scope}: {', '.join(allowed)}.")


def parse_time(name: str, value: str | None, now: datetime) -> datetime | None:
    """ISO 8601 date or datetime (naive = UTC), or a relative window back from now (90m, 24h, 7d)."""
    value = (value or "").strip()
    if not value:
        return None
    if value.lower() == "now":
        return now
    relative = _RELATIVE.fullmatch(value)
    if relative:
        seconds = float(relative.group(1)) * _UNIT_SECONDS[relative.group(2)[0].lower()]
        if seconds > MAX_WINDOW_DAYS * 86400:
            raise ArgumentError(
                f"{name} {show(value)} reaches back more than a year; Close keeps 30 days of events."
            )
        return now - timedelta(seconds=seconds)
    moment = parse_timestamp(value.replace(" ", "T", 1) if _DATE_ONLY.match(value) else value)
    if moment is None or not 2000 <= moment.year <= 2100:
        raise ArgumentError(
            f"{name} {show(value)} is not a time. Use an ISO 8601 date (2026-11-20), a datetime "
            "(2026-11-20T14:00:00Z; no offset means UTC) or a window back from now: 90m, 24h, 7d."
        )
    return moment


@dataclass(frozen=True, slots=True)
class EventFilters:
    """The filters of one event query; ``since``/``until`` are absolute once parsed."""

    object_type: str | None = None
    action: str | None = None
    object_id: str | None = None
    lead_id: str | None = None
    user_id: str | None = None
    request_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def names(self) -> frozenset[str]:
        """The non-date filters that are set."""
        return frozenset(name for name in catalog.FILTER_NAMES if getattr(self, name) is not None)

    def to_params(self) -> dict[str, str]:
        params: dict[str, str] = {
            name: getattr(self, name) for name in catalog.FILTER_NAMES if getattr(self, name) is not None
        }
        if self.since is not None:
            params["date_updated__gte"] = _close_time(self.since)
        if self.until is not None:
            params["date_updated__lt"] = _close_time(self.until)
        return params

    def describe(self) -> str:
        """The filters as the model would write them, for headers and footers."""
        parts = [f"{name}={getattr(self, name)}" for name in catalog.FILTER_NAMES if getattr(self, name)]
        if self.since:
            parts.append(f"since {format_timestamp(self.since)}")
        if self.until:
            parts.append(f"until {format_timestamp(self.until)}")
        return ", ".join(parts) or "no filters"

    def to_json(self) -> dict[str, str]:
        return {
            k: format_timestamp(v) if isinstance(v, datetime) else v for k, v in asdict(self).items() if v
        }


def _close_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_filters(
    *,
    object_type: str | None = None,
    action: str | None = None,
    object_id: str | None = None,
    lead_id: str | None = None,
    user_id: str | None = None,
    request_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
    now: datetime,
) -> EventFilters:
    kind = parse_object_type(object_type)
    start = parse_time("since", since, now)
    end = parse_time("until", until, now)
    if start is not None and start > now + timedelta(minutes=5):
        raise ArgumentError(f"since {format_timestamp(start)} is in the future; events only exist up to now.")
    if start is not None and end is not None and end <= start:
        raise ArgumentError(
            f"until ({format_timestamp(end)}) must be later than since ({format_timestamp(start)})."
        )
    return EventFilters(
        object_type=kind,
        action=parse_action(action, kind),
        object_id=_parse_id("object_id", object_id),
        lead_id=_parse_id("lead_id", lead_id),
        user_id=_parse_id("user_id", user_id),
        request_id=_parse_id("request_id", request_id),
        since=start,
        until=end,
    )


def unsupported_combination_message(filters: EventFilters) -> str:
    asked = filters.names
    suggestions = []
    for combo in catalog.nearest_combinations(asked, limit=3):
        changes = [f"drop {name}" for name in catalog.FILTER_NAMES if name in asked - combo]
        changes += [f"add {name}" for name in catalog.FILTER_NAMES if name in combo - asked]
        suggestions.append(f"{catalog.combo_label(combo)} ({', '.join(changes)})")
    return (
        f"Close cannot filter events by {catalog.combo_label(asked)}"
        f"{' together' if len(asked) > 1 else ' alone'}. Nearest supported: "
        f"{'; '.join(suggestions)}. since/until can be added to any of them; describe_event_types lists all."
    )


def check_supported(filters: EventFilters) -> None:
    if not catalog.is_supported(filters.names):
        raise ArgumentError(unsupported_combination_message(filters))


def parse_limit(value: int | None, default: int = MAX_PAGE) -> int:
    if value is None:
        return default
    if value < 1:
        raise ArgumentError(
            f"limit must be at least 1 (got {value}); Close pages hold up to {MAX_PAGE} events."
        )
    return min(value, MAX_PAGE)


# --- our paging token -------------------------------------------------------------------


_SHORT: Final = {
    "object_type": "t",
    "action": "a",
    "object_id": "o",
    "lead_id": "l",
    "user_id": "u",
    "request_id": "r",
}


@dataclass(frozen=True, slots=True)
class PageToken:
    """What ``next_cursor`` carries: Close's cursor and the whole query, so it alone continues.

    Layout: ``ce1.<base64url JSON of the query>.<checksum>.<Close's cursor>``. The query is
    re-validated on decode exactly like fresh arguments, so an altered token can only ask for
    what the tool would allow anyway; the checksum catches tokens cut or edited by accident.
    """

    filters: EventFilters
    close_cursor: str
    limit: int
    extra: dict[str, Any] = field(default_factory=dict)
    """Room for tools that page differently (scans, local filters) to carry their own state."""

    def encode(self) -> str:
        body: dict[str, Any] = {
            short: getattr(self.filters, name)
            for name, short in _SHORT.items()
            if getattr(self.filters, name)
        }
        if self.filters.since:
            body["s"] = int(self.filters.since.timestamp())
        if self.filters.until:
            body["e"] = int(self.filters.until.timestamp())
        body["n"] = self.limit
        if self.extra:
            body["x"] = self.extra
        raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        payload = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return f"{_TOKEN_PREFIX}{payload}.{_checksum(raw, self.close_cursor)}.{self.close_cursor}"

    @classmethod
    def decode(cls, token: str, *, now: datetime) -> PageToken:
        body, close_cursor = _token_parts(token)
        try:
            limit = body.pop("n")
            extra = body.pop("x", {})
            since, until = body.pop("s", None), body.pop("e", None)
            names = {short: name for name, short in _SHORT.items()}
            arguments = {names[short]: value for short, value in body.items()}
            times = [t for t in (since, until) if t is not None]
            if not all(isinstance(v, str) for v in arguments.values()) or not isinstance(extra, dict):
                raise TypeError
            if not isinstance(limit, int) or not all(isinstance(t, int) and 0 < t < 2**33 for t in times):
                raise TypeError
        except (KeyError, TypeError):
            raise _bad_cursor() from None
        try:
            filters = parse_filters(
                **arguments,
                since=_iso(since),
                until=_iso(until),
                now=now,
            )
        except ArgumentError as exc:
            raise ArgumentError(
                f"This cursor carries an invalid query ({exc}) Start again without cursor."
            ) from None
        return cls(filters, close_cursor, parse_limit(limit), extra)

    def with_limit(self, limit: int | None) -> PageToken:
        return self if limit is None else replace(self, limit=parse_limit(limit))


def _iso(epoch: int | None) -> str | None:
    return None if epoch is None else format_timestamp(datetime.fromtimestamp(epoch, UTC))


def _checksum(raw: bytes, close_cursor: str) -> str:
    return hashlib.sha256(raw + b"|" + close_cursor.encode()).hexdigest()[:8]


def _bad_cursor() -> ArgumentError:
    return ArgumentError(
        "cursor is not a cursor this server issued, or it was cut or altered; pass next_cursor exactly as "
        "it was returned, or start again without cursor."
    )


def _token_parts(token: str) -> tuple[dict[str, Any], str]:
    token = (token or "").strip()
    if not token.startswith(_TOKEN_PREFIX) or len(token) > 8192:
        raise _bad_cursor()
    parts = token[len(_TOKEN_PREFIX) :].split(".", 2)
    if len(parts) != 3 or not _CLOSE_CURSOR.fullmatch(parts[2]):
        raise _bad_cursor()
    payload, checksum, close_cursor = parts
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        body = json.loads(raw)
    except (binascii.Error, ValueError):
        raise _bad_cursor() from None
    if checksum != _checksum(raw, close_cursor) or not isinstance(body, dict):
        raise _bad_cursor()
    return body, close_cursor


def conflicting_filters(token: PageToken, given: EventFilters) -> list[str]:
    """Filters passed alongside a cursor that disagree with the cursor's own. Dates are not
    compared: the cursor froze its window when the query began ("24h" then is not "24h" now)."""
    return [
        name
        for name in catalog.FILTER_NAMES
        if getattr(given, name) is not None and getattr(given, name) != getattr(token.filters, name)
    ]
