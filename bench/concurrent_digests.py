"""Concurrent digests under a rate limit: several ``summarize_events`` calls at once in one server,
sharing Close's limit, each within the default call timeout.

The limiter runs in its own process on a loopback port: the emulator (the demo organization plus
``--filler`` events over the last week; Close's decimal resets) and the independent stand-in
``bench/standin.py`` (``--filler`` events of its own, resets to the millisecond and in whole
seconds), limiting the key to ``--rate-limit`` requests a second and adding ``--latency`` to every
answer. close-events-mcp runs in its own process over stdio with its default settings (a 30 s
call timeout, 8 requests in flight per scan); ``--calls`` calls of ``summarize_events
since=--since`` go out at once. For each call: whether it failed, the events it summarised (the
stretch of the window its digest covers) of those it read, whether its digest is complete, and
how long it took; for all: the requests and 429s the limiter saw.

    python bench/concurrent_digests.py [--runs 1] [--calls 5] [--since 30d] [--rate-limit 20]
        [--latency 0.15] [--filler 20000] [--server-root PATH]

``--server-root`` runs close-events-mcp from another checkout, to compare with. Prints a markdown
table (for docs/reliability.md). Takes about a minute per limiter and run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from close_events_sandbox.seed import DEMO_API_KEY

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emulator import Emulator
from report import machine
from server_process import ROOT, ServerProcess
from standin import StandIn

LIMITERS = (("emulator", "decimal"), ("stand-in", "decimal"), ("stand-in", "whole"))
STANDIN_KEY = "api_bench_standin"


@dataclass(frozen=True)
class Call:
    failed: str
    """The error's text, or empty."""
    events: int
    """Summarised: the contiguous stretch of the window the digest covers."""
    scanned: int
    """Read from Close."""
    complete: bool
    seconds: float


@dataclass(frozen=True)
class Round:
    limiter: str
    resets: str
    calls: list[Call]
    statuses: Counter[int]


@contextmanager
def limiter(name: str, resets: str, args: argparse.Namespace, now: datetime) -> Iterator[Emulator | StandIn]:
    if name == "emulator":
        with Emulator(
            now, filler=args.filler, latency=args.latency, rate_limit=args.rate_limit, resets=resets
        ) as emulator:
            yield emulator
    else:
        with StandIn(
            events=args.filler, now=now, rate_limit=args.rate_limit, resets=resets, latency=args.latency
        ) as standin:
            yield standin


def one_round(name: str, resets: str, args: argparse.Namespace, root: Path) -> Round:
    now = datetime.now(UTC).replace(microsecond=0)
    with limiter(name, resets, args, now) as served:
        key = DEMO_API_KEY if name == "emulator" else STANDIN_KEY
        with ServerProcess(served.base_url, key, root=root) as server:
            server.call("describe_event_types", {})  # started and answering before the clock runs
            before = served.statuses()
            answers = server.call_concurrently([("summarize_events", {"since": args.since})] * args.calls)
            statuses = served.statuses() - before
    return Round(name, resets, [_call(result, seconds) for result, seconds in answers], statuses)


def _call(result: dict[str, Any], seconds: float) -> Call:
    if result.get("isError"):
        content = result.get("content") or [{"text": str(result.get("error"))}]
        return Call(content[0].get("text", ""), 0, 0, False, seconds)
    digest = result["structuredContent"]
    return Call("", digest["total"], digest.get("scanned", 0), bool(digest["complete"]), seconds)


def render(rounds: list[Round], args: argparse.Namespace, root: Path) -> str:
    server = "this checkout" if root == ROOT else f"`{root}` ({_revision(root)})"
    rows = []
    seen: Counter[tuple[str, str]] = Counter()
    for round_ in rounds:
        seen[round_.limiter, round_.resets] += 1
        number = seen[round_.limiter, round_.resets]
        failed = sum(1 for call in round_.calls if call.failed)
        calls = "; ".join(_describe(call) for call in round_.calls)
        requests = sum(round_.statuses.values())
        rows.append(
            f"| {round_.limiter} | {round_.resets} | {number} | {failed} of {len(round_.calls)} | {calls} "
            f"| {requests} | {round_.statuses.get(429, 0)} |"
        )
    return "\n".join(
        [
            "## Concurrent digests under a rate limit",
            "",
            f"`python bench/concurrent_digests.py --calls {args.calls} --since {args.since} "
            f"--rate-limit {args.rate_limit}` — {args.calls} `summarize_events since={args.since}` calls at "
            "once in one server (default settings: a 30 s call timeout, 8 requests in flight per scan), "
            f"against {args.rate_limit} requests a second and {args.latency * 1000:.0f} ms a request: the "
            f"emulator (the demo organization plus {args.filler:,} events over the week) and the stand-in "
            f"`bench/standin.py` ({args.filler:,} events of its own), resets to the millisecond and in whole "
            f"seconds. Server: {server}.",
            "",
            f"Machine: {machine()}.",
            "",
            "| limiter | resets | run | failed | each call: events summarised of those read, in seconds "
            "| requests | 429s |",
            "| --- | --- | ---: | ---: | --- | ---: | ---: |",
            *rows,
        ]
    )


def _describe(call: Call) -> str:
    if call.failed:
        return f"**failed** {_short(call.failed)} in {call.seconds:.1f} s"
    partial = "" if call.complete else " (partial)"
    return f"{call.events:,} of {call.scanned:,}{partial} in {call.seconds:.1f} s"


def _short(text: str) -> str:
    return f'"{text[:60]}…"' if len(text) > 60 else f'"{text}"'


def _revision(root: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), "log", "-1", "--format=%h"], check=False, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown revision"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="rounds per limiter (default 1)")
    parser.add_argument("--calls", type=int, default=5, help="summarize_events calls at once (default 5)")
    parser.add_argument("--since", default="30d", help="their window (default 30d)")
    parser.add_argument("--rate-limit", type=int, default=20, help="requests a second (default 20)")
    parser.add_argument("--latency", type=float, default=0.15, help="seconds a request (default 0.15)")
    parser.add_argument("--filler", type=int, default=20_000, help="events over the week (default 20000)")
    parser.add_argument(
        "--server-root", type=Path, default=ROOT, help="run close-events-mcp from this checkout"
    )
    args = parser.parse_args(argv)
    root = args.server_root.resolve()
    rounds = []
    for name, resets in LIMITERS:
        for _ in range(args.runs):
            rounds.append(one_round(name, resets, args, root))
            done = rounds[-1]
            calls = [(c.failed[:40], c.events, c.scanned, round(c.seconds, 1)) for c in done.calls]
            print(f"{name} {resets}: {calls} {dict(done.statuses)}", file=sys.stderr)
    print(render(rounds, args, root))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
