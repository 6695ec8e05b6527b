"""What a model reads of the tools (``tools/list``) is lean and loses no meaning, bounds are in the
schemas and enforced with a clear error, and output schemas carry only what is worth sending.

"Model-read" is measured as it is counted in bench/tool_definitions.py: for each tool, the compact
JSON (``separators=(",", ":")``, non-ASCII kept) of its ``name``, ``title`` (when it has one),
``description`` and ``inputSchema``, in cl100k_base tokens, summed over the tools. Annotations and
the output schema are left out: clients show a model the former as hints, if at all, and give the
latter to their validator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from mcp import Client
from mcp_types import Tool
from pydantic import BaseModel, Field

from close_events_mcp.server.schemas import compact_output_schema
from tests.conftest import text_of
from tests.token_count import tokens

pytestmark = pytest.mark.anyio

MODEL_READ_BUDGET = 1400
TOOLS = {"list_events", "get_event", "summarize_events", "poll_events", "describe_event_types"}
SHARED_FILTERS = (
    "object_type",
    "action",
    "object_id",
    "user_id",
    "request_id",
    "until",
    "changed_field",
    "exclude_noisy",
)
"""list_events' filters that summarize_events and poll_events take with the same meaning (lead_id and
since mean a little more there, and say so)."""


def compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def model_read(tool: Tool) -> dict[str, Any]:
    """The part of a tool's definition a model reads: name, title, description and input schema."""
    read = {"name": tool.name, "title": tool.title, "description": tool.description}
    return {**{k: v for k, v in read.items() if v is not None}, "inputSchema": tool.input_schema}


def model_read_tokens(tools: list[Tool]) -> int:
    return sum(tokens(compact(model_read(tool))) for tool in tools)


def schemas_in(node: Any) -> Iterator[dict[str, Any]]:
    """Every schema in a schema (itself, properties, items, anyOf branches...), not data values."""
    if not isinstance(node, dict):
        return
    yield node
    for key, value in node.items():
        if key in ("properties", "$defs"):
            for field in value.values():
                yield from schemas_in(field)
        elif key in ("items", "additionalProperties"):
            yield from schemas_in(value)
        elif key in ("anyOf", "oneOf", "allOf"):
            for branch in value:
                yield from schemas_in(branch)


@pytest.fixture
async def tools(client: Client) -> dict[str, Tool]:
    return {tool.name: tool for tool in (await client.list_tools()).tools}


async def test_the_five_tools_cost_a_model_at_most_the_budget(tools):
    assert set(tools) == TOOLS
    spent = model_read_tokens(list(tools.values()))
    assert spent <= MODEL_READ_BUDGET, f"{spent} model-read tokens for the tools, budget {MODEL_READ_BUDGET}"


async def test_limits_carry_their_bounds_in_the_schema(tools):
    assert tools["list_events"].input_schema["properties"]["limit"] | {"description": ""} == {
        "type": "integer",
        "minimum": 1,
        "maximum": 50,
        "description": "",
    }
    assert tools["poll_events"].input_schema["properties"]["limit"]["minimum"] == 1
    assert tools["poll_events"].input_schema["properties"]["limit"]["maximum"] == 500
    assert tools["summarize_events"].input_schema["properties"]["max_events"]["minimum"] == 50
    for tool in tools.values():  # the ranges live in the schema, not in prose beside it
        for name, schema in tool.input_schema["properties"].items():
            if schema.get("type") == "integer":
                assert not re.search(r"\d+\s*[–-]\s*\d+", schema["description"]), (tool.name, name)


async def test_input_schemas_hold_no_boilerplate(tools):
    for tool in tools.values():
        schema = tool.input_schema
        assert schema["type"] == "object" and "title" not in schema
        for name, field in schema["properties"].items():
            where = f"{tool.name}.{name}"
            assert "anyOf" not in field, f"{where}: optional arguments are their plain type, not anyOf null"
            assert "title" not in field, f"{where}: a generated title repeats the name"
            assert field.get("default", 0) is not None, f"{where}: default null says nothing"
            assert field["description"] and isinstance(field["type"], str), where
        assert set(schema.get("required", [])) <= set(schema["properties"])
    assert tools["get_event"].input_schema["required"] == ["event_id"]
    assert tools["list_events"].input_schema["properties"]["exclude_noisy"]["default"] is False


async def test_descriptions_carry_no_source_indentation(tools):
    for tool in tools.values():
        assert tool.description and tool.description == tool.description.strip()
        assert not re.search(r"\n[ \t]", tool.description), f"{tool.name}: indented lines"
        assert "  " not in tool.description, f"{tool.name}: runs of spaces"


async def test_shared_filters_are_described_once_in_list_events(tools):
    listed = tools["list_events"].input_schema["properties"]
    for tool in ("summarize_events", "poll_events"):
        properties = tools[tool].input_schema["properties"]
        for name in SHARED_FILTERS:
            if name not in properties:
                continue
            pointer = properties[name]["description"]
            assert "list_events" in pointer and len(pointer) < 25, f"{tool}.{name}: {pointer!r}"
            assert "list_events" not in listed[name]["description"]
            assert properties[name]["type"] == listed[name]["type"]
    assert "until" not in tools["poll_events"].input_schema["properties"]  # a poll reads up to now


async def test_exclude_noisy_says_it_drops_autosave_and_progress_updates(tools):
    described = tools["list_events"].input_schema["properties"]["exclude_noisy"]["description"]
    for word in (
        "autosave",
        "emails",
        "calls",
        "SMS",
        "notes",
        "progress",
        "bulk actions",
        "imports",
        "exports",
    ):
        assert word in described, word


async def test_output_schemas_hold_only_what_a_client_checks_and_still_validate(tools, client):
    for tool in tools.values():
        assert tool.output_schema is not None
        for schema in schemas_in(tool.output_schema):
            assert "title" not in schema, f"{tool.name}: {compact(schema)[:80]}"
            assert "description" not in schema, f"{tool.name}: {compact(schema)[:80]}"
    result = await client.call_tool("list_events", {"limit": 50})
    jsonschema.validate(result.structured_content, tools["list_events"].output_schema)
    event = tools["list_events"].output_schema["properties"]["events"]["items"]
    assert event["properties"]["id"]["type"] == "string" and "id" in event["required"]
    assert event["properties"]["data_withheld"] == {"type": "boolean"}


class Entry(BaseModel):
    title: str = Field(description="A field that happens to be called title.")
    description: str | None = None


class Page(BaseModel):
    entries: list[Entry]


def test_compacting_keeps_fields_named_title_or_description():
    schema = compact_output_schema(Page.model_json_schema())
    entry = schema["properties"]["entries"]["items"]
    assert set(entry["properties"]) == {"title", "description"}
    assert entry["properties"]["title"] == {"type": "string"}
    assert entry["properties"]["description"] == {"type": "string"}
    assert "title" not in entry and "title" not in schema
    jsonschema.Draft202012Validator(schema).validate({"entries": [{"title": "t", "description": "d"}]})


def test_compacting_an_input_schema_keeps_real_defaults_and_bounds():
    from close_events_mcp.server.schemas import compact_input_schema  # noqa: PLC0415

    class Arguments(BaseModel):
        name: str
        flag: bool = False
        size: int | None = Field(default=None, ge=1, le=9)

    schema = compact_input_schema(Arguments.model_json_schema())
    assert schema == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "flag": {"type": "boolean", "default": False},
            "size": {"type": "integer", "minimum": 1, "maximum": 9},
        },
        "required": ["name"],
    }


@pytest.mark.parametrize(
    ("tool", "arguments", "allowed"),
    [
        ("list_events", {"limit": 51}, "between 1 and 50"),
        ("list_events", {"limit": 0}, "between 1 and 50"),
        ("poll_events", {"limit": 501}, "between 1 and 500"),
        ("summarize_events", {"max_events": 49}, "between 50 and 1000000"),
        ("summarize_events", {"max_events": 10**30}, "between 50 and 1000000"),
    ],
)
async def test_an_out_of_range_limit_is_a_clear_error_and_the_server_serves_on(
    client, tool, arguments, allowed
):
    result = await client.call_tool(tool, arguments)
    ((name, value),) = arguments.items()
    assert result.is_error
    assert text_of(result) == f"Invalid arguments for {tool}: {name} must be {allowed} (got {value})."
    after = await client.call_tool("list_events", {"limit": 50})
    assert not after.is_error and after.structured_content["count"] == 50


async def test_the_largest_limits_are_served(client):
    listed = await client.call_tool("list_events", {"limit": 50, "since": "30d"})
    assert not listed.is_error and listed.structured_content["count"] == 50
    polled = await client.call_tool("poll_events", {"limit": 500, "since": "30d"})
    assert not polled.is_error and polled.structured_content["count"] > 100  # the default is 100


@pytest.mark.parametrize(
    ("tool", "name"), [("list_events", "limit"), ("poll_events", "limit"), ("summarize_events", "max_events")]
)
async def test_a_count_given_as_true_is_refused_and_a_whole_float_is_taken(client, tool, name):
    refused = await client.call_tool(tool, {name: True})
    assert (
        refused.is_error
        and text_of(refused)
        == f"Invalid arguments for {tool}: {name} must be a whole number, not true or false."
    )
    taken = await client.call_tool(tool, {name: 50.0})
    assert not taken.is_error, text_of(taken)
