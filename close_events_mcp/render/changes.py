"""Which fields an update changed, from what to what, in the words people use.

Close lists raw field names; several come in pairs where one is for machines and one for
people (``status_id``/``status_label``, ``value``/``value_formatted``, ``assigned_to``/
``assigned_to_name``, ``body_html``/``body_text``; a type's catalog entry names pairs these
conventions miss, ``ObjectType.field_pairs``). We show the human one under the plain name, and drop
bookkeeping. HTML fields become their plain-text name; values are cleaned of markup (each a
``values.Shown``: plain, and whether the text quotes it). A list field says which items it gained and
lost, rather than both lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from close_events_mcp import catalog
from close_events_mcp.catalog.facts import FieldPair
from close_events_mcp.event import Event
from close_events_mcp.render.values import Shown, label_of, lookup, user_text, value_of
from close_events_mcp.text import ELLIPSIS, clean

BOOKKEEPING = frozenset({"date_updated", "updated_by", "updated_by_name", "date_modified", "organization_id"})
_HUMAN_SUFFIXES = ("_label", "_name", "_formatted")
_ID = re.compile(r"[a-z]+_[A-Za-z0-9]{6,60}")
MAX_LIST_ITEMS = 10
MIN_CUT = 12
"""A short text edit is cut only when this much of the start can go."""


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    before: Shown | None
    """None when Close withheld the values."""
    after: Shown | None
    added: tuple[Shown, ...] = ()
    """For a list field: the items it gained and lost (``before``/``after`` are then None)."""
    removed: tuple[Shown, ...] = ()


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
    pairs: tuple[FieldPair, ...] = catalog.trait(event.object_type, lambda entry: entry.field_pairs, ())
    withheld = not event.has_payload
    changes = []
    for field in fields:
        if any(twin in present for twin in _human_twins(field)):
            continue
        if any(pair.machine == field and pair.human in present for pair in pairs):
            continue
        twins = [twin for twin in _raw_twins(field) if twin in present]
        name = field[: field.rfind("_")] if twins or field.endswith("_html") else field
        if field.endswith("_text") and field.removesuffix("_text") + "_html" in present:
            name = field.removesuffix("_text")  # body_text beside body_html: the body
        name = next((p.name for p in pairs if p.human == field and p.machine in present), name)
        if withheld:
            changes.append(Change(name, None, None))
            continue
        old, new = lookup(event.previous_data, field), lookup(event.data, field)
        if diff := list_diff(old, new, limit):
            changes.append(Change(name, None, None, *diff))
            continue
        if isinstance(old, str) and isinstance(new, str):
            before, after = text_change(old, new, limit)
        else:
            before, after = value_of(old, limit), value_of(new, limit)
        changes.append(Change(name, before, after))
    return changes


def _labels(items: list[Any] | None, limit: int) -> list[Shown | None]:
    return [
        Shown(item) if isinstance(item, str) and _ID.fullmatch(item) else label_of(item, limit)
        for item in items or []
    ]


def _capped(labels: list[Shown]) -> tuple[Shown, ...]:
    if len(labels) <= MAX_LIST_ITEMS:
        return tuple(labels)
    return (*labels[: MAX_LIST_ITEMS - 1], Shown(f"+{len(labels) - MAX_LIST_ITEMS + 1} more"))


def list_diff(old: Any, new: Any, limit: int) -> tuple[tuple[Shown, ...], tuple[Shown, ...]] | None:
    """The items a list gained and lost (IDs whole, other items by their label), or None when the
    values are not lists or the difference is not in which items there are (order, inner fields)."""
    if not isinstance(old, list | None) or not isinstance(new, list | None) or old is new is None:
        return None
    before, after = _labels(old, limit), _labels(new, limit)
    if None in before or None in after:  # items with nothing to name them by: say how many
        grown = len(after) - len(before)
        count = f"{abs(grown)} item{'s' if abs(grown) != 1 else ''}"
        return ((Shown(count),), ()) if grown > 0 else ((), (Shown(count),)) if grown < 0 else None
    added = [label for label in after if label is not None and label not in before]
    removed = [label for label in before if label is not None and label not in after]
    if not added and not removed:
        return None
    return _capped(added), _capped(removed)


def text_change(old: str, new: str, limit: int) -> tuple[Shown, Shown]:
    """Both sides of a text edit. When they share a long start (an autosave that added a few words),
    both are cut to the last words before where they differ, so the difference stays visible."""
    old_text, new_text = clean(old, 10_000), clean(new, 10_000)
    common = next((i for i, (a, b) in enumerate(zip(old_text, new_text, strict=False)) if a != b), None)
    if common is None:
        common = min(len(old_text), len(new_text))
    start = max(common - limit // 3, 0)
    space = old_text.rfind(" ", 0, start + 1)
    start = space + 1 if start and space > 0 else start
    short = max(len(old_text), len(new_text)) <= limit
    if not old_text or (short and start < MIN_CUT):
        return value_of(old, limit), value_of(new, limit)

    def window(text: str) -> Shown:
        lead = ELLIPSIS if start else ""
        return user_text(lead + text[start:], limit + len(lead))

    return window(old_text), window(new_text)
