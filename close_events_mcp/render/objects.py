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


def fact_of(label: str, *keys: str, style: Style = "plain", line: bool = False, bare: bool = False) -> Fact:
    return Fact(label, keys or (label,), style, line, bare)


_NAME = fact_of("name", "display_name", "name", style="quoted", line=True, bare=True)

_FACTS: dict[str, tuple[Fact, ...]] = {
    "lead": (
        _NAME,
        fact_of("status", "status_label", line=True),
        fact_of("contacts", "contacts", style="list"),
        fact_of("url"),
        fact_of("addresses", "addresses", style="list"),
        fact_of("description", style="quoted"),
        fact_of("opportunities", style="count"),
        fact_of("tasks", style="count"),
    ),
    "contact": (
        _NAME,
        fact_of("title", style="quoted", line=True),
        fact_of("emails", style="list"),
        fact_of("phones", style="list"),
        fact_of("urls", style="list"),
    ),
    "opportunity": (
        fact_of("status", "status_label", line=True, bare=True),
        fact_of("value", "value_formatted", "value", line=True, bare=True),
        fact_of("period", "value_period", line=True, bare=True),
        fact_of("confidence", style="plain"),
        fact_of("pipeline", "pipeline_name"),
        fact_of("contact", "contact_name", style="quoted"),
        fact_of("owner", "user_name"),
        fact_of("won", "date_won", style="time"),
        fact_of("note", style="long"),
    ),
    "task": (
        fact_of("text", style="quoted", line=True, bare=True),
        fact_of("due", "date", style="time", line=True),
        fact_of("assigned to", "assigned_to_name", "assigned_to", line=True),
        fact_of("done", "is_complete"),
    ),
    "activity.email": (
        fact_of("subject", style="quoted", line=True, bare=True),
        fact_of("direction", line=True, bare=True),
        fact_of("status", line=True, bare=True),
        fact_of("from", "sender"),
        fact_of("to", style="list", line=True),
        fact_of("cc", style="list"),
        fact_of("sent", "date_sent", style="time"),
        fact_of("template", "template_name"),
        fact_of("attachments", style="list"),
        fact_of("opens", style="count"),
        fact_of("body", "body_text", "body_preview", style="long"),
    ),
    "activity.email_thread": (
        fact_of("subject", "latest_normalized_subject", style="quoted", line=True, bare=True),
        fact_of("emails", "n_emails", line=True),
        fact_of("participants", style="list"),
    ),
    "activity.call": (
        fact_of("direction", line=True, bare=True),
        fact_of("status", "disposition", "status", line=True, bare=True),
        fact_of("duration", style="duration", line=True, bare=True),
        fact_of("phone", "remote_phone", "remote_phone_formatted", "phone", line=True, bare=True),
        fact_of("source"),
        fact_of("recording", "recording_url"),
        fact_of("note", style="long"),
    ),
    "activity.sms": (
        fact_of("direction", line=True, bare=True),
        fact_of("status", line=True, bare=True),
        fact_of("phone", "remote_phone", "remote_phone_formatted", line=True, bare=True),
        fact_of("text", style="long", line=True, bare=True),
    ),
    "activity.note": (fact_of("note", "note", "note_html", style="long", line=True, bare=True),),
    "activity.meeting": (
        fact_of("title", style="quoted", line=True, bare=True),
        fact_of("starts", "starts_at", style="time", line=True),
        fact_of("status", line=True),
        fact_of("duration", style="duration"),
        fact_of("location", style="quoted"),
        fact_of("attendees", style="list"),
        fact_of("note", style="long"),
    ),
    "activity.lead_status_change": (
        fact_of("from", "old_status_label", line=True),
        fact_of("to", "new_status_label", line=True),
    ),
    "activity.opportunity_status_change": (
        fact_of("from", "old_status_label", line=True),
        fact_of("to", "new_status_label", line=True),
        fact_of("value", "opportunity_value_formatted", line=True),
        fact_of("opportunity", "opportunity_id"),
    ),
    "activity.task_completed": (
        fact_of("task", "task_text", style="quoted", line=True, bare=True),
        fact_of("assigned to", "task_assigned_to_name"),
        fact_of("task id", "task_id"),
    ),
    "activity.custom_activity": (
        fact_of(
            "type", "custom_activity_type_name", "activity_type_name", "custom_activity_type_id", line=True
        ),
        fact_of("status", line=True),
    ),
    "import": (
        fact_of("file", "file_name", "filename", style="quoted", line=True, bare=True),
        fact_of("status", line=True),
        fact_of("imported", "total_imported", "n_imported", line=True),
        fact_of("failed", "total_failed"),
    ),
    "export": (
        fact_of("type", "type", line=True, bare=True),
        fact_of("format", line=True, bare=True),
        fact_of("status", line=True),
        fact_of("records", "n_docs", line=True),
        fact_of("processed", "n_docs_processed"),
    ),
    "bulk_action": (
        fact_of("status", line=True),
        fact_of("records", "n_docs", line=True),
        fact_of("processed", "n_docs_processed", line=True),
        fact_of("query", "s_query", "query", style="quoted"),
    ),
    "custom_fields": (
        _NAME,
        fact_of("type", line=True),
        fact_of("choices", style="list"),
        fact_of("description", style="quoted"),
    ),
    "status": (fact_of("label", style="quoted", line=True, bare=True), fact_of("type", line=True)),
    "membership": (
        fact_of("user", "user_full_name", "user_email", line=True, bare=True),
        fact_of("email", "user_email"),
        fact_of("role", "role_id", line=True),
        fact_of("user id", "user_id"),
    ),
    "group": (_NAME, fact_of("members", style="count", line=True)),
    "saved_search": (_NAME, fact_of("shared", "is_shared", line=True)),
    "phone_number": (
        fact_of("number", "number_formatted", "number", line=True, bare=True),
        fact_of("label", style="quoted", line=True),
        fact_of("forwarding", "forward_to_enabled"),
        fact_of("participants", style="count"),
    ),
    "email_template": (_NAME, fact_of("subject", style="quoted", line=True), fact_of("shared", "is_shared")),
    "sequence": (_NAME, fact_of("status", line=True), fact_of("steps", style="count", line=True)),
    "sequence_subscription": (
        fact_of("sequence", "sequence_name", "sequence_id", style="quoted", line=True, bare=True),
        fact_of("contact", "contact_email", "contact_name", line=True),
        fact_of("status", line=True),
        fact_of("paused because", "pause_reason"),
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


def key_facts(object_type: str, payload: Payload, limit: int = 50, *, action: str | None = None) -> str:
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
