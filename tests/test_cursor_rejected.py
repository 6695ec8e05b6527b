"""A cursor Close refuses (one from another server process, or one Close no longer keeps)."""

from __future__ import annotations

import httpx
import pytest
from mcp import Client

from close_events_mcp.engine.page import start_again
from close_events_mcp.query.filters import MAX_PAGE, EventFilters
from close_events_mcp.server.app import build_server
from close_events_sandbox.app import Faults, SandboxApp
from close_events_sandbox.org import DemoOrg
from tests.conftest import clock, make_settings, text_of

pytestmark = pytest.mark.anyio


async def test_a_cursor_close_rejects_says_to_start_again_without_it(demo_org: DemoOrg):
    # Two processes, each with its own emulator: each signs its cursors with its own secret.
    first, second = (SandboxApp(demo_org, clock=clock, faults=Faults()) for _ in range(2))
    servers = [
        build_server(make_settings(), transport=httpx.ASGITransport(app=app), clock=clock)
        for app in (first, second)
    ]
    async with Client(servers[0]) as client:
        page = await client.call_tool(
            "list_events", {"object_type": "lead", "action": "updated", "since": "2026-11-01", "limit": 3}
        )
    cursor = page.structured_content["next_cursor"]
    async with Client(servers[1]) as client:
        refused = await client.call_tool("list_events", {"cursor": cursor})
        fresh = await client.call_tool("list_events", {"object_type": "lead", "limit": 3})
    text = text_of(refused)
    assert refused.is_error
    assert text.startswith("Close rejected the request (HTTP 400): Invalid cursor.")
    assert text.endswith(
        "start again without cursor, with the filters it carried: list_events object_type=lead "
        "action=updated since=2026-11-01T00:00:00Z limit=3"
    ), text
    asked = [dict(r.params) for r in second.requests if r.path.endswith("/event/")]
    assert "_cursor" in asked[0], "the cursor was Close's to refuse, not ours"
    assert not fresh.is_error, "starting again works"


def test_the_call_to_start_again_is_one_to_copy():
    filters = EventFilters(lead_id="lead_abc", changed_field="Deal stage", exclude_noisy=True)
    assert start_again(filters, MAX_PAGE) == (
        "list_events lead_id=lead_abc changed_field='Deal stage' exclude_noisy=true"
    )
