"""The MCP App view (``close_events_mcp/view``): offered only to clients that negotiated MCP Apps, to
which it is served as the spec wants; every other client sees the server as it was. The page itself
is self-contained, small and CSP-clean. (Rendered in a real browser: ``test_view_browser.py``.)"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from mcp import Client
from mcp.client import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from close_events_mcp import catalog
from close_events_mcp.cli import demo_setup
from close_events_mcp.config import settings_from_env
from close_events_mcp.server import http as http_app
from close_events_mcp.server.app import EventLogServer, build_server
from close_events_mcp.view import TIMELINE_URI, timeline_html
from close_events_sandbox.app import SandboxApp
from close_events_sandbox.serve import serve_asgi_in_thread
from tests.conftest import clock, make_settings, text_of

pytestmark = pytest.mark.anyio

VIEWED = {"list_events", "summarize_events"}
APPS = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})


@pytest.fixture
async def apps_client(server: EventLogServer) -> AsyncIterator[Client]:
    async with Client(server, extensions=[APPS]) as connected:
        yield connected


def wire(model: object) -> object:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)  # type: ignore[attr-defined]


async def test_a_client_without_apps_sees_no_view(client):
    tools = wire(await client.list_tools())
    assert all("_meta" not in tool for tool in tools["tools"])  # type: ignore[index]
    resources = wire(await client.list_resources())
    assert not [r for r in resources["resources"] if r["uri"].startswith("ui://")]  # type: ignore[index]


async def test_a_client_with_apps_sees_the_view_bound_to_the_list_and_the_digest(apps_client):
    tools = {tool.name: tool for tool in (await apps_client.list_tools()).tools}
    bound = {name for name, tool in tools.items() if tool.meta}
    assert bound == VIEWED
    for name in VIEWED:
        assert tools[name].meta == {"ui": {"resourceUri": TIMELINE_URI}}
    assert EXTENSION_ID in (apps_client.server_capabilities.extensions or {})
    listed = {str(r.uri): r for r in (await apps_client.list_resources()).resources}
    assert listed[TIMELINE_URI].mime_type == APP_MIME_TYPE
    read = await apps_client.read_resource(TIMELINE_URI)
    (content,) = read.contents
    assert content.mime_type == APP_MIME_TYPE
    assert content.text == timeline_html()  # type: ignore[union-attr]


async def test_the_two_clients_see_the_same_tools_but_for_the_binding(client, apps_client):
    """Byte for byte: what the model reads (and the tool-definition budget counts) is unchanged."""
    plain = json.dumps(wire(await client.list_tools()), sort_keys=True)
    apps = wire(await apps_client.list_tools())
    for tool in apps["tools"]:  # type: ignore[index]
        tool.pop("_meta", None)
    assert json.dumps(apps, sort_keys=True) == plain


async def test_answers_are_the_same_with_or_without_the_view(client, apps_client):
    for tool, arguments in (("list_events", {"limit": 20}), ("summarize_events", {"since": "7d"})):
        plain, apps = await client.call_tool(tool, arguments), await apps_client.call_tool(tool, arguments)
        assert text_of(plain) == text_of(apps)
        assert plain.structured_content == apps.structured_content


def test_the_page_is_small_and_self_contained():
    html = timeline_html()
    assert len(html.encode()) < 60_000
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert not re.search(r"https?:|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.IGNORECASE)  # nothing fetched
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", html, re.IGNORECASE)
    assert not re.search(r"@import|url\(", html)


def test_the_page_is_csp_clean_and_writes_crm_text_as_text():
    html = timeline_html()
    assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", html, re.IGNORECASE)  # no inline handlers
    for banned in ("eval(", "new Function", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
        assert banned not in html, banned
    assert not re.search(r"set(Timeout|Interval)\(\s*[\"'`]", html)
    assert "javascript:" not in html


def test_the_pages_noise_is_the_catalogs():
    noise = json.loads(re.search(r"const NOISE = (\{.*?\});", timeline_html()).group(1))  # type: ignore[union-attr]
    catalog_noise = {
        kind.name: [action.name for action in kind.actions if action.noise]
        for kind in catalog.OBJECT_TYPES
        if any(action.noise for action in kind.actions)
    }
    assert noise == catalog_noise


async def test_the_demo_server_offers_the_view():
    """``close-events-mcp --demo`` builds its server as any other: the view is there for Apps clients."""
    settings, transport = demo_setup(settings_from_env({}))
    async with Client(build_server(settings, transport=transport), extensions=[APPS]) as connected:
        listed = {tool.name: tool.meta for tool in (await connected.list_tools()).tools}
        assert listed["summarize_events"] == {"ui": {"resourceUri": TIMELINE_URI}}
        result = await connected.call_tool("list_events", {"limit": 5})
        assert len(result.structured_content["events"]) == 5  # type: ignore[index]
        (content,) = (await connected.read_resource(TIMELINE_URI)).contents
        assert content.text == timeline_html()  # type: ignore[union-attr]


async def test_over_stateless_http_the_view_is_offered_where_each_request_says_who_asks(sandbox: SandboxApp):
    """On 2026-07-28 every request carries the client's capabilities; before it only initialize did,
    which a stateless server does not keep: those clients are shown what any other client sees."""
    settings = make_settings()
    server = build_server(settings, transport=httpx.ASGITransport(app=sandbox), clock=clock)
    with serve_asgi_in_thread(http_app.build_http_app(server, settings, "127.0.0.1")) as origin:
        url = origin + http_app.MCP_PATH
        for extensions, mode, offered in (
            ([APPS], "auto", True),
            ([], "auto", False),
            ([APPS], "legacy", False),
        ):
            async with Client(url, extensions=extensions, mode=mode) as connected:
                bound = {tool.name for tool in (await connected.list_tools()).tools if tool.meta}
                assert bound == (VIEWED if offered else set()), (extensions, mode)
