"""The demo organization's clock is fixed per UTC day: runs the same day agree, nothing is in the
future, and a poll or a cursor carried from one run to the next goes on where it left off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from mcp import Client

from close_events_mcp.event import parse_timestamp
from close_events_mcp.server.app import build_server
from close_events_sandbox.app import SandboxApp
from close_events_sandbox.seed import DEMO_API_KEY
from close_events_sandbox.serve import demo_app, demo_day
from tests.conftest import make_settings, text_of

pytestmark = pytest.mark.anyio
AFTERNOON = datetime(2026, 11, 26, 15, 34, 12, 345678, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def page(app: SandboxApp, **params: str) -> dict:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test/api/v1", auth=(DEMO_API_KEY, "")
    ) as api:
        answer = await api.get("/event/", params={"_limit": "50", **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def connected(app: SandboxApp, clock: Clock) -> Client:
    return Client(build_server(make_settings(), transport=httpx.ASGITransport(app=app), clock=clock))


def test_the_demo_day_is_noon_utc_of_the_clocks_day():
    assert demo_day(AFTERNOON) == datetime(2026, 11, 26, 12, tzinfo=UTC)
    assert demo_day(datetime(2026, 11, 26, 0, 0, tzinfo=UTC)) == datetime(2026, 11, 26, 12, tzinfo=UTC)
    late_in_los_angeles = datetime(2026, 11, 26, 23, 30, tzinfo=UTC).astimezone()
    assert demo_day(late_in_los_angeles) == datetime(2026, 11, 26, 12, tzinfo=UTC)


async def test_two_runs_a_minute_apart_serve_the_same_events():
    """Each run used to build the organization at its own start: the same event moved by minutes."""
    first = demo_app(clock=Clock(AFTERNOON))
    second = demo_app(clock=Clock(AFTERNOON + timedelta(minutes=1, seconds=7)))
    assert first.org.events == second.org.events
    assert (await page(first))["data"] == (await page(second))["data"]
    latest = parse_timestamp((await page(first))["data"][0]["date_updated"])
    assert latest is not None and datetime(2026, 11, 26, 11, tzinfo=UTC) < latest < demo_day(AFTERNOON)


async def test_before_noon_the_day_unfolds_and_nothing_is_in_the_future():
    clock = Clock(datetime(2026, 11, 26, 11, 30, tzinfo=UTC))
    app = demo_app(clock=clock)
    later = [e for e in app.org.events if parse_timestamp(e["date_updated"]) > clock.now]
    assert later, "the story's last half hour is still to come"
    served = await page(app)
    assert all(parse_timestamp(e["date_updated"]) <= clock.now for e in served["data"])
    assert {e["id"] for e in served["data"]}.isdisjoint(e["id"] for e in later)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test/api/v1", auth=(DEMO_API_KEY, "")
    ) as api:
        assert (await api.get(f"/event/{later[0]['id']}/")).status_code == 404
        clock.now = datetime(2026, 11, 26, 12, 0, 1, tzinfo=UTC)
        arrived = await api.get(f"/event/{later[0]['id']}/")
    assert arrived.status_code == 200 and arrived.json() == later[0]


async def test_a_poll_checkpoint_from_one_run_finds_nothing_re_dated_in_the_next():
    """Polls across runs re-delivered events as "consolidated": every date had moved."""
    first_clock = Clock(AFTERNOON)
    async with connected(demo_app(clock=first_clock), first_clock) as client:
        first = await client.call_tool("poll_events", {"since": "24h", "limit": 500})
    assert not first.is_error and first.structured_content["count"] > 20, text_of(first)
    checkpoint = first.structured_content["checkpoint"]
    second_clock = Clock(AFTERNOON + timedelta(minutes=3))
    async with connected(demo_app(clock=second_clock), second_clock) as client:
        again = await client.call_tool("poll_events", {"checkpoint": checkpoint})
    assert not again.is_error, text_of(again)
    assert again.structured_content["count"] == 0, text_of(again)
    assert "consolidated" not in text_of(again)


async def test_a_poll_in_the_morning_gets_the_rest_of_the_day_once_it_happens():
    morning = Clock(datetime(2026, 11, 26, 11, 0, tzinfo=UTC))
    async with connected(demo_app(clock=morning), morning) as client:
        first = await client.call_tool("poll_events", {"since": "today", "limit": 500})
    seen = {e["id"] for e in first.structured_content["events"]}
    noon = Clock(datetime(2026, 11, 26, 12, 30, tzinfo=UTC))
    async with connected(demo_app(clock=noon), noon) as client:
        rest = await client.call_tool("poll_events", {"checkpoint": first.structured_content["checkpoint"]})
    arrived = [e for e in rest.structured_content["events"]]
    assert arrived and not any(e.get("consolidated") for e in arrived), text_of(rest)
    assert seen.isdisjoint(e["id"] for e in arrived)


async def test_a_cursor_from_one_run_continues_in_the_next_the_same_day():
    first_clock, second_clock = Clock(AFTERNOON), Clock(AFTERNOON + timedelta(minutes=2))
    async with connected(demo_app(clock=first_clock), first_clock) as client:
        first = await client.call_tool("list_events", {"object_type": "lead", "limit": 3})
        whole = await client.call_tool("list_events", {"object_type": "lead", "limit": 6})
    async with connected(demo_app(clock=second_clock), second_clock) as client:
        more = await client.call_tool("list_events", {"cursor": first.structured_content["next_cursor"]})
    assert not more.is_error, text_of(more)
    ids = [e["id"] for e in first.structured_content["events"] + more.structured_content["events"][:3]]
    assert ids == [e["id"] for e in whole.structured_content["events"]]
