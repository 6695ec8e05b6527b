"""Payloads as Close's docs show them (tests/data/close_docs/*.json, taken from the docs' examples,
not made up) go through the emulator and the server: listed and shown in detail, without error,
with their ids and actor.

The docs show one example event, a note created (``note``, the older name of ``activity.note``);
every other object type has no documented payload, so none is here."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from close_events_mcp.server.app import build_server
from close_events_sandbox.app import SandboxApp
from close_events_sandbox.close_rules import parse_timestamp
from close_events_sandbox.org import DemoOrg, Principal
from close_events_sandbox.seed import DEMO_API_KEY
from tests.conftest import make_settings, text_of
from tests.contract import assert_clean_structured, assert_clean_text

pytestmark = pytest.mark.anyio

PAYLOADS = sorted((Path(__file__).resolve().parent / "data" / "close_docs").glob("*.json"))


def recorded(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_every_documented_example_is_here():
    assert [p.name for p in PAYLOADS] == ["retrieve-event.note.created.json"]


@pytest.mark.parametrize("path", PAYLOADS, ids=lambda p: p.stem)
async def test_a_recorded_payload_is_listed_and_shown_with_its_ids_and_actor(path: Path):
    event = recorded(path)
    happened = parse_timestamp(event["date_updated"])
    assert happened is not None

    def clock() -> datetime:
        return happened + timedelta(minutes=8)

    org = DemoOrg(
        organization={"id": event["organization_id"], "name": "Recorded"},
        users=[],
        memberships=[],
        credentials={DEMO_API_KEY: Principal(event["user_id"], is_admin=True)},
        events=[event],
    )
    emulator = SandboxApp(org, clock=clock)
    server = build_server(make_settings(), transport=httpx.ASGITransport(app=emulator), clock=clock)
    async with Client(server) as client:
        listed = await client.call_tool("list_events", {"since": "1h", "limit": 5})
        by_lead = await client.call_tool("list_events", {"lead_id": event["lead_id"], "since": "1h"})
        shown = await client.call_tool("get_event", {"event_id": event["id"]})

    actor = event["data"]["user_name"]  # the payload names its user
    for result in (listed, by_lead, shown):
        text = text_of(result)
        assert not result.is_error, text
        assert_clean_text(text)
        assert_clean_structured(result.structured_content)
        for value in (event["id"], event["object_id"], event["action"]):
            assert value in text, (value, text)
        assert f'"{actor}"' in text and event["user_id"] in text, text
        structured = json.dumps(result.structured_content)
        assert event["id"] in structured and event["lead_id"] in structured, structured
    assert event["lead_id"] in text_of(shown)
    assert len([line for line in text_of(listed).splitlines() if event["id"] in line]) == 1
    assert event["object_type"] in text_of(shown)
