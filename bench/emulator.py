"""The emulator in a process of its own, for the scan and memory benchmarks.

    python bench/emulator.py --now 2026-11-23T12:00:00Z --filler 20000 [--latency 0.15]
        [--rate-limit 10] [--style ratelimit|retry-after|body|none]

Serves the demo organization plus ``--filler`` events of everyday lead work spread over the 7 days
before ``--now``, on a free loopback port, and prints ``PORT <n>`` once it listens. ``GET
/_bench/stats`` answers how many answers of each status it gave. ``Emulator`` starts and stops it.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from close_events_mcp.sandbox.app import Faults, SandboxApp
from close_events_mcp.sandbox.seed import build_demo_org

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


def serve(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--now", required=True)
    parser.add_argument("--filler", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=int, default=None)
    parser.add_argument("--style", default="ratelimit")
    args = parser.parse_args(argv)
    now = datetime.fromisoformat(args.now.replace("Z", "+00:00"))
    org = build_demo_org(now, filler_events=args.filler, filler_days=FILLER_DAYS)
    faults = Faults(latency=args.latency, rate_limit=args.rate_limit, rate_limit_style=args.style)
    app = CountingApp(SandboxApp(org, faults=faults))
    sock = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, timeout_keep_alive=60)
    server = uvicorn.Server(config)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])


class Emulator:
    """``with Emulator(now, filler=…) as emulator:`` its API base URL is ``emulator.base_url``."""

    def __init__(
        self,
        now: datetime,
        *,
        filler: int,
        latency: float = 0.0,
        rate_limit: int | None = None,
        style: str = "ratelimit",
    ) -> None:
        self.command = [
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
        ]
        if rate_limit is not None:
            self.command += ["--rate-limit", str(rate_limit)]
        self.process: subprocess.Popen[str] | None = None
        self.root = ""

    def __enter__(self) -> Emulator:
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError("the emulator did not start")
        self.root = f"http://127.0.0.1:{int(line.split()[1])}"
        time.sleep(0.2)  # uvicorn accepts on the socket a moment after it is handed over
        return self

    @property
    def base_url(self) -> str:
        return f"{self.root}/api/v1"

    def statuses(self) -> Counter[int]:
        with urllib.request.urlopen(f"{self.root}/_bench/stats", timeout=10) as response:
            return Counter({int(k): v for k, v in json.loads(response.read()).items()})

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


if __name__ == "__main__":
    serve()
