"""The frame every answer passes through: the key never leaves, and rendering never holds up others."""

from __future__ import annotations

import threading
from datetime import timedelta

import anyio
import httpx
import pytest
from mcp import Client

from close_events_mcp import answers
from close_events_mcp.server.app import build_server
from close_events_sandbox.app import SandboxApp
from close_events_sandbox.seed import DEMO_API_KEY
from tests.conftest import NOW, clock, make_settings, text_of

pytestmark = pytest.mark.anyio


def note_event(demo_org, text: str) -> dict:
    template = next(e for e in demo_org.events if e["object_type"] == "activity.note" and e["data"])
    at = (NOW - timedelta(hours=2)).replace(tzinfo=None).isoformat(timespec="microseconds")
    return {
        **template,
        "id": "ev_" + "k" * 22,
        "date_created": at,
        "date_updated": at,
        "data": {**template["data"], "note": text, "note_html": f"<p>{text}</p>"},
    }


async def test_the_key_inside_crm_text_is_redacted_from_every_answer(demo_org):
    sandbox = SandboxApp(demo_org, clock=clock)
    event = note_event(demo_org, f"our integration key is {DEMO_API_KEY}, keep it safe")
    sandbox.store.add(event)
    server = build_server(make_settings(), transport=httpx.ASGITransport(app=sandbox), clock=clock)
    async with Client(server) as client:
        results = [
            await client.call_tool("get_event", {"event_id": event["id"]}),
            await client.call_tool("list_events", {"object_id": event["object_id"]}),
            await client.call_tool("poll_events", {"since": "30d", "limit": 500}),
        ]
    for result in results:
        assert not result.is_error, text_of(result)
        shown = text_of(result) + repr(result.structured_content)
        assert DEMO_API_KEY not in shown
    assert "[redacted]" in text_of(results[0]), "the note is shown, less the key"


def recent_event(demo_org) -> str:
    return max(demo_org.events, key=lambda e: e["date_updated"])["id"]


@pytest.fixture
def stuck_rendering(monkeypatch):
    """get_event's rendering blocks (as cleaning a hostile text once did) until released."""
    release, entered = threading.Event(), threading.Event()
    render = answers.render_detail

    def blocked(*args, **kwargs):
        entered.set()
        release.wait(30)
        return render(*args, **kwargs)

    monkeypatch.setattr(answers, "render_detail", blocked)
    yield entered
    release.set()


async def test_a_slow_rendering_does_not_hold_up_other_calls(server, demo_org, stuck_rendering):
    event_id = recent_event(demo_org)
    async with Client(server) as slow, Client(server) as other, anyio.create_task_group() as group:
        outcome: dict[str, object] = {}

        async def chew() -> None:
            outcome["slow"] = await slow.call_tool("get_event", {"event_id": event_id})

        group.start_soon(chew)
        await anyio.to_thread.run_sync(stuck_rendering.wait, 30)
        described = await other.call_tool("describe_event_types", {})
        assert not described.is_error and "slow" not in outcome, "answered while the other still renders"
        group.cancel_scope.cancel()


async def test_rendering_past_the_deadline_ends_the_call_on_time(sandbox, demo_org, stuck_rendering):
    server = build_server(
        make_settings(call_timeout=0.5), transport=httpx.ASGITransport(app=sandbox), clock=clock
    )
    async with Client(server) as client:
        result = await client.call_tool("get_event", {"event_id": recent_event(demo_org)})
    assert result.is_error and "longer than its 0.5 s limit" in text_of(result)
