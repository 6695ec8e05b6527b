"""The HTTP transport: stateless MCP at ``/mcp``, Host/Origin checks, an optional bearer token.

Stateless means every request stands alone (no session ID, nothing kept between requests), so
any number of replicas are interchangeable behind any load balancer. Each POST is answered on its
own response stream (SSE), so a long scan's progress notifications reach the client. The bearer
token only admits the client: it is checked here and removed from the request before the MCP
layer sees it; Close is only ever called with the server's own credential.

Every request passes ``HttpFront`` before the SDK sees it, in this order: the Host and Origin
headers, the bearer token, the path (``/mcp``, or ``/mcp/`` answered the same; never a
redirect), then the method (POST only: a stateless server has no stream to GET and no session to
DELETE). Below it, the event loop logs running out of file descriptors once per interval instead
of once per failed accept.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import ipaddress
import json
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
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

LOG_INTERVAL = 30.0
"""A condition that repeats (out of file descriptors, bad requests) is logged at most once per this
many seconds, with the count of repeats not logged."""
RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
Refusal = tuple[int, bytes, list[tuple[bytes, bytes]]]
"""An answer instead of the MCP app's: a status, a JSON body and extra headers."""


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


def matches(value: str, patterns: Sequence[str]) -> bool:
    """Whether a Host or Origin value is one of ``patterns``; ``name:*`` is ``name`` on any port."""
    value = value.lower()
    base, _, port = value.rpartition(":")
    for pattern in patterns:
        if pattern.endswith(":*"):
            if port.isdigit() and base == pattern[:-2]:
                return True
        elif value == pattern:
            return True
    return False


class LogThrottle:
    """Admits one occurrence of a repeating condition per ``interval`` seconds of ``clock``."""

    def __init__(self, interval: float = LOG_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: float | None = None
        self._suppressed = 0

    def admit(self) -> int | None:
        """None if this occurrence is not to be logged, else how many were not logged since the last."""
        now = self._clock()
        if self._last is not None and now - self._last < self.interval:
            self._suppressed += 1
            return None
        suppressed, self._suppressed, self._last = self._suppressed, 0, now
        return suppressed


def _not_logged(suppressed: int, interval: float) -> str:
    return f" ({suppressed:,} more like it in the last {interval:g} s not logged)" if suppressed else ""


class ResourceErrorLog:
    """An asyncio exception handler that logs running out of file descriptors (or buffers, or
    memory) once per interval, without a traceback, and hands any other error to the default handler.

    asyncio's accept loop reports each failed ``accept()`` this way, one traceback per attempt and
    up to a backlog's worth of attempts per retry, which wrote megabytes of stderr a second while
    the server was out of descriptors. It retries by itself a second later: the server keeps serving
    as descriptors come free.
    """

    def __init__(self, interval: float = LOG_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self._throttle = LogThrottle(interval, clock)

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if not (isinstance(error, OSError) and error.errno in RESOURCE_ERRNOS):
            loop.default_exception_handler(context)
            return
        suppressed = self._throttle.admit()
        if suppressed is not None:
            logger.warning(
                "Out of system resources: %s (%s); connections wait until some close. Raise the "
                "open-file limit (ulimit -n) or add replicas.%s",
                context.get("message", "an operation failed"),
                error.strerror or error,
                _not_logged(suppressed, self._throttle.interval),
            )


class RepeatedWarningFilter(logging.Filter):
    """Lets each of ``messages`` through once per interval, noting how many were not logged.

    For uvicorn's warnings that any client can trigger once per request (a malformed request, an
    upgrade to WebSocket, a request past the connection limit).
    """

    def __init__(
        self,
        messages: Iterable[str],
        interval: float = LOG_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._throttles = {message: LogThrottle(interval, clock) for message in messages}

    def filter(self, record: logging.LogRecord) -> bool:
        throttle = self._throttles.get(str(record.msg))
        if throttle is None:
            return True
        suppressed = throttle.admit()
        if suppressed is None:
            return False
        if suppressed:
            record.msg = record.getMessage() + _not_logged(suppressed, throttle.interval)
            record.args = None
        return True


UVICORN_PER_REQUEST_WARNINGS = (
    "Invalid HTTP request received.",
    "Unsupported upgrade request.",
    "No supported WebSocket library detected. Please use \"pip install 'uvicorn[standard]'\", or "
    "install 'websockets' or 'wsproto' manually.",
    "Exceeded concurrency limit.",
)


class HttpServer(uvicorn.Server):
    """uvicorn's server, with running out of descriptors and per-request warnings logged sparingly."""

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().set_exception_handler(ResourceErrorLog())
        quiet = RepeatedWarningFilter(UVICORN_PER_REQUEST_WARNINGS)
        uvicorn_log = logging.getLogger("uvicorn.error")
        uvicorn_log.addFilter(quiet)
        try:
            await super().serve(sockets)
        finally:
            uvicorn_log.removeFilter(quiet)


class HttpFront:
    """ASGI middleware in front of the MCP app: everything a request must pass before the SDK.

    In order: Host and Origin (421 and 403, before anything else, so no answer ever echoes a
    foreign Host), the bearer token when one is set (401; the header is removed before the request
    goes on, so nothing behind can read the client's token, let alone pass it to Close), the path
    (``/mcp`` or ``/mcp/``, else 404; never a redirect), and the method (POST, else 405 with
    ``Allow: POST``: the transport is stateless, so there is no standalone stream to GET, which
    would otherwise stay open for ever, and no session to DELETE). WebSockets are refused: nothing
    here speaks them, and they would bypass these checks.
    """

    def __init__(
        self,
        app: ASGIApp,
        security: TransportSecuritySettings,
        *,
        token: Secret | None = None,
    ) -> None:
        self._app = app
        self._hosts = tuple(security.allowed_hosts)
        self._origins = tuple(security.allowed_origins)
        self._token = token.reveal().encode("ascii") if token is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._app(scope, receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            status, body, extra = refusal
            await _respond(send, status, body, extra)
            return
        kept = [(name, value) for name, value in headers if name != b"authorization"]
        forwarded = {**scope, "path": MCP_PATH, "raw_path": MCP_PATH.encode(), "headers": kept}
        await self._app(forwarded, receive, send)

    def _refusal(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> Refusal | None:
        hosts = [value.decode("latin-1") for name, value in headers if name == b"host"]
        if len(hosts) != 1 or not matches(hosts[0], self._hosts):
            logger.info("Refused an HTTP request for host %.100r", hosts[0] if hosts else None)
            return 421, _error("misdirected_request", f"Host not accepted; see {HOSTS_ENV}."), []
        origins = [value.decode("latin-1") for name, value in headers if name == b"origin"]
        if len(origins) > 1 or (origins and not matches(origins[0], self._origins)):
            logger.info("Refused an HTTP request from origin %.100r", origins[0])
            return 403, _error("forbidden", "Requests from that Origin are not accepted."), []
        if self._token is not None:
            offered = [value for name, value in headers if name == b"authorization"]
            if len(offered) != 1 or not _admits(offered[0], self._token):
                logger.info(
                    "Refused an HTTP request without a valid bearer token from %s", scope.get("client")
                )
                return _unauthorized(presented=bool(offered))
        if scope["path"] not in (MCP_PATH, MCP_PATH + "/"):
            return 404, _error("not_found", f"MCP is served at {MCP_PATH}."), []
        if scope["method"] != "POST":
            return (
                405,
                _error("method_not_allowed", f"Stateless: POST each JSON-RPC message to {MCP_PATH}."),
                [(b"allow", b"POST")],
            )
        return None


def _admits(authorization: bytes, token: bytes) -> bool:
    scheme, _, credentials = authorization.strip().partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), token)


def _error(code: str, message: str) -> bytes:
    return json.dumps({"error": code, "message": message}).encode()


def _unauthorized(*, presented: bool) -> Refusal:
    challenge = 'Bearer realm="close-events-mcp"' + (', error="invalid_token"' if presented else "")
    message = "Invalid bearer token." if presented else "Missing bearer token."
    body = _error("unauthorized", f"{message} Send Authorization: Bearer <{TOKEN_ENV}>.")
    return 401, body, [(b"www-authenticate", challenge.encode())]


async def _respond(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def build_http_app(server: MCPServer[Any], settings: Settings, host: str) -> ASGIApp:
    """The ASGI app serving ``server`` at ``/mcp``; its lifespan opens the server's Close client."""
    security = transport_security(host, settings.http_allowed_hosts)
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=False,
        transport_security=security,
        host=host,
    )
    return HttpFront(app, security, token=settings.http_token)


def uvicorn_config(app: ASGIApp, settings: Settings, host: str, port: int) -> uvicorn.Config:
    """How uvicorn serves ``app``, logging through ours."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_config=None,
        log_level=settings.log_level.lower(),
        server_header=False,
    )


def serve_http(server: MCPServer[Any], settings: Settings, host: str, port: int) -> None:
    """Serve until interrupted; uvicorn logs through the root logger (stderr, secrets redacted)."""
    app = build_http_app(server, settings, host)
    HttpServer(uvicorn_config(app, settings, host, port)).run()
