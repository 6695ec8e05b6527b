"""The HTTP transport: stateless MCP at ``/mcp``, Host/Origin checks, an optional bearer token.

Stateless means every request stands alone (no session ID, nothing kept between requests), so
any number of replicas are interchangeable behind any load balancer. Each POST is answered on its
own response stream (SSE), so a long scan's progress notifications reach the client. The bearer
token only admits the client: it is checked here and removed from the request before the MCP
layer sees it; Close is only ever called with the server's own credential.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

from close_events_mcp.config import Secret, Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})
MIN_TOKEN_LENGTH = 16
TOKEN_PATTERN = re.compile(r"[\x21-\x7e]+")  # visible ASCII: sent in a header as it is
HOST_ENTRY = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]{1,5})?")
TOKEN_ENV = "CLOSE_EVENTS_HTTP_TOKEN"
HOSTS_ENV = "CLOSE_EVENTS_HTTP_ALLOWED_HOSTS"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def startup_problem(settings: Settings, host: str) -> str | None:
    """Why the HTTP transport must not start on ``host`` with these settings, or None."""
    if settings.http_token is None and not is_loopback(host):
        return (
            f"refusing to serve MCP over HTTP on {host or 'all addresses'} without a token: anyone who "
            f"can reach it could read the Close Event Log. Set {TOKEN_ENV} (clients then send "
            "Authorization: Bearer <token>), or bind a loopback address such as 127.0.0.1."
        )
    token = settings.http_token.reveal() if settings.http_token else None
    if token is not None and (len(token) < MIN_TOKEN_LENGTH or not TOKEN_PATTERN.fullmatch(token)):
        return (
            f"{TOKEN_ENV} must be at least {MIN_TOKEN_LENGTH} visible ASCII characters without spaces; "
            "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    for entry in settings.http_allowed_hosts:
        if not HOST_ENTRY.fullmatch(entry):
            return (
                f"{HOSTS_ENV} takes comma-separated host names or host:port (IPv6 addresses in "
                f"brackets), got {entry!r}."
            )
    return None


def startup_notes(settings: Settings, host: str, port: int) -> list[str]:
    """What an operator should know about this HTTP server, for stderr at start-up."""
    shown = _header_name(host) if host not in WILDCARD_HOSTS else "0.0.0.0"
    guard = "a bearer token required" if settings.http_token else "no token (loopback only)"
    notes = [f"MCP over HTTP at http://{shown}:{port}{MCP_PATH} (stateless), {guard}."]
    if not is_loopback(host) and not settings.http_allowed_hosts:
        accepted = "a loopback name" if host in WILDCARD_HOSTS else f"a loopback name or {shown}"
        notes.append(
            f"{HOSTS_ENV} is empty: only requests whose Host header is {accepted} are accepted. "
            "List the names clients use to reach this server (a proxy's public name included)."
        )
    return notes


def _header_name(host: str) -> str:
    """``host`` as it appears in a Host header: IPv6 addresses in brackets."""
    host = host.lower()
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _any_port(name: str) -> list[str]:
    return [name] if re.search(r":[0-9]+$", name) else [name, f"{name}:*"]


def transport_security(host: str, extra_hosts: Iterable[str]) -> TransportSecuritySettings:
    """Host and Origin checks: loopback names on any port, the bound host, and ``extra_hosts``."""
    names = [*LOOPBACK_NAMES]
    if host not in WILDCARD_HOSTS:
        names.append(_header_name(host))
    names.extend(extra_hosts)
    hosts = [pattern for name in dict.fromkeys(names) for pattern in _any_port(name)]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")],
    )


class BearerTokenGate:
    """ASGI middleware: admits an HTTP request only with ``Authorization: Bearer <token>``.

    The header is removed before the request goes on, so nothing behind this gate can read the
    client's token, let alone pass it to Close.
    """

    def __init__(self, app: ASGIApp, token: Secret) -> None:
        self._app = app
        self._token = token.reveal().encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._app(scope, receive, send)
            return
        if scope["type"] != "http":  # a websocket: nothing here speaks it, and it would bypass the check
            await send({"type": "websocket.close", "code": 1008})
            return
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        offered = [value for name, value in headers if name == b"authorization"]
        if len(offered) != 1 or not self._admits(offered[0]):
            logger.info("Refused an HTTP request without a valid bearer token from %s", scope.get("client"))
            await _unauthorized(send, presented=bool(offered))
            return
        kept = [(name, value) for name, value in headers if name != b"authorization"]
        await self._app({**scope, "headers": kept}, receive, send)

    def _admits(self, authorization: bytes) -> bool:
        scheme, _, credentials = authorization.strip().partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self._token)


async def _unauthorized(send: Send, *, presented: bool) -> None:
    challenge = 'Bearer realm="close-events-mcp"' + (', error="invalid_token"' if presented else "")
    message = "Invalid bearer token." if presented else "Missing bearer token."
    body = json.dumps(
        {"error": "unauthorized", "message": f"{message} Send Authorization: Bearer <{TOKEN_ENV}>."}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", challenge.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def build_http_app(server: MCPServer[Any], settings: Settings, host: str) -> ASGIApp:
    """The ASGI app serving ``server`` at ``/mcp``; its lifespan opens the server's Close client."""
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=False,
        transport_security=transport_security(host, settings.http_allowed_hosts),
        host=host,
    )
    if settings.http_token is not None:
        app = BearerTokenGate(app, settings.http_token)
    return app


def serve_http(server: MCPServer[Any], settings: Settings, host: str, port: int) -> None:
    """Serve until interrupted; uvicorn logs through the root logger (stderr, secrets redacted)."""
    app = build_http_app(server, settings, host)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_config=None,
        log_level=settings.log_level.lower(),
        server_header=False,
    )
    uvicorn.Server(config).run()
