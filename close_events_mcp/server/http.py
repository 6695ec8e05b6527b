"""The HTTP transport: stateless MCP at ``/mcp``, Host/Origin checks, an optional bearer token.

Stateless means every request stands alone (no session ID, nothing kept between requests), so
any number of replicas are interchangeable behind any load balancer. Each POST is answered on its
own response stream (SSE), so a long scan's progress notifications reach the client. The bearer
token only admits the client: it is checked here and removed from the request before the MCP
layer sees it; Close is only ever called with the server's own credential.

Every request passes ``HttpFront`` before the SDK sees it, in this order: the Host and Origin
headers, the bearer token, the path (``/mcp``, or ``/mcp/`` answered the same; never a
redirect), the method (POST only: a stateless server has no stream to GET and no session to
DELETE), then the body, read whole within a deadline and a size limit. Below it, uvicorn's h11
protocol gets a deadline for each request's line and headers, and the event loop logs running
out of file descriptors once per interval instead of once per failed accept.
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

import anyio
import h11
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, TransportSecuritySettings
from uvicorn.protocols.http.h11_impl import H11Protocol

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

MAX_BODY_BYTES = DEFAULT_MAX_REQUEST_BODY_SIZE
"""A JSON-RPC request is a few hundred bytes; the SDK refuses more than this too."""
MAX_HEADER_BYTES = 16 * 1024
"""Request line and headers together; more is answered 400 by h11."""
KEEP_ALIVE_SECONDS = 5
"""An idle keep-alive connection is closed after this long."""
MAX_CONNECTIONS = 1_000
"""Open connections beyond which uvicorn answers 503; lower when the open-file limit is low."""
LOG_INTERVAL = 30.0
"""A condition that repeats (out of file descriptors, slow clients, bad requests) is logged at
most once per this many seconds, with the count of repeats not logged."""
RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
Refusal = tuple[int, bytes, list[tuple[bytes, bytes]]]
"""An answer instead of the MCP app's: a status, a JSON body and extra headers."""
REQUEST_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 16\r\nconnection: close\r\n\r\nRequest Timeout\n"
)


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


class HttpConfig(uvicorn.Config):
    """uvicorn's settings plus the deadline for a request's line and headers."""

    def __init__(self, app: ASGIApp, *, header_timeout: float, **options: Any) -> None:
        super().__init__(app, http=HeaderDeadlineProtocol, **options)
        self.header_timeout = header_timeout
        self.slow_clients = LogThrottle()


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, with a deadline for each request's line and headers.

    uvicorn itself waits for them forever: a client that connects and sends nothing, or sends its
    headers a byte at a time, keeps a connection and its file descriptor as long as it likes. The
    deadline runs from the connection (or the first byte of a keep-alive connection's next request)
    to the end of the headers, however steadily bytes arrive; when it passes, a client that sent
    part of a request is answered 408, and the connection is closed.
    """

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self.conn.their_state is h11.IDLE:
            self._arm_header_deadline()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        timeout = self.config.header_timeout if isinstance(self.config, HttpConfig) else 10.0
        self._header_timer = self.loop.call_later(timeout, self._header_deadline_passed)

    def _disarm_header_deadline(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_deadline_passed(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        partial, _ = self.conn.trailing_data
        if partial and self.conn.our_state is h11.IDLE:
            self.transport.write(REQUEST_TIMEOUT_RESPONSE)
        self.transport.close()
        if isinstance(self.config, HttpConfig):
            suppressed = self.config.slow_clients.admit()
            if suppressed is not None:
                logger.info(
                    "Closed a connection that sent no complete request line and headers within %g s%s",
                    self.config.header_timeout,
                    _not_logged(suppressed, self.config.slow_clients.interval),
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


def connection_limit() -> int:
    """Open connections to serve at once: half the open-file limit (the rest for Close and the
    process itself), at most ``MAX_CONNECTIONS``. Past it, uvicorn answers 503 at once."""
    try:
        import resource  # noqa: PLC0415  (Unix only)
    except ImportError:  # Windows
        return MAX_CONNECTIONS
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(16, min(MAX_CONNECTIONS, soft // 2))


class HttpFront:
    """ASGI middleware in front of the MCP app: everything a request must pass before the SDK.

    In order: Host and Origin (421 and 403, before anything else, so no answer ever echoes a
    foreign Host), the bearer token when one is set (401; the header is removed before the request
    goes on, so nothing behind can read the client's token, let alone pass it to Close), the path
    (``/mcp`` or ``/mcp/``, else 404; never a redirect), the method (POST, else 405 with ``Allow:
    POST``: the transport is stateless, so there is no standalone stream to GET, which would
    otherwise stay open for ever, and no session to DELETE), and the body (413 past
    ``max_body_bytes``, 408 when it has not all arrived within ``body_timeout`` seconds).
    WebSockets are refused: nothing here speaks them, and they would bypass these checks.
    """

    def __init__(
        self,
        app: ASGIApp,
        security: TransportSecuritySettings,
        *,
        token: Secret | None = None,
        body_timeout: float = 30.0,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._app = app
        self._hosts = tuple(security.allowed_hosts)
        self._origins = tuple(security.allowed_origins)
        self._token = token.reveal().encode("ascii") if token is not None else None
        self._body_timeout = body_timeout
        self._max_body_bytes = max_body_bytes

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
        read = await self._read_body(headers, receive)
        if isinstance(read, tuple):
            status, body, extra = read
            await _respond(send, status, body, extra)
            return
        if read is None:  # the client left
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": read, "more_body": False}

        kept = [(name, value) for name, value in headers if name != b"authorization"]
        forwarded = {**scope, "path": MCP_PATH, "raw_path": MCP_PATH.encode(), "headers": kept}
        await self._app(forwarded, replay, send)

    def _refusal(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> Refusal | None:
        hosts = [value.decode("latin-1") for name, value in headers if name == b"host"]
        if len(hosts) != 1 or not matches(hosts[0], self._hosts):
            logger.info("Refused an HTTP request for host %.100r", hosts[0] if hosts else None)
            return 421, _error("misdirected_request", f"Invalid Host header; see {HOSTS_ENV}."), []
        origins = [value.decode("latin-1") for name, value in headers if name == b"origin"]
        if len(origins) > 1 or (origins and not matches(origins[0], self._origins)):
            logger.info("Refused an HTTP request from origin %.100r", origins[0])
            return 403, _error("forbidden", "Invalid Origin header: not a name this server answers for."), []
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

    async def _read_body(
        self, headers: list[tuple[bytes, bytes]], receive: Receive
    ) -> bytes | Refusal | None:
        """The whole body; a refusal when it is too large or too slow; None when the client left."""
        too_large: Refusal = (
            413,
            _error("too_large", f"Request bodies are limited to {self._max_body_bytes:,} bytes."),
            [],
        )
        declared = [value for name, value in headers if name == b"content-length"]
        if declared and declared[0].strip().isdigit() and int(declared[0]) > self._max_body_bytes:
            return too_large
        chunks: list[bytes] = []
        size = 0
        with anyio.move_on_after(self._body_timeout):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return None
                chunk: bytes = message.get("body", b"")
                size += len(chunk)
                if size > self._max_body_bytes:
                    return too_large
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
        late = f"The request body did not arrive within {self._body_timeout:g} s."
        return 408, _error("request_timeout", late), []


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
    if status in (408, 413):  # the rest of the body is still on the wire: this connection is done
        headers.append((b"connection", b"close"))
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
    return HttpFront(app, security, token=settings.http_token, body_timeout=settings.http_body_timeout)


def uvicorn_config(app: ASGIApp, settings: Settings, host: str, port: int) -> HttpConfig:
    """How uvicorn serves ``app``: deadlines and limits for slow or numerous clients, our logging."""
    return HttpConfig(
        app,
        header_timeout=settings.http_header_timeout,
        host=host,
        port=port,
        lifespan="on",
        ws="none",
        log_config=None,
        log_level=settings.log_level.lower(),
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        limit_concurrency=connection_limit(),
    )


def serve_http(server: MCPServer[Any], settings: Settings, host: str, port: int) -> None:
    """Serve until interrupted; uvicorn logs through the root logger (stderr, secrets redacted)."""
    app = build_http_app(server, settings, host)
    HttpServer(uvicorn_config(app, settings, host, port)).run()
