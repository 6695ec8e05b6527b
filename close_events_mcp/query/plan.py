"""Filters Close cannot apply: unsupported combinations, changed_field, exclude_noisy.

Close is asked for the most selective filter combination it supports within what was asked
(plus the time window); the rest is checked here, event by event, within the scan budget.
Nothing Close does not support is ever sent to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from close_events_mcp import catalog
from close_events_mcp.event import Event
from close_events_mcp.query.filters import EventFilters

NOISE: dict[tuple[str, str], catalog.Noise] = {
    (entry.name, action.name): action.noise
    for entry in catalog.OBJECT_TYPES
    for action in entry.actions
    if action.noise
}
"""What exclude_noisy drops, by (object type, action): every action the catalog marks as noise, and
which noise it is (autosave or progress)."""
_NOISE_WORDS = {"progress": ("progress update", "progress updates"), "autosave": ("autosave", "autosaves")}
_SELECTIVITY = {"request_id": 32, "object_id": 16, "lead_id": 8, "user_id": 4, "object_type": 2, "action": 1}
_FIELD_SUFFIXES = ("", "_id", "_label", "_name", "_formatted")


@lru_cache(maxsize=64)  # bounded: changed_field comes from callers
def fields_matched(changed_field: str) -> frozenset[str]:
    """The changed fields ``changed_field`` matches: itself and its ``_id``/``_label``/… twins."""
    return frozenset(changed_field + suffix for suffix in _FIELD_SUFFIXES)


def _sent_to_close(asked: frozenset[str]) -> frozenset[str]:
    if catalog.is_supported(asked):
        return asked
    candidates = [c for c in catalog.SUPPORTED_COMBINATIONS if c <= asked]
    return max(candidates, key=lambda c: (sum(_SELECTIVITY[name] for name in c), catalog.combo_label(c)))


@dataclass(frozen=True, slots=True)
class FilterPlan:
    close: EventFilters
    """What Close is asked: a supported combination, and the time window."""
    local: dict[str, str]
    """Close filters checked on our side because Close cannot combine them."""
    changed_field: str | None
    exclude_noisy: bool

    @property
    def is_local(self) -> bool:
        return bool(self.local or self.changed_field or self.exclude_noisy)

    def matches(self, event: Event) -> bool:
        return self.rejects(event) is None

    def rejects(self, event: Event) -> str | None:
        """Which local check drops ``event``: a filter's name, ``changed_field``, or the noise it is
        (``autosave``, ``progress``) for exclude_noisy; None when it passes them all."""
        for name, value in self.local.items():
            actual = getattr(event, name)
            if name == "object_type":
                actual = catalog.LEGACY_NAMES.get(actual, actual)
            if actual != value:
                return name
        if self.exclude_noisy:
            noise = NOISE.get((catalog.LEGACY_NAMES.get(event.object_type, event.object_type), event.action))
            if noise is not None:
                return noise
        if self.changed_field and fields_matched(self.changed_field).isdisjoint(event.changed_fields):
            return "changed_field"
        return None

    def dropped_text(self, dropped: Mapping[str, int]) -> str:
        """What the local checks dropped (counts by ``rejects``), in words: ``exclude_noisy dropped 6
        progress updates and 2 autosaves; action=deleted dropped 3``; empty when nothing was dropped."""
        parts = [
            f"{name}={value} dropped {dropped[name]}"
            for name, value in self.local.items()
            if dropped.get(name)
        ]
        noise = [
            f"{dropped[kind]} {words[dropped[kind] != 1]}"
            for kind, words in _NOISE_WORDS.items()
            if dropped.get(kind)
        ]
        if noise:
            parts.append("exclude_noisy dropped " + " and ".join(noise))
        if dropped.get("changed_field"):
            parts.append(f"changed_field={self.changed_field} dropped {dropped['changed_field']}")
        return "; ".join(parts)

    def note(self) -> str | None:
        """What the model should know about how the filters were applied."""
        if not self.is_local:
            return None
        checked = [f"{name}={value}" for name, value in self.local.items()]
        if self.changed_field:
            checked.append(f"changed_field={self.changed_field}")
        if self.exclude_noisy:
            checked.append("exclude_noisy (autosave and progress updates)")
        asked = catalog.combo_label(self.close.names) if self.close.names else "no filter"
        return f"Close was asked for {asked} (and the time window); {', '.join(checked)} checked here."


def plan_filters(filters: EventFilters) -> FilterPlan:
    asked = filters.names
    extra: dict[str, str] = {}
    if filters.object_id and filters.object_id.startswith("lead_") and not filters.lead_id:
        # A lead's own events are a subset of its lead_id events, which Close can filter alone.
        extra["lead_id"] = filters.object_id
    sent = _sent_to_close(asked | extra.keys())
    local: dict[str, str] = {
        name: getattr(filters, name) for name in catalog.FILTER_NAMES if name in asked - sent
    }
    overrides: dict[str, str | None] = {name: None for name in local}
    overrides |= {name: value for name, value in extra.items() if name in sent}
    close = replace(filters, changed_field=None, exclude_noisy=False, **overrides)  # type: ignore[arg-type]
    return FilterPlan(close, local, filters.changed_field, filters.exclude_noisy)


@dataclass(frozen=True, slots=True)
class ScanNote:
    """What a scan for a page read, and what the checks here dropped of it. ``text`` is its note
    (``Read 17 events from Close in 1 request to find these; exclude_noisy dropped 6 progress
    updates.``); an answer with no events says instead that the events read were dropped here, and by
    which check (``empty_reason``), and keeps only ``read_text`` as the note."""

    read: int
    pages: int
    dropped: int
    dropped_text: str

    @property
    def read_text(self) -> str:
        """The note without what was dropped: ``Read 17 events from Close in 1 request.``"""
        return self._read_words() + "."

    @property
    def text(self) -> str:
        dropped_part = f"; {self.dropped_text}" if self.dropped_text else ""
        return f"{self._read_words()} to find these{dropped_part}."

    def _read_words(self) -> str:
        requests = "request" if self.pages == 1 else "requests"
        return f"Read {self.read} events from Close in {self.pages} {requests}"

    def empty_reason(self) -> str | None:
        """Why an answer with no events is empty, when the checks here dropped what Close returned."""
        if not self.dropped:
            return None
        share = f"all {self.read}" if self.dropped >= self.read else f"{self.dropped} of the {self.read}"
        return f"No events matched: {share} events read were dropped here ({self.dropped_text})."
