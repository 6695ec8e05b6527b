"""The list text costs at most 0.09 of Close's raw JSON, on two differently shaped organizations,
and still carries every fact of every event (tests/recall.py, from the raw events).

The demo organization is the one the renderer was written against; ``bench/pipeline_corpus.py`` is
written from Close's docs apart from it, in other proportions (mostly calls, long HTML emails,
opportunities and custom-field edits, few notes). ``bench/tokens.py`` measures the same over every
page, with ``get_event`` too; here the list alone, every page, with the same counting (a couple of
seconds).
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from bench.tokens import Org, Recorder, demo_org, pipeline_org, raw_entries
from close_events_mcp.server.app import build_server
from tests.conftest import clock, make_settings
from tests.recall import event_facts, recall, text_context
from tests.token_count import tokens

BUDGET = 0.09
pytestmark = pytest.mark.anyio


async def every_page(org: Org) -> tuple[list[str], list[tuple[dict[str, Any], str]]]:
    """The text of every list_events page (50 events each, no filters), and the raw events Close sent
    for them (each with its exact JSON in Close's page)."""
    recorder = Recorder(org.transport())
    server = build_server(make_settings(), transport=recorder, clock=clock)
    texts: list[str] = []
    arguments: dict[str, Any] = {"limit": 50}
    async with Client(server) as client:
        while True:
            result = await client.call_tool("list_events", arguments)
            assert not result.is_error
            texts.append("\n".join(block.text for block in result.content if block.type == "text"))
            cursor = (result.structured_content or {}).get("next_cursor")
            if not cursor:
                break
            arguments = {"cursor": cursor}
    shown = {event_id for text in texts for event_id in _event_ids(text)}
    raw = [
        (entry, text) for body in recorder.pages for entry, text in raw_entries(body) if entry["id"] in shown
    ]
    return texts, raw


def _event_ids(text: str) -> list[str]:
    return [word for word in text.replace(":", " ").split() if word.startswith("ev_")]


@pytest.mark.parametrize("make_org", [demo_org, pipeline_org], ids=["demo", "pipeline"])
async def test_the_list_text_is_at_most_0_09_of_the_raw_json_with_every_fact(make_org: Any) -> None:
    org: Org = make_org()
    texts, raw = await every_page(org)
    assert len(raw) >= 400
    raw_tokens = sum(tokens(text) for _, text in raw)
    text_tokens = sum(tokens(text) for text in texts)
    ratio = text_tokens / raw_tokens
    assert ratio <= BUDGET, f"{org.key}: list text is {ratio:.3f} of the raw JSON"
    facts = [fact for entry, _ in raw for fact in event_facts(entry, org.user_names, org.field_names)]
    contexts = {
        entry["id"]: next(c for t in texts if (c := text_context(t, entry["id"]))) for entry, _ in raw
    }
    result = recall(facts, contexts)
    assert not result.missing, [f"{m.event_id} {m.kind}" for m in result.missing[:10]]
    assert any(fact.kind.startswith("value ") for fact in facts), "changed values are facts too"
