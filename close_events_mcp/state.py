"""What every tool call of one server process shares: the settings, the Close client, the names
learned so far, and the policy for learning the names an answer shows (which may ask Close)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import anyio

from close_events_mcp.close.names import NameBook
from close_events_mcp.config import Settings
from close_events_mcp.event import Event

if TYPE_CHECKING:
    from close_events_mcp.close.client import CloseClient
    from close_events_mcp.engine.scan import ScanLimits
    from close_events_mcp.store.gateway import StoreGateway

NAME_LOOKUP_SHARE = 0.25
"""The share of a call's time left that looking up unnamed leads may take."""


@dataclass
class AppState:
    """What every tool call of this process shares."""

    settings: Settings
    client: CloseClient
    names: NameBook = field(default_factory=NameBook)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    store: StoreGateway | None = None
    """The local event store, when one is configured (``CLOSE_EVENTS_STORE``)."""

    async def open_store(self) -> StoreGateway | None:
        """The store, ready for this call; None when there is none or it cannot be used now."""
        if self.store is None or await self.store.open(self.client) is None:
            return None
        return self.store

    def store_note(self) -> list[str]:
        """Why the store was not used, said in one answer after it failed."""
        note = self.store.take_note() if self.store is not None else None
        return [note] if note else []

    def limits(self, max_events: int | None = None) -> ScanLimits:
        from close_events_mcp.engine.scan import ScanLimits  # noqa: PLC0415  (the scan engine loads on first use)

        settings = self.settings
        return ScanLimits(
            max_events=min(max_events or settings.scan_max_events, settings.scan_max_events),
            max_pages=settings.scan_max_pages,
            concurrency=settings.scan_concurrency,
        )

    async def learn_names(
        self,
        events: list[Event],
        *,
        payload_fields: bool = False,
        leads: Sequence[str] = (),
        actors: Iterable[str] = (),
    ) -> None:
        """Make sure the actors, custom fields and leads of ``events`` can be shown by name, and the
        users among ``actors`` (a digest's counts): what the events say, Close's user and custom field
        lists when they are needed, and the leads still without a name looked up in Close, up to
        ``directory.MAX_LEAD_LOOKUPS`` of them: ``leads`` first (as ordered: a digest's busiest first),
        then those of ``events``, the lead of most events first (of as many, the first one)."""
        names = self.names
        for event in events:
            names.learn(event)
        directory = names.directory
        by_events = Counter(e.lead_id for e in events if e.lead_id)
        shown = dict.fromkeys([*leads, *(lead for lead, _ in by_events.most_common())])
        unnamed = [lead for lead in shown if lead and not names.lead(lead)]
        uses_fields = any(f.startswith("custom.") for e in events for f in e.changed_fields)
        if payload_fields:
            uses_fields |= any(k.startswith("custom.") for e in events for k in e.payload)
        async with anyio.create_task_group() as group:
            unnamed_users = [e.user_id for e in events] + [a for a in actors if a.startswith("user_")]
            if any(user and not names.user(user) for user in unnamed_users):
                group.start_soon(directory.load_users, self.client)
            if uses_fields:
                group.start_soon(directory.load_fields, self.client)
            if unnamed:
                group.start_soon(self._look_up_leads, unnamed)

    async def _look_up_leads(self, lead_ids: list[str]) -> None:
        """Lead names from Close, within a share of the call's time left: a lead not named in time, or
        at all, is shown by its ID."""
        seen_at = self.clock()
        left = anyio.current_effective_deadline() - anyio.current_time()
        with anyio.move_on_after(left * NAME_LOOKUP_SHARE):
            await self.names.directory.look_up_leads(
                self.client, lead_ids, lambda lead_id, name: self.names.learn_lead(lead_id, name, seen_at)
            )
