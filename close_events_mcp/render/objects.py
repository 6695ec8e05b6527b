"""What matters about each kind of Close object, as a table of facts.

Each object type lists its facts in order of importance. Facts marked ``in_line`` make the
gist on a ``list_events`` line; ``get_event`` shows them all. Types not listed fall back to
their name or label. Each value is a ``values.Shown``: plain for structured content, and whether the
text quotes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from close_events_mcp.catalog import LEGACY_NAMES
from close_events_mcp.render.values import (
    Shown,
    first,
    is_empty,
    list_summary,
    short_time,
    user_text,
    value_of,
)
from close_events_mcp.text import clean

Style = Literal["quoted", "plain", "long", "list", "count", "time", "duration"]
Payload = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Fact:
    label: str
    keys: tuple[str, ...]
    style: Style = "plain"
    in_line: bool = False
    bare: bool = False
    """Shown without its label (``outgoing`` rather than ``direction outgoing``)."""


def F(label: str, *keys: str, style: Style = "plain", line: bool = False, bare: bool = False) -> Fact:  # noqa: N802
    return Fact(label, keys or (label,), style, line, bare)


_NAME = F("name", "display_name", "name", style="quoted", line=True, bare=True)

_FACTS: dict[str, tuple[Fact, ...]] = {
    "lead": (
        _NAME,
        F("status", "status_label", line=True),
        F("contacts", "contacts", style="list"),
        F("url"),
        F("addresses", "addresses", style="list"),
        F("description", style="quoted"),
        F("opportunities", style="count"),
        F("tasks", style="count"),
    ),
    "contact": (
        _NAME,
        F("title", style="quoted", line=True),
        F("emails", style="list"),
        F("phones", style="list"),
        F("urls", style="list"),
    ),
    "opportunity": (
        F("status", "status_label", line=True, bare=True),
        F("value", "value_formatted", "value", line=True, bare=True),
        F("period", "value_period", line=True, bare=True),
        F("confidence", style="plain"),
        F("pipeline", "pipeline_name"),
        F("contact", "contact_name", style="quoted"),
        F("owner", "user_name"),
        F("won", "date_won", style="time"),
        F("note", style="long"),
    ),
    "task": (
        F("text", style="quoted", line=True, bare=True),
        F("due", "date", style="time", line=True),
        F("assigned to", "assigned_to_name", "assigned_to", line=True),
        F("done", "is_complete"),
    ),
    "activity.email": (
        F("subject", style="quoted", line=True, bare=True),
        F("direction", line=True, bare=True),
        F("status", line=True, bare=True),
        F("from", "sender"),
        F("to", style="list", line=True),
        F("cc", style="list"),
        F("sent", "date_sent", style="time"),
        F("template", "template_name"),
        F("attachments", style="list"),
        F("opens", style="count"),
        F("body", "body_text", "body_preview", style="long"),
    ),
    "activity.email_thread": (
        F("subject", "latest_normalized_subject", style="quoted", line=True, bare=True),
        F("emails", "n_emails", line=True),
        F("participants", style="list"),
    ),
    "activity.call": (
        F("direction", line=True, bare=True),
        F("status", "disposition", "status", line=True, bare=True),
        F("duration", style="duration", line=True, bare=True),
        F("phone", "remote_phone", "remote_phone_formatted", "phone", line=True, bare=True),
        F("source"),
        F("recording", "recording_url"),
        F("note", style="long"),
    ),
    "activity.sms": (
        F("direction", line=True, bare=True),
        F("status", line=True, bare=True),
        F("phone", "remote_phone", "remote_phone_formatted", line=True, bare=True),
        F("text", style="long", line=True, bare=True),
    ),
    "activity.note": (F("note", "note", "note_html", style="long", line=True, bare=True),),
    "activity.meeting": (
        F("title", style="quoted", line=True, bare=True),
        F("starts", "starts_at", style="time", line=True),
        F("status", line=True),
        F("duration", style="duration"),
        F("location", style="quoted"),
        F("attendees", style="list"),
        F("note", style="long"),
    ),
    "activity.lead_status_change": (
        F("from", "old_status_label", line=True),
        F("to", "new_status_label", line=True),
    ),
    "activity.opportunity_status_change": (
        F("from", "old_status_label", line=True),
        F("to", "new_status_label", line=True),
        F("value", "opportunity_value_formatted", line=True),
        F("opportunity", "opportunity_id"),
    ),
    "activity.task_completed": (
        F("task", "task_text", style="quoted", line=True, bare=True),
        F("assigned to", "task_assigned_to_name"),
        F("task id", "task_id"),
    ),
    "activity.custom_activity": (
        F("type", "custom_activity_type_name", "activity_type_name", "custom_activity_type_id", line=True),
        F("status", line=True),
    ),
    "import": (
        F("file", "file_name", "filename", style="quoted", line=True, bare=True),
        F("status", line=True),
        F("imported", "total_imported", "n_imported", line=True),
        F("failed", "total_failed"),
    ),
    "export": (
        F("type", "type", line=True, bare=True),
        F("format", line=True, bare=True),
        F("status", line=True),
        F("records", "n_docs", line=True),
        F("processed", "n_docs_processed"),
    ),
    "bulk_action": (
        F("status", line=True),
        F("records", "n_docs", line=True),
        F("processed", "n_docs_processed", line=True),
        F("query", "s_query", "query", style="quoted"),
    ),
    "custom_fields": (
        _NAME,
        F("type", line=True),
        F("choices", style="list"),
        F("description", style="quoted"),
    ),
    "status": (F("label", style="quoted", line=True, bare=True), F("type", line=True)),
    "membership": (
        F("user", "user_full_name", "user_email", line=True, bare=True),
        F("email", "user_email"),
        F("role", "role_id", line=True),
        F("user id", "user_id"),
    ),
    "group": (_NAME, F("members", style="count", line=True)),
    "saved_search": (_NAME, F("shared", "is_shared", line=True)),
    "phone_number": (
        F("number", "number_formatted", "number", line=True, bare=True),
        F("label", style="quoted", line=True),
        F("forwarding", "forward_to_enabled"),
        F("participants", style="count"),
    ),
    "email_template": (_NAME, F("subject", style="quoted", line=True), F("shared", "is_shared")),
    "sequence": (_NAME, F("status", line=True), F("steps", style="count", line=True)),
    "sequence_subscription": (
        F("sequence", "sequence_name", "sequence_id", style="quoted", line=True, bare=True),
        F("contact", "contact_email", "contact_name", line=True),
        F("status", line=True),
        F("paused because", "pause_reason"),
    ),
}


def facts_for(object_type: str) -> tuple[Fact, ...]:
    object_type = LEGACY_NAMES.get(object_type, object_type)
    if object_type in _FACTS:
        return _FACTS[object_type]
    family = object_type.split(".", 1)[0]
    return _FACTS.get(family, (_NAME,))


def _duration(value: object) -> Shown:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return value_of(value)
    minutes, seconds = divmod(int(value), 60)
    return Shown(f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s")


_STYLES: dict[Style, Callable[[object, int], Shown]] = {
    "quoted": lambda v, n: user_text(v, n) if isinstance(v, str) else value_of(v, n),
    "plain": value_of,
    "long": lambda v, n: user_text(v, n * 3) if isinstance(v, str) else value_of(v, n),
    "list": lambda v, n: list_summary(v, n) if isinstance(v, list) else value_of(v, n),
    "count": lambda v, n: Shown(str(len(v))) if isinstance(v, list | dict) else value_of(v, n),
    "time": lambda v, n: short_time(v) if isinstance(v, str) else value_of(v, n),
    "duration": lambda v, n: _duration(v),
}


def fact_values(
    object_type: str, payload: Payload, *, line_only: bool, limit: int
) -> list[tuple[Fact, Shown]]:
    found = []
    for fact in facts_for(object_type):
        if line_only and not fact.in_line:
            continue
        value = first(payload, fact.keys)
        if is_empty(value):
            continue
        found.append((fact, _STYLES[fact.style](value, limit)))
    return found


def title_fact(object_type: str) -> Fact | None:
    """The fact that names an object of this type on a line (its name, subject or title), if any."""
    head = facts_for(object_type)[0]
    return head if head.style == "quoted" and head.bare and head.in_line else None


def title(object_type: str, payload: Payload, limit: int = 50) -> str | None:
    """The object's name, subject or title, short, for lines and headers."""
    fact = title_fact(object_type)
    value = first(payload, fact.keys) if fact else None
    text = clean(value, limit) if isinstance(value, str) else ""
    return text or None


def gist(object_type: str, payload: Payload, limit: int = 50, *, action: str | None = None) -> str:
    """The few facts that tell what the object is, besides its title: ``outgoing to a@b.com``.
    The title (see ``title``) and a lead's name are said apart, in the line or the header above;
    a status that only repeats the event's ``action`` (``sent``, ``completed``) is left out."""
    titled = title(object_type, payload, limit) is not None
    head = title_fact(object_type)
    parts = [
        value.text if fact.bare else f"{fact.label} {value.text}"
        for fact, value in fact_values(object_type, payload, line_only=True, limit=limit)
        if not (object_type == "lead" and fact is _NAME)
        and not (titled and fact is head)
        and value.text != action
    ]
    return " ".join(parts)


def object_name(object_type: str, payload: Payload) -> str | None:
    """The object's own name, title or subject, if it has one."""
    head = facts_for(object_type)[0]
    value = first(payload, head.keys) if head.style in ("quoted", "long") else None
    return clean(value, 80) if isinstance(value, str) and value else None


def custom_values(payload: Payload, limit: int) -> list[tuple[str, Shown]]:
    """Custom field values of a record (``custom.cf_…`` keys), as (field, value)."""
    return [
        (key, value_of(value, limit))
        for key, value in payload.items()
        if key.startswith("custom.") and not is_empty(value)
    ]
