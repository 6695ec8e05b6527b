"""Filters Close lacks or cannot combine: asked of Close as far as it can, the rest checked here."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from mcp import Client

from close_events_mcp import catalog
from close_events_mcp.engine.page import Matches
from close_events_mcp.event import Event, parse_timestamp
from close_events_mcp.query.filters import EventFilters
from close_events_mcp.query.plan import plan_filters
from close_events_mcp.server.app import build_server
from close_events_sandbox.app import SandboxApp
from close_events_sandbox.seed import build_demo_org
from tests.conftest import NOW, clock, make_settings, text_of
from tests.contract import assert_clean_text

pytestmark = pytest.mark.anyio
FILTER_PARAMS = set(catalog.FILTER_NAMES)


def is_noise(event: dict) -> bool:
    """Close's docs: autosaves (emails, calls, SMS, notes updated while typed) and the progress
    updates of jobs (imports, exports, bulk actions updated while they run)."""
    kind, action = event["object_type"], event["action"]
    autosave = kind in ("activity.email", "activity.call", "activity.sms", "activity.note")
    job = kind == "import" or kind.startswith(("export.", "bulk_action."))
    return action == "updated" and (autosave or job)


@pytest.fixture(scope="module")
def busy_org():
    return build_demo_org(NOW, filler_events=3000, filler_days=5)


def visible(org, predicate) -> list[str]:
    horizon = NOW - timedelta(days=catalog.RETENTION_DAYS)
    chosen = [e for e in org.events if parse_timestamp(e["date_updated"]) >= horizon and predicate(e)]
    chosen.sort(key=lambda e: (parse_timestamp(e["date_updated"]), e["id"]), reverse=True)
    return [e["id"] for e in chosen]


def only_supported_combinations_were_sent(sandbox: SandboxApp) -> None:
    for record in sandbox.requests:
        if record.path.endswith("/event/"):
            sent = frozenset(name for name, _ in record.params if name in FILTER_PARAMS)
            assert catalog.is_supported(sent), f"sent an unsupported combination: {sorted(sent)}"
            assert record.status == 200


async def walk(client: Client, **arguments) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    result = await client.call_tool("list_events", arguments)
    while True:
        assert not result.is_error, text_of(result)
        texts.append(text_of(result))
        ids += [e["id"] for e in result.structured_content["events"]]
        cursor = result.structured_content.get("next_cursor")
        if not cursor:
            return ids, texts
        result = await client.call_tool("list_events", {"cursor": cursor})


def server_for(sandbox: SandboxApp, **settings):
    return build_server(make_settings(**settings), transport=httpx.ASGITransport(app=sandbox), clock=clock)


@pytest.mark.parametrize(
    ("arguments", "predicate"),
    [
        ({"action": "deleted"}, lambda e: e["action"] == "deleted"),
        ({"action": "updated", "object_id": None}, lambda e: e["action"] == "updated"),
        (
            {"object_type": "lead", "changed_field": "status_label"},
            lambda e: e["object_type"] == "lead" and "status_label" in e["changed_fields"],
        ),
        (
            {"object_type": "activity.note", "exclude_noisy": True},
            lambda e: e["object_type"] == "activity.note" and e["action"] != "updated",
        ),
        (
            {"object_type": "bulk_action.delete", "exclude_noisy": True},
            lambda e: e["object_type"] == "bulk_action.delete" and e["action"] != "updated",
        ),
        ({"exclude_noisy": True, "since": "2d"}, None),
    ],
)
async def test_local_filters_page_through_every_match_exactly_once(busy_org, arguments, predicate):
    arguments = {k: v for k, v in arguments.items() if v is not None}
    if predicate is None:
        since = NOW - timedelta(days=2)
        predicate = lambda e: (  # noqa: E731
            not is_noise(e) and parse_timestamp(e["date_updated"]) >= since
        )
    sandbox = SandboxApp(busy_org, clock=clock)
    async with Client(server_for(sandbox)) as client:
        ids, texts = await walk(client, **arguments)
    assert ids == visible(busy_org, predicate)
    assert "checked here" in texts[0]
    if arguments.get("exclude_noisy"):
        assert "autosave and progress updates excluded" in texts[0]
    for text in texts:
        assert_clean_text(text)
    only_supported_combinations_were_sent(sandbox)


async def test_action_with_request_id_asks_close_for_the_request(client, sandbox, demo_org):
    request = demo_org.landmarks["merge_request"]
    result = await client.call_tool("list_events", {"request_id": request, "action": "deleted"})
    text = text_of(result)
    assert not result.is_error
    assert "Close was asked for request_id (and the time window); action=deleted checked here." in text
    assert all(e["action"] == "deleted" for e in result.structured_content["events"])
    assert result.structured_content["count"] >= 2
    event_requests = [r for r in sandbox.requests if r.path.endswith("/event/")]
    assert all(
        dict(r.params).get("request_id") == request and "action" not in dict(r.params) for r in event_requests
    )
    only_supported_combinations_were_sent(sandbox)


async def test_a_custom_field_can_be_named_and_shows_by_name(client, demo_org):
    result = await client.call_tool(
        "list_events", {"object_type": "lead", "action": "updated", "changed_field": "seats"}
    )
    text = text_of(result)
    assert not result.is_error and result.structured_content["count"] >= 1
    change = next(c for c in result.structured_content["events"][0]["changes"] if c["field"] == "Seats")
    assert change["key"] == f"custom.{demo_org.landmarks['custom_field:Seats']}"
    assert '"Seats" 40 → 55' in text


async def test_budget_cut_says_so_and_the_cursor_continues_from_there(busy_org):
    sandbox = SandboxApp(busy_org, clock=clock)
    async with Client(server_for(sandbox, scan_max_events=400)) as client:
        first = await client.call_tool("list_events", {"action": "merged"})
        text = text_of(first)
        assert "The scan budget (events read) was reached after reading back to" in text
        assert first.structured_content["next_cursor"]
        ids, _ = await walk(client, cursor=first.structured_content["next_cursor"])
    expected = visible(busy_org, lambda e: e["action"] == "merged")
    assert [e["id"] for e in first.structured_content["events"]] + ids == expected


async def test_bad_changed_field(client):
    result = await client.call_tool("list_events", {"changed_field": "status; DROP"})
    assert result.is_error and "changed_field must be a field name" in text_of(result)


async def test_an_answer_emptied_by_exclude_noisy_says_so_not_retention(client, demo_org):
    horizon = NOW - timedelta(days=catalog.RETENTION_DAYS)
    progress = [
        e
        for e in demo_org.events
        if e["object_type"] == "import"
        and e["action"] == "updated"
        and parse_timestamp(e["date_updated"]) >= horizon
    ]
    assert progress, "the demo organization has an import's progress updates"
    arguments = {"object_type": "import", "action": "updated", "exclude_noisy": True, "since": "30d"}
    result = await client.call_tool("list_events", arguments)
    text = text_of(result)
    n = len(progress)
    assert not result.is_error and result.structured_content["count"] == 0
    assert text.split("\n")[1] == (
        f"No events matched: all {n} events read were dropped here "
        f"(exclude_noisy dropped {n} progress updates)."
    )
    assert "Possible reasons" not in text and "retention" not in text
    assert f"Note: Read {n} events from Close in 1 request.\n" in text + "\n"
    assert any(
        f"exclude_noisy dropped {n} progress updates" in note for note in result.structured_content["notes"]
    )


async def test_what_each_local_check_dropped_is_counted_in_one_note(client):
    result = await client.call_tool("list_events", {"exclude_noisy": True, "since": "2d", "limit": 3})
    text = text_of(result)
    found = re.search(r"Note: Read (\d+) events from Close in \d+ requests? to find these; (.*)\.\n", text)
    assert found, text
    read, dropped = int(found[1]), found[2]
    counts = re.fullmatch(
        r"exclude_noisy dropped (\d+) (?:autosaves|progress updates)(?: and (\d+) \w+)?", dropped
    )
    assert counts, dropped
    assert 0 < sum(int(n) for n in counts.groups() if n) <= read - 3


def event_of(**fields: object) -> Event:
    return Event.from_close({"id": "ev_abc", "date_updated": "2026-11-20T10:00:00", **fields})


def test_each_check_counts_what_it_dropped():
    plan = plan_filters(
        EventFilters(request_id="req_abc", action="deleted", exclude_noisy=True, changed_field="name")
    )
    assert plan.local == {"action": "deleted"}
    events = [
        {"object_type": "lead", "action": "updated", "changed_fields": ["name"]},  # action
        {"object_type": "activity.note", "action": "updated", "changed_fields": ["note"]},  # action first
        {"object_type": "lead", "action": "deleted", "changed_fields": []},  # changed_field
        {"object_type": "lead", "action": "deleted", "changed_fields": ["name"]},  # kept
    ]
    sink = Matches(plan, frozenset(), 10)
    for fields in events:
        sink.add(event_of(**fields))
    assert len(sink.events) == 1
    assert sink.dropped == {"action": 2, "changed_field": 1}
    assert plan.dropped_text(sink.dropped) == "action=deleted dropped 2; changed_field=name dropped 1"
    noisy = plan_filters(EventFilters(exclude_noisy=True))
    assert noisy.rejects(event_of(object_type="import", action="updated")) == "progress"
    assert noisy.rejects(event_of(object_type="activity.email", action="updated")) == "autosave"
    assert noisy.dropped_text({"autosave": 1, "progress": 2}) == (
        "exclude_noisy dropped 2 progress updates and 1 autosave"
    )
