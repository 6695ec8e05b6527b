"""The command line: one tool call, the credential check, argument errors."""

from __future__ import annotations

import pytest

from close_events_mcp.cli import main


@pytest.fixture(autouse=True)
def no_real_credentials(monkeypatch):
    for name in ("CLOSE_API_KEY", "CLOSE_ACCESS_TOKEN", "CLOSE_API_BASE_URL", "CLOSE_EVENTS_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)


def test_call_prints_what_the_agent_reads(capsys):
    assert main(["call", "list_events", "object_type=lead", "limit=3", "--demo"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 events · object_type=lead · newest first, times UTC")
    assert "More: call list_events with cursor=" in out


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
