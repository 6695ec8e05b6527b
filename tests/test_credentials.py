"""A Close credential that cannot go in an HTTP header is refused when the settings load, with a
message that names its variable and never shows its value: ``check``, ``call`` and both ways of
serving stop there (exit 2) instead of failing on the first request to Close.
"""

from __future__ import annotations

import pytest

from close_events_mcp import cli
from close_events_mcp.config import ConfigError, settings_from_env
from close_events_mcp.server import http as http_app
from tests.test_http_transport import run_cli

BODY = "api_7Qm2xV9kLp4Rt8Zw3Yb6Nc1Hd5Fg0Js"
"""A plausible key; each bad value below is this with one character gone wrong."""
NOWHERE = "http://127.0.0.1:9/api/v1"
"""The discard port on loopback: nothing answers there, so no test can reach Close."""
BAD_CHARACTERS = {
    "accented letter": "é",
    "typographic quote": "\u2019",
    "zero-width space": "\u200b",
    "no-break space": "\u00a0",
    "undecodable byte": "\udce9",  # how Python shows a byte of the environment that is not UTF-8
    "space": " ",
    "tab": "\t",
    "line break": "\n",
    "bell": "\x07",
    "delete": "\x7f",
}


def spoiled(character: str) -> str:
    return BODY[:12] + character + BODY[12:]


@pytest.mark.parametrize("variable", ["CLOSE_API_KEY", "CLOSE_ACCESS_TOKEN"])
@pytest.mark.parametrize("character", BAD_CHARACTERS.values(), ids=BAD_CHARACTERS.keys())
def test_a_credential_that_cannot_be_sent_is_refused_at_load(variable, character):
    with pytest.raises(ConfigError) as refused:
        settings_from_env({variable: spoiled(character)})
    message = str(refused.value)
    assert message.startswith(f"{variable} contains ")
    assert "only visible ASCII is allowed" in message and "Copy it again" in message
    assert BODY[:12] not in message and BODY[12:] not in message, "the value must never be shown"


@pytest.mark.parametrize("variable", ["CLOSE_API_KEY", "CLOSE_ACCESS_TOKEN"])
def test_surrounding_whitespace_is_still_trimmed(variable):
    settings = settings_from_env({variable: f"  {BODY}\n"})
    assert settings.credential is not None and settings.credential.secret.reveal() == BODY
    assert settings.credential.env_var == variable


def test_only_the_credential_in_use_is_checked():
    """CLOSE_API_KEY wins over CLOSE_ACCESS_TOKEN; a stale token beside a good key does not stop it."""
    settings = settings_from_env({"CLOSE_API_KEY": BODY, "CLOSE_ACCESS_TOKEN": spoiled("é")})
    assert settings.credential is not None and settings.credential.kind == "api_key"


@pytest.fixture
def spoiled_token(monkeypatch) -> str:
    for name in ("CLOSE_API_KEY", "CLOSE_EVENTS_LOG_LEVEL", "CLOSE_EVENTS_HTTP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOSE_API_BASE_URL", NOWHERE)  # were the check to fail, nothing reaches Close
    value = spoiled("\u2019")
    monkeypatch.setenv("CLOSE_ACCESS_TOKEN", value)
    return value


@pytest.fixture
def nothing_served(monkeypatch) -> list[str]:
    started: list[str] = []
    monkeypatch.setattr(cli, "serve", lambda *args: started.append("stdio") or 0)
    monkeypatch.setattr(http_app, "serve_http", lambda *args: started.append("http"))
    return started


@pytest.mark.parametrize(
    "argv",
    [
        ["check"],
        ["call", "list_events", "limit=1"],
        [],
        ["--transport", "streamable-http"],
    ],
    ids=["check", "call", "serve stdio", "serve http"],
)
def test_the_cli_stops_with_the_message(capsys, spoiled_token, nothing_served, argv):
    assert cli.main(argv) == 2
    assert nothing_served == []
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("close-events-mcp: CLOSE_ACCESS_TOKEN contains a non-ASCII character")
    assert spoiled_token not in err and BODY[:12] not in err and BODY[12:] not in err


def test_a_real_check_says_why_without_a_traceback():
    value = spoiled("é")
    completed = run_cli("check", CLOSE_API_KEY=value, CLOSE_API_BASE_URL=NOWHERE)
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.startswith("close-events-mcp: CLOSE_API_KEY contains a non-ASCII character")
    assert "Traceback" not in completed.stderr and completed.stdout == ""
    assert BODY[:12] not in completed.stderr and BODY[12:] not in completed.stderr
