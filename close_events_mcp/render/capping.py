"""The hard size cap on every answer: what is cut, and a note that says so.

Text keeps its head and its last lines (where the next cursor or checkpoint is) and says how many
lines in between were left out. Structured content loses the last entries of its largest lists and
maps, then the end of its longest strings, until it fits, and names what it cut in ``cut``. Only
lists, maps (``dict[...]`` fields of the result model) and strings shrink, so what is left still
matches the declared output schema.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from close_events_mcp.results import dump

TAIL_SHARE = 5
"""At most a fifth of the cap goes to the last lines."""
TAIL_LINES = 4
NOTE_ROOM = 240
MIN_STRING = 40

Container = list[Any] | dict[str, Any]


Rendered = tuple[str, BaseModel]
"""An answer: its text and its structured result."""


@dataclass(frozen=True, slots=True)
class Draft:
    """An answer not yet rendered. ``render(n)`` gives it showing the first ``n`` of its ``items``
    events, with a cursor or checkpoint that continues right after the ``n``-th; answers that list no
    events (``items`` 0) are rendered whole."""

    render: Callable[[int], Rendered]
    items: int = 0


def fit(draft: Draft, cap: int) -> tuple[Rendered, int]:
    """The draft rendered with as many of its events as fit ``cap`` (at least one), and that number:
    events are left out whole, so that following the cursor or checkpoint loses none."""
    shown = draft.items
    rendered = draft.render(shown)
    if shown <= 1 or _fits(rendered, cap):
        return rendered, shown
    low, high, best = 1, shown - 1, None
    while low <= high:
        middle = (low + high) // 2
        attempt = draft.render(middle)
        if _fits(attempt, cap):
            best, low = (attempt, middle), middle + 1
        else:
            high = middle - 1
    return best or (draft.render(1), 1)


def _fits(rendered: Rendered, cap: int) -> bool:
    text, structured = rendered
    return len(text) <= cap and _size(dump(structured)) <= cap - NOTE_ROOM


def cap_text(text: str, cap: int) -> str:
    if len(text) <= cap:
        return text
    lines = text.split("\n")
    tail: list[str] = []
    budget = cap // TAIL_SHARE
    for line in reversed(lines[-TAIL_LINES:]):
        if len(line) + 1 > budget:
            break
        tail.insert(0, line)
        budget -= len(line) + 1
    body = lines[: len(lines) - len(tail)]
    room = cap - sum(len(line) + 1 for line in tail) - NOTE_ROOM
    head: list[str] = []
    for line in body:
        if len(line) + 1 > room:
            break
        head.append(line)
        room -= len(line) + 1
    left_out = len(body) - len(head)
    if not head and body:  # one huge first line: keep its start
        head.append(body[0][: max(room - 1, 0)] + "…")
    note = (
        f"[… {left_out} more line{'s' if left_out != 1 else ''} cut: the answer was {len(text):,} "
        f"characters, over this server's {cap:,}-character cap (CLOSE_EVENTS_MAX_OUTPUT_CHARS). Ask for "
        "less: narrow the filters or the window, or lower limit.]"
    )
    return "\n".join([*head, note, *tail])


def cap_structured(
    data: dict[str, Any], cap: int, maps: Collection[str] = (), keep: Collection[str] = ()
) -> dict[str, Any]:
    """``data`` cut to at most ``cap`` characters of compact JSON, with ``cut`` naming what went.

    ``maps`` names the top-level keys whose values are maps (free keys, entries of one kind), which
    may lose entries like lists do; every other object keeps all its keys. ``keep`` names top-level
    lists that lose no entries (what a cursor or checkpoint continues after): their entries shrink.
    """
    if _size(data) <= cap:
        return data
    data = json.loads(json.dumps(data))
    dropped: dict[str, int] = {}
    shortened: set[str] = set()
    while (excess := _size(data) - (cap - NOTE_ROOM)) > 0:
        ranked = sorted(
            (found for found in _all_containers(data, maps) if found[1] not in keep),
            key=lambda found: found[0],
            reverse=True,
        )
        if ranked:
            size, path, container = ranked[0]
            runner_up = ranked[1][0] if len(ranked) > 1 else 0
            # Take from the end of the largest until the excess is gone or another one is larger.
            while container and excess > 0 and size >= runner_up:
                last = (
                    container.pop()
                    if isinstance(container, list)
                    else container.pop(next(reversed(container)))
                )
                taken = _size(last) + 1
                excess -= taken
                size -= taken
                dropped[path] = dropped.get(path, 0) + 1
            continue
        longest = _longest_string(data, "")
        if longest is None or len(longest[3]) <= MIN_STRING:
            break
        path, holder, key, value = longest
        target = max(MIN_STRING, len(value) - (_size(data) - cap + NOTE_ROOM) - 1)
        holder[key] = value[:target] + "…"
        shortened.add(path)
    parts = [f"{count} from {path}" for path, count in sorted(dropped.items())]
    parts += [f"the end of {path}" for path in sorted(shortened)]
    data["cut"] = (
        f"Over the {cap:,}-character cap (CLOSE_EVENTS_MAX_OUTPUT_CHARS), left out: {', '.join(parts)}."
    )
    return data


def _size(data: object) -> int:
    return len(json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def _containers(node: object, path: str, is_map: bool) -> list[tuple[str, Container]]:
    """Every non-empty list, and every map, under ``node`` (itself included when it qualifies)."""
    found: list[tuple[str, Container]] = []
    if isinstance(node, list):
        if node:
            found.append((path, node))
        for item in node:
            found += _containers(item, f"{path}[]", False)
    elif isinstance(node, dict):
        if is_map and node:
            found.append((path, node))
        for key, value in node.items():
            # A map's values are maps too when they are objects (dict[str, dict[str, int]]).
            found += _containers(value, f"{path}.{key}" if path else str(key), is_map)
    return found


def _all_containers(data: dict[str, Any], maps: Collection[str]) -> list[tuple[int, str, Container]]:
    found: list[tuple[str, Container]] = []
    for key, value in data.items():
        found += _containers(value, key, key in maps)
    return [(_size(container), path, container) for path, container in found]


def _longest_string(node: object, path: str) -> tuple[str, Any, Any, str] | None:
    """The longest string under ``node``: its path, the dict or list holding it, its key there, itself."""
    best: tuple[str, Any, Any, str] | None = None
    items: list[tuple[Any, object]] = []
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    for key, value in items:
        child_path = f"{path}[]" if isinstance(node, list) else (f"{path}.{key}" if path else str(key))
        if isinstance(value, str):
            if best is None or len(value) > len(best[3]):
                best = (child_path, node, key, value)
        else:
            deeper = _longest_string(value, child_path)
            if deeper is not None and (best is None or len(deeper[3]) > len(best[3])):
                best = deeper
    return best


def left_out_note(left_out: int, then: str) -> str:
    """What an answer cut to the size cap says of the events it left out, and what brings them."""
    noun = "event" if left_out == 1 else "events"
    return (
        f"{left_out} more {noun} did not fit this server's answer size cap (CLOSE_EVENTS_MAX_OUTPUT_CHARS); "
        f"{then} continues with {'it' if left_out == 1 else 'them'}."
    )
