"""Start-up: spawn the server over stdio, time until ``initialize`` and ``tools/list`` are answered.

The same is timed for bench/hello_server.py, a one-tool ``MCPServer`` on the same SDK, plain (the
target's yardstick) and with the garbage collector paused during start-up as our CLI does (to show
what our own code adds, like for like); all are spawned in turn in one run (after a warm-up of
each), so they meet the same machine state. The
client is a few lines of JSON-RPC over the pipes, so it adds next to nothing to either. Our server
gets a credential (never used: neither request reaches Close), as a host would give it.

    python bench/startup.py [--runs 30]

Writes the "startup" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp_types.version import LATEST_HANDSHAKE_VERSION

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import ROOT, machine, median, write_section

TARGET = 1.10
HELLO = str(ROOT / "bench" / "hello_server.py")
SERVERS: dict[str, list[str]] = {
    "close-events-mcp": [sys.executable, "-m", "close_events_mcp"],
    "hello world": [sys.executable, HELLO],
    "hello world, collector paused": [sys.executable, HELLO, "--collector-paused"],
}
ENV = {
    **os.environ,
    "CLOSE_API_KEY": "api_benchmark_key_never_sent_000",
    "CLOSE_API_BASE_URL": "http://127.0.0.1:9/api/v1",
}


@dataclass
class Timings:
    initialize: list[float] = field(default_factory=list)
    tools_list: list[float] = field(default_factory=list)
    tools: int = 0


def _send(process: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
    assert process.stdin is not None
    process.stdin.write(json.dumps(message).encode() + b"\n")
    process.stdin.flush()


def _answer(process: subprocess.Popen[bytes], request_id: int) -> dict[str, Any]:
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the server exited before answering request {request_id}")
        message = json.loads(line)
        if message.get("id") == request_id:
            if "error" in message:
                raise RuntimeError(f"request {request_id} failed: {message['error']}")
            result: dict[str, Any] = message["result"]
            return result


def spawn_once(command: Sequence[str]) -> tuple[float, float, int]:
    """Seconds from spawn to the ``initialize`` answer and to the ``tools/list`` answer; tool count."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=ENV, cwd=ROOT
    )
    try:
        _send(
            process,
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": LATEST_HANDSHAKE_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "startup-bench", "version": "1"},
                },
            },
        )
        _answer(process, 1)
        initialized = time.perf_counter()
        _send(process, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        _send(process, {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
        tools = _answer(process, 2)["tools"]
        listed = time.perf_counter()
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return initialized - started, listed - started, len(tools)


def measure(runs: int) -> dict[str, Timings]:
    timings = {name: Timings() for name in SERVERS}
    for command in SERVERS.values():  # warm-up: bytecode caches, the page cache
        spawn_once(command)
    for _ in range(runs):
        for name, command in SERVERS.items():
            initialize, tools_list, tools = spawn_once(command)
            timings[name].initialize.append(initialize)
            timings[name].tools_list.append(tools_list)
            timings[name].tools = tools
    return timings


def render(timings: dict[str, Timings], runs: int) -> str:
    ours, hello = timings["close-events-mcp"], timings["hello world"]
    like = timings["hello world, collector paused"]
    ratio = median(ours.tools_list) / median(hello.tools_list)
    like_ratio = median(ours.tools_list) / median(like.tools_list)
    own_ms = (median(ours.tools_list) - median(like.tools_list)) * 1000
    rows = [
        f"| {name} | {t.tools} | {median(t.initialize) * 1000:.0f} ms | {median(t.tools_list) * 1000:.0f} ms "
        f"| {min(t.tools_list) * 1000:.0f}–{max(t.tools_list) * 1000:.0f} ms |"
        for name, t in timings.items()
    ]
    verdict = "met" if ratio <= TARGET else "**not met**"
    return "\n".join(
        [
            "## Start-up",
            "",
            f"`python bench/startup.py --runs {runs}` — spawn the server over stdio "
            "(`python -m close_events_mcp`, with a credential set) and time until `initialize` and then "
            "`tools/list` are answered, against `bench/hello_server.py` (a one-tool `MCPServer` on the same "
            "SDK), plain and with the garbage collector paused during start-up as our CLI does; spawned in "
            f"turn in one run, {runs} spawns each after a warm-up. Medians.",
            "",
            f"Machine: {machine()}.",
            "",
            "| server | tools | spawn → initialize | spawn → tools/list | tools/list range |",
            "| --- | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            f"**Ratio (spawn → tools/list, medians): {ratio:.2f}x the hello world; target <= {TARGET:.2f}x: "
            f"{verdict}.**",
            "",
            f"Like for like (both with the collector paused): {like_ratio:.2f}x, i.e. our own code adds "
            f"{own_ms:.0f} ms: importing the settings, the Close client, the result models and the tool "
            "declarations, and building the five tools' input and output schemas (pydantic, in the SDK's "
            "`add_tool`), the resources and the prompts. The scan engine, the renderers, the digest, httpx "
            "and its TLS setup load on the first tool call instead (`close_events_mcp/answers.py`), which "
            "is why `initialize` and `tools/list` do not wait for them.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="spawns of each server (default 30)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    timings = measure(args.runs)
    markdown = render(timings, args.runs)
    print(markdown)
    if not args.no_write:
        write_section("startup", markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
