"""Start-up loads only what ``initialize`` and ``tools/list`` need (hosts start servers at launch);
the output schemas clients validate against are compact and still describe every answer."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel

from close_events_mcp.server.schemas import compact_output_schema

# What serving over stdio does before the first request, then tools/list, in a fresh interpreter.
STARTUP = """
import json, sys
import anyio
from close_events_mcp import cli
from close_events_mcp.config import settings_from_env
settings = settings_from_env({"CLOSE_API_KEY": "api_test_key"})
with cli.collector_paused():
    from close_events_mcp.server.app import build_server
    server = build_server(settings)
tools = anyio.run(server.list_tools)
print(json.dumps({"tools": len(tools), "modules": sorted(sys.modules)}))
"""
NOT_AT_STARTUP = (
    "httpx",
    "close_events_sandbox",
    "close_events_mcp.answers",
    "close_events_mcp.engine",
    "close_events_mcp.render.events",
    "close_events_mcp.render.describe",
)


def test_startup_imports_nothing_the_first_requests_do_not_need():
    done = subprocess.run(
        [sys.executable, "-c", STARTUP], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["tools"] == 5
    loaded = set(report["modules"])
    assert not {m for m in loaded for name in NOT_AT_STARTUP if m == name or m.startswith(name + ".")}


class Change(BaseModel):
    field: str
    before: str | None = None


class Node(BaseModel):
    name: str
    note: str | None = None
    required_or_null: int | None
    changes: list[Change] = []
    child: Node | None = None


def test_compact_schemas_inline_references_and_drop_nulls_that_are_never_sent():
    schema = compact_output_schema(Node.model_json_schema())
    text = json.dumps(schema)
    assert '"#/$defs/Change"' not in text  # inlined...
    assert '"#/$defs/Node"' in text  # ...except a model that contains itself
    properties: dict[str, Any] = schema["properties"]
    assert properties["note"]["type"] == "string" and "anyOf" not in properties["note"]
    assert properties["changes"]["items"]["properties"]["before"]["type"] == "string"
    assert {"type": "null"} in properties["required_or_null"]["anyOf"]  # no default: null may be sent
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate({"name": "a", "required_or_null": None, "changes": [{"field": "x", "before": "y"}]})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"name": "a", "required_or_null": 1, "note": None})
