"""Logs carry no CRM data and no answer text at any level, DEBUG included: third-party loggers
that log payloads (sse_starlette's every chunk of an answer, the SDK's dropped messages,
httpcore's raw headers) reach stderr only with their warnings and errors.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from close_events_mcp import cli
from close_events_mcp.server import http as http_app
from tests.test_http_hardening import cli_server
from tests.test_http_transport import reply, rpc

CHATTY = ("sse_starlette.sse", "mcp.server.streamable_http", "httpx", "httpcore.http11", "other")
"""Loggers this test lowers to DEBUG, as a library or a host might."""
OURS = "close_events_mcp.close.client"
"""One of ours, set to DEBUG here as well: other tests leave loggers at other levels."""


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """``configure_logging`` and this test set up the process's loggers; put them back as they were."""
    names = (None, "sse_starlette", "mcp", "httpx", "httpcore", "uvicorn.access", OURS, *CHATTY)
    levels = {name: logging.getLogger(name).level for name in names}
    root = logging.getLogger()
    handlers = list(root.handlers)
    yield
    root.handlers[:] = handlers
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_third_party_detail_never_reaches_stderr(capsys, restored_logging, level):
    cli.configure_logging(level, ())
    logging.getLogger(OURS).setLevel(logging.DEBUG)
    for name in CHATTY:
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)  # whatever their level
        logger.debug("chunk: %s", "data: lucille@bluth.example")
        logger.info("payload %s", "Cinco de Cuatro Events")
        logger.warning("%s gave up", name)
    logging.getLogger(OURS).info("GET /event/ -> 200")
    err = capsys.readouterr().err
    assert "lucille@bluth.example" not in err and "Cinco de Cuatro" not in err
    assert err.count(" gave up") == 5, "their warnings still show"
    assert "GET /event/ -> 200" in err, "ours still shows"


def crm_strings(value: Any) -> set[str]:
    """Names, subjects and summaries in a tool's structured answer: the organization's data."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in {"lead_name", "user_name", "object_name", "summary", "before", "after"}:
                found.add(str(item))
            else:
                found |= crm_strings(item)
    elif isinstance(value, list):
        for item in value:
            found |= crm_strings(item)
    return {text for text in found if len(text) >= 8}


def test_a_tool_call_over_http_at_debug_logs_no_crm_data():
    """The console script at DEBUG answers three pages of events; its stderr holds none of them."""
    with cli_server("--log-level", "DEBUG") as (port, lines):
        url = f"http://127.0.0.1:{port}{http_app.MCP_PATH}"
        answers = []
        for arguments in (
            {"limit": 50},
            {"object_type": "contact", "limit": 50},
            {"object_type": "activity.email"},
        ):
            response = rpc(url, "tools/call", {"name": "list_events", "arguments": arguments})
            result = reply(response)["result"]
            assert not result.get("isError"), result
            answers.append(result)
    stderr = "".join(lines)
    assert "DEBUG close_events_mcp" in stderr, "the server should have logged at DEBUG"
    assert "INFO uvicorn.error: Uvicorn running on" in stderr, "uvicorn's start-up lines still show"
    emails = set(re.findall(r"[\w.+-]+@[\w-]+\.[\w.-]+", json.dumps(answers, ensure_ascii=False)))
    crm = crm_strings([answer["structuredContent"] for answer in answers])
    assert len(emails) >= 3 and len(crm) >= 20, "the answers should have carried CRM data"
    assert sorted(email for email in emails if email in stderr) == []
    assert sorted(text for text in crm if text in stderr) == []
