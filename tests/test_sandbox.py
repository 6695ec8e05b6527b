"""The emulator follows the reference's rules for Close's Event Log API (its own table of them, held to
Close's docs by test_emulator_rules.py; never the product's catalog)."""

from __future__ import annotations

import base64
from datetime import timedelta

import httpx
import pytest

from close_events_sandbox import close_rules as rules
from close_events_sandbox.app import SandboxApp
from close_events_sandbox.close_rules import parse_timestamp
from close_events_sandbox.seed import DEMO_API_KEY, DEMO_MEMBER_API_KEY, DEMO_OAUTH_TOKEN
from tests.conftest import NOW

pytestmark = pytest.mark.anyio


def http(sandbox: SandboxApp, key: str = DEMO_API_KEY) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox.test/api/v1", auth=(key, "")
    )


def dates(page: dict) -> list:
    return [parse_timestamp(e["date_updated"]) for e in page["data"]]


async def test_newest_first_and_limit_capped_at_50(sandbox):
    async with http(sandbox) as api:
        page = (await api.get("/event/", params={"_limit": "500"})).json()
    assert len(page["data"]) == 50
    assert dates(page) == sorted(dates(page), reverse=True)
    assert page["cursor_next"]


async def test_every_supported_combination_works_and_others_are_400(sandbox, demo_org):
    sample = next(e for e in demo_org.events if e["lead_id"] and e["user_id"] and e["object_type"] != "lead")
    values = {name: sample[name] for name in rules.FILTER_NAMES}
    async with http(sandbox) as api:
        for combo in rules.ACCEPTED_COMBINATIONS:
            response = await api.get("/event/", params={name: values[name] for name in combo})
            assert response.status_code == 200, combo
            assert all(all(e[n] == values[n] for n in combo) for e in response.json()["data"])
        for combo in ({"action"}, {"action", "request_id"}, {"object_id"}, {"lead_id", "object_id"}):
            response = await api.get("/event/", params={name: values[name] for name in combo})
            assert response.status_code == 400, combo
            assert "Unsupported combination" in response.json()["errors"][0]


async def test_date_filters(sandbox):
    start, end = NOW - timedelta(days=3), NOW - timedelta(days=1)
    params = {"date_updated__gte": start.isoformat(), "date_updated__lt": end.isoformat()}
    async with http(sandbox) as api:
        page = (await api.get("/event/", params=params)).json()
        assert page["data"] and all(start <= d < end for d in dates(page))
        bad = await api.get("/event/", params={"date_updated__gte": "last tuesday"})
    assert bad.status_code == 400


async def test_cursor_pages_in_both_directions_and_only_with_the_same_filters(sandbox):
    async with http(sandbox) as api:
        first = (await api.get("/event/", params={"object_type": "lead", "_limit": "10"})).json()
        second = (
            await api.get(
                "/event/", params={"object_type": "lead", "_limit": "10", "_cursor": first["cursor_next"]}
            )
        ).json()
        assert not {e["id"] for e in first["data"]} & {e["id"] for e in second["data"]}
        assert max(dates(second)) <= min(dates(first))
        back = (
            await api.get(
                "/event/",
                params={"object_type": "lead", "_limit": "10", "_cursor": second["cursor_previous"]},
            )
        ).json()
        assert [e["id"] for e in back["data"]] == [e["id"] for e in first["data"]]
        other = await api.get("/event/", params={"object_type": "contact", "_cursor": first["cursor_next"]})
        assert other.status_code == 400 and "different filters" in other.json()["errors"][0]
        forged = await api.get(
            "/event/", params={"object_type": "lead", "_cursor": first["cursor_next"][:-2] + "xx"}
        )
        assert forged.status_code == 400


async def test_retention_hides_events_older_than_30_days(sandbox, demo_org):
    old = demo_org.landmarks["old_event"]
    horizon = NOW - timedelta(days=rules.RETENTION_DAYS)
    async with http(sandbox) as api:
        assert (await api.get(f"/event/{old}/")).status_code == 404
        ids = set()
        cursor = None
        while True:
            params = {"_cursor": cursor} if cursor else {}
            page = (await api.get("/event/", params=params)).json()
            ids |= {e["id"] for e in page["data"]}
            assert all(d >= horizon for d in dates(page))
            if not (cursor := page["cursor_next"]):
                break
    visible = {e["id"] for e in demo_org.events if parse_timestamp(e["date_updated"]) >= horizon}
    assert ids == visible and old not in ids


async def test_non_admins_see_values_for_one_hour_only(sandbox, demo_org):
    recent = demo_org.landmarks["recent_event"]
    older = next(
        e
        for e in demo_org.events
        if e["data"] and timedelta(hours=2) < NOW - parse_timestamp(e["date_created"]) < timedelta(days=5)
    )
    async with http(sandbox, DEMO_MEMBER_API_KEY) as member, http(sandbox) as admin:
        assert (await member.get(f"/event/{recent}/")).json()["data"] is not None
        hidden = (await member.get(f"/event/{older['id']}/")).json()
        assert (
            hidden["data"] is None and hidden["previous_data"] is None and hidden["action"] == older["action"]
        )
        assert (await admin.get(f"/event/{older['id']}/")).json()["data"] == older["data"]


async def test_auth(sandbox):
    transport = httpx.ASGITransport(app=sandbox)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test/api/v1") as api:
        assert (await api.get("/event/")).status_code == 401
        assert (await api.get("/event/", auth=("wrong", ""))).status_code == 401
        assert (await api.get("/event/", headers={"Authorization": "Basic !!!"})).status_code == 401
        bearer = await api.get("/me/", headers={"Authorization": f"Bearer {DEMO_OAUTH_TOKEN}"})
        assert bearer.status_code == 200
        basic = base64.b64encode(f"{DEMO_API_KEY}:".encode()).decode()
        me = (await api.get("/me/", headers={"Authorization": f"Basic {basic}"})).json()
    assert me["memberships"][0]["role_id"] == "admin" and me["organizations"][0]["name"]


async def test_unknown_routes_params_and_methods(sandbox):
    async with http(sandbox) as api:
        assert (await api.get("/event/ev_nope/")).status_code == 404
        assert (await api.get("/lead/")).status_code == 404
        assert (await api.get("/event/", params={"_skip": "10"})).status_code == 400
        assert (await api.post("/event/")).status_code == 405


async def test_rate_limit_429_carries_ratelimit_header(sandbox):
    sandbox.faults.rate_limit = 2
    sandbox.faults.rate_window = 60
    async with http(sandbox) as api:
        ok = await api.get("/me/")
        assert ok.headers["ratelimit"].startswith("limit=2, remaining=1")
        await api.get("/me/")
        limited = await api.get("/me/")
    assert limited.status_code == 429
    assert "remaining=0" in limited.headers["ratelimit"]


async def test_consolidation_moves_an_event_and_new_events_appear(sandbox, demo_org):
    event = next(e for e in demo_org.events if e["object_type"] == "activity.note")
    sandbox.store.consolidate(event["id"], NOW - timedelta(seconds=1))
    async with http(sandbox) as api:
        page = (await api.get("/event/", params={"_limit": "1"})).json()
    assert page["data"][0]["id"] == event["id"]


async def test_user_list_pages(sandbox, demo_org):
    async with http(sandbox) as api:
        first = (await api.get("/user/", params={"_limit": "2"})).json()
        rest = (await api.get("/user/", params={"_skip": "2", "_limit": "100"})).json()
    assert first["has_more"] and not rest["has_more"]
    assert [u["id"] for u in first["data"] + rest["data"]] == [u["id"] for u in demo_org.users]
