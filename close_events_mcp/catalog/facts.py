"""What an object type's entry says about its objects, as data: the facts worth showing, and the
field pairs an update reads as one change. ``render/`` turns them into words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Style = Literal["quoted", "plain", "long", "list", "count", "time", "duration"]


@dataclass(frozen=True, slots=True)
class Fact:
    """One thing worth showing about an object, read from the first of ``keys`` its payload has.
    Facts marked ``in_line`` make the gist on a ``list_events`` line; ``get_event`` shows them all."""

    label: str
    keys: tuple[str, ...]
    style: Style = "plain"
    in_line: bool = False
    bare: bool = False
    """Shown without its label (``outgoing`` rather than ``direction outgoing``)."""


def fact_of(label: str, *keys: str, style: Style = "plain", line: bool = False, bare: bool = False) -> Fact:
    return Fact(label, keys or (label,), style, line, bare)


NAME = fact_of("name", "display_name", "name", style="quoted", line=True, bare=True)
"""The fact of a type that lists none: its name."""


@dataclass(frozen=True, slots=True)
class FieldPair:
    """Two fields an update changes together, one for machines and one for people, shown as one
    change called ``name`` with the human field's values. Fields named by Close's conventions
    (``status_id``/``status_label``, ``value``/``value_formatted``, ``body_html``/``body_text``)
    pair without one."""

    name: str
    machine: str
    human: str
