"""Which fields an update changed, from what to what, in the words people use.

Close lists raw field names; several come in pairs where one is for machines and one for
people (``status_id``/``status_label``, ``value``/``value_formatted``, ``assigned_to``/
``assigned_to_name``, ``body_html``/``body_text``). We show the human one under the plain name,
and drop bookkeeping. HTML fields become their plain-text name; values are cleaned of markup.
"""

from __future__ import annotations

from dataclasses import dataclass

from close_events_mcp.event import Event
from close_events_mcp.text import ELLIPSIS, clean, quote
from close_events_mcp.values import format_value, lookup

BOOKKEEPING = frozenset({"date_updated", "updated_by", "updated_by_name", "date_modified", "organization_id"})
_HUMAN_SUFFIXES = ("_label", "_name", "_formatted")


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    before: str | None
    """None when Close withheld the values."""
    after: str | None


def _raw_twins(field: str) -> tuple[str, ...]:
    for suffix in _HUMAN_SUFFIXES:
        if field.endswith(suffix):
            base = field[: -len(suffix)]
            return (base, base + "_id")
    return ()


def _human_twins(field: str) -> tuple[str, ...]:
    if field.endswith("_html"):  # note_html beside note, body_html beside body_text
        plain = field.removesuffix("_html")
        return (plain, plain + "_text")
    base = field[:-3] if field.endswith("_id") else field
    return tuple(base + suffix for suffix in _HUMAN_SUFFIXES) + tuple(field + s for s in _HUMAN_SUFFIXES)


def field_changes(event: Event, limit: int = 60) -> list[Change]:
    fields = [f for f in event.changed_fields if f not in BOOKKEEPING]
    present = set(fields)
    withheld = not event.has_payload
    changes = []
    for field in fields:
        if any(twin in present for twin in _human_twins(field)):
            continue
        twins = [twin for twin in _raw_twins(field) if twin in present]
        name = field[: field.rfind("_")] if twins or field.endswith("_html") else field
        if withheld:
            changes.append(Change(name, None, None))
            continue
        old, new = lookup(event.previous_data, field), lookup(event.data, field)
        if isinstance(old, str) and isinstance(new, str):
            before, after = text_change(old, new, limit)
        else:
            before, after = format_value(old, limit), format_value(new, limit)
        changes.append(Change(name, before, after))
    return changes


def text_change(old: str, new: str, limit: int) -> tuple[str, str]:
    """Both sides of a text edit, cut around where they differ so the difference stays visible."""
    old_text, new_text = clean(old, 10_000), clean(new, 10_000)
    if max(len(old_text), len(new_text)) <= limit or not old_text:
        return format_value(old, limit), format_value(new, limit)
    common = 0
    for a, b in zip(old_text, new_text, strict=False):
        if a != b:
            break
        common += 1
    start = max(common - limit // 3, 0)
    space = old_text.rfind(" ", 0, start + 1)
    start = space + 1 if start and space > 0 else start

    def window(text: str) -> str:
        lead = ELLIPSIS if start else ""
        return quote(lead + text[start:], limit + len(lead))

    return window(old_text), window(new_text)
