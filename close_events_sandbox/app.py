"""The emulator as an ASGI app: Close's auth, routes, errors, rate limits, and injectable faults.

Routes (under ``/api/v1``): ``GET /event/``, ``GET /event/{id}/``, ``GET /me/``, ``GET /user/``,
``GET /custom_field/<kind>/`` and ``GET /lead/{id}/`` (``_fields`` honoured), the lead as its newest
event left it (404 once deleted or merged away).
Serve it in-process with ``httpx.ASGITransport`` or on a loopback port with uvicorn. The faults
that live on the wire (connection resets, a slow drip, an oversized body) mean what they say only
on a socket: in-process, a reset raises ``ConnectionResetError`` into the caller, and httpx's ASGI
transport collects a dripped or oversized body whole before handing it over.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import re
import socket
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

import anyio

from close_events_sandbox import close_rules as rules
from close_events_sandbox.close_rules import parse_timestamp
from close_events_sandbox.org import DemoOrg, JSONDict, Principal
from close_events_sandbox.store import DATE_FILTERS, EventStore, QueryError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PREFIX = "/api/v1"
_EVENT_PATH = re.compile(r"/event/([^/]+)/")
_LEAD_PATH = re.compile(r"/lead/(lead_[A-Za-z0-9]+)/")
_CUSTOM_FIELD_PATH = re.compile(r"/custom_field/(lead|contact|opportunity|activity|shared)/")
RateLimitStyle = Literal["ratelimit", "retry-after", "body", "none"]
ResetStyle = Literal["before", "during", "close"]
Delivery = Literal["whole", "hang", "reset", "cut", "drip", "oversized"]
Response = tuple[int, list[tuple[bytes, bytes]], bytes]
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass
class Faults:
    """What the emulator does wrong, switchable at any time (tests flip these between calls)."""

    latency: float = 0.0
    """Seconds added to every request."""
    after: int = 0
    """The next N requests are answered normally before any fault below applies (a fault in the middle
    of a scan, say); rate limiting and latency apply throughout."""
    rate_limit: int | None = None
    """Requests allowed per credential per ``rate_window`` seconds; beyond that, 429. Counted as
    they arrive, before the latency (a 429 comes back at once), as a gateway's limiter does."""
    rate_window: float = 1.0
    rate_limit_style: RateLimitStyle = "ratelimit"
    """How the limiter says when to retry. ``ratelimit``, Close's way: every answer carries
    ``RateLimit: limit=…, remaining=…, reset=…`` and a 429's body ``error.rate_reset`` too; or
    no RateLimit header anywhere and a 429 with only ``retry-after``, only the ``body``'s
    ``rate_reset``, or nothing at all (``none``)."""
    burst_429: int = 0
    """The next N requests get 429 whatever the rate."""
    burst_429_style: RateLimitStyle = "ratelimit"
    """How those 429s say when to retry: RateLimit header, Retry-After, body's rate_reset, or not at all."""
    burst_429_reset: float = 1.0
    burst_5xx: int = 0
    """The next N requests get ``status_5xx``."""
    status_5xx: int = 503
    malformed: int = 0
    """The next N responses are 200 with a body that is not JSON (an HTML error page)."""
    truncated: int = 0
    """The next N responses are 200 with JSON cut off half way."""
    garbled: int = 0
    """The next N responses are 200 declaring ``Content-Encoding: gzip`` over bytes that are not gzip."""
    hang: int = 0
    """The next N requests never get an answer (the emulator waits until the client goes away)."""
    reset: int = 0
    """The next N requests have their connection dropped instead of a complete answer."""
    reset_style: ResetStyle = "before"
    """``before``: a TCP reset before one byte of the answer; ``during``: the status, the headers (with
    the full Content-Length) and half the body, then a reset; ``close``: the same half answer, then an
    orderly close, so the body ends short of its Content-Length."""
    drip: int = 0
    """The next N responses trickle out ``drip_bytes`` at a time, ``drip_pause`` seconds apart."""
    drip_bytes: int = 16
    drip_pause: float = 0.25
    oversized: int = 0
    """The next N responses that would be 200 are a JSON object of ``oversized_bytes`` instead,
    generated while it is sent (the emulator never holds it), until the client hangs up."""
    oversized_bytes: int = 256 * 1024 * 1024
    oversized_declared: bool = True
    """Whether the oversized body announces its size in Content-Length, or comes chunked without it."""


@dataclass(frozen=True, slots=True)
class RequestRecord:
    method: str
    path: str
    params: tuple[tuple[str, str], ...]
    status: int
    user_agent: str | None


@dataclass
class _Window:
    started: float = 0.0
    used: int = 0


class SandboxApp:
    def __init__(
        self,
        org: DemoOrg,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        faults: Faults | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.org = org
        self.store = EventStore(org.events, clock=clock)
        self.faults = faults or Faults()
        self.requests: deque[RequestRecord] = deque(maxlen=10_000)
        self._monotonic = monotonic
        self._windows: dict[str, _Window] = {}
        self._users = {u["id"]: u for u in org.users}
        self._roles = {m["user_id"]: m["role_id"] for m in org.memberships}
        self._leads: dict[str, list[JSONDict]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method = scope["method"]
        path = scope["path"]
        params = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        (status, headers, body), delivery = await self._handle(
            method, path, dict(params), _header(scope, b"authorization")
        )
        if delivery == "oversized":
            status, headers = 200, _oversized_headers(self.faults)
        self.requests.append(
            RequestRecord(method, path, tuple(params), status, _header(scope, b"user-agent"))
        )
        start = {"type": "http.response.start", "status": status, "headers": headers}
        if delivery == "whole":
            await send(start)
            await send({"type": "http.response.body", "body": body})
        elif delivery == "hang":
            await _client_gone(receive)
        elif delivery == "reset":
            await _drop(receive, send, reset=True)
        elif delivery == "cut":
            await send(start)
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            await anyio.sleep(0.05)  # let the client read the status and part of the body first
            await _drop(receive, send, reset=self.faults.reset_style == "during")
        elif delivery == "drip":
            size = max(self.faults.drip_bytes, 1)
            chunks = (body[i : i + size] for i in range(0, len(body), size))
            await _stream(receive, send, start, chunks, self.faults.drip_pause)
        else:
            await _stream(receive, send, start, _oversized_body(self.faults.oversized_bytes), 0.0)

    async def _handle(
        self, method: str, path: str, params: dict[str, str], authorization: str | None
    ) -> tuple[Response, Delivery]:
        """The answer, and how it goes on the wire (the faults that live there)."""
        faults = self.faults
        refused, limit_headers = self._admit(authorization)
        if refused is not None:
            return refused, "whole"
        if faults.latency:
            await anyio.sleep(faults.latency)
        if faults.after > 0:
            faults.after -= 1
            return self._answer(method, path, params, authorization, limit_headers, inject=False), "whole"
        if faults.hang > 0:
            faults.hang -= 1
            return (0, [], b""), "hang"
        if faults.reset > 0 and faults.reset_style == "before":
            faults.reset -= 1
            return (0, [], b""), "reset"
        response = self._answer(method, path, params, authorization, limit_headers)
        if faults.oversized > 0 and response[0] == 200:
            faults.oversized -= 1
            return response, "oversized"
        if faults.reset > 0:
            faults.reset -= 1
            return response, "cut"
        if faults.drip > 0:
            faults.drip -= 1
            return response, "drip"
        return response, "whole"

    def _answer(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        authorization: str | None,
        limit_headers: list[tuple[bytes, bytes]],
        *,
        inject: bool = True,
    ) -> Response:
        faults = self.faults
        principal = self._authenticate(authorization)
        if principal is None:
            return _json(401, {"error": "Unauthorized: the API key or access token is invalid."})
        if not inject:
            status, headers, body = self._route(method, path, params, principal)
            return status, headers + limit_headers, body
        if faults.burst_429 > 0:
            faults.burst_429 -= 1
            return _too_many(faults.burst_429_style, faults.burst_429_reset)
        if faults.burst_5xx > 0:
            faults.burst_5xx -= 1
            return _json(faults.status_5xx, {"error": "Service temporarily unavailable."})
        status, headers, body = self._route(method, path, params, principal)
        headers += limit_headers
        if faults.malformed > 0 and status == 200:
            faults.malformed -= 1
            return (
                200,
                [(b"content-type", b"text/html")],
                b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            )
        if faults.truncated > 0 and status == 200:
            faults.truncated -= 1
            return 200, [(b"content-type", b"application/json")], body[: len(body) // 2]
        if faults.garbled > 0 and status == 200:
            faults.garbled -= 1
            return 200, [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")], body
        return status, headers, body

    def _route(self, method: str, path: str, params: dict[str, str], principal: Principal) -> Response:
        if not path.startswith(PREFIX):
            return _json(404, {"error": "Not found."})
        route = path[len(PREFIX) :]
        if method != "GET":
            return _json(405, {"error": f"Method {method} not allowed."})
        is_admin = principal.is_admin
        if route == "/event/":
            return self._list_events(params, is_admin)
        match = _EVENT_PATH.fullmatch(route)
        if match:
            event = self.store.get(match.group(1), is_admin=is_admin)
            if event is None:
                return _json(404, {"error": "Event not found."})
            return _json(200, event)
        if route == "/me/":
            return _json(200, self._me(principal))
        if route == "/user/":
            return self._list_users(params)
        lead = _LEAD_PATH.fullmatch(route)
        if lead:
            return self._lead(lead.group(1), params)
        fields = _CUSTOM_FIELD_PATH.fullmatch(route)
        if fields:
            data = self.org.custom_fields.get(f"custom_fields.{fields.group(1)}", [])
            return _json(200, {"data": data, "has_more": False})
        return _json(404, {"error": "Not found."})

    def _list_events(self, params: dict[str, str], is_admin: bool) -> Response:
        allowed = {*rules.FILTER_NAMES, *DATE_FILTERS, "_limit", "_cursor"}
        unknown = sorted(set(params) - allowed)
        if unknown:
            return _json(400, {"errors": [f"Unknown parameter: {', '.join(unknown)}."], "field-errors": {}})
        try:
            page = self.store.query(params, is_admin=is_admin)
        except QueryError as exc:
            return _json(400, {"errors": [str(exc)], "field-errors": {}})
        return _json(
            200, {"data": page.data, "cursor_next": page.cursor_next, "cursor_previous": page.cursor_previous}
        )

    def _me(self, principal: Principal) -> JSONDict:
        user = self._users.get(principal.user_id, {"id": principal.user_id})
        org = self.org.organization
        return {
            **user,
            "organizations": [{"id": org["id"], "name": org["name"]}],
            "memberships": [
                {
                    "id": m["id"],
                    "organization_id": m["organization_id"],
                    "role_id": m["role_id"],
                    "user_id": m["user_id"],
                }
                for m in self.org.memberships
                if m["user_id"] == principal.user_id
            ],
        }

    def _list_users(self, params: dict[str, str]) -> Response:
        try:
            skip = int(params.get("_skip", "0"))
            limit = min(int(params.get("_limit", "100")), 100)
        except ValueError:
            return _json(400, {"errors": ["_skip and _limit must be integers."], "field-errors": {}})
        if skip < 0 or limit < 1:
            return _json(400, {"errors": ["_skip and _limit must be positive."], "field-errors": {}})
        users = self.org.users[skip : skip + limit]
        return _json(200, {"data": users, "has_more": skip + limit < len(self.org.users)})

    def _lead(self, lead_id: str, params: dict[str, str]) -> Response:
        """The lead as it is now: what its newest lead event (at the store's clock) says of it. A lead
        with no lead event at all (created before the story began) is known by its name alone."""
        newest: JSONDict | None = None
        now = self.store.clock()
        for event in self._lead_events().get(lead_id, []):
            moment = parse_timestamp(event["date_updated"])
            if moment is not None and moment <= now:
                newest = event
        lead: JSONDict | None
        if newest is not None:
            lead = None if newest["action"] == "deleted" else newest.get("data")
        else:
            name = next(
                (k[5:] for k, v in self.org.landmarks.items() if k.startswith("lead:") and v == lead_id), None
            )
            lead = {"id": lead_id, "display_name": name, "name": name} if name else None
        if not isinstance(lead, dict):
            return _json(404, {"error": "Not found."})
        wanted = [name for name in params.get("_fields", "").split(",") if name]
        return _json(200, {key: lead[key] for key in wanted if key in lead} if wanted else lead)

    def _lead_events(self) -> dict[str, list[JSONDict]]:
        """Each lead's own events, oldest first (indexed on first use)."""
        if self._leads is None:
            self._leads = {}
            lead_events = (e for e in self.org.events if e.get("object_type") == "lead")
            for event in sorted(
                lead_events, key=lambda e: (parse_timestamp(e["date_updated"]) or _NEVER, e["id"])
            ):
                self._leads.setdefault(str(event.get("object_id")), []).append(event)
        return self._leads

    # --- auth and rate limits -------------------------------------------------------------

    def _authenticate(self, authorization: str | None) -> Principal | None:
        scheme, _, value = (authorization or "").partition(" ")
        credential = None
        if scheme.lower() == "bearer":
            credential = value.strip()
        elif scheme.lower() == "basic":
            try:
                credential = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                return None
        return self.org.credentials.get(credential) if credential else None

    def _window(self, credential: str) -> _Window:
        window = self._windows.setdefault(credential, _Window())
        now = self._monotonic()
        if now - window.started >= self.faults.rate_window:
            window.started, window.used = now, 0
        return window

    def _admit(self, authorization: str | None) -> tuple[Response | None, list[tuple[bytes, bytes]]]:
        """The rate limiter, as a request arrives: a 429 to send at once, or the headers for its answer."""
        limit, style = self.faults.rate_limit, self.faults.rate_limit_style
        if limit is None or self._authenticate(authorization) is None:
            return None, []
        window = self._window(authorization or "")
        admitted = window.used < limit
        if admitted:
            window.used += 1
        reset = self.faults.rate_window - (self._monotonic() - window.started)
        headers: list[tuple[bytes, bytes]] = []
        if style == "ratelimit":
            value = f"limit={limit}, remaining={max(limit - window.used, 0)}, reset={_seconds(reset)}"
            headers.append((b"ratelimit", value.encode()))
        if admitted:
            return None, headers
        return _too_many(style, reset, limit), headers


def _seconds(value: float) -> str:
    return str(max(math.ceil(value * 1000) / 1000, 0.001))


def _too_many(style: RateLimitStyle, reset: float, limit: int = 100) -> Response:
    headers: list[tuple[bytes, bytes]] = []
    if style == "ratelimit":
        headers.append((b"ratelimit", f"limit={limit}, remaining=0, reset={_seconds(reset)}".encode()))
    elif style == "retry-after":
        headers.append((b"retry-after", str(max(math.ceil(reset), 1)).encode()))
    error: JSONDict = {"message": "API call count exceeded for this window.", "rate_limit": limit}
    if style in ("ratelimit", "body"):  # Close's own 429s carry it; the other styles leave it out
        error["rate_reset"] = float(_seconds(reset))
    status, json_headers, body = _json(429, {"error": error})
    return status, json_headers + headers, body


def _json(status: int, payload: object) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return (
        status,
        [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        body,
    )


_PAD = b"x" * (256 * 1024)


def _oversized_headers(faults: Faults) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", b"application/json")]
    if faults.oversized_declared:
        headers.append((b"content-length", str(max(faults.oversized_bytes, 16)).encode()))
    return headers


def _oversized_body(size: int) -> Iterator[bytes]:
    """``{"data":[],"pad":"xxx…"}`` of exactly ``size`` bytes (at least 16), 256 KiB at a time."""
    head, tail = b'{"data":[],"pad":"', b'"}'
    yield head
    left = max(size, 16) - len(head) - len(tail)
    while left > 0:
        chunk = _PAD[: min(left, len(_PAD))]
        left -= len(chunk)
        yield chunk
    yield tail


async def _client_gone(receive: Receive) -> None:
    """Wait until the client disconnects (the request itself is the first message)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _stream(
    receive: Receive, send: Send, start: Message, chunks: Iterator[bytes], pause: float
) -> None:
    """Send the body chunk by chunk, ``pause`` seconds apart; stop as soon as the client goes away."""
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            await _client_gone(receive)
            group.cancel_scope.cancel()

        group.start_soon(watch)
        await send(start)
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            # Always yield: uvicorn's send returns at once while the socket takes data, so without a
            # pause this loop would hold the event loop, and not notice the client hang up, for 256 MiB.
            await anyio.sleep(pause)
        await send({"type": "http.response.body", "body": b""})
        group.cancel_scope.cancel()


async def _drop(receive: Receive, send: Send, *, reset: bool) -> None:
    """Drop the connection: with a TCP reset, or an orderly close. ASGI has no message for either, so
    this reaches uvicorn's transport through ``send`` (its bound method); off a socket, it raises."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if not isinstance(transport, asyncio.Transport):
        raise ConnectionResetError("the emulator's reset fault needs a socket (serve it with uvicorn)")
    sock = transport.get_extra_info("socket")
    if reset and sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if reset:
        transport.abort()
    else:
        transport.close()
    await _client_gone(receive)  # uvicorn has seen the connection go: it adds no 500 or log line


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
