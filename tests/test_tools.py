"""Each tool, and each error path, through the MCP client in memory against the emulator."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx
import jsonschema
import pytest
from mcp import Client

from close_events_mcp import catalog
from close_events_mcp.config import Settings
from close_events_mcp.event import parse_timestamp
from close_events_mcp.server.app import build_server
from close_events_sandbox.seed import DEMO_MEMBER_API_KEY
from tests.conftest import BASE_URL, NOW, clock, make_settings, text_of
from tests.contract import assert_clean_structured, assert_clean_text
from tests.recall import event_facts, recall, structured_context, text_context

pytestmark = pytest.mark.anyio


async def call(client: Client, tool: str, **arguments: object):
    result = await client.call_tool(tool, arguments)
    text = text_of(result)
    if not result.is_error:
        assert_clean_text(text)
        assert_clean_structured(result.structured_content)
    return result, text


async def test_tools_are_listed_read_only_with_described_parameters(client):
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert {"list_events", "get_event", "describe_event_types"} <= set(tools)
    for tool in tools.values():
        assert tool.description and "Use it" in tool.description
        hints = tool.annotations
        assert hints.read_only_hint and hints.idempotent_hint and hints.open_world_hint
        assert hints.destructive_hint is False
        assert tool.output_schema and tool.output_schema["type"] == "object"
        for name, schema in tool.input_schema["properties"].items():
            assert schema.get("description"), f"{tool.name}.{name} has no description"


async def test_structured_content_matches_the_declared_output_schema(client, demo_org):
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    calls = {
        "list_events": {"object_type": "lead", "limit": 10},
        "get_event": {"event_id": demo_org.landmarks["recent_event"]},
        "describe_event_types": {"object_type": "activity.call"},
    }
    for name, arguments in calls.items():
        result, _ = await call(client, name, **arguments)
        jsonschema.validate(result.structured_content, tools[name].output_schema)


async def test_list_events_page(client):
    result, text = await call(client, "list_events", limit=20)
    data = result.structured_content
    assert data["count"] == 20 and len(data["events"]) == 20
    assert text.startswith("20 events · no filters · by day and lead, newest first, times UTC")
    for event in data["events"]:
        assert event["id"] in text
        if event.get("object_id") and event["object_id"] != event.get("lead_id"):
            assert event["object_id"] in text
        if event.get("lead_id"):
            assert event["lead_id"] in text
    assert f"cursor={data['next_cursor']}" in text
    assert [e["at"] for e in data["events"]] == sorted((e["at"] for e in data["events"]), reverse=True)


async def test_deleted_leads_say_how_and_name_the_lead(client, demo_org):
    result, text = await call(client, "list_events", object_type="lead", action="deleted", since="30d")
    events = result.structured_content["events"]
    hows = {e.get("how", "") for e in events}
    assert any(h.startswith("by bulk action ") for h in hows)
    assert any(h.startswith("deleted by merging it into ") for h in hows)
    assert any(h.startswith("by reverting import ") for h in hows)
    assert all(e.get("lead_name") for e in events), "a deleted lead's name comes from previous_data"
    assert demo_org.landmarks["bulk_delete"] in text


async def test_a_merge_names_source_and_destination(client, demo_org):
    source, destination = demo_org.landmarks["merge_source"], demo_org.landmarks["merge_destination"]
    result, text = await call(client, "list_events", request_id=demo_org.landmarks["merge_request"])
    events = result.structured_content["events"]
    assert len(events) >= 3
    merged = next(e for e in events if e["action"] == "merged")
    assert merged["how"] == f"merge of {source} into this lead" and merged["lead_id"] == destination
    context = text_context(text, merged["id"])
    assert f"merging {source} into this lead" in context, "said once, in the header of the lead's events"
    assert context.splitlines()[1].startswith(f"  {destination}"), "'this lead' is the lead of the header"
    assert f"deleted by merging it into {destination}" in {e.get("how") for e in events}
    assert f"part of merging this lead into {destination}" in text


async def test_every_fact_of_every_event_is_in_the_list_over_the_whole_demo_org(client, demo_org):
    """Paging through the whole organization: each event's ID, object ID, lead ID, action, actor and
    changed fields are in its line and the headers above it, and in its structured item."""
    user_names = {u["id"]: f"{u['first_name']} {u['last_name']}" for u in demo_org.users}
    field_names = {f["id"]: f["name"] for fields in demo_org.custom_fields.values() for f in fields}
    text_contexts: dict[str, str] = {}
    structured_contexts: dict[str, str] = {}
    arguments: dict[str, object] = {"limit": 50}
    while arguments:
        result, text = await call(client, "list_events", **arguments)
        data = result.structured_content
        for item in data["events"]:
            text_contexts[item["id"]] = text_context(text, item["id"])
            structured_contexts[item["id"]] = structured_context(data, item["id"])
        arguments = {"cursor": data["next_cursor"]} if data.get("next_cursor") else {}
    horizon = NOW - timedelta(days=catalog.RETENTION_DAYS)
    listed = [e for e in demo_org.events if parse_timestamp(e["date_updated"]) >= horizon]
    assert {e["id"] for e in listed} == set(text_contexts)
    assert {e["object_type"] for e in listed} >= {
        "lead",
        "contact",
        "opportunity",
        "activity.email",
        "import",
    }
    facts = [fact for raw in listed for fact in event_facts(raw, user_names, field_names)]
    assert len(facts) > 5 * len(listed)
    for answer, contexts in (("text", text_contexts), ("structured content", structured_contexts)):
        missing = recall(facts, contexts).missing
        assert not missing, f"{answer} lacks: " + ", ".join(f"{m.event_id} {m.kind}" for m in missing[:10])


async def test_custom_field_changes_show_before_and_after(client, demo_org):
    field = demo_org.landmarks["custom_field:Seats"]
    result, _ = await call(client, "list_events", object_type="lead", action="updated", since="30d")
    changes = [c for e in result.structured_content["events"] for c in e.get("changes", [])]
    seats = [c for c in changes if c.get("key") == f"custom.{field}"]
    assert seats and all(c["field"] == "Seats" and c["before"] != c["after"] for c in seats)
    assert '"Seats" ' in result.content[0].text, "the custom field is named (quoted), not custom.cf_…"
    assert not any(c["field"] in ("date_updated", "updated_by") for c in changes)


async def test_names_are_plain_for_programs_and_quoted_for_the_model(client, demo_org):
    """Structured content is JSON: it carries a name as it is (cleaned), while the text the model reads
    shows it in double quotes, as data."""
    gob = demo_org.users[0]["id"]
    listed, text = await call(client, "list_events", user_id=gob, limit=5)
    events = listed.structured_content["events"]
    assert events and {e["user_name"] for e in events} == {"Gob Bluth"}
    assert listed.structured_content["users"] == {gob: "Gob Bluth"}
    assert 'by "Gob Bluth"' in text and f'Users: "Gob Bluth"={gob}' in text
    assert "by Gob Bluth" not in text
    detail, detail_text = await call(client, "get_event", event_id=events[0]["id"])
    assert detail.structured_content["user_name"] == "Gob Bluth"
    assert f'By: "Gob Bluth" ({gob})' in detail_text


async def test_cursor_continues_the_query_alone(client):
    first, _ = await call(client, "list_events", object_type="activity.note", action="updated", limit=5)
    cursor = first.structured_content["next_cursor"]
    second, text = await call(client, "list_events", cursor=cursor)
    assert "object_type=activity.note, action=updated" in text
    first_ids = {e["id"] for e in first.structured_content["events"]}
    assert not first_ids & {e["id"] for e in second.structured_content["events"]}
    same, _ = await call(client, "list_events", cursor=cursor, object_type="activity.note")
    assert same.structured_content["events"] == second.structured_content["events"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"object_type": "leads"}, "is not a Close event type. Did you mean lead"),
        ({"object_type": "lead", "action": "sent"}, "lead events have: created, updated, deleted, merged"),
        ({"lead_id": "lead_abc/../../me"}, "lead_id must be a lead ID"),
        ({"since": "next week"}, "is not a time"),
        ({"limit": 0}, "limit"),
        ({"cursor": "ce1.garbage"}, "cursor is not a cursor this server issued"),
        ({"objecttype": "lead"}, "list_events has no argument 'objecttype'"),
        ({"limit": "many"}, "Invalid arguments for list_events: limit"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(client, sandbox, arguments, message):
    result, text = await call(client, "list_events", **arguments)
    assert result.is_error
    assert message in text
    assert "pydantic" not in text and "Error executing tool" not in text
    assert not sandbox.requests


async def test_cursor_with_a_different_query_is_refused(client):
    first, _ = await call(client, "list_events", object_type="lead", limit=2)
    result, text = await call(
        client, "list_events", cursor=first.structured_content["next_cursor"], object_type="contact"
    )
    assert result.is_error and "cursor continues a query with different object_type" in text


async def test_limit_over_a_page_is_refused_and_retention_noted(client):
    result, text = await call(client, "list_events", object_type="lead", limit=80, since="45d")
    assert (
        result.is_error
        and text == "Invalid arguments for list_events: limit must be between 1 and 50 (got 80)."
    )
    result, text = await call(client, "list_events", object_type="lead", limit=50, since="45d")
    assert result.structured_content["count"] == 50
    assert "Close keeps 30 days of events" in text


async def test_empty_result_explains_why(client, demo_org):
    lead = demo_org.landmarks["lead:Sitwell Enterprises"]
    result, text = await call(client, "list_events", lead_id=lead, object_type="activity.sms", since="10m")
    assert result.structured_content["count"] == 0
    assert "No events matched" in text and "30 days" in text and "time window" in text


async def test_get_event_in_detail(client, demo_org):
    result, text = await call(client, "get_event", event_id=demo_org.landmarks["recent_event"])
    detail = result.structured_content
    assert text.startswith(f"Event {detail['id']} · {detail['object_type']} {detail['action']}")
    assert detail["description"] in text and detail["request"] in text
    assert "Everything this request did: list_events request_id=" in text


async def test_get_event_of_a_sent_email_shows_no_html(client, demo_org):
    email = demo_org.landmarks["email_sent"]
    listing, _ = await call(client, "list_events", object_id=email, object_type="activity.email")
    sent = next(e for e in listing.structured_content["events"] if e["action"] == "sent")
    result, text = await call(client, "get_event", event_id=sent["id"])
    assert "subject" in result.structured_content["facts"] and "body" in result.structured_content["facts"]
    assert len(text) < 3000


async def test_get_event_of_a_deleted_lead_uses_previous_data(client, demo_org):
    listing, _ = await call(
        client, "list_events", object_id=demo_org.landmarks["merge_source"], object_type="lead"
    )
    deleted = next(e for e in listing.structured_content["events"] if e["action"] == "deleted")
    result, text = await call(client, "get_event", event_id=deleted["id"])
    assert "Before deletion:" in text and "previous_data" in text
    assert result.structured_content["object_name"]
    assert "How: deleted by merging it into " in text


async def test_withheld_values_are_explained(sandbox, demo_org):
    settings = make_settings(DEMO_MEMBER_API_KEY)
    server = build_server(settings, transport=httpx.ASGITransport(app=sandbox), clock=clock)
    async with Client(server) as member:
        result, text = await call(
            member, "list_events", object_type="lead", action="updated", since="30d", limit=50
        )
        assert any(e.get("data_withheld") for e in result.structured_content["events"])
        assert "[values withheld]" in text and "one hour" in text
        withheld = next(e for e in result.structured_content["events"] if e.get("data_withheld"))
        assert withheld.get("changes"), "field names still show when values are withheld"
        detail, detail_text = await call(member, "get_event", event_id=withheld["id"])
        assert detail.structured_content["data_withheld"] is True
        assert "an admin's credential sees them" in detail_text


async def test_get_event_errors(client, sandbox):
    result, text = await call(client, "get_event", event_id="ev_../../me")
    assert result.is_error and "event_id must be a Close event ID" in text
    assert not sandbox.requests
    result, text = await call(client, "get_event", event_id="ev_NoSuchEvent000000000000")
    assert result.is_error and "older than Close's 30-day retention" in text


async def test_describe_event_types_index_and_detail(client):
    result, text = await call(client, "describe_event_types")
    for entry in catalog.OBJECT_TYPES:
        name = "task.SUBTYPE (e.g. task.lead)" if entry.name == "task.lead" else entry.name
        assert f"  {name}: " in text
    assert "updated~" in text and "30 days" in text and "1 hour" in text
    assert "object_type+action" in text
    assert len(result.structured_content["object_types"]) == len(catalog.OBJECT_TYPES)
    detail, detail_text = await call(client, "describe_event_types", object_type="activity.note")
    assert "updated [noisy: autosave; prefer created]" in detail_text
    assert detail.structured_content["object_types"][0]["actions"][0]["trigger"]
    bad, bad_text = await call(client, "describe_event_types", object_type="notes")
    assert bad.is_error and "Did you mean" in bad_text


async def test_without_credentials_only_the_catalog_works(sandbox):
    server = build_server(
        Settings(base_url=BASE_URL), transport=httpx.ASGITransport(app=sandbox), clock=clock
    )
    async with Client(server) as client:
        result, text = await call(client, "list_events", object_type="lead")
        assert result.is_error and "CLOSE_API_KEY" in text and "API Keys" in text
        result, text = await call(client, "get_event", event_id="ev_abc")
        assert result.is_error and "CLOSE_API_KEY" in text
        result, _ = await call(client, "describe_event_types")
        assert not result.is_error


async def test_rejected_key_is_reported_and_the_server_keeps_serving(sandbox, demo_org):
    server = build_server(
        make_settings("sk_wrong_key"), transport=httpx.ASGITransport(app=sandbox), clock=clock
    )
    async with Client(server) as client:
        result, text = await call(client, "list_events", object_type="lead")
        assert result.is_error and "CLOSE_API_KEY" in text and "401" in text
        result, _ = await call(client, "describe_event_types")
        assert not result.is_error


async def test_deadline_stops_a_hanging_call_and_the_next_call_works(sandbox):
    settings = replace(make_settings(), call_timeout=0.5)
    server = build_server(settings, transport=httpx.ASGITransport(app=sandbox), clock=clock)
    sandbox.faults.hang = 1
    async with Client(server) as client:
        result, text = await call(client, "list_events", object_type="lead")
        assert result.is_error and "0.5 s limit" in text and "CLOSE_EVENTS_CALL_TIMEOUT" in text
        result, _ = await call(client, "list_events", object_type="lead")
        assert not result.is_error


async def test_exhausted_rate_limit_and_outage_are_actionable(client, sandbox):
    sandbox.faults.burst_429 = 50
    sandbox.faults.burst_429_reset = 0.01
    result, text = await call(client, "list_events", object_type="lead")
    assert not result.is_error, "fifty short waits fit in the call's deadline: the call waits them out"
    sandbox.faults.burst_429 = 0
    sandbox.faults.burst_5xx = 50
    result, text = await call(client, "list_events", object_type="lead")
    assert result.is_error and "HTTP 503" in text
    sandbox.faults.burst_5xx = 0
    sandbox.faults.burst_429 = 50
    sandbox.faults.burst_429_reset = 30  # longer than the call may take
    result, text = await call(client, "list_events", object_type="lead")
    assert result.is_error and "rate limit" in text and "wait" in text
