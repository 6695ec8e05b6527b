"""Names in a fresh server's first answer: leads looked up in Close when no event read names them, and
every name the events of a scan carry serving the whole answer."""

from __future__ import annotations

import re
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from close_events_mcp.close.client import CloseClient
from close_events_mcp.close.directory import MAX_LEAD_LOOKUPS
from close_events_mcp.event import Event
from close_events_mcp.server.app import EventLogServer, build_server
from close_events_mcp.state import NAME_LOOKUP_SHARE, AppState
from close_events_sandbox.app import Faults, SandboxApp
from close_events_sandbox.org import DemoOrg
from tests.conftest import clock, make_settings, text_of
from tests.orgs import ASGI, forbidding, without_payload_keys
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
    return without_payload_keys(org, LEAD_NAME_KEYS)


def forbidding_leads(app: SandboxApp, refused: list[str]) -> ASGI:
    """The emulator, except that ``GET /lead/{id}/`` is forbidden (a key without that permission)."""
    return forbidding(app, lambda path: path.startswith("/api/v1/lead/"), refused)


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


def deletion_lookups(app: SandboxApp) -> list[dict[str, str]]:
    """The event list requests that ask for a lead's ``lead deleted`` event, to name it."""
    return [
        params
        for r in app.requests
        if r.path == "/api/v1/event/"
        and (params := dict(r.params)).get("lead_id")
        and params.get("_limit") == "1"
    ]


def deleted_leads(org: DemoOrg) -> dict[str, str]:
    """Each lead deleted (or merged away) in the org, with its name as its deletion event gives it."""
    return {
        e["object_id"]: e["previous_data"]["display_name"]
        for e in org.events
        if e["object_type"] == "lead" and e["action"] == "deleted"
    }


@pytest.mark.parametrize("query", [{"object_type": "contact"}, {}], ids=["contact", "no filter"])
async def test_a_fresh_servers_first_page_names_every_lead_it_shows_deleted_ones_too(demo_org, query):
    # The contacts of the month: most of their leads were deleted by the bulk delete, and no contact
    # event carries its lead's name. A lead Close still has is named by GET /lead/{id}/, one it no
    # longer has (a 404) by its lead deleted event: each lead once, and nothing more the next time.
    app = SandboxApp(demo_org, clock=clock, faults=Faults())
    arguments = {**query, "since": "30d", "limit": 50}
    async with Client(fresh_server(app)) as client:
        first = await client.call_tool("list_events", arguments)
        asked = lead_lookups(app)
        again = await client.call_tool("list_events", arguments)
    events = first.structured_content["events"]
    shown = {e["lead_id"]: e.get("lead_name") for e in events if e.get("lead_id")}
    assert [lead for lead, name in shown.items() if not name] == [], "every lead on the page is named"
    deleted = deleted_leads(demo_org)
    if query:
        assert len(shown) > 20 and len(set(shown) & set(deleted)) > 10 and set(shown) - set(deleted)
    assert all(name == deleted[lead] for lead, name in shown.items() if lead in deleted)
    paths = [path for path, _ in asked]
    assert len(paths) == len(set(paths)) and {p.split("/")[-2] for p in paths} <= set(shown)
    from_events = [params["lead_id"] for params in deletion_lookups(app)]
    assert sorted(from_events) == sorted(p.split("/")[-2] for p in paths if p.split("/")[-2] in deleted)
    assert all(
        params == {"lead_id": params["lead_id"], "object_type": "lead", "action": "deleted", "_limit": "1"}
        for params in deletion_lookups(app)
    )
    assert lead_lookups(app) == asked and text_of(again) == text_of(first), "names kept: nothing more asked"


async def test_a_first_digest_names_a_busy_lead_merged_away_after_its_window(demo_org):
    # The day's busiest leads include the Bluth Company duplicate, merged away two days later: Close
    # has no lead record for it (404); its lead deleted event, from the merge, still has its name.
    duplicate = demo_org.landmarks["lead:Bluth Company (duplicate)"]
    app = SandboxApp(demo_org, clock=clock, faults=Faults())
    window = {"since": "2026-11-14T12:00:00Z", "until": "2026-11-15T12:00:00Z"}
    async with Client(fresh_server(app)) as client:
        digest = (await client.call_tool("summarize_events", window)).structured_content
    shown = [(t["lead_id"], t.get("name")) for t in digest["top_leads"] + digest.get("deleted_leads", [])]
    shown += [
        (t.get("lead_id"), t.get("lead_name"))
        for key in ("outcomes", "worth_opening")
        for t in digest.get(key, [])
    ]
    shown += [
        (m[end], m.get(f"{end}_name")) for m in digest.get("merges", []) for end in ("source", "destination")
    ]
    assert (duplicate, "Bluth Company (duplicate)") in shown
    assert all(name for lead, name in shown if lead), shown
    assert [params["lead_id"] for params in deletion_lookups(app)] == [duplicate]


async def test_lead_lookups_are_bounded_and_the_leads_shown_most_come_first(demo_org):
    # A poll page shows more leads than one answer asks about: the lead of the most events is asked
    # first, then the others in the order they come; no more than MAX_LEAD_LOOKUPS of them. Leads
    # Close knows nothing of (404, and no lead deleted event) are not asked again for a while: the
    # next answer asks about the rest.
    app = SandboxApp(demo_org, clock=clock, faults=Faults())
    others = [f"lead_Nobody{i:03d}" for i in range(MAX_LEAD_LOOKUPS + 10)]
    leads = [*others, *["lead_BusyButLate"] * 3]
    events = [
        Event.from_close(
            {
                "id": f"ev_Poll{i}",
                "date_updated": "2026-11-23T11:00:00",
                "object_type": "activity.note",
                "object_id": f"acti_Poll{i}",
                "lead_id": lead,
                "action": "created",
            }
        )
        for i, lead in enumerate(leads)
    ]
    settings = make_settings()
    async with CloseClient(settings, transport=httpx.ASGITransport(app=app)) as close:
        state = AppState(settings=settings, client=close, clock=clock)
        await state.learn_names(events)
        asked = [path.split("/")[-2] for path, _ in lead_lookups(app)]
        deletions = [params["lead_id"] for params in deletion_lookups(app)]
        await state.learn_names(events)
        asked_next = [path.split("/")[-2] for path, _ in lead_lookups(app)][len(asked) :]
    assert asked[0] == "lead_BusyButLate", "the lead of most events first"
    assert sorted(asked) == sorted(["lead_BusyButLate", *others[: MAX_LEAD_LOOKUPS - 1]])
    assert sorted(deletions) == sorted(asked), "each 404 is looked for among the deleted leads"
    assert sorted(asked_next) == others[MAX_LEAD_LOOKUPS - 1 :], "the rest next time, none again"
    assert not any(state.names.lead(lead) for lead in leads)


async def test_a_refused_lookup_is_no_error_and_not_tried_again_at_once(demo_org):
    org = without_lead_names(demo_org)
    refused: list[str] = []
    app = SandboxApp(org, clock=clock, faults=Faults())
    async with Client(fresh_server(forbidding_leads(app, refused))) as client:
        first = await client.call_tool("summarize_events", {"since": "2026-11-22", "until": "2026-11-23"})
        second = await client.call_tool("summarize_events", {"since": "2026-11-22", "until": "2026-11-23"})
    carl = demo_org.landmarks["lead:Carl Weathers Acting School"]
    assert not first.is_error and not second.is_error
    assert f"Busiest leads: {carl} 4" in text_of(first)
    assert refused == [f"/api/v1/lead/{carl}/"], "a refused lookup is not tried again at once"
    assert deletion_lookups(app) == [], "a 403 is no 404: no deletion event is asked for"


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
@pytest.mark.parametrize(
    "landmark", ["Carl Weathers Acting School", "Cornballer Inc"], ids=["lead", "deleted"]
)
async def test_lead_lookups_take_at_most_their_share_of_the_time_left(anyio_backend, demo_org, landmark):
    # Close never answers a lead lookup (GET /lead/{id}/ for a lead it has; for a deleted one, the event
    # list asked for its deletion): the lookup gives up after its share of the call's time left, and the
    # answer goes on with the lead's ID (virtual time: the waits are exact, whatever the load).
    lead = demo_org.landmarks[f"lead:{landmark}"]
    app = SandboxApp(demo_org, clock=clock, faults=Faults())

    async def hanging(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and (
            scope["path"].startswith("/api/v1/lead/")
            if lead not in deleted_leads(demo_org)
            else b"lead_id=" in scope["query_string"]
        ):
            await anyio.sleep_forever()
        await app(scope, receive, send)

    settings = make_settings(request_timeout=60.0)
    async with CloseClient(settings, transport=httpx.ASGITransport(app=hanging)) as close:
        state = AppState(settings=settings, client=close, clock=clock)
        with anyio.fail_after(20):
            started = anyio.current_time()
            await state.learn_names([], leads=[lead])
            took = anyio.current_time() - started
    assert took == pytest.approx(20 * NAME_LOOKUP_SHARE)
    assert state.names.lead(lead) is None
