"""The hard size cap: every answer stays under it and says what was cut."""

from __future__ import annotations

import json

import httpx
import pytest
from mcp import Client

from close_events_mcp.render.capping import cap_structured, cap_text
from close_events_mcp.server.app import build_server
from tests.conftest import clock, make_settings

pytestmark = pytest.mark.anyio

CAP = 2_000


def compact(data: object) -> int:
    return len(json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def test_text_under_the_cap_is_untouched():
    text = "line one\nline two"
    assert cap_text(text, 100) == text


def test_text_keeps_its_head_and_its_last_lines_and_says_what_went():
    lines = [f"event {n} " + "x" * 80 for n in range(100)] + ["next_cursor: abc123"]
    capped = cap_text("\n".join(lines), CAP)
    assert len(capped) <= CAP
    assert capped.startswith("event 0 ")
    assert capped.endswith("next_cursor: abc123"), "the way to continue survives the cut"
    assert "more lines cut" in capped and "CLOSE_EVENTS_MAX_OUTPUT_CHARS" in capped
    shown = sum(1 for line in capped.splitlines() if line.startswith("event "))
    assert f"[… {100 - shown} more lines cut" in capped


def test_one_enormous_line_is_cut_too():
    capped = cap_text("y" * 50_000, CAP)
    assert len(capped) <= CAP and "1 more line cut" in capped


def test_structured_content_loses_list_tails_first_then_string_ends():
    data = {
        "events": [{"id": f"ev_{n}", "summary": "z" * 100} for n in range(60)],
        "count": 60,
        "next_cursor": "c" * 30,
    }
    capped = cap_structured(data, CAP)
    assert compact(capped) <= CAP
    assert capped["next_cursor"] == data["next_cursor"] and capped["count"] == 60
    kept = len(capped["events"])
    assert 0 < kept < 60 and capped["events"][0]["id"] == "ev_0"
    assert f"{60 - kept} from events" in capped["cut"]
    assert len(data["events"]) == 60, "the input is not modified"

    one_string = cap_structured({"description": "w" * 10_000}, CAP)
    assert compact(one_string) <= CAP
    assert one_string["description"].endswith("…") and "the end of description" in one_string["cut"]


async def test_every_tool_answer_respects_a_small_cap(sandbox, demo_org):
    settings = make_settings(max_output_chars=CAP)
    server = build_server(settings, transport=httpx.ASGITransport(app=sandbox), clock=clock)
    event_id = next(e["id"] for e in demo_org.events if e["action"] == "merged")
    calls = [
        ("list_events", {"limit": 50}),
        ("get_event", {"event_id": event_id}),
        ("summarize_events", {"since": "30d"}),
        ("poll_events", {"since": "30d", "limit": 200}),
        ("describe_event_types", {}),
    ]
    async with Client(server) as client:
        for name, arguments in calls:
            result = await client.call_tool(name, arguments)
            assert not result.is_error, (name, result.content)
            text = result.content[0].text
            assert len(text) <= CAP, name
            assert compact(result.structured_content) <= CAP, name
        listed = await client.call_tool("list_events", {"limit": 50})
    text = listed.content[0].text
    data = listed.structured_content
    assert "did not fit this server's answer size cap" in text, "events are left out whole, and it says so"
    assert "older events" in text.splitlines()[-1], "the way to continue survives"
    assert data["count"] == len(data["events"]) < 50 and data.get("next_cursor")
    shown_text = [line for line in text.splitlines() if "ev_" in line]
    assert all(e["id"] in text for e in data["events"]) and shown_text, "text and structured show the same"
