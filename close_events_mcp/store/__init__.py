"""The local event store: every event read from Close is kept (SQLite embedded, or a shared
PostgreSQL), so that a question asked again reads only what is new, and history outlives Close's
30 days. ``location`` says where it is, ``events`` what it holds, ``gateway`` how a server uses it,
``sync`` how it is filled ahead of any question."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from close_events_mcp.config import Settings
from close_events_mcp.store.gateway import StoreGateway
from close_events_mcp.store.location import store_place

__all__ = ["StoreGateway", "gateway_for"]


def gateway_for(settings: Settings, clock: Callable[[], datetime]) -> StoreGateway | None:
    """The store ``settings`` name, not opened yet (it is, on first use); None when it is off."""
    place = store_place(settings.store)
    return None if place is None else StoreGateway(place, settings.store_retention_days, clock)
