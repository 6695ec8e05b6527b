"""What matters about a Close object, in words: the facts its type's catalog entry lists.

Each object type lists its facts in order of importance (``ObjectType.facts``). Facts marked
``in_line`` make the gist on a ``list_events`` line; ``get_event`` shows them all. Types that list
none fall back to their name. Each value is a ``values.Shown``: plain for structured content, and
whether the text quotes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from close_events_mcp import catalog
from close_events_mcp.catalog.facts import NAME, Fact, Style
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

Payload = Mapping[str, Any]


def facts_for(object_type: str) -> tuple[Fact, ...]:
    return catalog.trait(object_type, lambda entry: entry.facts, (NAME,))


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
        if not (object_type == "lead" and fact is NAME)
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
