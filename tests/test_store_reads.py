"""Reading through the store gives what Close gives: pages and cursors over a window the store
holds, filters the server checks itself (pushed down to the store), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter

import pytest

from close_events_mcp.store.events import EventStore
from close_events_mcp.store.location import store_place
from close_events_sandbox.seed import build_demo_org
from tests.conftest import NOW
from tests.test_store import Setup, ask, event_requests

pytestmark = pytest.mark.anyio

QUERIES = [
    {},
    {"exclude_noisy": True},
    {"object_type": "lead"},
    {"changed_field": "status"},
    {"object_type": "activity.note", "action": "updated"},
]


async def every_page(client, arguments: dict) -> tuple[list[str], list[str]]:
    """The ids of every page of a query, followed by its cursors, and each page's text."""
    ids, texts = [], []
    text, page = await ask(client, "list_events", **arguments)
    while True:
        ids += [e["id"] for e in page["events"]]
        texts.append(text)
        if not page.get("next_cursor"):
            return ids, texts
        text, page = await ask(client, "list_events", cursor=page["next_cursor"])


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: ",".join(q) or "no filter")
async def test_pages_through_the_store_are_closes_pages(store_setting, demo_org, query):
    arguments = {**query, "since": "20d", "limit": 7}
    async with Setup(demo_org, "off").client() as client:
        expected, _ = await every_page(client, arguments)
    assert len(expected) > 7, "the query spans several pages"

    setup = Setup(demo_org, store_setting)
    async with setup.client() as client:
        await ask(client, "summarize_events", since="21d")  # the store now holds the window
        before = event_requests(setup.sandbox)
        got, texts = await every_page(client, arguments)
    assert got == expected, "the same events, in the same order, none twice, none lost"
    assert Counter(got).most_common(1)[0][1] == 1
    assert "From the local store" in texts[0]
    assert event_requests(setup.sandbox) - before <= 3 * len(texts), "Close is asked for the latest hour only"


async def test_a_legacy_object_type_is_answered_as_close_answers_it(store_setting):
    """Close matches ``object_type`` by the very name: an event still typed ``note`` is not among
    ``activity.note``'s, from the store either."""
    org = build_demo_org(NOW)
    recent = [e for e in org.events if "2026-11-17" < e["date_updated"] < "2026-11-23T10"]
    note = next(e for e in recent if e["object_type"] == "activity.note")
    legacy = {**note, "id": "ev_" + "L" * 22, "object_type": "note"}
    setup = Setup(org, store_setting)
    setup.sandbox.store.add(legacy)
    reference = Setup(org, "off")  # the same emulator, asked without a store
    reference.sandbox = setup.sandbox
    arguments = {"object_type": "activity.note", "since": "7d"}
    async with reference.client() as client:
        expected, _ = await every_page(client, arguments)
    async with setup.client() as client:
        await ask(client, "summarize_events", since="7d")
        got, texts = await every_page(client, arguments)
    assert legacy["id"] not in expected
    assert got == expected and "From the local store" in texts[0]


async def test_a_page_loads_from_the_store_about_what_it_shows(store_setting, demo_org, monkeypatch):
    """A synced month must not be decoded to show five events."""
    loaded: list[int] = []
    real = EventStore.events

    def counting(self, *args, **kwargs):
        found = real(self, *args, **kwargs)
        loaded.append(len(found[0] if isinstance(found, tuple) else found))
        return found

    setup = Setup(demo_org, store_setting)
    async with setup.client() as client:
        await ask(client, "summarize_events", since="30d")
        monkeypatch.setattr(EventStore, "events", counting)
        _, page = await ask(client, "list_events", limit=5)
    assert page["count"] == 5
    assert sum(loaded) <= 4 * 5 + 10, f"loaded {loaded} stored events for a page of 5"


async def test_a_busy_scan_through_the_store_counts_every_event_once(tmp_path):
    """A slice whose last page was being kept in the store could be split again by an idle worker,
    and the new slice read its events a second time (seen with this organization and window)."""
    org = build_demo_org(NOW, filler_events=3000, filler_days=7)
    arguments = {"since": "2026-11-18T09:16:56.769157Z", "until": "2026-11-19T20:47:33.095881Z"}
    async with Setup(org, "off").client() as client:
        _, expected = await ask(client, "summarize_events", **arguments)
    for attempt in range(3):
        async with Setup(org, str(tmp_path / f"store-{attempt}")).client() as client:
            _, got = await ask(client, "summarize_events", **arguments)
        assert got["total"] == expected["total"] and got["by_type"] == expected["by_type"]


def test_a_chunk_ends_on_a_whole_microsecond(store_setting):
    """Loading the newest few stops at a microsecond boundary: every event of the oldest microsecond
    it reaches comes with it, so the next chunk starts below it and none is lost or repeated."""
    place = store_place(store_setting)
    assert place is not None
    database = place.open("orga_chunks")
    try:
        store = EventStore.open(database, "orga_chunks", created_at=0)
        moments = [f"2026-11-20T10:00:0{second}.000001" for second in (5, 4, 3, 3, 3, 3, 3, 2, 1)]
        raws = [
            {"id": f"ev_{index:022d}", "date_created": moment, "date_updated": moment, "object_type": "lead",
             "action": "updated", "lead_id": "lead_x", "object_id": "lead_x"}
            for index, moment in enumerate(moments)
        ]  # fmt: skip
        store.put(raws)
        span = (0, 2**62)
        ordered = sorted(raws, key=lambda raw: (raw["date_updated"], raw["id"]), reverse=True)
        newest_first = [raw["id"] for raw in ordered]
        first, reached = store.events({}, span, limit=3)
        assert [raw["id"] for raw in first] == newest_first[:7]
        assert reached is not None
        rest, end = store.events({}, (0, reached), limit=3)
        assert [raw["id"] for raw in rest] == newest_first[7:] and end is None
    finally:
        database.close()
