"""The local event store, on SQLite and on a real PostgreSQL: what a call reads is kept, a question
asked again reads only what is missing, history outlives Close's 30 days, a key sees from the store
no more than Close would show it, and a store that cannot be used never stops an answer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from mcp import Client

from close_events_mcp.server.app import build_server
from close_events_sandbox.app import SandboxApp
from close_events_sandbox.seed import DEMO_MEMBER_API_KEY, build_demo_org
from tests.conftest import NOW, make_settings, text_of

pytestmark = pytest.mark.anyio


@dataclass
class Clock:
    """One "now" for the emulator and the server, moved by the test."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def busy_org():
    """A week of 1,500 events besides the demo's month."""
    return build_demo_org(NOW, filler_events=1500, filler_days=7)


def event_requests(sandbox: SandboxApp) -> int:
    return sum(1 for r in sandbox.requests if r.path.endswith("/event/"))


class Setup:
    def __init__(self, org, store: str, key: str | None = None, **overrides: object) -> None:
        self.clock = Clock()
        self.sandbox = SandboxApp(org, clock=self.clock)
        self.store = store
        self.key = key
        self.overrides = overrides

    def client(self, key: str | None = None) -> Client:
        settings = make_settings(**({"key": key or self.key} if key or self.key else {}), store=self.store)
        settings = settings.with_overrides(**self.overrides)
        server = build_server(settings, transport=httpx.ASGITransport(app=self.sandbox), clock=self.clock)
        return Client(server)


async def ask(client: Client, tool: str, **arguments: object) -> tuple[str, dict]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    return text_of(result), result.structured_content or {}


async def test_a_budgeted_digest_finishes_when_asked_again_reading_only_what_is_missing(
    busy_org, store_setting
):
    async with Setup(busy_org, "off").client() as client:
        _, without = await ask(client, "summarize_events", since="7d")
    assert without["complete"], "the reference digest, read whole without a store"
    total = without["total"]

    setup = Setup(busy_org, store_setting)
    asks = []
    async with setup.client() as client:
        while True:
            before = event_requests(setup.sandbox)
            text, digest = await ask(client, "summarize_events", since="7d", max_events=500)
            asks.append((event_requests(setup.sandbox) - before, digest))
            if digest["complete"]:
                break
            assert len(asks) < 10, "every ask reads more of the window"
    assert len(asks) > 2, "the budget did cut the first asks"
    assert asks[-1][1]["total"] == total, "the finished digest counts every event of the week"
    assert asks[-1][1]["by_type"] == without["by_type"]
    assert "From the local store" in text
    served = sum(digest["scanned"] for _, digest in asks)
    latest_hour = sum(1 for e in busy_org.events if e["date_updated"] >= _iso(NOW - timedelta(hours=1))[:-1])
    assert served <= 1.15 * total + len(asks) * latest_hour, "nothing is read twice but the latest hour"


async def test_an_answer_asked_again_comes_from_the_store_but_for_the_latest_hour(busy_org, store_setting):
    setup = Setup(busy_org, store_setting)
    async with setup.client() as client:
        first, digest = await ask(client, "summarize_events", since="7d")
        read_first = event_requests(setup.sandbox)
        second, again = await ask(client, "summarize_events", since="7d")
    read_again = event_requests(setup.sandbox) - read_first
    assert again["total"] == digest["total"] and again["by_type"] == digest["by_type"]
    assert read_again <= 20, f"the second ask re-reads only the latest hour (made {read_again} requests)"
    assert "From the local store" not in first and "From the local store" in second


async def test_history_older_than_close_keeps_is_answered_from_the_store(store_setting, demo_org):
    setup = Setup(demo_org, store_setting)
    async with setup.client() as client:
        await ask(client, "summarize_events", since="30d")
        _, listed = await ask(client, "list_events", object_type="lead", action="deleted")
    old_since, old_until = NOW - timedelta(days=29), NOW - timedelta(hours=2)

    async with setup.client() as client:
        _, before = await ask(client, "summarize_events", since=_iso(old_since), until=_iso(old_until))
    setup.clock.now = NOW + timedelta(days=40)  # the emulator's retention drops all of it
    async with setup.client() as client:
        text, after = await ask(client, "summarize_events", since=_iso(old_since), until=_iso(old_until))
        assert after["total"] == before["total"] > 0
        assert after["by_type"] == before["by_type"]
        assert "From the local store" in text
        _, later = await ask(
            client, "list_events", object_type="lead", action="deleted", since=_iso(old_since)
        )
        assert [e["id"] for e in later["events"]] == [e["id"] for e in listed["events"]]
        _, until_only = await ask(
            client, "list_events", object_type="lead", action="deleted", until=_iso(NOW)
        )
        assert [e["id"] for e in until_only["events"]] == [e["id"] for e in listed["events"]]
        detail, _ = await ask(client, "get_event", event_id=listed["events"][0]["id"])
        assert listed["events"][0]["id"] in detail

        text, partly = await ask(
            client, "summarize_events", since=_iso(NOW - timedelta(days=45)), until=_iso(old_until)
        )
        assert partly["total"] >= before["total"]
        missing = re.search(r"Missing: (\S+) → (\S+)", text)
        assert missing, text
        assert missing.group(1) == _iso(NOW - timedelta(days=45))
        assert missing.group(2) == _iso(NOW - timedelta(days=30)), "the store holds the month read at NOW"


async def test_a_key_that_is_not_an_admins_never_gets_old_values_from_the_store(store_setting, demo_org):
    setup = Setup(demo_org, store_setting)
    async with setup.client() as client:  # an admin's key fills the store, values and all
        await ask(client, "summarize_events", since="3d")
        _, admin = await ask(client, "list_events", since="3d", exclude_noisy=True)
    assert any(c.get("after") for e in admin["events"] for c in e.get("changes", [])), "the admin sees values"
    async with setup.client(key=DEMO_MEMBER_API_KEY) as client:
        before = event_requests(setup.sandbox)
        text, member = await ask(client, "list_events", since="3d", exclude_noisy=True)
        assert "From the local store" in text and event_requests(setup.sandbox) - before < 5
        old = [e for e in member["events"] if e["at"] < _iso(NOW - timedelta(hours=1)) and e.get("changes")]
        assert old
        assert all(e.get("data_withheld") for e in old), "what Close withholds, the store withholds"
        assert not any(c.get("before") or c.get("after") for e in old for c in e.get("changes", []))
        event_id = old[0]["id"]
        setup.clock.now = NOW + timedelta(days=40)
        _, detail = await ask(client, "get_event", event_id=event_id)
    assert detail.get("data_withheld") and not any(c.get("after") for c in detail.get("changes", []))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_a_damaged_sqlite_store_is_said_once_and_close_answers(tmp_path, demo_org):
    path = tmp_path / "broken.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    setup = Setup(demo_org, str(path))
    async with setup.client() as client:
        first, digest = await ask(client, "summarize_events", since="7d")
        second, again = await ask(client, "summarize_events", since="7d")
    assert "could not be used" in first and "damaged" in first
    assert "could not be used" not in second
    assert digest["total"] == again["total"] > 0


async def test_postgres_that_is_down_is_said_once_and_close_answers(demo_org):
    setup = Setup(demo_org, "postgresql://nobody@127.0.0.1:9/none")
    async with setup.client() as client:
        first, digest = await ask(client, "list_events", limit=5)
    assert "could not be used" in first and "cannot be reached" in first
    assert digest["count"] == 5


async def test_a_sqlite_file_of_another_organization_refuses(tmp_path, demo_org):
    other = build_demo_org(NOW, seed=7)
    path = str(tmp_path / "one-org.sqlite3")
    async with Setup(demo_org, path).client() as client:
        await ask(client, "list_events", limit=5)
    if other.organization["id"] == demo_org.organization["id"]:
        pytest.skip("the seed does not change the organization's ID")
    async with Setup(other, path).client() as client:
        text, _ = await ask(client, "list_events", limit=5)
    assert "another Close organization" in text


async def test_an_event_consolidated_after_it_was_stored_is_counted_once(store_setting, demo_org):
    """Close moves a recent event's date_updated when it merges later changes into it: the store's
    copy at the old date must not be counted beside Close's at the new one."""
    org = build_demo_org(NOW)
    setup = Setup(org, store_setting)
    async with setup.client() as client:
        _, before = await ask(client, "summarize_events", since="2d")
        two_hours_ago = _iso(NOW - timedelta(hours=2))[:-1]
        stored = next(e for e in org.events if "2026-11-22" < e["date_updated"][:19] < two_hours_ago)
        setup.clock.now = NOW + timedelta(minutes=10)
        setup.sandbox.store.consolidate(stored["id"], NOW + timedelta(minutes=5))
        text, after = await ask(client, "summarize_events", since=_iso(NOW - timedelta(days=2)))
    reference = Setup(org, "off")  # the same emulator, asked without a store
    reference.sandbox = setup.sandbox
    reference.clock = setup.clock
    async with reference.client() as client:
        _, close_alone = await ask(client, "summarize_events", since=_iso(NOW - timedelta(days=2)))
    assert "From the local store" in text
    assert after["total"] == close_alone["total"], "the moved event counts once, at its new date"
    assert after["by_type"] == close_alone["by_type"]
    assert before["total"] == after["total"]


async def test_a_list_asked_again_comes_from_the_store_for_what_it_holds(store_setting, demo_org):
    setup = Setup(demo_org, store_setting)
    async with setup.client() as client:
        _, first = await ask(client, "list_events", object_type="lead", since="7d")
        await ask(client, "summarize_events", since="7d")  # holds the week
        before = event_requests(setup.sandbox)
        text, again = await ask(client, "list_events", object_type="lead", since="7d")
    assert [e["id"] for e in again["events"]] == [e["id"] for e in first["events"]]
    assert "From the local store" in text
    assert event_requests(setup.sandbox) - before <= 2, "only the latest hour is read from Close"


async def test_what_a_non_admin_key_read_never_answers_an_admins(store_setting, demo_org):
    """A key that is not an admin's reads old events without values: an admin's key sharing the store
    must still get them, from Close."""
    setup = Setup(demo_org, store_setting)
    async with setup.client(key=DEMO_MEMBER_API_KEY) as client:
        await ask(client, "summarize_events", since="3d")
    async with setup.client() as client:
        text, admin = await ask(client, "list_events", since="3d", exclude_noisy=True)
    old = [e for e in admin["events"] if e["at"] < _iso(NOW - timedelta(hours=1)) and e.get("changes")]
    assert old and not any(e.get("data_withheld") for e in old)
    assert any(c.get("after") for e in old for c in e.get("changes", []))
    assert "From the local store" not in text
