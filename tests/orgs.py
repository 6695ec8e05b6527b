"""Variants of the demo organization for tests: the same events with some payload keys taken out."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

from close_events_sandbox.org import DemoOrg


def without_payload_keys(org: DemoOrg, keys: Collection[str]) -> DemoOrg:
    """The org with ``keys`` taken out of every event's ``data`` and ``previous_data``."""

    def strip(payload: Any) -> Any:
        if not isinstance(payload, dict):
            return payload
        return {key: value for key, value in payload.items() if key not in keys}

    events = [
        {**event, "data": strip(event.get("data")), "previous_data": strip(event.get("previous_data"))}
        for event in org.events
    ]
    return dataclasses.replace(org, events=events)
