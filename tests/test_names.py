"""Names instead of IDs: Close's user directory (paged, cached with a TTL) and its fallbacks."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from mcp import Client

from close_events_mcp.close.client import CloseClient
from close_events_mcp.close.directory import Directory
from close_events_mcp.server.app import build_server
from close_events_sandbox.app import Faults, SandboxApp
from close_events_sandbox.org import DemoOrg
from close_events_sandbox.seed import DEMO_MEMBER_API_KEY
from tests.conftest import clock, make_settings, text_of
from tests.orgs import ASGI, forbidding, without_payload_keys

pytestmark = pytest.mark.anyio


NAME_KEYS = ("user_name", "user_full_name", "created_by_name", "updated_by_name", "assigned_to_name")


def nameless(org: DemoOrg) -> DemoOrg:
    """The org with every user name taken out of the event payloads: only Close's directory knows them."""
    return without_payload_keys(org, NAME_KEYS)


def forbidding_users(app: SandboxApp, refused: list[str] | None = None) -> ASGI:
    """The emulator, except that ``GET /user/`` is forbidden; each refused request is noted in ``refused``."""
    return forbidding(app, lambda path: path.endswith("/user/"), refused)


def user_lookups(app: SandboxApp) -> list[str]:
    return [r.path for r in app.requests if r.path.endswith("/user/")]


async def test_the_directory_names_actors_once_per_ttl(demo_org):
    org = nameless(demo_org)
    app = SandboxApp(org, clock=clock, faults=Faults())
    gob = org.users[0]
    server = build_server(make_settings(), transport=httpx.ASGITransport(app=app), clock=clock)
    async with Client(server) as client:
        first = await client.call_tool("list_events", {"user_id": gob["id"], "limit": 5})
        second = await client.call_tool("list_events", {"user_id": gob["id"], "limit": 5, "since": "7d"})
    text = first.content[0].text
    assert 'by "Gob Bluth"' in text
    assert first.structured_content["users"][gob["id"]] == "Gob Bluth"
    assert not second.is_error
    assert len(user_lookups(app)) == 1, "the user list is cached between calls"


async def test_a_forbidden_lookup_falls_back_to_the_id(demo_org):
    app = SandboxApp(nameless(demo_org), clock=clock, faults=Faults())
    gob = demo_org.users[0]
    server = build_server(
        make_settings(), transport=httpx.ASGITransport(app=forbidding_users(app)), clock=clock
    )
    async with Client(server) as client:
        result = await client.call_tool("list_events", {"user_id": gob["id"], "limit": 5})
        again = await client.call_tool("list_events", {"user_id": gob["id"], "limit": 3})
    assert not result.is_error and not again.is_error
    text = result.content[0].text
    assert "Gob Bluth" not in text
    assert f"by {gob['id']}" in text


async def test_users_are_read_page_by_page_and_a_failure_is_retried_after_a_minute(demo_org):
    many = [
        {"id": f"user_{n:040d}", "first_name": "User", "last_name": str(n), "email": f"u{n}@example.com"}
        for n in range(230)
    ]
    app = SandboxApp(dataclasses.replace(demo_org, users=many), clock=clock, faults=Faults())
    now = [0.0]
    directory = Directory(ttl=600.0, clock=lambda: now[0])
    async with CloseClient(make_settings(), transport=httpx.ASGITransport(app=app)) as close:
        await directory.load_users(close)
        assert directory.user("user_" + "229".zfill(40)) == "User 229"
        skips = [dict(r.params).get("_skip") for r in app.requests if r.path.endswith("/user/")]
        assert skips == ["0", "100", "200"]

        now[0] = 599.0
        await directory.load_users(close)
        assert len(user_lookups(app)) == 3, "fresh within the TTL: no new request"
        now[0] = 601.0
        await directory.load_users(close)
        assert len(user_lookups(app)) == 6, "stale after the TTL: read again"

    forbidden = Directory(ttl=600.0, clock=lambda: now[0])
    refused: list[str] = []
    guarded = forbidding_users(app, refused)
    async with CloseClient(make_settings(), transport=httpx.ASGITransport(app=guarded)) as close:
        await forbidden.load_users(close)
        assert forbidden.user(many[0]["id"]) is None
        now[0] += 30.0
        await forbidden.load_users(close)
        assert len(refused) == 1, "a refused lookup is not repeated on every call"
        now[0] += 31.0
        await forbidden.load_users(close)
        assert len(refused) == 2, "but it is tried again after a minute, not after the whole TTL"


async def test_lead_names_from_payloads_sit_beside_the_id(client, demo_org):
    lead_id = demo_org.landmarks["lead:Sitwell Enterprises"]
    result = await client.call_tool("list_events", {"lead_id": lead_id, "limit": 10})
    text = result.content[0].text
    assert f'{lead_id} "Sitwell Enterprises"' in text


async def test_a_listed_page_learns_names_from_every_event_its_scan_read(demo_org):
    # action=deleted alone is checked here: the scan reads the whole month to find the deletions. The
    # lead created and updated earlier in the month names Carl Weathers Acting School, whose deleted
    # email says nothing of it: its name comes from the scan, with no lookup.
    carl = demo_org.landmarks["lead:Carl Weathers Acting School"]
    app = SandboxApp(demo_org, clock=clock, faults=Faults())
    server = build_server(make_settings(), transport=httpx.ASGITransport(app=app), clock=clock)
    async with Client(server) as client:
        listed = await client.call_tool("list_events", {"action": "deleted", "since": "30d"})
    assert f'{carl} "Carl Weathers' in text_of(listed)
    on_carl = [e for e in listed.structured_content["events"] if e.get("lead_id") == carl]
    assert on_carl and {e.get("lead_name") for e in on_carl} == {"Carl Weathers Acting School"}
    assert not [r for r in app.requests if r.path.startswith("/api/v1/lead/")], "no lookup needed"


async def test_actors_named_in_a_digest_are_named_in_a_list_of_the_same_events(demo_org):
    # A non-admin key sees no payload older than an hour, and here may not read Close's user list: the
    # only names are those of the last hour's events. The digest learns them from every event it
    # reads; so must the list, which reads the same events to find the deletions.
    named_in_digest: dict[str, str] = {}
    for tool, arguments in (
        ("summarize_events", {"since": "30d"}),
        ("list_events", {"action": "deleted", "since": "30d"}),
    ):
        app = SandboxApp(demo_org, clock=clock, faults=Faults())
        member = make_settings(DEMO_MEMBER_API_KEY)
        server = build_server(member, transport=httpx.ASGITransport(app=forbidding_users(app)), clock=clock)
        async with Client(server) as client:
            result = await client.call_tool(tool, arguments)
        assert not result.is_error, text_of(result)
        if tool == "summarize_events":
            actors = result.structured_content["by_actor"]
            named_in_digest = {a["actor"]: a["name"] for a in actors if a.get("name")}
            continue
        actors_listed = {e["user_id"] for e in result.structured_content["events"] if e.get("user_id")}
        assert named_in_digest and actors_listed & set(named_in_digest)
        for user_id in actors_listed & set(named_in_digest):
            assert result.structured_content.get("users", {}).get(user_id) == named_in_digest[user_id]
            assert f'by "{named_in_digest[user_id]}"' in text_of(result)
