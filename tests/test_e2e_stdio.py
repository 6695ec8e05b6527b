"""End to end: the installed close-events-mcp over stdio, with the official client, against the
emulator served on a loopback port (real HTTP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from close_events_sandbox.seed import DEMO_API_KEY
from close_events_sandbox.serve import demo_app, serve_in_thread
from tests.conftest import text_of

pytestmark = pytest.mark.anyio
SCRIPT = Path(sys.executable).with_name("close-events-mcp")


def test_the_console_script_is_installed():
    assert SCRIPT.exists(), "install the package (pip install -e '.[test]') so close-events-mcp is on PATH"


def server_params(*args: str, **env: str) -> StdioServerParameters:
    command = str(SCRIPT) if SCRIPT.exists() else sys.executable
    prefix = [] if SCRIPT.exists() else ["-m", "close_events_mcp"]
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSE_")}
    return StdioServerParameters(command=command, args=[*prefix, *args], env={**clean_env, **env})


async def test_stdio_server_against_the_emulator_over_loopback_http():
    app = demo_app()
    with serve_in_thread(app) as base_url:
        params = server_params(CLOSE_API_KEY=DEMO_API_KEY, CLOSE_API_BASE_URL=base_url)
        async with Client(params) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert {"list_events", "get_event", "describe_event_types"} <= tools
            listed = await client.call_tool("list_events", {"object_type": "lead", "action": "deleted"})
            assert not listed.is_error, text_of(listed)
            first = listed.structured_content["events"][0]["id"]
            detail = await client.call_tool("get_event", {"event_id": first})
            assert not detail.is_error and first in text_of(detail)
    assert any(r.path == "/api/v1/event/" and r.status == 200 for r in app.requests)
    assert any(r.path.startswith("/api/v1/event/ev_") for r in app.requests)


async def test_demo_mode_needs_no_credentials():
    async with Client(server_params("--demo")) as client:
        result = await client.call_tool("list_events", {"limit": 3})
    assert not result.is_error and result.structured_content["count"] == 3


def test_nothing_but_protocol_on_stdout():
    """Every line the server writes to stdout is a JSON-RPC message, even with DEBUG logging."""
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "list_events", "arguments": {"limit": 2}},
        },
    ]
    params = server_params("--demo", "--log-level", "DEBUG")
    # stdin stays open until the call is answered, as a client keeps it: at end of input the server
    # stops, and answers what is still running with "Connection closed".
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(
            [params.command, *params.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=params.env,
        )
        assert server.stdin and server.stdout
        server.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
        server.stdin.flush()
        lines: list[str] = []
        while line := server.stdout.readline():
            lines.append(line)
            if json.loads(line).get("id") == 2:
                break
        server.stdin.close()
        rest = server.stdout.read()
        server.wait(timeout=60)
        log.seek(0)
        stderr = log.read()
    lines = [line for line in [*lines, *rest.splitlines()] if line.strip()]
    assert len(lines) >= 2, stderr[-2000:]
    replies = [json.loads(line) for line in lines]
    assert all(reply.get("jsonrpc") == "2.0" for reply in replies)
    assert any(reply.get("id") == 2 and not reply["result"].get("isError") for reply in replies)
