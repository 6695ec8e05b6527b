"""The streamable-HTTP transport over real loopback HTTP: the official client, statelessness across
replicas, Host/Origin checks, the bearer token, and what never reaches Close or the logs.

The MCP server runs under uvicorn in a thread; its Close backend is the emulator in process,
behind a recorder of the Authorization headers it received.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from close_events_mcp import cli
from close_events_mcp.config import Secret, Settings
from close_events_mcp.server import http as http_app
from close_events_mcp.server.app import build_server
from close_events_sandbox.app import SandboxApp
from close_events_sandbox.seed import DEMO_OAUTH_TOKEN
from close_events_sandbox.serve import serve_asgi_in_thread
from tests.conftest import clock, make_settings, text_of

pytestmark = pytest.mark.anyio
TOKEN = "http-token-0123456789-abcdefghij"
SCRIPT = Path(sys.executable).with_name("close-events-mcp")
HEADERS = {
    "accept": "application/json, text/event-stream",
    "content-type": "application/json",
    "mcp-protocol-version": "2025-11-25",
}


class AuthorizationRecorder:
    """ASGI wrapper around the emulator: keeps the Authorization header of every request to Close."""

    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.seen: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen.append(dict(scope["headers"]).get(b"authorization", b"").decode())
        await self.app(scope, receive, send)


@contextmanager
def mcp_server(backend: AuthorizationRecorder, settings: Settings | None = None) -> Iterator[str]:
    settings = settings or make_settings()
    server = build_server(settings, transport=httpx.ASGITransport(app=backend), clock=clock)
    with serve_asgi_in_thread(http_app.build_http_app(server, settings, "127.0.0.1")) as origin:
        yield origin + http_app.MCP_PATH


@pytest.fixture
def backend(sandbox: SandboxApp) -> AuthorizationRecorder:
    return AuthorizationRecorder(sandbox)


def rpc(url: str, method: str, params: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
    """One JSON-RPC request in one POST, with no initialize before it and no session ID."""
    message = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
    with httpx.Client(timeout=30) as http:
        return http.post(url, json=message, headers={**HEADERS, **headers})


def reply(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC response in a POST's answer, whether plain JSON or an SSE stream."""
    assert response.status_code == 200, response.text
    if response.headers["content-type"].startswith("application/json"):
        message: dict[str, Any] = response.json()
        return message
    for line in response.text.splitlines():
        if line.startswith("data:"):
            message = json.loads(line.removeprefix("data:"))
            if message.get("id") == 1:
                return message
    raise AssertionError(f"no JSON-RPC response in {response.text!r}")


def list_events(url: str, arguments: dict[str, Any], **headers: str) -> dict[str, Any]:
    result: dict[str, Any] = reply(
        rpc(url, "tools/call", {"name": "list_events", "arguments": arguments}, **headers)
    )["result"]
    assert not result.get("isError"), result
    return result["structuredContent"]


async def test_the_official_client_over_http(backend):
    with mcp_server(backend) as url:
        async with Client(url) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            assert {
                "list_events",
                "get_event",
                "summarize_events",
                "poll_events",
                "describe_event_types",
            } <= tools
            listed = await client.call_tool(
                "list_events", {"object_type": "lead", "action": "deleted", "limit": 3}
            )
            assert not listed.is_error, text_of(listed)
            events = listed.structured_content["events"]
            assert len(events) == 3
            assert all(event["id"] in text_of(listed) for event in events)

            progress: list[str | None] = []

            async def on_progress(done: float, total: float | None, message: str | None) -> None:
                progress.append(message)

            digest = await client.call_tool(
                "summarize_events", {"since": "30d"}, progress_callback=on_progress
            )
            assert not digest.is_error, text_of(digest)
    assert progress, "progress notifications of a scan must reach an HTTP client"
    assert backend.seen and all(seen.startswith("Basic ") for seen in backend.seen)


@pytest.fixture
def served(monkeypatch) -> list[tuple[str, int]]:
    """Runs the CLI in process, without the caller's CLOSE_* variables; records where it would serve."""
    for name in [name for name in os.environ if name.startswith("CLOSE_")]:
        monkeypatch.delenv(name)
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(
        http_app, "serve_http", lambda server, settings, host, port: calls.append((host, port))
    )
    return calls


def test_default_bind_is_loopback(served):
    assert cli.main(["--demo", "--transport", "streamable-http"]) == 0
    assert served == [("127.0.0.1", 8000)]


def test_stateless_replicas_continue_each_others_cursors(backend):
    query = {"object_type": "lead", "limit": 4}
    with mcp_server(backend) as replica_a, mcp_server(backend) as replica_b:
        initialize = rpc(
            replica_a,
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        )
        assert "mcp-session-id" not in initialize.headers
        assert reply(initialize)["result"]["serverInfo"]["name"] == "close-events"

        first = list_events(replica_a, query)
        on_b = list_events(replica_b, {"cursor": first["next_cursor"]})
        on_a = list_events(replica_a, {"cursor": first["next_cursor"]})
    ids = [[event["id"] for event in page["events"]] for page in (first, on_b, on_a)]
    assert len(ids[1]) == 4 and not set(ids[0]) & set(ids[1])
    assert ids[1] == ids[2], "replica B must continue A's query exactly as A would"
    assert on_b["query"] == first["query"]


def test_dns_rebinding_protection(sandbox):
    backend = AuthorizationRecorder(sandbox)
    settings = make_settings(http_allowed_hosts=("mcp.example.com",))
    with mcp_server(backend, settings) as url:
        port = url.split(":")[2].split("/")[0]
        assert rpc(url, "ping", host="evil.example").status_code == 421
        assert rpc(url, "ping", host=f"evil.example:{port}").status_code == 421
        assert rpc(url, "ping", origin="http://evil.example").status_code == 403
        assert rpc(url, "ping", origin=f"http://evil.example:{port}").status_code == 403
        assert rpc(url, "ping", origin=f"http://127.0.0.1:{port}").status_code == 200
        assert rpc(url, "ping", host="mcp.example.com", origin="https://mcp.example.com").status_code == 200
        assert rpc(url, "ping", host=f"localhost:{port}").status_code == 200
    assert backend.seen == []


def raw_request(url: str, method: str, path: str, **headers: str) -> httpx.Response:
    """One request as sent, with nothing followed: a redirect comes back as itself. The body of a
    stream that is not a POST's answer is left unread (it might never end)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {}})
    origin = url.removesuffix(http_app.MCP_PATH)
    with httpx.Client(timeout=30, follow_redirects=False) as http:
        content = body if method == "POST" else None
        request = http.build_request(method, origin + path, content=content, headers={**HEADERS, **headers})
        response = http.send(request, stream=True)
        if method == "POST" or not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
        response.close()
        return response


@pytest.mark.parametrize("path", ["/mcp", "/mcp/"])
@pytest.mark.parametrize("method", ["POST", "GET", "DELETE", "PUT"])
@pytest.mark.parametrize("http_token", [None, Secret(TOKEN)], ids=["no token", "token"])
def test_a_foreign_host_is_refused_before_anything_else(backend, path, method, http_token):
    """No redirect (to the foreign host), no 405, no 401 first: each would answer a request that
    was meant for another host."""
    settings = make_settings(http_token=http_token)
    with mcp_server(backend, settings) as url:
        response = raw_request(url, method, path, host="evil.com")
    assert response.status_code == 421, (response.status_code, response.headers)
    assert "location" not in response.headers and "evil.com" not in response.text
    assert response.json()["message"].startswith("Invalid Host header"), "as the README says"
    assert backend.seen == []


def test_the_trailing_slash_is_answered_not_redirected(backend):
    with mcp_server(backend) as url:
        with_slash = raw_request(url, "POST", "/mcp/")
        assert reply(with_slash)["result"] == {}, "POST /mcp/ is answered as POST /mcp"
        for path in ("/", "/mcp/x", "/MCP", "/mcp//", "/api/v1/event/"):
            response = raw_request(url, "POST", path)
            assert response.status_code == 404 and "location" not in response.headers, (path, response)


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/mcp", "/mcp/"])
def test_only_post_is_allowed(backend, method, path):
    """Stateless: no standalone stream to GET (it stayed open for ever), no session to DELETE."""
    with mcp_server(backend) as url, httpx.Client(timeout=30) as http:
        origin = url.removesuffix(http_app.MCP_PATH)
        with http.stream(method, origin + path, headers=HEADERS) as response:
            assert response.status_code == 405, response.status_code
            assert response.headers["allow"] == "POST"
            assert response.headers["content-type"] == "application/json"
            assert "POST" in json.loads(response.read())["message"]
    assert backend.seen == []


def test_a_get_needs_the_token_first(backend):
    """With a token set, a GET without it learns nothing, not even which methods exist."""
    settings = make_settings(http_token=Secret(TOKEN))
    with mcp_server(backend, settings) as url:
        assert raw_request(url, "GET", "/mcp").status_code == 401
        admitted = raw_request(url, "GET", "/mcp", authorization=f"Bearer {TOKEN}")
        assert admitted.status_code == 405 and admitted.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("authorization", "error"),
    [
        (None, False),
        ("Bearer wrong-token-0123456789-abcdefghij", True),
        (f"Bearer {TOKEN[:-1]}", True),
        (f"Bearer {TOKEN}x", True),
        (f"Bearer {TOKEN[:8]}", True),
        (f"Basic {TOKEN}", True),
        ("Bearer", True),
        (TOKEN, True),
    ],
)
def test_requests_without_the_token_are_refused(backend, authorization, error):
    settings = make_settings(http_token=Secret(TOKEN))
    headers = {} if authorization is None else {"authorization": authorization}
    with mcp_server(backend, settings) as url:
        response = rpc(url, "tools/list", **headers)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert ('error="invalid_token"' in challenge) is error
    assert TOKEN not in response.text and "CLOSE_EVENTS_HTTP_TOKEN" in response.json()["message"]
    assert backend.seen == []


async def test_the_token_admits_and_never_reaches_close(backend):
    settings = make_settings(http_token=Secret(TOKEN))
    with mcp_server(backend, settings) as url:
        assert reply(rpc(url, "tools/list", authorization=f"bearer {TOKEN}"))["result"]["tools"]
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            listed = await client.call_tool("list_events", {"limit": 2})
            assert not listed.is_error, text_of(listed)
    assert backend.seen, "the tool call should have reached the emulator"
    assert all(seen.startswith("Basic ") and TOKEN not in seen for seen in backend.seen)


@pytest.mark.parametrize("http_token", [None, Secret(TOKEN)])
def test_a_clients_authorization_is_never_a_close_credential(backend, http_token):
    """The client presents a token Close would accept; without a credential of its own the server refuses."""
    settings = make_settings(http_token=http_token).with_overrides(credential=None)
    presented = TOKEN if http_token else DEMO_OAUTH_TOKEN
    with mcp_server(backend, settings) as url:
        response = rpc(
            url,
            "tools/call",
            {"name": "list_events", "arguments": {"limit": 2}},
            authorization=f"Bearer {presented}",
        )
    result = reply(response)["result"]
    assert result["isError"] and "CLOSE_API_KEY" in result["content"][0]["text"]
    assert not any(presented in seen for seen in backend.seen)


@pytest.mark.parametrize("token", [None, Secret(TOKEN)])
async def test_the_front_refuses_websockets(token):
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the wrapped app must not see a websocket")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    front = http_app.HttpFront(app, http_app.transport_security("127.0.0.1", ()), token=token)
    await front({"type": "websocket", "headers": [(b"host", b"127.0.0.1:8000")]}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("", False),
        ("10.0.0.5", False),
        ("example.com", False),
        ("::", False),
    ],
)
def test_is_loopback(host, expected):
    assert http_app.is_loopback(host) is expected


def cli_env(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CLOSE_")}
    return {**env, **extra}


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "close_events_mcp"]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, env=cli_env(**env), timeout=60, check=False
    )


UNSAFE_SETTINGS = [
    (("--host", "0.0.0.0"), {}, "without a token"),
    (("--host", "::"), {}, "without a token"),
    (("--host", "192.0.2.7"), {}, "Set CLOSE_EVENTS_HTTP_TOKEN"),
    (("--host", "0.0.0.0"), {"CLOSE_EVENTS_HTTP_TOKEN": "tooShort-123"}, "at least 16"),
    (
        ("--host", "127.0.0.1"),
        {"CLOSE_EVENTS_HTTP_TOKEN": "has a space in it, 32 chars long"},
        "without spaces",
    ),
    (
        ("--host", "0.0.0.0"),
        {"CLOSE_EVENTS_HTTP_TOKEN": TOKEN, "CLOSE_EVENTS_HTTP_ALLOWED_HOSTS": "mcp.example.com,a b"},
        "CLOSE_EVENTS_HTTP_ALLOWED_HOSTS",
    ),
]


@pytest.mark.parametrize(("args", "env", "says"), UNSAFE_SETTINGS)
def test_unsafe_http_settings_stop_the_server(monkeypatch, capsys, served, args, env, says):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["--demo", "--transport", "streamable-http", *args]) == 2
    assert served == []
    stderr = capsys.readouterr().err
    assert says in stderr
    assert env.get("CLOSE_EVENTS_HTTP_TOKEN", "\0") not in stderr


@pytest.mark.parametrize("env", [{}, {"CLOSE_EVENTS_HTTP_TOKEN": "tooShort-123"}])
def test_the_console_script_will_not_expose_http_without_a_strong_token(env):
    completed = run_cli("--demo", "--transport", "streamable-http", "--host", "0.0.0.0", **env)
    assert completed.returncode == 2 and completed.stdout == ""
    assert completed.stderr.startswith("close-events-mcp: ") and "CLOSE_EVENTS_HTTP_TOKEN" in completed.stderr
    assert "tooShort-123" not in completed.stderr


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port: int = sock.getsockname()[1]
        return port


def test_the_token_never_appears_in_logs():
    port = free_port()
    url = f"http://127.0.0.1:{port}{http_app.MCP_PATH}"
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "close_events_mcp"]
    process = subprocess.Popen(
        [*command, "--demo", "--transport", "streamable-http", "--port", str(port), "--log-level", "DEBUG"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(CLOSE_EVENTS_HTTP_TOKEN=TOKEN),
    )
    wrong = "wrong-token-0123456789-abcdefghij"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = rpc(url, "ping", authorization=f"Bearer {wrong}")
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert response.status_code == 401
        assert rpc(url, "ping").status_code == 401
        called = rpc(
            url,
            "tools/call",
            {"name": "list_events", "arguments": {"limit": 2}},
            authorization=f"Bearer {TOKEN}",
        )
        assert not reply(called)["result"].get("isError")
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/mcp (stateless), a bearer token required" in stderr
    assert "Refused an HTTP request without a valid bearer token" in stderr
    assert TOKEN not in stderr + stdout and wrong not in stderr + stdout
