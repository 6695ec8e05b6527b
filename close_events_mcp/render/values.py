"""Field values from Close payloads, as short text a model reads at a glance.

A value is worked out once, as ``Shown``: its cleaned text, plain, which structured content carries,
and whether the text quotes it whole, as user text. Summaries of several values (a list's first
items, an object's first fields) are our own composition: they stand as they are, their items
quoted inside them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from close_events_mcp.event import parse_timestamp
from close_events_mcp.text import clean, key_text, quote_whole

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_NEEDS_QUOTES = re.compile(r"[\s;,→·\"'()\[\]]")
_ADDRESS = re.compile(r"[^<>]*<([^<>@\s]+@[^<>\s]+)>\s*")
_ITEM_KEYS = (
    "email",
    "phone",
    "url",
    "display_name",
    "name",
    "city",
    "label",
    "address_1",
    "text",
    "filename",
    "id",
    "user_id",
)
_WORDS_KEYS = frozenset({"display_name", "name", "city", "label", "address_1", "text", "filename"})
"""Item keys whose values people write as words: always quoted. The others (an email, a phone number,
a URL, an ID) stand bare when they are one token."""


@dataclass(frozen=True, slots=True)
class Shown:
    """A value: ``plain``, cleaned, for structured content; ``quoted`` when the text shows it in double
    quotes, as user text (``text`` is how the text shows it)."""

    plain: str
    quoted: bool = False

    @property
    def text(self) -> str:
        return quote_whole(self.plain) if self.quoted else self.plain


def user_text(value: str, limit: int) -> Shown:
    """Text someone wrote: cleaned, and always quoted in the text."""
    return Shown(clean(value, limit), quoted=True)


def is_empty(value: object) -> bool:
    return value is None or value in ("", [], {})


def lookup(payload: Mapping[str, Any] | None, key: str) -> Any:
    """``payload[key]``; dotted keys are tried whole first (``custom.cf_…`` is one key), then as a path."""
    if not payload:
        return None
    if key in payload:
        return payload[key]
    node: Any = payload
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def first(payload: Mapping[str, Any] | None, keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = lookup(payload, key)
        if not is_empty(value):
            return value
    return None


def short_time(value: str) -> Shown:
    moment = parse_timestamp(value)
    if moment is None:
        return scalar(value, 30, as_time=False)
    if moment.hour == moment.minute == moment.second == 0 and len(value) <= 10:
        return Shown(moment.strftime("%Y-%m-%d"))
    return Shown(moment.strftime("%Y-%m-%dT%H:%MZ"))


def label_of(item: object, limit: int) -> Shown | None:
    """What names a list item: an object's email, name, label… or ID; None for an object without one."""
    if isinstance(item, Mapping):
        for key in _ITEM_KEYS:
            value = item.get(key)
            if isinstance(value, str | int | float) and not isinstance(value, bool) and value != "":
                return user_text(str(value), limit) if key in _WORDS_KEYS else scalar(value, limit)
        return None
    if isinstance(item, str) and (address := _ADDRESS.fullmatch(item)):
        return scalar(address.group(1), limit)
    return scalar(item, limit)


def item_label(item: object, limit: int) -> Shown:
    label = label_of(item, limit)
    if label is None:  # only an object without any of the keys that name one
        return Shown(f"{len(item)} fields" if isinstance(item, Mapping) else "None")
    return label


def list_summary(items: list[Any], limit: int, shown: int = 3) -> Shown:
    """The first few items of a list, each as the text shows it: a summary of ours."""
    if not items:
        return Shown("none")
    labels = [item_label(item, limit).text for item in items[:shown]]
    more = f" +{len(items) - shown} more" if len(items) > shown else ""
    return Shown(", ".join(labels) + more)


def scalar(value: object, limit: int, *, as_time: bool = True) -> Shown:
    """One value: user text is quoted unless it is a single token (``Qualified``, ``a@b.com``)."""
    if value is None or value == "":
        return Shown("empty")
    if isinstance(value, bool):
        return Shown("yes" if value else "no")
    if isinstance(value, int | float):
        return Shown(f"{value:g}" if isinstance(value, float) else str(value))
    text = str(value)
    if as_time and _TIMESTAMP.match(text):
        return short_time(text)
    cleaned = clean(text, limit)
    return Shown(cleaned, quoted=not cleaned or _NEEDS_QUOTES.search(cleaned) is not None)


def value_of(value: object, limit: int = 60) -> Shown:
    """Any payload value as one short piece of text; user text is cleaned, and quoted in the text."""
    if isinstance(value, list):
        return list_summary(value, max(limit // 2, 20))
    if isinstance(value, Mapping):
        if not value:
            return Shown("empty")
        parts = [f"{key_text(clean(str(k), 30))}={scalar(v, 30).text}" for k, v in list(value.items())[:3]]
        more = f" +{len(value) - 3} more" if len(value) > 3 else ""
        return Shown("{" + ", ".join(parts) + more + "}")
    return scalar(value, limit)


def format_value(value: object, limit: int = 60) -> str:
    """Any payload value as the text shows it (``value_of(value, limit).text``)."""
    return value_of(value, limit).text
