"""What Close's Event Log accepts and keeps, as the emulator enforces it.

Written from Close's public docs (the shared reference: "Event Log", "Retrieve a list of events",
"List of Events"), not taken from the product: the emulator is the tests' oracle, so a rule the
product gets wrong must not pass here too. Nothing in this package imports ``close_events_mcp``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

FILTER_NAMES: Final[tuple[str, ...]] = (
    "object_type",
    "object_id",
    "action",
    "lead_id",
    "user_id",
    "request_id",
)
"""The listing's filters on the event's own fields, in the order a combination is named."""


def _combinations(*names: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(name.split("+")) if name else frozenset() for name in names)


DOCUMENTED_COMBINATIONS: Final = _combinations(
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
)
"""The combinations "Retrieve a list of events" says are supported, in its order."""

USED_BY_CLOSE_SCRIPTS: Final = _combinations("object_type", "")
"""Not in that list, but Close's own API scripts query with ``object_type`` alone and with only a
date range, so Close answers them."""

ACCEPTED_COMBINATIONS: Final = frozenset(DOCUMENTED_COMBINATIONS + USED_BY_CLOSE_SCRIPTS)
"""What the emulator answers; anything else is refused with 400. The docs do not say what Close
does with an unsupported combination."""

DATE_FILTERS: Final[tuple[str, ...]] = (
    "date_updated__gte",
    "date_updated__gt",
    "date_updated__lt",
    "date_updated__lte",
)
"""ISO 8601; they can be added to any accepted combination."""

MAX_LIMIT: Final = 50
"""``_limit`` is at most 50, and 50 when not given."""

RETENTION_DAYS: Final = 30
DATA_VISIBILITY_HOURS: Final = 1
"""Non-admin users see ``data`` and ``previous_data`` only for events less than an hour old."""


def combination_label(filters: frozenset[str]) -> str:
    """``object_type+action``, as the docs name a combination; ``(no filter)`` for none."""
    return "+".join(name for name in FILTER_NAMES if name in filters) or "(no filter)"


def _crud(*more: str) -> tuple[str, ...]:
    return ("created", "updated", "deleted", *more)


EVENT_TYPES: Final[dict[str, tuple[str, ...]]] = {
    "lead": _crud("merged"),
    "contact": _crud(),
    "opportunity": _crud(),
    "task.lead": _crud("completed"),
    "activity.email": _crud("sent"),
    "activity.email_thread": _crud(),
    "activity.call": _crud("answered", "completed"),
    "activity.sms": _crud("sent"),
    "activity.note": _crud(),
    "activity.meeting": _crud("scheduled", "started", "completed", "canceled"),
    "activity.lead_status_change": _crud(),
    "activity.opportunity_status_change": _crud(),
    "activity.task_completed": ("created", "deleted"),
    "import": ("created", "updated", "completed", "reverting", "reverted"),
    "export.lead": ("created", "updated", "completed"),
    "export.opportunity": ("created", "updated", "completed"),
    "bulk_action.delete": ("created", "updated", "completed", "paused"),
    "bulk_action.edit": ("created", "updated", "completed", "paused"),
    "bulk_action.email": ("created", "updated", "completed", "paused"),
    "bulk_action.sequence_subscription": ("created", "updated", "completed", "paused"),
    "custom_fields.lead": _crud(),
    "custom_fields.contact": _crud(),
    "custom_fields.opportunity": _crud(),
    "custom_fields.activity": _crud(),
    "custom_fields.shared": _crud(),
    "custom_activity_type": _crud(),
    "activity.custom_activity": _crud(),
    "custom_object": _crud(),
    "custom_object_type": _crud(),
    "status.lead": _crud(),
    "status.opportunity": _crud(),
    "membership": ("activated", "deactivated"),
    "group": _crud(),
    "saved_search": ("created", "updated"),
    "phone_number": _crud(),
    "email_template": _crud(),
    "sequence": _crud(),
    "sequence_subscription": _crud(),
}
"""Every object type of "List of Events" and its actions, in the page's order. Tasks are
``task.SUBTYPE``; the page names ``task.lead`` and defers the other subtypes to the Tasks docs."""

OLDER_NAMES: Final[dict[str, str]] = {
    "note": "activity.note",
    "status_change.opportunity": "activity.opportunity_status_change",
}
"""Names older docs (and the docs' own sample event) use for current object types."""


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime, or None. Close's envelope timestamps are
    naive and mean UTC; payload timestamps carry ``+00:00``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
