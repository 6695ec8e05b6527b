"""The emulator in a process of its own, for the scan and memory benchmarks.

    python bench/emulator.py --now 2026-11-23T12:00:00Z --filler 20000 [--latency 0.15]
        [--rate-limit 10] [--style ratelimit|retry-after|body|none] [--resets decimal|whole]

Serves the demo organization plus ``--filler`` events of everyday lead work spread over the 7 days
before ``--now``, on a free loopback port, and prints ``PORT <n>`` once it listens. ``GET
/_bench/stats`` answers how many answers of each status it gave. ``--resets whole`` rounds every
reset the limiter states up to whole seconds (the RateLimit header's, a 429's ``rate_reset``, and
its ``Retry-After``), as the IETF RateLimit fields draft and many gateways do; Close gives them to
the millisecond (``decimal``, the default). ``Emulator`` starts and stops it.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import socket
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from close_events_sandbox.app import Faults, SandboxApp
from close_events_sandbox.seed import build_demo_org

sys.path.insert(0, str(Path(__file__).resolve().parent))
from served import ServedProcess

FILLER_DAYS = 7.0


class CountingApp:
    """The emulator's ASGI app, counting the status of every answer."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.statuses: Counter[int] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/_bench/stats":
            body = json.dumps({str(k): v for k, v in self.statuses.items()}).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return

        async def counting_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.statuses[message["status"]] += 1
            await send(message)

        await self.app(scope, receive, counting_send)


_RESET = re.compile(rb"reset=([0-9.]+)")


class WholeSecondResets:
    """The emulator's ASGI app, its resets rounded up to whole seconds (at least one)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        start: dict[str, Any] = {}

        async def rounding_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, _RESET.sub(_whole_reset, v) if k == b"ratelimit" else v)
                    for k, v in message["headers"]
                ]
                start.update(message, headers=headers)
                if message["status"] != 429:
                    await send(start)
                return
            if start.get("status") == 429 and message["type"] == "http.response.body":
                await self._send_429(start, message["body"], send)
                return
            await send(message)

        await self.app(scope, receive, rounding_send)

    @staticmethod
    async def _send_429(start: dict[str, Any], body: bytes, send: Any) -> None:
        """A 429 whole: its body's rate_reset rounded too, and Retry-After as the header's reset."""
        payload = json.loads(body)
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict) and isinstance(error.get("rate_reset"), int | float):
            error["rate_reset"] = max(math.ceil(error["rate_reset"]), 1)
        body = json.dumps(payload).encode()
        headers = [(k, v) for k, v in start["headers"] if k not in (b"content-length", b"retry-after")]
        limit = next((v for k, v in headers if k == b"ratelimit"), b"")
        reset = _RESET.search(limit)
        if reset is not None:
            headers.append((b"retry-after", reset.group(1)))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _whole_reset(match: re.Match[bytes]) -> bytes:
    return b"reset=" + str(max(math.ceil(float(match.group(1))), 1)).encode()


def serve(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--now", required=True)
    parser.add_argument("--filler", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=int, default=None)
    parser.add_argument("--style", default="ratelimit")
    parser.add_argument("--resets", choices=("decimal", "whole"), default="decimal")
    args = parser.parse_args(argv)
    now = datetime.fromisoformat(args.now.replace("Z", "+00:00"))
    org = build_demo_org(now, filler_events=args.filler, filler_days=FILLER_DAYS)
    faults = Faults(latency=args.latency, rate_limit=args.rate_limit, rate_limit_style=args.style)
    sandbox = SandboxApp(org, faults=faults)
    app = CountingApp(WholeSecondResets(sandbox) if args.resets == "whole" else sandbox)
    sock = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, timeout_keep_alive=60)
    server = uvicorn.Server(config)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])


class Emulator(ServedProcess):
    """``with Emulator(now, filler=…) as emulator:`` its API base URL is ``emulator.base_url``."""

    name = "the emulator"

    def __init__(
        self,
        now: datetime,
        *,
        filler: int,
        latency: float = 0.0,
        rate_limit: int | None = None,
        style: str = "ratelimit",
        resets: str = "decimal",
    ) -> None:
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--now",
            now.astimezone(UTC).isoformat(),
            "--filler",
            str(filler),
            "--latency",
            str(latency),
            "--style",
            style,
            "--resets",
            resets,
        ]
        if rate_limit is not None:
            command += ["--rate-limit", str(rate_limit)]
        super().__init__(command)


if __name__ == "__main__":
    serve()
