"""since/until in the words agents are asked in: today, yesterday, this week, last week (UTC)."""

from __future__ import annotations

import pytest

from tests.conftest import text_of

pytestmark = pytest.mark.anyio


async def test_list_events_yesterday_reads_the_whole_utc_day_and_says_so(client):
    result = await client.call_tool("list_events", {"since": "yesterday", "until": "today", "limit": 50})
    text = text_of(result)
    assert not result.is_error, text
    header = text.splitlines()[0]
    assert (
        "since 2026-11-22T00:00:00Z (yesterday 00:00 UTC), until 2026-11-23T00:00:00Z (today 00:00 UTC)"
        in header
    ), header
    days = {line for line in text.splitlines() if line[:4] == "2026"}
    assert days == {"2026-11-22"}, days


async def test_an_empty_answer_still_says_the_window_is_utc(client):
    result = await client.call_tool(
        "list_events", {"object_type": "lead", "action": "deleted", "since": "today"}
    )
    header = text_of(result).splitlines()[0]
    assert header.startswith("0 events"), header
    assert "since 2026-11-23T00:00:00Z (today 00:00 UTC)" in header


async def test_summaries_and_polls_take_the_words_too(client):
    digest = await client.call_tool("summarize_events", {"since": "today"})
    assert not digest.is_error and "2026-11-23T00:00:00Z →" in text_of(digest)
    polled = await client.call_tool("poll_events", {"since": "this week"})
    assert not polled.is_error and "2026-11-23T00:00:00Z →" in text_of(polled)
