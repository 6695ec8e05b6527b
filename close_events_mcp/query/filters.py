"""Tool arguments → a validated query for Close: IDs, types, time windows, paging cursor.

Everything a tool sends to Close passes through here first; anything that fails is refused
with a message that says what would work, before any request is made.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from close_events_mcp import catalog
from close_events_mcp.errors import ArgumentError
from close_events_mcp.event import format_timestamp, parse_timestamp
from close_events_mcp.text import escaped, key_text

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
_SEPARATORS: Final = re.compile(r"[\s_-]+")
DAY_WORDS: Final = ("today", "yesterday", "this week", "last week")
"""Calendar words since and until accept, each naming the moment its day or ISO week starts (UTC)."""
_DAY_LABELS: Final = {
    "today": "today 00:00 UTC",
    "yesterday": "yesterday 00:00 UTC",
    "this week": "this week: Monday 00:00 UTC",
    "last week": "last week: Monday 00:00 UTC",
}
_FIELD: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_. ()/&'-]{0,119}")
MAX_WINDOW_DAYS: Final = 366
_TIME_LOOKS: Final = (
    "times are dates like 2026-11-20, datetimes like 2026-11-20T14:00:00Z, windows like 24h or today"
)
_LONGEST: Final[dict[str, tuple[int, str]]] = {
    "object_type": (200, "object types are short names like lead or activity.email"),
    "action": (200, "actions are single words like created, updated or deleted"),
    "object_id": (200, "object IDs are a prefix and letters and digits, like acti_… or oppo_…"),
    "lead_id": (200, "lead IDs are lead_ followed by letters and digits"),
    "user_id": (200, "user IDs are user_ followed by letters and digits"),
    "request_id": (200, "request IDs are req_ followed by letters and digits"),
    "event_id": (200, "event IDs are ev_ followed by letters and digits"),
    "since": (64, _TIME_LOOKS),
    "until": (64, _TIME_LOOKS),
    "changed_field": (200, "field names are like status_label or custom.cf_…, or a custom field's name"),
}
"""The most characters each text argument may have, and what a good one looks like. Far longer than
any good value, and checked before any pattern or fuzzy match reads the value."""


def echo(value: object, limit: int = 40) -> str:
    """A caller's value echoed back in an error message: its start (``limit`` characters as shown),
    quoted, with every control or invisible character written as an escape (``ev_abc\\u0000def``), so
    that what was refused never reads as a valid value, and nothing in it is hidden."""
    text = str(value)
    pieces: list[str] = []
    size = 0
    for char in text[:limit]:
        piece = "\\'" if char == "'" else escaped(char)
        if size + len(piece) > limit:
            break
        pieces.append(piece)
        size += len(piece)
    more = "…" if len(pieces) < len(text) else ""
    return "'" + "".join(pieces) + more + "'"


def _text(name: str, value: str | None) -> str:
    """The argument ``name``, stripped, once its length is known to be sane."""
    value = (value or "").strip()
    longest, looks = _LONGEST[name]
    if len(value) > longest:
        raise ArgumentError(
            f"{name} is {len(value):,} characters long (it starts {echo(value, 24)}); {looks} "
            f"(at most {longest})."
        )
    return value


def parse_event_id(value: str) -> str:
    value = _text("event_id", value)
    if not EVENT_ID.fullmatch(value):
        raise ArgumentError(
            f"event_id must be a Close event ID: 'ev_' followed by letters and digits (got {echo(value)}). "
            "Event IDs appear at the end of each list_events line."
        )
    return value


def _parse_id(name: str, value: str | None) -> str | None:
    value = _text(name, value)
    if not value:
        return None
    pattern, expected = _ID_RULES[name]
    if not pattern.fullmatch(value):
        raise ArgumentError(f"{name} must be {expected} (got {echo(value)}).")
    return value


def parse_object_type(value: str | None) -> str | None:
    value = _text("object_type", value)
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
        f"object_type {echo(value)} is not a Close event type.{hint} "
        "Call describe_event_types for the full list (tasks are task.SUBTYPE, e.g. task.lead)."
    )


def parse_action(value: str | None, object_type: str | None) -> str | None:
    value = _text("action", value).lower()
    if not value:
        return None
    entry = catalog.lookup(object_type) if object_type else None
    allowed = entry.action_names if entry else catalog.ALL_ACTIONS
    if value in allowed:
        return value
    guess = difflib.get_close_matches(value, allowed, n=1, cutoff=0.5)
    hint = f" Did you mean {guess[0]}?" if guess else ""
    scope = f"{object_type} events have" if entry else "Close events have"
    raise ArgumentError(f"action {echo(value)} is not valid here.{hint} {scope}: {', '.join(allowed)}.")


def day_word(value: str) -> str | None:
    """``value`` as one of ``DAY_WORDS`` (any case; spaces, ``_`` or ``-`` between the words), or None."""
    word = _SEPARATORS.sub(" ", value.strip().lower())
    return word if word in DAY_WORDS else None


def day_start(word: str, now: datetime) -> datetime:
    """When the day or ISO week ``word`` names begins, in UTC: ``today`` is 00:00 UTC today, ``yesterday``
    00:00 UTC the day before, ``this week`` Monday 00:00 UTC of the current ISO week and ``last week`` the
    Monday before. As until, a word means the same start, so since=yesterday until=today is yesterday
    alone and since=last week until=this week is last week alone."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday())
    return {
        "today": today,
        "yesterday": today - timedelta(days=1),
        "this week": monday,
        "last week": monday - timedelta(days=7),
    }[word]


def parse_time(name: str, value: str | None, now: datetime) -> datetime | None:
    """ISO 8601 date or datetime (naive = UTC), a relative window back from now (90m, 24h, 7d), or a
    calendar word (today, yesterday, this week, last week: when that day or week starts, UTC)."""
    return _parse_time(name, value, now)[0]


def _parse_time(name: str, value: str | None, now: datetime) -> tuple[datetime | None, str | None]:
    """The moment, and when a calendar word named it, the word's label for headers."""
    value = _text(name, value)
    if not value:
        return None, None
    if value.lower() == "now":
        return now, None
    word = day_word(value)
    if word is not None:
        return day_start(word, now), _DAY_LABELS[word]
    relative = _RELATIVE.fullmatch(value)
    if relative:
        seconds = float(relative.group(1)) * _UNIT_SECONDS[relative.group(2)[0].lower()]
        if seconds > MAX_WINDOW_DAYS * 86400:
            raise ArgumentError(
                f"{name} {echo(value)} reaches back more than a year; Close keeps 30 days of events."
            )
        return now - timedelta(seconds=seconds), None
    moment = parse_timestamp(value.replace(" ", "T", 1) if _DATE_ONLY.match(value) else value)
    if moment is None or not 2000 <= moment.year <= 2100:
        raise ArgumentError(
            f"{name} {echo(value)} is not a time. Use an ISO 8601 date (2026-11-20), a datetime "
            "(2026-11-20T14:00:00Z; no offset means UTC), a window back from now (90m, 24h, 7d) or today, "
            "yesterday, this week, last week (their start, UTC)."
        )
    return moment, None


@dataclass(frozen=True, slots=True)
class FilterArguments:
    """The filter arguments as a tool received them, before validation: the same for every tool, built
    once in the tool layer and passed to its work as one typed value (``parse`` makes them
    ``EventFilters``)."""

    object_type: str | None = None
    action: str | None = None
    object_id: str | None = None
    lead_id: str | None = None
    user_id: str | None = None
    request_id: str | None = None
    since: str | None = None
    until: str | None = None
    changed_field: str | None = None
    exclude_noisy: bool = False

    def parse(self, now: datetime) -> EventFilters:
        return parse_filters(
            object_type=self.object_type,
            action=self.action,
            object_id=self.object_id,
            lead_id=self.lead_id,
            user_id=self.user_id,
            request_id=self.request_id,
            since=self.since,
            until=self.until,
            changed_field=self.changed_field,
            exclude_noisy=self.exclude_noisy,
            now=now,
        )


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
    changed_field: str | None = None
    """Only events whose changed_fields include this field (checked on our side)."""
    exclude_noisy: bool = False
    """Drop what the catalog marks as noise: the autosave updates of emails, calls, SMS and notes, and the
    progress updates of imports, exports and bulk actions (checked on our side)."""
    since_word: str | None = field(default=None, compare=False)
    """When since was given as a calendar word (``today``, …), what it means, for headers."""
    until_word: str | None = field(default=None, compare=False)
    """The same for until."""

    @property
    def names(self) -> frozenset[str]:
        """The non-date filters that are set."""
        return frozenset(name for name in catalog.FILTER_NAMES if getattr(self, name) is not None)

    def to_params(self) -> dict[str, str]:
        params: dict[str, str] = {
            name: getattr(self, name) for name in catalog.FILTER_NAMES if getattr(self, name) is not None
        }
        if self.since is not None:
            params["date_updated__gte"] = format_timestamp(self.since, "exact")
        if self.until is not None:
            params["date_updated__lt"] = format_timestamp(self.until, "exact")
        return params

    def describe(self) -> str:
        """The filters as the model would write them, for headers and footers."""
        parts = [f"{name}={getattr(self, name)}" for name in catalog.FILTER_NAMES if getattr(self, name)]
        if self.since:
            parts.append(f"since {format_timestamp(self.since)}{_word(self.since_word)}")
        if self.until:
            parts.append(f"until {format_timestamp(self.until)}{_word(self.until_word)}")
        if self.changed_field:
            parts.append(f"changed_field={key_text(self.changed_field)}")
        if self.exclude_noisy:
            parts.append("autosave and progress updates excluded")
        return ", ".join(parts) or "no filters"

    def to_json(self) -> dict[str, str]:
        return {
            k: format_timestamp(v)
            if isinstance(v, datetime)
            else str(v).lower()
            if isinstance(v, bool)
            else v
            for k, v in asdict(self).items()
            if v and k not in ("since_word", "until_word")
        }


def _word(label: str | None) -> str:
    return f" ({label})" if label else ""


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
    changed_field: str | None = None,
    exclude_noisy: bool = False,
    now: datetime,
) -> EventFilters:
    kind = parse_object_type(object_type)
    start, start_word = _parse_time("since", since, now)
    end, end_word = _parse_time("until", until, now)
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
        changed_field=parse_changed_field(changed_field),
        exclude_noisy=bool(exclude_noisy),
        since_word=start_word,
        until_word=end_word,
    )


def parse_changed_field(value: str | None) -> str | None:
    value = _text("changed_field", value)
    if not value:
        return None
    if not _FIELD.fullmatch(value):
        raise ArgumentError(
            f"changed_field must be a field name like status_label, name or custom.cf_…, or a custom "
            f"field's name (got {echo(value)})."
        )
    return value


def parse_limit(value: int | None, default: int = MAX_PAGE) -> int:
    if value is None:
        return default
    if not 1 <= value <= MAX_PAGE:
        raise ArgumentError(
            f"limit must be between 1 and {MAX_PAGE} (got {value}): Close pages hold up to {MAX_PAGE} events."
        )
    return value
