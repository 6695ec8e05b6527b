"""summarize_events: the digest's numbers are right, notable events are listed, budgets are honest."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import anyio
import httpx
import pytest
from mcp import Client

from close_events_mcp.event import parse_timestamp
from close_events_mcp.server.app import build_server
from close_events_sandbox.app import SandboxApp
from close_events_sandbox.seed import build_demo_org
from tests.conftest import NOW, clock, make_settings, text_of
from tests.contract import assert_clean_structured, assert_clean_text

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def busy_org():
    return build_demo_org(NOW, filler_events=6000, filler_days=6)


def in_window(org, days: float) -> list[dict]:
    start = NOW - timedelta(days=days)
    return [e for e in org.events if start <= parse_timestamp(e["date_updated"]) < NOW]


def server_for(sandbox: SandboxApp, **settings):
    return build_server(make_settings(**settings), transport=httpx.ASGITransport(app=sandbox), clock=clock)


async def test_counts_match_the_events_in_the_window(busy_org):
    sandbox = SandboxApp(busy_org, clock=clock)
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with Client(server_for(sandbox)) as client:
        result = await client.call_tool("summarize_events", {"since": "7d"}, progress_callback=on_progress)
    digest = result.structured_content
    expected = in_window(busy_org, 7)
    assert digest["complete"] and digest["total"] == len(expected)
    by_type = Counter((e["object_type"], e["action"]) for e in expected)
    assert {(k, a): n for k, actions in digest["by_type"].items() for a, n in actions.items()} == dict(
        by_type
    )
    by_user = Counter(e["user_id"] for e in expected if e["user_id"])
    assert {a["actor"]: a["count"] for a in digest["by_actor"] if a["actor"].startswith("user_")} == dict(
        by_user
    )
    busiest = Counter(e["lead_id"] for e in expected if e["lead_id"]).most_common(1)[0]
    assert (digest["top_leads"][0]["lead_id"], digest["top_leads"][0]["count"]) == busiest
    assert progress == sorted(progress) and len(progress) == digest["pages"] > 10
    assert_clean_text(text_of(result))
    assert_clean_structured(digest)


async def test_the_default_day_reads_like_a_briefing(client, demo_org):
    result = await client.call_tool("summarize_events", {})
    text = text_of(result)
    assert text.startswith("Digest 2026-11-22T12:00:00Z → 2026-11-23T12:00:00Z, times UTC:")
    for line_start in ("What: ", 'Who: "Gob Bluth"', "Busiest leads: "):
        assert f"\n{line_start}" in text
    by_actor = result.structured_content["by_actor"]
    assert by_actor[0]["name"] == "Gob Bluth", "structured content carries the name plain"
    assert "\n  Lead status: " in text


async def test_notable_events_of_the_month(client, demo_org):
    result = await client.call_tool("summarize_events", {"since": "30d", "exclude_noisy": True})
    digest = result.structured_content
    groups = {g["kind"]: g for g in digest["notable"]}
    assert {"Leads deleted", "Merges", "Opportunities won or lost", "Lead status changes",
            "Custom field changes", "Bulk actions and imports"} <= set(groups)  # fmt: skip
    hows = {d["how"] for d in digest["deleted_leads"]}
    assert "by bulk action" in hows or "by import revert" in hows
    assert digest["merges"][0]["source_name"] == "Bluth Company (duplicate)"
    text = text_of(result)
    assert "\n  Deleted: " in text and "\n  Merges: 1\n" in text


async def test_one_leads_story(client, demo_org):
    lead = demo_org.landmarks["lead:Sitwell Enterprises"]
    result = await client.call_tool("summarize_events", {"lead_id": lead, "since": "30d"})
    digest = result.structured_content
    assert digest["top_leads"][0] == {
        "lead_id": lead,
        "name": "Sitwell Enterprises",
        "count": digest["total"],
    }


async def test_a_budget_cut_is_stated_with_the_window_to_continue(busy_org):
    sandbox = SandboxApp(busy_org, clock=clock)
    async with Client(server_for(sandbox, scan_max_events=1000)) as client:
        result = await client.call_tool("summarize_events", {"since": "7d"})
        digest = result.structured_content
        assert not digest["complete"] and 1000 <= digest["scanned"] < 1400
        totals, calls = [digest["total"]], 1
        while not digest["complete"]:
            note = next(n for n in digest["notes"] if n.startswith("The scan budget ("))
            until = note.split(" until=")[1].split(" ")[0]
            result = await client.call_tool("summarize_events", {"since": "7d", "until": until})
            digest = result.structured_content
            totals.append(digest["total"])
            calls += 1
    # The parts add up to the whole week: nothing lost, nothing counted twice.
    assert sum(totals) == len(in_window(busy_org, 7)) and calls >= 5


async def test_cancelling_a_call_stops_its_requests(busy_org):
    sandbox = SandboxApp(busy_org, clock=clock)
    sandbox.faults.latency = 0.05
    async with Client(server_for(sandbox, scan_concurrency=4, call_timeout=60)) as client:
        with anyio.move_on_after(0.6):
            await client.call_tool("summarize_events", {"since": "7d"})
        sent = len(sandbox.requests)
        await anyio.sleep(0.5)
        assert len(sandbox.requests) <= sent + 4  # only requests already in flight may still land
        assert 4 < sent < 200
