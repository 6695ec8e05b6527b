"""poll_events against a live-changing emulator: nothing missed, nothing twice."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from mcp import Client

from close_events_mcp.server.app import build_server
from close_events_sandbox.app import SandboxApp
from tests.conftest import NOW, make_settings, text_of

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def naive(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds")


@pytest.fixture
def world(demo_org):
    clock = Clock()
    sandbox = SandboxApp(demo_org, clock=clock)
    template = next(e for e in demo_org.events if e["object_type"] == "lead" and e["action"] == "updated")
    counter = iter(range(10**6))

    def add(at: datetime, **changes) -> str:
        event = {
            **template,
            "id": f"ev_poll{next(counter):017d}",
            "date_created": naive(at),
            "date_updated": naive(at),
        }
        event.update(changes)
        sandbox.store.add(event)
        return event["id"]

    def server():
        return build_server(make_settings(), transport=httpx.ASGITransport(app=sandbox), clock=clock)

    return clock, sandbox, add, server


async def poll(client: Client, **arguments):
    result = await client.call_tool("poll_events", arguments)
    assert not result.is_error, text_of(result)
    data = result.structured_content
    return [e["id"] for e in data["events"]], data


async def test_new_late_and_consolidated_events(world):
    clock, sandbox, add, server = world
    async with Client(server()) as client:
        ids, state = await poll(client)
        assert ids == [] and not state["more"]
        first = add(NOW + timedelta(minutes=1))
        clock.now = NOW + timedelta(minutes=2)
        ids, state = await poll(client, checkpoint=state["checkpoint"])
        assert ids == [first]

        late = add(NOW + timedelta(minutes=1, seconds=30))  # dated before the last poll, visible only now
        newer = add(NOW + timedelta(minutes=3))
        sandbox.store.consolidate(first, NOW + timedelta(minutes=3, seconds=30))
        clock.now = NOW + timedelta(minutes=4)
        ids, state = await poll(client, checkpoint=state["checkpoint"])
        assert ids == [late, newer, first]
        assert [e.get("consolidated") for e in state["events"]] == [None, None, True]

        clock.now = NOW + timedelta(minutes=5)
        ids, state = await poll(client, checkpoint=state["checkpoint"])
        assert ids == []  # nothing twice
        text = text_of(await client.call_tool("poll_events", {"checkpoint": state["checkpoint"]}))
        assert text.startswith("No new events (") and ", times UTC)." in text and "checkpoint: cp1." in text


async def test_a_burst_bigger_than_limit_arrives_in_order_over_several_polls(world):
    clock, _, add, server = world
    start = NOW + timedelta(minutes=1)
    expected = [add(start + timedelta(seconds=i // 3)) for i in range(120)]  # triples share a second
    clock.now = NOW + timedelta(minutes=4)
    delivered: list[str] = []
    async with Client(server()) as client:
        ids, state = await poll(client, since=NOW.isoformat(), limit=25)
        delivered += ids
        while state["more"]:
            ids, state = await poll(client, checkpoint=state["checkpoint"], limit=25)
            delivered += ids
    assert sorted(delivered) == sorted(expected) and len(delivered) == len(set(delivered))
    times = [expected.index(i) // 3 for i in delivered]
    assert times == sorted(times)  # oldest first


async def test_any_replica_continues_a_checkpoint(world):
    clock, _, add, server = world
    async with Client(server()) as replica_a:
        _, state = await poll(replica_a, object_type="lead")
    event = add(NOW + timedelta(minutes=1))
    clock.now = NOW + timedelta(minutes=2)
    async with Client(server()) as replica_b:
        ids, _ = await poll(replica_b, checkpoint=state["checkpoint"], object_type="lead")
    assert ids == [event]


async def test_filters_apply_and_must_stay_the_same(world, demo_org):
    clock, _, add, server = world
    async with Client(server()) as client:
        _, state = await poll(client, object_type="contact")
        add(NOW + timedelta(minutes=1))  # a lead event: filtered out
        clock.now = NOW + timedelta(minutes=2)
        ids, state = await poll(client, checkpoint=state["checkpoint"])
        assert ids == []
        result = await client.call_tool(
            "poll_events", {"checkpoint": state["checkpoint"], "object_type": "lead"}
        )
        assert result.is_error and "checkpoint belongs to a poll with different object_type" in text_of(
            result
        )
        forged = await client.call_tool("poll_events", {"checkpoint": state["checkpoint"][:-4] + "AAAA"})
        assert forged.is_error and "checkpoint is not a checkpoint this server issued" in text_of(forged)
        both = await client.call_tool("poll_events", {"checkpoint": state["checkpoint"], "since": "1h"})
        assert both.is_error and "since is only for the first poll" in text_of(both)


async def test_first_poll_from_a_past_moment(world, demo_org):
    _, _, _, server = world
    async with Client(server()) as client:
        ids, state = await poll(client, since="10m")
    recent = [e for e in demo_org.events if e["date_updated"] >= naive(NOW - timedelta(minutes=10))]
    assert sorted(ids) == sorted(e["id"] for e in recent) and ids
    assert state["events"][0]["at"] <= state["events"][-1]["at"]


@pytest.mark.parametrize("credential", ["wrong key", "no key", "unreachable Close"])
async def test_the_first_poll_fails_like_any_call_without_a_working_credential(sandbox, credential):
    if credential == "wrong key":
        settings = make_settings(key="api_wrong_key_0000000000000000000")
    elif credential == "no key":
        settings = make_settings(credential=None)
    else:
        settings = make_settings(base_url="http://127.0.0.1:9/api/v1", max_retries=1)
    transport = None if credential == "unreachable Close" else httpx.ASGITransport(app=sandbox)
    async with Client(build_server(settings, transport=transport, clock=lambda: NOW)) as client:
        first = await client.call_tool("poll_events", {})
        listing = await client.call_tool("list_events", {"limit": 1})
    assert first.is_error and listing.is_error, text_of(first)
    assert text_of(first) == text_of(listing), "the same advice every other tool gives"
