"""Nothing lost: whatever the size cap and the limit, cursors and checkpoints deliver every event once.

An answer over the size cap leaves events out whole, and its cursor or checkpoint resumes right
after the last event it shows; events it did not show come with the next call.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from close_events_mcp.server.app import build_server
from close_events_sandbox.app import SandboxApp
from tests.conftest import NOW, clock, make_settings, text_of

pytestmark = pytest.mark.anyio


def in_window(demo_org, days: float) -> Counter[str]:
    since = (NOW - timedelta(days=days)).replace(tzinfo=None).isoformat(timespec="microseconds")
    until = NOW.replace(tzinfo=None).isoformat(timespec="microseconds")
    return Counter(e["id"] for e in demo_org.events if since <= e["date_updated"][:26] < until)


def server_for(demo_org, cap: int):
    sandbox = SandboxApp(demo_org, clock=clock)
    return build_server(
        make_settings(max_output_chars=cap), transport=httpx.ASGITransport(app=sandbox), clock=clock
    )


async def call(client: Client, tool: str, arguments: dict) -> dict:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["count"] == len(data["events"]), "the structured result loses no event either"
    return data


async def listed(client: Client, **arguments) -> Counter[str]:
    seen: Counter[str] = Counter()
    data = await call(client, "list_events", arguments)
    seen.update(e["id"] for e in data["events"])
    while cursor := data.get("next_cursor"):
        assert data["events"], "a page with a next_cursor shows at least one event"
        data = await call(client, "list_events", {"cursor": cursor})
        seen.update(e["id"] for e in data["events"])
    return seen


async def polled(client: Client, limit: int, **first) -> Counter[str]:
    data = await call(client, "poll_events", {**first, "limit": limit})
    return Counter(e["id"] for e in data["events"]) + await polled_from(client, data, limit)


async def polled_from(client: Client, data: dict, limit: int) -> Counter[str]:
    """What polling on from the answer ``data`` delivers, until nothing more is waiting."""
    seen: Counter[str] = Counter()
    for _ in range(1000):
        if not data["more"]:
            break
        assert data["events"], "a poll that says more are waiting delivered something"
        data = await call(client, "poll_events", {"checkpoint": data["checkpoint"], "limit": limit})
        seen.update(e["id"] for e in data["events"])
    return seen


async def test_a_capped_poll_resumes_after_the_last_event_it_shows(demo_org):
    """The reported case: poll_events since=30d limit=500 over the demo org, then polling on."""
    expected = in_window(demo_org, 30)
    async with Client(server_for(demo_org, 60_000)) as client:
        first = await call(client, "poll_events", {"since": "30d", "limit": 500})
        assert 0 < first["count"] < sum(expected.values()), "the cap holds back part of the backlog"
        assert first["more"], "and says more are waiting"
        delivered = Counter(e["id"] for e in first["events"])
        delivered += await polled_from(client, first, 500)
    assert delivered == expected


async def test_a_capped_page_continues_with_the_events_it_left_out(demo_org):
    expected = in_window(demo_org, 30)
    async with Client(server_for(demo_org, 2_000)) as client:
        page = await call(client, "list_events", {"since": "30d", "limit": 50})
        assert 0 < page["count"] < 50 and page["next_cursor"]
        assert await listed(client, since="30d", limit=50) == expected


FEW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FEW
@given(cap=st.integers(1_500, 9_000), limit=st.integers(1, 50), local=st.booleans())
async def test_cursors_deliver_every_event_once_under_any_cap(demo_org, cap, limit, local):
    """Straight Close pages, and pages of a scan with a filter checked here (``local``)."""
    expected = in_window(demo_org, 7)
    arguments = {"since": "7d", "limit": limit}
    if local:
        arguments["changed_field"] = "status_label"
        async with Client(server_for(demo_org, 100_000)) as client:
            expected = await listed(client, **arguments)  # what an uncapped walk finds
        assert expected
    async with Client(server_for(demo_org, cap)) as client:
        assert await listed(client, **arguments) == expected


@FEW
@given(cap=st.integers(1_500, 9_000), limit=st.integers(1, 500))
async def test_checkpoints_deliver_every_event_once_under_any_cap(demo_org, cap, limit):
    expected = in_window(demo_org, 7)
    async with Client(server_for(demo_org, cap)) as client:
        assert await polled(client, limit, since="7d") == expected
