"""A host for the MCP App view in headless Chromium, for ``test_view_browser.py`` and ``bench/view.py``.

Python plays the host's MCP client: it connects to the server as a client that negotiated MCP Apps,
finds the view through the tool's ``_meta.ui.resourceUri``, reads it with ``resources/read`` and calls
the tool. ``view_host.html`` plays the host's page: it loads the view in a sandboxed iframe under the
spec's restrictive default CSP, speaks the Apps protocol to it, and relays the view's ``tools/call``
back to Python (``window.mcpCall``), which calls the server and records the call.

Chromium is Debian's (``apt-get install -y chromium``, as ``.ci/run`` does), driven by Playwright's
Python package without a browser of its own; ``CHROMIUM`` in the environment points elsewhere.
"""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

ROOT = Path(__file__).resolve().parent.parent
HOST_PAGE = Path(__file__).with_name("view_host.html")
ARTIFACTS = ROOT / "artifacts" / "view"
"""Screenshots the tests take (gitignored)."""
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
FLAGS = [  # as root, offline: no sandbox, nothing fetched in the background
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A sandboxed iframe stays in the page's process (still sandboxed: an opaque origin, the host's
    # CSP): out of process, headless Chromium here screenshots it blank.
    "--disable-features=IsolateSandboxedIframes",
]
APPS = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
"""What a host that renders MCP Apps declares when it connects."""
MISSING = (
    f"Chromium is not installed at {CHROMIUM}: the view's browser tests need it. "
    "Install Debian's package (apt-get update && apt-get install -y chromium; .ci/run does), "
    "or set CHROMIUM to another Chromium binary."
)


def wire(model: Any) -> dict[str, Any]:
    """An MCP result as it travels (camelCase, nothing null)."""
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def distinct_colours(png: bytes) -> int:
    from PIL import Image  # noqa: PLC0415

    with Image.open(io.BytesIO(png)) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 24)
    return len(colours or [])


def chromium_path() -> str:
    if not CHROMIUM.exists():
        raise RuntimeError(MISSING)
    return str(CHROMIUM)


def host_page() -> str:
    return HOST_PAGE.read_text()


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


@dataclass
class Shown:
    """One tool answer shown in the view."""

    result: dict[str, Any]
    frame: Any  # playwright Frame: the view's document


@dataclass
class Host:
    page: Any  # playwright Page: the host page
    client: Client
    html: str
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def show(
        self, tool: str, arguments: dict[str, Any], context: dict[str, Any] | None = None
    ) -> Shown:
        """Call ``tool`` on the server and show its answer in a freshly loaded view."""
        result = wire(await self.client.call_tool(tool, arguments))
        await self.page.evaluate(
            "([html, tool, args, result, context]) => host.load(html, tool, args, result, context)",
            [self.html, tool, arguments, result, context or {"theme": "light"}],
        )
        view = self.page.frame_locator("#view")
        await view.locator("body[data-state=ready]").wait_for(state="attached", timeout=15_000)
        return Shown(result, self.page.main_frame.child_frames[0])

    async def screenshot(self, name: str) -> bytes:
        png: bytes = await self.page.locator("#view").screenshot(path=artifact(name))
        return png


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Headless Chromium (a fresh profile each launch); RuntimeError with what to do if it is missing."""
    executable = chromium_path()
    from playwright.async_api import async_playwright  # noqa: PLC0415

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def hosting(browser: Any, server: Any, *, width: int = 720, height: int = 900) -> AsyncIterator[Host]:
    """The host page in a new tab, connected to ``server`` as an MCP Apps client."""
    async with Client(server, extensions=[APPS]) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        uri = tools["list_events"].meta["ui"]["resourceUri"]  # type: ignore[index]
        (content,) = (await client.read_resource(uri)).contents
        assert content.mime_type == APP_MIME_TYPE
        page = await browser.new_page(viewport={"width": width, "height": height})
        host = Host(page, client, content.text)  # type: ignore[union-attr]

        def console(message: Any) -> None:
            if message.type in ("error", "warning"):
                host.errors.append(f"{message.type}: {message.text}")

        page.on("console", console)
        page.on("pageerror", lambda error: host.errors.append(f"page error: {error}"))
        # What the browser itself logs (a CSP violation, a failed load) is not a console call.
        cdp = await page.context.new_cdp_session(page)

        def logged(added: dict[str, Any]) -> None:
            if added["entry"]["level"] in ("error", "warning"):
                host.errors.append(f"browser log: {added['entry']['text']}")

        cdp.on("Log.entryAdded", logged)
        await cdp.send("Log.enable")

        async def mcp_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
            host.calls.append((name, arguments))
            return wire(await client.call_tool(name, arguments))

        await page.expose_function("mcpCall", mcp_call)
        await page.set_content(host_page())
        try:
            yield host
        finally:
            await page.close()
