"""The command line: one tool call, the credential check, argument errors."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import anyio
import pytest
from mcp import Client

import close_events_sandbox.serve as serve_module
from close_events_mcp.cli import demo_setup, main, run_call, run_check
from close_events_mcp.config import Credential, Secret, Settings
from close_events_mcp.server.app import build_server


@pytest.fixture(autouse=True)
def no_real_credentials(monkeypatch):
    for name in ("CLOSE_API_KEY", "CLOSE_ACCESS_TOKEN", "CLOSE_API_BASE_URL", "CLOSE_EVENTS_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)


def test_call_prints_what_the_agent_reads(capsys):
    assert main(["call", "list_events", "object_type=lead", "limit=3", "--demo"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 events · object_type=lead · by day and lead, newest first, times UTC")
    assert "cursor=ce1." in out.splitlines()[-1]


def test_call_structured(capsys):
    assert main(["call", "describe_event_types", "object_type=lead", "--structured", "--demo"]) == 0
    assert '"object_types"' in capsys.readouterr().out


def test_call_errors_exit_non_zero(capsys):
    assert main(["call", "get_event", "event_id=nope", "--demo"]) == 1
    assert "event_id must be a Close event ID" in capsys.readouterr().out
    assert main(["call", "list_events", "limit", "--demo"]) == 2
    assert "key=value" in capsys.readouterr().err


def test_check_demo(capsys):
    assert main(["check", "--demo"]) == 0
    out = capsys.readouterr().out
    assert "OK: demo key accepted by the demo organization." in out
    assert "role admin" in out and "Admin: sees the values" in out


def test_check_without_credentials_fails(capsys):
    assert main(["check"]) == 1
    assert "CLOSE_API_KEY" in capsys.readouterr().err


def test_bad_environment_is_reported(capsys, monkeypatch):
    monkeypatch.setenv("CLOSE_API_BASE_URL", "ftp://example.com")
    assert main(["check"]) == 2
    assert "CLOSE_API_BASE_URL must be an http(s) URL" in capsys.readouterr().err


def test_call_help_lists_every_tool_its_arguments_and_the_syntax(capsys):
    with pytest.raises(SystemExit) as done:
        main(["call", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "key=value pairs, one per argument, each key at most once" in out
    assert "before or after the arguments" in out
    served = anyio.run(_served_names)
    listed = [
        line.split()[0] for line in out.split("tools (key=value arguments each takes):\n")[1].splitlines()
    ]
    assert [name for name in listed if not name.endswith(",")] == served
    assert "  get_event             event_id\n" in out
    assert "changed_field, exclude_noisy, limit, cursor" in out


async def _served_names() -> list[str]:
    async with Client(build_server(Settings())) as connected:
        return [tool.name for tool in (await connected.list_tools()).tools]


def test_an_unknown_tool_lists_the_valid_ones(capsys):
    assert main(["call", "list_event", "limit=1", "--demo"]) == 2
    err = capsys.readouterr().err
    assert "there is no tool 'list_event'; the tools are list_events, get_event," in err
    assert "describe_event_types" in err and "call --help" in err


def test_an_unknown_tool_name_is_echoed_with_nothing_hidden(capsys):
    assert main(["call", "get_\u0000event", "--demo"]) == 2
    assert r"there is no tool 'get_\u0000event'" in capsys.readouterr().err


def test_options_may_come_after_the_arguments(capsys):
    assert main(["call", "list_events", "--demo", "limit=1"]) == 0
    assert capsys.readouterr().out.startswith("1 event · no filters")
    assert main(["call", "list_events", "object_type=lead", "--demo", "limit=2", "--structured"]) == 0
    assert '"count": 2' in capsys.readouterr().out


def test_anything_else_left_over_is_still_refused(capsys):
    with pytest.raises(SystemExit) as refused:
        main(["call", "list_events", "--demo", "limit=1", "--bogus"])
    assert refused.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["check", "--demo", "limit=1"])
    assert "unrecognized arguments: limit=1" in capsys.readouterr().err


def test_a_repeated_key_is_an_error(capsys):
    assert main(["call", "list_events", "limit=1", "object_type=lead", "limit=5", "--demo"]) == 2
    captured = capsys.readouterr()
    assert "'limit' is given twice ('1' and '5'); give each argument once" in captured.err
    assert captured.out == ""


@pytest.mark.parametrize(
    "command",
    [
        ["call", "list_events", "limit=20", "--demo"],
        ["call", "--help"],
        ["call", "call", "--help"],
        ["check", "--demo"],
        ["--help"],
    ],
    ids=" ".join,
)
def test_a_reader_that_stops_early_is_not_an_error(command):
    """``call … | head -4``, ``call --help | head -1`` and ``check --demo | head -1`` printed a
    BrokenPipeError traceback. Here the pipe's reading end is closed before the command starts, so its
    first write (or its flush) finds no reader, every time."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "close_events_mcp", *command],
            stdout=write,
            check=False,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if not k.startswith("CLOSE_")},
        )
    finally:
        os.close(write)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr


def test_check_with_a_rejected_key_says_to_run_check_again(capsys):
    """``check`` starts no server, so it does not say to restart one."""
    settings, transport = demo_setup(Settings())
    settings = settings.with_overrides(
        credential=Credential("api_key", Secret("api_wrong_key_000000000000000"))
    )
    assert anyio.run(run_check, settings, transport) == 1
    err = capsys.readouterr().err
    assert err.startswith("Check failed: Close rejected the API key in CLOSE_API_KEY (HTTP 401).")
    assert err.rstrip().endswith("then run close-events-mcp check again.")
    assert "restart" not in err and "server" not in err


def test_check_without_a_credential_points_at_check_demo(capsys):
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "close-events-mcp check --demo" in err and "server" not in err


def test_two_demo_runs_a_minute_apart_agree(monkeypatch, capsys):
    """The demo organization was built at each run's start: the same event moved by minutes between
    runs, and a poll's checkpoint from one run re-delivered "consolidated" events in the next."""
    started = [datetime(2026, 11, 26, 15, 34, 12, tzinfo=UTC)]

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return started[0]

    monkeypatch.setattr(serve_module, "datetime", Clock)
    runs = []
    for _ in range(2):
        _, transport = demo_setup(Settings())
        runs.append(transport.app.store.query({"_limit": "50"}, is_admin=True).data)  # type: ignore[attr-defined]
        started[0] += timedelta(minutes=1)
    assert runs[0] == runs[1]


def rejected(kind: str) -> Settings:
    settings, _ = demo_setup(Settings())
    secret = "api_wrong_key_000000000000000" if kind == "api_key" else "oauth_wrong_token_000000000000"
    return settings.with_overrides(credential=Credential(kind, Secret(secret)))  # type: ignore[arg-type]


def test_call_with_a_rejected_key_says_to_run_the_command_again(capsys):
    """``call`` starts a server of its own for the one call: it does not say to restart one."""
    _, transport = demo_setup(Settings())
    assert anyio.run(run_call, rejected("api_key"), transport, "list_events", {}, False) == 1
    out = capsys.readouterr().out
    assert out.startswith("Close rejected the API key in CLOSE_API_KEY (HTTP 401).")
    assert out.rstrip().endswith("(Close → Settings → Developer → API Keys), then run the command again.")
    assert "restart" not in out


@pytest.mark.anyio
async def test_a_served_rejected_credential_says_to_restart_the_server():
    _, transport = demo_setup(Settings())
    async with Client(build_server(rejected("api_key"), transport=transport)) as client:
        result = await client.call_tool("list_events", {})
    assert result.is_error and result.content[0].text.endswith(
        "(Close → Settings → Developer → API Keys), then restart the server."
    )


def test_a_rejected_oauth_token_points_at_its_oauth_app_not_api_keys(capsys):
    _, transport = demo_setup(Settings())
    assert anyio.run(run_check, rejected("access_token"), transport) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "Check failed: Close rejected the OAuth access token in CLOSE_ACCESS_TOKEN (HTTP 401)."
    )
    assert "API Keys" not in err and "from the OAuth app that issued it" in err
    assert err.rstrip().endswith("then run close-events-mcp check again.")
