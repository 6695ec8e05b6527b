"""Names in a fresh server's first answer: leads looked up in Close when no event read names them, and
every name the events of a scan carry serving the whole answer."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from close_events_mcp.close_api import CloseClient
from close_events_mcp.directory import MAX_LEAD_LOOKUPS
from close_events_mcp.server import NAME_LOOKUP_SHARE, AppState, EventLogServer, build_server
from close_events_sandbox.app import Faults, SandboxApp
from close_events_sandbox.org import DemoOrg
from tests.conftest import clock, make_settings, text_of
from tests.test_names import ASGI
from tests.virtual_time import VIRTUAL_TIME

pytestmark = pytest.mark.anyio

LEAD_NAME_KEYS = ("lead_name", "display_name", "name")


def fresh_server(app: ASGI, key: str | None = None) -> EventLogServer:
    settings = make_settings(key) if key else make_settings()
    return build_server(settings, transport=httpx.ASGITransport(app=app), clock=clock)


def lead_lookups(app: SandboxApp) -> list[tuple[str, dict[str, str]]]:
    return [(r.path, dict(r.params)) for r in app.requests if r.path.startswith("/api/v1/lead/")]


def without_lead_names(org: DemoOrg) -> DemoOrg:
    """The org with no lead's name in any event payload: only Close's lead records know them."""

    def strip(payload: Any) -> Any:
        if not isinstance(payload, dict):
            return payload
        return {key: value for key, value in payload.items() if key not in LEAD_NAME_KEYS}

    events = [
        {**event, "data": strip(event.get("data")), "previous_data": strip(event.get("previous_data"))}
        for event in org.events
    ]
    return dataclasses.replace(org, events=events)


def forbidding_leads(app: SandboxApp, refused: list[str]) -> ASGI:
    """The emulator, except that ``GET /lead/{id}/`` is forbidden (a key without that permission)."""

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/v1/lead/"):
            refused.append(scope["path"])
            await send({"type": "http.response.start", "status": 403, "headers": []})
            await send({"type": "http.response.body", "body": b'{"error": "Forbidden"}'})
            return
        await app(scope, receive, send)

    return guarded


async def test_a_first_digest_names_its_busiest_lead_that_no_event_of_the_window_names(demo_org):
    # The day's only events on Carl Weathers Acting School are an email and its thread, created and
    # deleted: none carries the lead's name. A long-running server knew it from earlier calls; a fresh
    # one asks Close, once, for that lead's name alone.
    carl = demo_org.landmarks["lead:Carl Weathers Acting School"]
    app = SandboxApp(demo_org, clock=clock, faults=Faults())
    async with Client(fresh_server(app)) as client:
        first = await client.call_tool("summarize_events", {"since": "2026-11-22", "until": "2026-11-23"})
        again = await client.call_tool("summarize_events", {"since": "2026-11-22", "until": "2026-11-23"})
    assert re.search(f'^Busiest leads: "Carl Weathers[^"]*" {carl} 4', text_of(first), re.MULTILINE)
    assert first.structured_content["top_leads"][0] == {
        "lead_id": carl,
        "name": "Carl Weathers Acting School",
        "count": 4,
    }
    assert lead_lookups(app) == [(f"/api/v1/lead/{carl}/", {"_fields": "id,display_name"})]
    assert text_of(again) == text_of(first), "the name is kept: the second call asks nothing more"


async def test_lead_lookups_are_few_and_a_failure_to_name_is_no_error(demo_org):
    org = without_lead_names(demo_org)
    events, app = (SandboxApp(o, clock=clock, faults=Faults()) for o in (org, demo_org))

    async def split(scope: Any, receive: Any, send: Any) -> None:
        """Events without lead names; Close's lead records as they are."""
        lead = scope["type"] == "http" and scope["path"].startswith("/api/v1/lead/")
        await (app if lead else events)(scope, receive, send)

    async with Client(fresh_server(split)) as client:
        listed = await client.call_tool("list_events", {"object_type": "contact", "limit": 50})
    leads = {e["lead_id"] for e in listed.structured_content["events"] if e.get("lead_id")}
    assert len(leads) > MAX_LEAD_LOOKUPS, "the page shows more unnamed leads than one answer looks up"
    asked = [path for path, _ in lead_lookups(app)]
    assert len(asked) == len(set(asked)) == MAX_LEAD_LOOKUPS
    named = {e["lead_id"] for e in listed.structured_content["events"] if e.get("lead_name")}
    live = {path.split("/")[-2] for path, _ in lead_lookups(app)} - {
        e["object_id"] for e in demo_org.events if e["object_type"] == "lead" and e["action"] == "deleted"
    }
    assert live and live <= named, "the leads Close still has are named; deleted ones keep their ID"

    refused: list[str] = []
    app = SandboxApp(org, clock=clock, faults=Faults())
    async with Client(fresh_server(forbidding_leads(app, refused))) as client:
        first = await client.call_tool("summarize_events", {"since": "2026-11-22", "until": "2026-11-23"})
        second = await client.call_tool("summarize_events", {"since": "2026-11-22", "until": "2026-11-23"})
    carl = demo_org.landmarks["lead:Carl Weathers Acting School"]
    assert not first.is_error and not second.is_error
    assert f"Busiest leads: {carl} 4" in text_of(first)
    assert refused == [f"/api/v1/lead/{carl}/"], "a refused lookup is not tried again at once"


async def test_the_emulator_serves_a_lead_as_its_newest_event_left_it(demo_org):
    app = SandboxApp(demo_org, clock=clock, faults=Faults())
    marks = demo_org.landmarks
    transport = httpx.ASGITransport(app=app)
    auth = (make_settings().credential.secret.reveal(), "")  # type: ignore[union-attr]
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sandbox.test/api/v1", auth=auth
    ) as http:
        sitwell = await http.get(
            f"/lead/{marks['lead:Sitwell Enterprises']}/", params={"_fields": "id,display_name"}
        )
        whole = await http.get(f"/lead/{marks['lead:Sitwell Enterprises']}/")
        deleted = await http.get(f"/lead/{marks['lead:Cornballer Inc']}/")
        merged_away = await http.get(f"/lead/{marks['lead:Bluth Company (duplicate)']}/")
        never_seen = await http.get(f"/lead/{marks['lead:Pop-Pop' + chr(39) + 's Seafood']}/")
    assert sitwell.json() == {"id": marks["lead:Sitwell Enterprises"], "display_name": "Sitwell Enterprises"}
    assert whole.json()["status_label"] and whole.json()["display_name"] == "Sitwell Enterprises"
    assert deleted.status_code == merged_away.status_code == 404
    assert never_seen.json()["display_name"] == "Pop-Pop's Seafood"


@pytest.mark.parametrize("anyio_backend", [VIRTUAL_TIME])
async def test_lead_lookups_take_at_most_their_share_of_the_time_left(anyio_backend, demo_org):
    # Close never answers a lead lookup: the lookup gives up after its share of the call's time left,
    # and the answer goes on with the lead's ID (virtual time: the waits are exact, whatever the load).
    carl = demo_org.landmarks["lead:Carl Weathers Acting School"]
    app = SandboxApp(demo_org, clock=clock, faults=Faults())

    async def hanging(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/v1/lead/"):
            await anyio.sleep_forever()
        await app(scope, receive, send)

    settings = make_settings(request_timeout=60.0)
    async with CloseClient(settings, transport=httpx.ASGITransport(app=hanging)) as close:
        state = AppState(settings=settings, client=close, clock=clock)
        with anyio.fail_after(20):
            started = anyio.current_time()
            await state.learn_names([], leads=[carl])
            took = anyio.current_time() - started
    assert took == pytest.approx(20 * NAME_LOOKUP_SHARE)
    assert state.names.lead(carl) is None
