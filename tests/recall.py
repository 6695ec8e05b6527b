"""Fact recall: does an answer still carry every fact of the events it lists?

Shared by ``bench/tokens.py`` and the tests. The facts of an event come from Close's raw JSON:
its ID, object ID, lead ID, action, actor and the names of the fields it changed. A fact counts
as present when one of its spellings appears as a whole word in the event's *context*:

- in text, the line carrying the event's ID and the headers above it (the nearest earlier lines
  indented less, such as the day and the lead a line sits under);
- in structured content, the object whose ``id`` is the event's ID and the plain values of the
  objects that contain it (such as a group's lead).

Spellings: IDs and actions as Close sends them; the actor as the user's name or ID; a changed
field as Close names it, as its stem without ``_id``/``_label``/``_name``/``_formatted``/
``_html``/``_text`` (``status`` for ``status_label``), or, for ``custom.cf_…``, the custom
field's name. Bookkeeping fields (``date_updated``, ``updated_by``…) are not facts: the output
contract drops them.

A changed field's new value is a fact too when it is short and plain (a number, a yes/no, a word or
a few, not a timestamp, text, markup, a list or an object): spelled as Close sends it, or as the
human twin Close sends beside it (``value_formatted`` for ``value``, ``status_label`` for
``status_id``), a yes/no as ``yes``/``no``/``true``/``false``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from close_events_mcp.render.changes import BOOKKEEPING

_STEM_SUFFIXES = ("_id", "_label", "_name", "_formatted", "_html", "_text")
_HUMAN_SUFFIXES = ("_label", "_name", "_formatted")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T")
MAX_VALUE = 30
"""Longer new values (text) are not value facts: an answer may cut them."""


@dataclass(frozen=True, slots=True)
class Fact:
    event_id: str
    kind: str
    spellings: tuple[str, ...]

    def found_in(self, context: str) -> bool:
        return any(_word(spelling).search(context) for spelling in self.spellings)


@dataclass(frozen=True, slots=True)
class Recall:
    facts: int
    missing: tuple[Fact, ...]

    @property
    def share(self) -> float:
        return 1.0 if not self.facts else (self.facts - len(self.missing)) / self.facts


def _word(spelling: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.])" + re.escape(spelling) + r"(?!\w)")


def field_spellings(field: str, field_names: Mapping[str, str]) -> tuple[str, ...]:
    spellings = [field]
    for suffix in _STEM_SUFFIXES:
        if field.endswith(suffix) and len(field) > len(suffix):
            spellings.append(field.removesuffix(suffix))
    if field.startswith("custom.") and (name := field_names.get(field.removeprefix("custom."))):
        spellings.append(name)
    return tuple(spellings)


def event_facts(
    raw: Mapping[str, Any], user_names: Mapping[str, str], field_names: Mapping[str, str]
) -> list[Fact]:
    """What an answer must say about one raw Close event."""
    event_id = str(raw["id"])
    facts = [Fact(event_id, "id", (event_id,)), Fact(event_id, "action", (str(raw["action"]),))]
    for key in ("object_id", "lead_id"):
        if raw.get(key):
            facts.append(Fact(event_id, key, (str(raw[key]),)))
    if user_id := raw.get("user_id"):
        name = user_names.get(user_id)
        facts.append(Fact(event_id, "actor", (name, user_id) if name else (user_id,)))
    changed = [field for field in raw.get("changed_fields") or [] if field not in BOOKKEEPING]
    for field in changed:
        facts.append(Fact(event_id, f"field {field}", field_spellings(field, field_names)))
        if spellings := value_spellings(raw.get("data"), field):
            facts.append(Fact(event_id, f"value {field}", spellings))
    return facts


def _lookup(data: Mapping[str, Any], key: str) -> Any:
    if key in data:
        return data[key]
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _plain(value: Any) -> tuple[str, ...]:
    if isinstance(value, bool):
        return ("yes", "true") if value else ("no", "false")
    if isinstance(value, int | float):
        return (f"{value:g}" if isinstance(value, float) else str(value),)
    if isinstance(value, str) and value.strip() and len(value) <= MAX_VALUE:
        if _TIMESTAMP.match(value) or "<" in value or "\n" in value:
            return ()
        return (value.strip(),)
    return ()


def value_spellings(data: Any, field: str) -> tuple[str, ...]:
    """How a changed field's new value may be spelled, from ``data``; empty when it is no fact."""
    if not isinstance(data, Mapping):
        return ()
    own = _plain(_lookup(data, field))
    if not own:
        return ()
    base = field.removesuffix("_id")
    twins = [base + suffix for suffix in _HUMAN_SUFFIXES if base + suffix != field]
    return own + tuple(s for twin in twins for s in _plain(_lookup(data, twin)))


def text_context(text: str, event_id: str) -> str:
    """The line that carries ``event_id`` and the headers above it."""
    lines = text.split("\n")
    found = [i for i, line in enumerate(lines) if _word(event_id).search(line)]
    if not found:
        return ""
    index = found[0]
    context = [lines[index]]
    indent = _indent(lines[index])
    for line in reversed(lines[:index]):
        if line.strip() and _indent(line) < indent:
            context.append(line)
            indent = _indent(line)
    return "\n".join(context)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def structured_context(data: Any, event_id: str) -> str:
    """The object with ``id == event_id`` and the plain values of the objects around it, as JSON."""
    for path in _paths_to(data, event_id, ()):
        *outer, item = path
        plain = [{k: v for k, v in node.items() if not isinstance(v, dict | list)} for node in outer]
        return json.dumps([*plain, item], ensure_ascii=False)
    return ""


def _paths_to(
    node: Any, event_id: str, path: tuple[dict[str, Any], ...]
) -> Iterator[tuple[dict[str, Any], ...]]:
    if isinstance(node, dict):
        if node.get("id") == event_id:
            yield (*path, node)
            return
        for value in node.values():
            yield from _paths_to(value, event_id, (*path, node))
    elif isinstance(node, list):
        for value in node:
            yield from _paths_to(value, event_id, path)


def recall(facts: Sequence[Fact], contexts: Mapping[str, str]) -> Recall:
    """How many ``facts`` appear in the context of their event (``contexts``: event ID → context)."""
    missing = tuple(fact for fact in facts if not fact.found_in(contexts.get(fact.event_id, "")))
    return Recall(len(facts), missing)
