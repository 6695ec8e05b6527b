"""poll_events through a server with a store, on SQLite and PostgreSQL: a reader polling with a
small limit, its server stopped mid-backlog and a new one started on the same store, goes on from
its checkpoint and receives every event of the window exactly once, including events that arrived
while no server ran."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from close_events_sandbox.org import DemoOrg
from tests.conftest import NOW
from tests.test_nothing_lost import call, in_window, polled_from
from tests.test_store import Setup, event_requests

pytestmark = pytest.mark.anyio


async def test_poll_delivers_every_event_once_across_a_restart_of_the_server(
    store_setting: str, demo_org: DemoOrg
) -> None:
    setup = Setup(demo_org, store_setting)
    expected = in_window(demo_org, 30)
    delivered: Counter[str] = Counter()
    async with setup.client() as client:
        data = await call(client, "poll_events", {"since": "30d", "limit": 25})
        delivered.update(e["id"] for e in data["events"])
        for _ in range(3):
            assert data["more"], "the backlog outlasts the first server"
            data = await call(client, "poll_events", {"checkpoint": data["checkpoint"], "limit": 25})
            delivered.update(e["id"] for e in data["events"])
    checkpoint = data
    assert 0 < sum(delivered.values()) < sum(expected.values())

    # While no server runs, time passes and Close gets a new event.
    late = {**demo_org.events[-1], "id": "ev_arrived_while_stopped_0000000000000"}
    setup.clock.now = NOW + timedelta(minutes=5)
    late["date_created"] = late["date_updated"] = (NOW + timedelta(minutes=2)).strftime(
        "%Y-%m-%dT%H:%M:%S.%f"
    )
    setup.sandbox.store.add(late)

    before = event_requests(setup.sandbox)
    async with setup.client() as client:  # a new server, the same store
        delivered += await polled_from(client, checkpoint, 25)
    assert event_requests(setup.sandbox) > before, "the new server reads what is new from Close"
    assert delivered == expected + Counter([late["id"]]), "every event once, across the restart"
