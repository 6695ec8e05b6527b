"""The digest's window when only one end is given."""

from __future__ import annotations

import pytest

from tests.conftest import text_of

pytestmark = pytest.mark.anyio


async def test_until_alone_is_the_day_before_it(client):
    result = await client.call_tool("summarize_events", {"until": "2026-11-22T12:00:00Z"})
    assert not result.is_error, text_of(result)
    assert result.structured_content["since"] == "2026-11-21T12:00:00Z"
    assert result.structured_content["until"] == "2026-11-22T12:00:00Z"
    assert text_of(result).startswith("Digest 2026-11-21T12:00:00Z → 2026-11-22T12:00:00Z")


async def test_since_alone_runs_to_now_and_neither_is_the_last_day(client):
    alone = await client.call_tool("summarize_events", {"since": "2026-11-20"})
    default = await client.call_tool("summarize_events", {})
    assert alone.structured_content["since"] == "2026-11-20T00:00:00Z"
    assert alone.structured_content["until"] == default.structured_content["until"] == "2026-11-23T12:00:00Z"
    assert default.structured_content["since"] == "2026-11-22T12:00:00Z"
