"""A canary credential runs through every success and error path; it appears nowhere."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import httpx
import pytest
from mcp import Client

from close_events_mcp.cli import describe_me
from close_events_mcp.close_api import CloseClient
from close_events_mcp.config import settings_from_env
from close_events_mcp.sandbox.app import Faults, SandboxApp
from close_events_mcp.sandbox.org import Principal
from close_events_mcp.server import build_server
from tests.conftest import clock, make_settings, text_of

pytestmark = pytest.mark.anyio
CANARY = "sk_canary_3f9a1c7e5b2d4f6a8c0e"
WRONG_CANARY = "sk_canary_wrong_9d8c7b6a5f4e"


def _outputs(result) -> str:
    return text_of(result) + json.dumps(result.structured_content or {}) + repr(result)


@pytest.mark.parametrize(
    ("kind", "variable"), [("api_key", "CLOSE_API_KEY"), ("access_token", "CLOSE_ACCESS_TOKEN")]
)
async def test_canary_is_absent_from_every_output_and_log(demo_org, caplog, kind, variable):
    caplog.set_level(logging.DEBUG)
    org = replace(
        demo_org, credentials={**demo_org.credentials, CANARY: Principal(demo_org.users[0]["id"], True)}
    )
    sandbox = SandboxApp(org, clock=clock, faults=Faults())
    transport = httpx.ASGITransport(app=sandbox)
    seen: list[str] = []
    event_id = demo_org.landmarks["recent_event"]

    settings = replace(make_settings(CANARY, kind=kind), call_timeout=1.0)
    async with Client(build_server(settings, transport=transport, clock=clock)) as client:
        calls = [
            ("list_events", {"object_type": "lead"}),
            ("get_event", {"event_id": event_id}),
            ("describe_event_types", {}),
            ("list_events", {"action": "deleted"}),
            ("get_event", {"event_id": "ev_missing0000000000000"}),
            ("list_events", {"cursor": "ce1.forged"}),
        ]
        for name, arguments in calls:
            seen.append(_outputs(await client.call_tool(name, arguments)))
        for fault in ("burst_429", "burst_5xx", "malformed", "hang"):
            setattr(sandbox.faults, fault, 50 if fault != "hang" else 1)
            sandbox.faults.burst_429_reset = 0.01
            seen.append(_outputs(await client.call_tool("list_events", {"object_type": "lead"})))
            setattr(sandbox.faults, fault, 0)

    wrong = make_settings(WRONG_CANARY, kind=kind)
    async with Client(build_server(wrong, transport=transport, clock=clock)) as client:
        rejected = await client.call_tool("list_events", {"object_type": "lead"})
        assert rejected.is_error and variable in text_of(rejected)
        seen.append(_outputs(rejected))

    async with CloseClient(settings, transport=transport) as close:
        me = await close.me()
    seen += describe_me(me, settings.credential, settings)
    seen += [repr(settings), str(settings), repr(settings.credential)]

    logged = [record.getMessage() + (record.exc_text or "") + repr(record.args) for record in caplog.records]
    for text in seen + logged:
        assert CANARY not in text and WRONG_CANARY not in text


def test_settings_from_env_never_show_the_key():
    settings = settings_from_env({"CLOSE_API_KEY": CANARY})
    assert settings.credential is not None and settings.credential.secret.reveal() == CANARY
    assert (
        CANARY not in repr(settings)
        and CANARY not in f"{settings}"
        and CANARY not in str(settings.credential)
    )
