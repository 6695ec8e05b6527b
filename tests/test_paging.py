"""Paging through a large result with next_cursor reaches every event exactly once."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from mcp import Client

from close_events_mcp import catalog
from close_events_mcp.event import parse_timestamp
from close_events_mcp.server.app import build_server
from close_events_sandbox.app import SandboxApp
from close_events_sandbox.seed import build_demo_org
from tests.conftest import NOW, clock, make_settings

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def large_org():
    return build_demo_org(NOW, filler_events=3000)


def visible(org, predicate=lambda e: True) -> set[str]:
    horizon = NOW - timedelta(days=catalog.RETENTION_DAYS)
    return {e["id"] for e in org.events if parse_timestamp(e["date_updated"]) >= horizon and predicate(e)}


async def walk(client: Client, **arguments) -> list[str]:
    ids: list[str] = []
    result = await client.call_tool("list_events", arguments)
    while True:
        assert not result.is_error, result.content
        ids += [e["id"] for e in result.structured_content["events"]]
        cursor = result.structured_content.get("next_cursor")
        if not cursor:
            return ids
        result = await client.call_tool("list_events", {"cursor": cursor})


@pytest.mark.parametrize(
    ("arguments", "predicate"),
    [
        ({}, lambda e: True),
        ({"object_type": "activity.note"}, lambda e: e["object_type"] == "activity.note"),
        (
            {"object_type": "lead", "action": "updated", "limit": 17},
            lambda e: e["object_type"] == "lead" and e["action"] == "updated",
        ),
    ],
)
async def test_every_event_exactly_once(large_org, arguments, predicate):
    sandbox = SandboxApp(large_org, clock=clock)
    server = build_server(make_settings(), transport=httpx.ASGITransport(app=sandbox), clock=clock)
    async with Client(server) as client:
        ids = await walk(client, **arguments)
    assert len(ids) == len(set(ids)), "an event was listed twice"
    assert set(ids) == visible(large_org, predicate)
    assert len(ids) > 100


async def test_a_time_window_is_kept_across_pages(large_org):
    sandbox = SandboxApp(large_org, clock=clock)
    server = build_server(make_settings(), transport=httpx.ASGITransport(app=sandbox), clock=clock)
    async with Client(server) as client:
        ids = await walk(client, since="3d", until="1d")
    start, end = NOW - timedelta(days=3), NOW - timedelta(days=1)
    assert set(ids) == visible(large_org, lambda e: start <= parse_timestamp(e["date_updated"]) < end)
