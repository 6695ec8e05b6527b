"""An independent stand-in for Close's API, for benchmarks: its own code, corpus and limiter.

Written from Close's public API documentation alone (nothing of ``close_events_mcp`` or its
emulator is imported), so a benchmark against it does not only measure the project against
itself. It serves, under ``/api/v1``:

- ``GET /event/``: the filters ``object_type``, ``action``, ``object_id``, ``lead_id``, ``user_id``,
  ``request_id`` (in the combinations Close supports; others get a 400) and
  ``date_updated__gte/__gt/__lte/__lt``; ``_limit`` up to 50; newest ``date_updated`` first;
  ``_cursor`` / ``cursor_next`` paging (send the same filters with the cursor). Each request costs
  O(log n + page), whatever the corpus size.
- ``GET /event/{id}/``, ``GET /me/``, ``GET /user/`` (``_skip``, ``_limit``, ``has_more``),
  ``GET /custom_field/{kind}/`` (opportunity fields; the other kinds are empty).
- Any API key (Basic, the key as user name) or Bearer token is accepted; none gives a 401.
- A fixed-window rate limiter: ``--rate-limit`` requests per key per ``--window`` seconds, the
  windows back to back on the stand-in's own clock from a random phase (``--seed``), requests
  counted as they arrive. Every answer carries ``RateLimit: limit=…, remaining=…, reset=…``, reset
  to the millisecond (``--resets decimal``, as Close) or rounded up to whole seconds (``--resets
  whole``, as the IETF draft and many gateways); a 429 comes back at once, with ``Retry-After``
  (whole seconds) and the body's ``error.rate_reset``. ``--latency`` is added to every other answer.
- ``GET /_bench/stats``: how many answers of each status it gave.

The corpus (``standin_corpus``): ``--events`` events over the ``--days`` before ``--now``, from
``--seed``. To start it for, say, a poll benchmark over a backlog of 150,000 events::

    python bench/standin.py --events 150000 --days 7 --now 2026-11-23T12:00:00Z --rate-limit 10

It prints ``PORT <n>`` once it listens on 127.0.0.1; the API base is
``http://127.0.0.1:<n>/api/v1``. From Python, ``with StandIn(events=150_000, rate_limit=10) as
standin:`` starts it in a process of its own (``standin.base_url``, ``standin.statuses()``).
Building 150,000 events takes a few seconds; 20,000 well under one.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import hashlib
import json
import math
import random
import socket
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from served import ServedProcess
from standin_corpus import CUSTOM_FIELDS, FILTERS, SUPPORTED, Corpus

PREFIX = "/api/v1"
MAX_LIMIT = 50
Response = tuple[int, dict[str, str], bytes]


class FixedWindows:
    """``limit`` requests per key per ``window`` seconds, windows back to back from ``phase``."""

    def __init__(self, limit: int, window: float, phase: float, *, whole_seconds: bool) -> None:
        self.limit, self.window, self.phase, self.whole_seconds = limit, window, phase, whole_seconds
        self._used: dict[str, tuple[int, int]] = {}

    def admit(self, key: str, now: float) -> tuple[bool, dict[str, str]]:
        index = math.floor((now - self.phase) / self.window)
        seen, used = self._used.get(key, (index, 0))
        if seen != index:
            used = 0
        admitted = used < self.limit
        used += admitted
        self._used[key] = (index, used)
        left = self.phase + (index + 1) * self.window - now
        reset = (
            str(max(math.ceil(left), 1))
            if self.whole_seconds
            else f"{max(math.ceil(left * 1000), 1) / 1000:.3f}"
        )
        headers = {"ratelimit": f"limit={self.limit}, remaining={self.limit - used}, reset={reset}"}
        if not admitted:
            headers["retry-after"] = str(max(math.ceil(left), 1))
        return admitted, headers


class StandInApp:
    """The ASGI app."""

    def __init__(self, corpus: Corpus, limiter: FixedWindows | None, latency: float) -> None:
        self.corpus, self.limiter, self.latency = corpus, limiter, latency
        self.statuses: Counter[int] = Counter()
        self._cursor_key = hashlib.sha256(f"cursor:{corpus.seed}".encode()).digest()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # served with lifespan="off"
            return
        status, headers, body = await self._answer(scope)
        self.statuses[status] += 1
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        raw += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope: dict[str, Any]) -> Response:
        path = scope["path"]
        if path == "/_bench/stats":
            return 200, {}, json.dumps({str(k): v for k, v in self.statuses.items()}).encode()
        key = _credential(scope)
        if key is None:
            return _json(401, {"error": "Unauthorized."})
        limit_headers: dict[str, str] = {}
        if self.limiter is not None:
            admitted, limit_headers = self.limiter.admit(key, time.monotonic())
            if not admitted:
                reset = float(limit_headers["ratelimit"].rpartition("=")[2])
                error = {"message": "API call count exceeded for this window.", "rate_reset": reset}
                status, headers, body = _json(429, {"error": error})
                return status, {**headers, **limit_headers}, body
        if self.latency:
            await asyncio.sleep(self.latency)
        params = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        status, headers, body = self._route(scope["method"], path, params, key)
        return status, {**headers, **limit_headers}, body

    def _route(self, method: str, path: str, params: dict[str, str], key: str) -> Response:
        if method != "GET":
            return _json(405, {"error": f"Method {method} not allowed."})
        route = path.removeprefix(PREFIX) if path.startswith(PREFIX + "/") else None
        parts = route.strip("/").split("/") if route else []
        if parts == ["event"]:
            return self._events(params)
        if len(parts) == 2 and parts[0] == "event":
            position = self.corpus.position(parts[1])
            if position is None:
                return _json(404, {"error": "Event not found."})
            return _json(200, self.corpus.event(position))
        if parts == ["me"]:
            return _json(200, self._me())
        if parts == ["user"]:
            return self._users(params)
        if len(parts) == 2 and parts[0] == "custom_field":
            fields = (
                [{"id": fid, "name": name} for fid, name in CUSTOM_FIELDS]
                if parts[1] == "opportunity"
                else []
            )
            return _json(200, {"data": fields, "has_more": False})
        return _json(404, {"error": "Not found."})

    def _events(self, params: dict[str, str]) -> Response:
        try:
            limit = min(int(params.get("_limit") or MAX_LIMIT), MAX_LIMIT)
            low, high = _date_window(params)
        except ValueError as error:
            return _json(400, {"errors": [str(error)], "field-errors": {}})
        unknown = set(params) - {*FILTERS, "_limit", "_cursor", *_DATE_FILTERS}
        filters = {name: params[name] for name in FILTERS if params.get(name)}
        if unknown or frozenset(filters) not in SUPPORTED or limit < 1:
            problem = (
                f"Unknown parameter: {', '.join(sorted(unknown))}."
                if unknown
                else "Unsupported combination of filters."
            )
            return _json(400, {"errors": [problem], "field-errors": {}})
        positions = self.corpus.matching(filters)
        fingerprint = self._fingerprint(filters)
        if params.get("_cursor"):
            opened = self._open(params["_cursor"], fingerprint)
            if opened is None:
                return _json(400, {"errors": ["Invalid cursor."], "field-errors": {}})
            start, end = opened
        else:
            start, end = self.corpus.cut(positions, low, high)
        page = positions[start : min(start + limit, end)]
        following = start + len(page)
        return _json(
            200,
            {
                "data": [self.corpus.event(position) for position in page],
                "cursor_next": self._cursor(fingerprint, following, end) if following < end else None,
                "cursor_previous": None,
            },
        )

    def _fingerprint(self, filters: dict[str, str]) -> str:
        canonical = json.dumps(sorted(filters.items()))
        return hashlib.sha256(self._cursor_key + canonical.encode()).hexdigest()[:12]

    def _cursor(self, fingerprint: str, start: int, end: int) -> str:
        return base64.urlsafe_b64encode(f"{fingerprint}.{start}.{end}".encode()).decode().rstrip("=")

    def _open(self, cursor: str, fingerprint: str) -> tuple[int, int] | None:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            made_for, start, end = raw.split(".")
            return (int(start), int(end)) if made_for == fingerprint else None
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None

    def _me(self) -> dict[str, Any]:
        user = self.corpus.users[0]
        organization = self.corpus.organization
        membership = {
            "id": "memb_" + user["id"][5:],
            "organization_id": organization["id"],
            "role_id": "admin",
        }
        return {
            **user,
            "organizations": [organization],
            "memberships": [{**membership, "user_id": user["id"]}],
        }

    def _users(self, params: dict[str, str]) -> Response:
        try:
            skip, limit = int(params.get("_skip", "0")), min(int(params.get("_limit", "100")), 100)
        except ValueError:
            return _json(400, {"errors": ["_skip and _limit must be integers."], "field-errors": {}})
        users = self.corpus.users
        return _json(200, {"data": users[skip : skip + limit], "has_more": skip + limit < len(users)})


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DATE_FILTERS = ("date_updated__gte", "date_updated__gt", "date_updated__lte", "date_updated__lt")


def _date_window(params: dict[str, str]) -> tuple[int, int]:
    """The date filters as a half-open window [low, high) of microseconds since the epoch."""
    low, high = -(2**62), 2**62
    for name in _DATE_FILTERS:
        raw = params.get(name)
        if not raw:
            continue
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{name} must be an ISO 8601 date or datetime.") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        micros = (moment - _EPOCH) // timedelta(microseconds=1)
        if name.endswith("gte"):
            low = max(low, micros)
        elif name.endswith("gt"):
            low = max(low, micros + 1)
        elif name.endswith("lte"):
            high = min(high, micros + 1)
        else:
            high = min(high, micros)
    return low, high


def _credential(scope: dict[str, Any]) -> str | None:
    headers = dict(scope.get("headers", []))
    scheme, _, value = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic":
        try:
            user = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user or None
    return None


def _json(status: int, payload: object) -> Response:
    return status, {}, json.dumps(payload, separators=(",", ":")).encode()


def serve(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events in the corpus (default 20000)")
    parser.add_argument("--days", type=float, default=7.0, help="spread over this many days before --now")
    parser.add_argument("--now", default=None, help="the corpus ends here (ISO 8601; default: now)")
    parser.add_argument("--seed", type=int, default=1, help="corpus and limiter phase (default 1)")
    parser.add_argument("--rate-limit", type=int, default=None, help="requests per key per window")
    parser.add_argument("--window", type=float, default=1.0, help="rate-limit window in seconds")
    parser.add_argument("--resets", choices=("decimal", "whole"), default="decimal")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--port", type=int, default=0, help="default: a free one")
    args = parser.parse_args(argv)
    now = datetime.fromisoformat(args.now.replace("Z", "+00:00")) if args.now else datetime.now(UTC)
    corpus = Corpus(events=args.events, days=args.days, now=now, seed=args.seed)
    limiter = None
    if args.rate_limit:
        phase = random.Random(f"phase:{args.seed}").random() * args.window
        limiter = FixedWindows(args.rate_limit, args.window, phase, whole_seconds=args.resets == "whole")
    app = StandInApp(corpus, limiter, args.latency)
    sock = socket.create_server(("127.0.0.1", args.port))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, timeout_keep_alive=60)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])


class StandIn(ServedProcess):
    """``with StandIn(events=…, rate_limit=…, resets="whole") as standin:`` in a process of its own."""

    name = "the stand-in"

    def __init__(
        self,
        *,
        events: int,
        days: float = 7.0,
        now: datetime | None = None,
        seed: int = 1,
        rate_limit: int | None = None,
        resets: str = "decimal",
        latency: float = 0.0,
    ) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "--events", str(events)]
        command += [
            "--days",
            str(days),
            "--seed",
            str(seed),
            "--resets",
            resets,
            "--latency",
            str(latency),
        ]
        if now is not None:
            command += ["--now", now.astimezone(UTC).isoformat()]
        if rate_limit is not None:
            command += ["--rate-limit", str(rate_limit)]
        super().__init__(command)


if __name__ == "__main__":
    serve()
