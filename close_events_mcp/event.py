"""Close's event envelope, parsed leniently into a typed record.

Close's envelope timestamps can be naive (they are UTC); payload timestamps carry an offset.
Everything in ``data``/``previous_data``/``meta`` stays as Close sent it: the renderer decides
what to show and cleans it on the way out. The envelope's IDs, type and action are kept cleaned but
plain, whatever they hold; the text shows them as they are only when they are shaped like Close's and
quotes anything else as the data it is (``text.id_text``, ``text.key_text``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from close_events_mcp.errors import BadResponse
from close_events_mcp.text import CLOSE_ID, clean

JSONDict = dict[str, Any]
"""A JSON object as Close sends it (the one definition, used by the client too)."""
Precision = Literal["seconds", "microseconds", "exact"]


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime; naive means UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_timestamp(moment: datetime, precision: Precision = "seconds") -> str:
    """The one way the product writes a time: UTC, ISO 8601, with a ``Z``. ``seconds``:
    ``2026-11-23T14:09:43Z``, what answers show; ``microseconds``: always, what Close is asked for a
    slice of a scan; ``exact``: microseconds only when there are any (a window continued from where a
    scan stopped starts mid-second)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    if precision == "seconds":
        moment = moment.replace(microsecond=0)
    elif precision == "exact":
        precision = "microseconds" if moment.microsecond else "seconds"
    return moment.replace(tzinfo=None).isoformat(timespec=precision) + "Z"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """A time as whole microseconds since the epoch: how scans, tokens and the store compare times."""
    return (moment - _EPOCH) // _MICRO


def from_micros(value: int) -> datetime:
    return _EPOCH + value * _MICRO


def safe_id(value: object) -> str | None:
    """An ID from Close's payload, or None. Anything that is not shaped like a Close ID is kept cleaned
    (its plain value, for structured content); the text quotes and marks it (``text.id_text``)."""
    if not isinstance(value, str) or not value:
        return None
    return value if CLOSE_ID.fullmatch(value) else clean(value, 60)


def is_close_id(value: str | None) -> bool:
    """Whether ``value`` (from ``safe_id``) is a real ID, one a tool could be asked about."""
    return value is not None and CLOSE_ID.fullmatch(value) is not None


def _dict_or_none(value: object) -> JSONDict | None:
    return value if isinstance(value, dict) else None


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    date_created: datetime
    date_updated: datetime
    object_type: str
    object_id: str | None
    lead_id: str | None
    action: str
    user_id: str | None
    request_id: str | None
    api_key_id: str | None
    oauth_client_id: str | None
    changed_fields: tuple[str, ...]
    data: JSONDict | None
    previous_data: JSONDict | None
    meta: JSONDict

    @classmethod
    def from_close(cls, raw: Mapping[str, Any]) -> Event:
        event_id = safe_id(raw.get("id"))
        updated = parse_timestamp(raw.get("date_updated"))
        created = parse_timestamp(raw.get("date_created")) or updated
        if event_id is None or updated is None or created is None:
            raise BadResponse("Close returned an event without an id or a valid date; try again in a moment.")
        changed = raw.get("changed_fields")
        return cls(
            id=event_id,
            date_created=created,
            date_updated=updated,
            object_type=clean(str(raw.get("object_type") or "unknown"), 60),
            object_id=safe_id(raw.get("object_id")),
            lead_id=safe_id(raw.get("lead_id")),
            action=clean(str(raw.get("action") or "unknown"), 40),
            user_id=safe_id(raw.get("user_id")),
            request_id=safe_id(raw.get("request_id")),
            api_key_id=safe_id(raw.get("api_key_id")),
            oauth_client_id=safe_id(raw.get("oauth_client_id")),
            changed_fields=tuple(clean(f, 80) for f in changed if isinstance(f, str))
            if isinstance(changed, list)
            else (),
            data=_dict_or_none(raw.get("data")),
            previous_data=_dict_or_none(raw.get("previous_data")),
            meta=_dict_or_none(raw.get("meta")) or {},
        )

    @property
    def merge_source(self) -> str | None:
        return safe_id(self.meta.get("merge_source_lead_id"))

    @property
    def merge_destination(self) -> str | None:
        return safe_id(self.meta.get("merge_destination_lead_id"))

    @property
    def bulk_action_id(self) -> str | None:
        return safe_id(self.meta.get("bulk_action_id"))

    @property
    def revert_import_id(self) -> str | None:
        return safe_id(self.meta.get("revert_import_id"))

    @property
    def payload(self) -> JSONDict:
        """The object as best known: ``data``, else (on deletes) ``previous_data``."""
        return self.data or self.previous_data or {}

    @property
    def has_payload(self) -> bool:
        return bool(self.data) or bool(self.previous_data)
