"""A canary credential runs through every success and error path, with logging at DEBUG: the tools,
the event resource and a prompt, the CLI's ``call`` and ``check`` (in process and as a real process),
the Close client's exceptions, and the settings' ``repr``. It appears nowhere, neither as itself nor
base64-encoded as the Basic auth header carries it.

Error paths come from the emulator behind a hostile proxy that echoes the credential back, raw and
as the header carried it, in every error body: 400, 401, 402, 403, 404, 405, 429, 500 and 503, an
HTML page, truncated JSON, and a hang.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from close_events_mcp import cli
from close_events_mcp.close.client import CloseClient
from close_events_mcp.config import Credential, Secret, Settings, settings_from_env
from close_events_mcp.errors import CloseError
from close_events_mcp.server.app import build_server
from close_events_sandbox.app import Receive, SandboxApp, Scope, Send
from close_events_sandbox.org import DemoOrg, Principal
from close_events_sandbox.serve import serve_in_thread
from tests.conftest import clock, make_settings, text_of

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent
CANARY = "canary-KEY-5f3a9c1e7b2d4f6a8c0e"
WRONG_CANARY = "canary-WRONG-9d8c7b6a5f4e3d2c1b0a"
MODES = ("ok", "400", "401", "402", "403", "404", "405", "429", "500", "503", "html", "truncated", "hang")
"""What the proxy in front of the emulator does: pass through, answer that status, or misbehave."""


def forms(secret: str) -> set[str]:
    """The secret as itself and base64-encoded at every alignment (as in ``Basic base64(key:)``)."""
    found = {secret}
    for pad in ("", "a", "ab"):
        encoded = base64.b64encode((pad + secret).encode()).decode()
        skip = {0: 0, 1: 2, 2: 3}[len(pad)]
        found.add(encoded[skip : skip + (len(secret) * 4) // 3 - 2])
    return found


FORBIDDEN = forms(CANARY) | forms(WRONG_CANARY)


def leaks(texts: list[str]) -> list[str]:
    return [text[:300] for text in texts if any(form in text for form in FORBIDDEN)]


def canary_org(org: DemoOrg) -> DemoOrg:
    """The demo organization, where the canary authenticates an admin."""
    return replace(org, credentials={**org.credentials, CANARY: Principal(org.users[0]["id"], True)})


class EchoingProxy:
    """``/{mode}/api/v1/…``: ``ok`` passes the request on to the emulator; a status code is answered
    with an error body that repeats the credential; ``html``, ``truncated`` and ``hang`` misbehave."""

    def __init__(self, app: SandboxApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        mode, _, rest = scope["path"].lstrip("/").partition("/")
        if mode == "ok":
            await self.app({**scope, "path": f"/{rest}"}, receive, send)
            return
        if mode == "hang":
            while (await receive())["type"] != "http.disconnect":
                pass
            return
        header = next((bytes(v).decode() for k, v in scope["headers"] if k.lower() == b"authorization"), "")
        scheme, _, value = header.partition(" ")
        key = base64.b64decode(value).decode().rstrip(":") if scheme == "Basic" else value
        echo = {
            "error": {"message": f"Rejected {header} for key {key}"},
            "errors": [f"key={key}", header],
            "field-errors": {"api_key": key, "authorization": header},
        }
        status, kind, body = 200, b"application/json", json.dumps(echo).encode()
        if mode.isdigit():
            status = int(mode)
        elif mode == "html":
            kind, body = b"text/html", f"<html><body>Bad gateway for {header}</body></html>".encode()
        else:
            body = body[: len(body) // 2]
        headers = [(b"content-type", kind), (b"www-authenticate", header.encode())]
        if status == 429:
            headers.append((b"retry-after", b"100"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in (None, "httpx", "httpcore", "close_events_mcp", "mcp", "uvicorn"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [formatter.format(record) + repr(record.args) for record in caplog.records]


def outputs(result: Any) -> str:
    return text_of(result) + json.dumps(result.structured_content or {}) + repr(result)


TOOL_CALLS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("list_events", {"object_type": "lead"}),
    ("list_events", {"changed_field": "status_label", "limit": 5}),
    ("get_event", {"event_id": "RECENT"}),
    ("get_event", {"event_id": "ev_missing0000000000000"}),
    ("summarize_events", {"since": "2h"}),
    ("poll_events", {"since": "1h"}),
    ("describe_event_types", {"object_type": "lead"}),
    ("list_events", {"cursor": "ce1.forged"}),
)


@pytest.mark.parametrize("kind", ["api_key", "access_token"])
async def test_the_canary_is_absent_from_every_answer_error_log_and_exception(demo_org, debug_logs, kind):
    proxy = EchoingProxy(SandboxApp(canary_org(demo_org), clock=clock))
    transport = httpx.ASGITransport(app=proxy)
    event_id = demo_org.landmarks["recent_event"]
    seen: list[str] = []
    answered: dict[str, int] = {"ok": 0, "error": 0}

    async def run(mode: str, key: str) -> None:
        settings = make_settings(
            key,
            kind=kind,
            base_url=f"http://sandbox.test/{mode}/api/v1",
            call_timeout=1.0,
            request_timeout=0.1,
            max_retries=1,
            backoff_base=0.01,
        )
        async with Client(build_server(settings, transport=transport, clock=clock)) as client:
            for name, given in TOOL_CALLS if mode != "hang" else TOOL_CALLS[:2]:
                arguments = {k: event_id if v == "RECENT" else v for k, v in given.items()}
                result = await client.call_tool(name, arguments)
                answered["error" if result.is_error else "ok"] += 1
                seen.append(outputs(result))
            try:
                resource = await client.read_resource(f"close-events://event/{event_id}")
                seen.append(repr(resource))
            except Exception as exc:  # the resource's errors reach the client as MCPError
                seen.append(f"{exc!r} {exc}")
            prompt = await client.get_prompt("lead_activity_report", {"lead_id": "lead_abc", "window": "7d"})
            seen.append(repr(prompt))
        async with CloseClient(settings, transport=transport) as close:
            for request in (close.me(), close.get_event(event_id), close.list_events({"_limit": "5"})):
                try:
                    with anyio.fail_after(settings.call_timeout):
                        seen.append(repr(await request))
                except (CloseError, TimeoutError) as exc:
                    seen.append("".join(traceback.format_exception(exc)) + repr(exc))
        seen.extend([repr(settings), str(settings), repr(settings.credential), str(settings.credential)])

    for mode in MODES if kind == "api_key" else ("ok", "401", "403", "html"):
        await run(mode, CANARY)
    await run("ok", WRONG_CANARY)  # the emulator's own 401

    assert answered["ok"] >= 5 and answered["error"] > 20
    assert any(record.levelno == logging.DEBUG for record in debug_logs.records)
    assert leaks(seen) == []
    assert leaks(logged(debug_logs)) == []


def test_settings_credential_and_secret_never_show_the_key():
    settings = settings_from_env({"CLOSE_API_KEY": CANARY, "CLOSE_EVENTS_HTTP_TOKEN": WRONG_CANARY})
    assert settings.credential is not None and settings.credential.secret.reveal() == CANARY
    secret = Secret(CANARY)
    shown = [
        repr(settings),
        str(settings),
        f"{settings}",
        repr(settings.credential),
        str(settings.credential),
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        repr(Credential("access_token", secret)),
        repr(settings.with_overrides(base_url="http://x.test")),
        repr(Settings(http_token=Secret(CANARY))),
    ]
    assert leaks(shown) == []


@pytest.fixture
def emulator_url(demo_org: DemoOrg) -> Iterator[str]:
    """The echoing proxy and the emulator on a loopback port; yields ``http://127.0.0.1:PORT``."""
    with serve_in_thread(EchoingProxy(SandboxApp(canary_org(demo_org), clock=clock))) as url:  # type: ignore[arg-type]
        yield url.removesuffix("/api/v1")


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """The CLI sets up the root logger for the process; put it back as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


CLI_RUNS = [
    *(["check", mode] for mode in MODES),
    *(
        ["call", mode, "list_events", "object_type=lead"]
        for mode in ("ok", "401", "403", "429", "500", "html")
    ),
    ["call", "403", "summarize_events"],
    ["call", "ok", "get_event", "event_id=ev_missing0000000000000"],
    ["call", "ok", "summarize_events", "since=2h"],
    ["call", "ok", "poll_events", "since=1h"],
    ["call", "ok", "describe_event_types"],
]


def test_the_cli_never_shows_the_canary(emulator_url, monkeypatch, capsys, debug_logs, restored_logging):
    """``call`` and ``check`` through every path, in process: what they print, and every log record."""
    original = cli.configure_logging

    def keep_capturing(level: str, secrets: Any) -> None:
        original(level, secrets)
        logging.getLogger().addHandler(debug_logs.handler)  # the CLI replaced the root's handlers

    monkeypatch.setattr(cli, "configure_logging", keep_capturing)
    monkeypatch.setenv("CLOSE_API_KEY", CANARY)
    monkeypatch.setenv("CLOSE_EVENTS_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("CLOSE_EVENTS_CALL_TIMEOUT", "1")
    printed: list[str] = []
    codes: list[int] = []
    for command, mode, *rest in CLI_RUNS:
        monkeypatch.setenv("CLOSE_API_BASE_URL", f"{emulator_url}/{mode}/api/v1")
        codes.append(cli.main([command, *rest]))
        out, err = capsys.readouterr()
        printed.append(out + err)
    assert codes.count(0) >= 5 and codes.count(1) >= 15
    assert any("DEBUG" in text for text in printed)
    assert leaks(printed) == []
    # httpcore's DEBUG trace would repeat response headers verbatim; the CLI keeps it at WARNING, so no
    # record at all may carry the credential, not even in its arguments.
    assert not any(record.name.startswith("httpcore") for record in debug_logs.records)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    records = debug_logs.records
    assert leaks([formatter.format(record) + repr(record.args) for record in records]) == []


def test_a_real_process_never_shows_the_canary(emulator_url):
    """The console entry point as a separate process, logging at DEBUG to its stderr."""
    runs = [
        ["call", "ok", "list_events", "object_type=lead", "limit=3"],
        ["call", "403", "summarize_events"],
        ["call", "hang", "get_event", "event_id=ev_abc"],
        ["check", "ok"],
        ["check", "401"],
    ]
    processes = []
    for command, mode, *rest in runs:
        env = {
            **os.environ,
            "CLOSE_API_KEY": CANARY,
            "CLOSE_API_BASE_URL": f"{emulator_url}/{mode}/api/v1",
            "CLOSE_EVENTS_LOG_LEVEL": "DEBUG",
            "CLOSE_EVENTS_CALL_TIMEOUT": "1",
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "close_events_mcp", command, *rest],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    finished = [process.communicate(timeout=60) for process in processes]
    codes = [process.returncode for process in processes]
    assert codes == [0, 1, 1, 0, 1], finished
    assert all("DEBUG" in err for _, err in finished)
    assert leaks([out + err for out, err in finished]) == []
