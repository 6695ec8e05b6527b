"""Use an installed close-events-mcp as a user and a host would; run by .ci/package.py with the
interpreter of the fresh virtual environment it was installed into.

    python installed_check.py --tools describe_event_types,get_event,... [--http]

--tools are the tools the server must serve, exactly (mcpb/manifest.json lists them). --http also
serves it as the Docker image does (streamable HTTP on every address, a bearer token required) and
talks to it over loopback.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

import close_events_mcp

SCRIPT = str(Path(sys.executable).with_name("close-events-mcp"))
CALL = {"object_type": "lead", "action": "deleted", "limit": 3}
ENV = {k: v for k, v in os.environ.items() if not k.startswith("CLOSE_")}


def fail(message: str) -> NoReturn:
    sys.exit(f"{sys.prefix}: {message}")


def installed() -> str:
    if not Path(close_events_mcp.__file__).is_relative_to(sys.prefix):
        fail(f"imported {close_events_mcp.__file__}, not the installed package")
    version = importlib.metadata.version("close-events-mcp")
    shown = subprocess.run([SCRIPT, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if shown != f"close-events-mcp {version}" or close_events_mcp.__version__ != version:
        fail(f"--version says {shown!r}; __version__ {close_events_mcp.__version__}, metadata {version}")
    command = [SCRIPT, "call", "list_events", *(f"{k}={v}" for k, v in CALL.items()), "--demo"]
    answer = subprocess.run(command, capture_output=True, text=True, check=False)
    if answer.returncode != 0 or not answer.stdout.startswith("3 events"):
        fail(f"the demo call exited {answer.returncode}: {answer.stdout[-800:]}{answer.stderr[-800:]}")
    return f"{shown}; `call list_events ... --demo` answers {answer.stdout.splitlines()[0]!r}"


async def session(client: Client, tools: set[str], where: str) -> str:
    with anyio.fail_after(60):
        async with client:
            served = {tool.name for tool in (await client.list_tools()).tools}
            result = await client.call_tool("list_events", CALL)
            info = client.server_info
    if served != tools:
        fail(f"{where}: serves {sorted(served)}; mcpb/manifest.json lists {sorted(tools)}")
    content: Any = result.structured_content
    if result.is_error or not content or content.get("count") != 3:
        fail(f"{where}: list_events answered {result}")
    name = f"{info.name} {info.version}" if info else "a server"
    return f"{where}: {name} serves the {len(served)} tools; list_events answers"


async def http_session(url: str, token: str, tools: set[str]) -> str:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http_client:
        return await session(Client(streamable_http_client(url, http_client=http_client)), tools, "HTTP")


@contextmanager
def http_server(token: str) -> Iterator[str]:
    """The Docker image's command, on the demo organization instead of a Close key; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    command = [SCRIPT, "--demo", "--transport", "streamable-http", "--host", "0.0.0.0", "--port", str(port)]
    env = ENV | {"CLOSE_EVENTS_HTTP_TOKEN": token}
    with tempfile.TemporaryFile("w+") as log:  # not a pipe: nobody reads it unless something fails
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 30
            while server.poll() is None and time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                log.seek(0)
                fail(f"the HTTP server did not come up: {log.read()[-1500:]}")
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            server.kill()
            server.wait(10)


def refused_without_token(url: str) -> bool:
    request = urllib.request.Request(url, data=b"{}", headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        return error.code == 401
    return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tools", required=True, help="comma-separated tool names")
    parser.add_argument("--http", action="store_true")
    args = parser.parse_args()
    tools = set(args.tools.split(","))
    print(installed())
    stdio = StdioServerParameters(command=SCRIPT, args=["--demo"], env=ENV)
    print(anyio.run(session, Client(stdio), tools, "stdio"))
    if args.http:
        token = secrets.token_urlsafe(32)
        with http_server(token) as url:
            if not refused_without_token(url):
                fail("the HTTP transport answered a request without the bearer token")
            print(anyio.run(http_session, url, token, tools) + "; 401 without the token")


if __name__ == "__main__":
    main()
