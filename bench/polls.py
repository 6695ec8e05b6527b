"""Polls over a backlog: ``poll_events`` since=7d, limit=500, followed checkpoint after checkpoint over a
week of 150,000 events, until it says nothing more is waiting.

The emulator runs in its own process on a loopback port (the demo organization plus ``--filler``
events over the 7 days before now) with a latency on every request. The poll engine runs in this
process with the server's default scan limits and a client like the server's; requests are counted
by the emulator. Every delivered event is checked against a sequential cursor walk of the same window:
missing and twice-delivered events are counted.

    python bench/polls.py [--filler 150000] [--latency 0.05] [--max-polls 400] [--baseline DIR]

``--baseline DIR`` runs the poll engine of another checkout (e.g. ``git worktree add /tmp/base
<commit>``) for at most ``--baseline-polls`` polls, side by side. Writes the "polls" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emulator import Emulator
from report import machine, median, write_section
from standin import StandIn

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LIMIT = 500
KEY = "api_demo_admin_0000000000000000"


@dataclass
class Run:
    label: str
    polls: int
    delivered: Counter[str]
    requests: list[int]
    sizes: list[int]
    seconds: list[float]
    finished: bool
    stuck: int
    """Polls that said more were waiting but handed back the checkpoint they were given."""


def package(root: str | None) -> dict[str, Any]:
    if root:
        sys.path.insert(0, root)
    # Since the package layout (issue 14) the modules live in subpackages; a baseline has them flat.
    moved = {
        "close_api": "close.client",
        "poll": "engine.poll",
        "query": "query.filters",
        "scan": "engine.scan",
    }
    flat = root is not None and not (Path(root) / "close_events_mcp" / "engine").is_dir()
    names = ("close_api", "config", "poll", "query", "scan")
    return {
        name: importlib.import_module(f"close_events_mcp.{name if flat else moved.get(name, name)}")
        for name in names
    }


async def walk_window(mods: dict[str, Any], base_url: str) -> Counter[str]:
    """Every event of the window, by a plain cursor walk."""
    settings = settings_for(mods, base_url)
    seen: Counter[str] = Counter()
    since = (NOW - timedelta(days=7)).isoformat().replace("+00:00", "Z")
    params = {"date_updated__gte": since, "date_updated__lt": NOW.isoformat().replace("+00:00", "Z")}
    async with mods["close_api"].CloseClient(settings) as client:
        cursor = None
        while True:
            page = await client.list_events(
                {**params, "_limit": "50", **({"_cursor": cursor} if cursor else {})}
            )
            seen.update(raw["id"] for raw in page["data"])
            cursor = page.get("cursor_next")
            if not cursor or not page["data"]:
                return seen


def settings_for(mods: dict[str, Any], base_url: str) -> Any:
    config = mods["config"]
    return config.Settings(
        credential=config.Credential("api_key", config.Secret(KEY)), base_url=base_url, call_timeout=30.0
    )


async def poll_on(mods: dict[str, Any], emulator: Emulator | StandIn, label: str, max_polls: int) -> Run:
    settings = settings_for(mods, emulator.base_url)
    limits = mods["scan"].ScanLimits(
        max_events=settings.scan_max_events,
        max_pages=settings.scan_max_pages,
        concurrency=settings.scan_concurrency,
    )
    filters = mods["query"].parse_filters(since="7d", now=NOW)
    run = Run(label, 0, Counter(), [], [], [], False, 0)
    checkpoint = None
    async with mods["close_api"].CloseClient(settings) as client:
        for _ in range(max_polls):
            before = sum(emulator.statuses().values())
            started = time.perf_counter()
            with anyio.fail_after(settings.call_timeout):
                outcome = await mods["poll"].poll(
                    client, filters, checkpoint=checkpoint, limit=LIMIT, now=NOW, limits=limits
                )
            run.seconds.append(time.perf_counter() - started)
            run.requests.append(sum(emulator.statuses().values()) - before - 1)  # less the stats request
            run.sizes.append(len(outcome.delivered))
            run.delivered.update(event.id for event, _ in outcome.delivered)
            given = outcome.checkpoint() if callable(outcome.checkpoint) else outcome.checkpoint
            run.stuck += int(outcome.more and given == checkpoint)
            checkpoint, run.polls = given, run.polls + 1
            if not outcome.more:
                run.finished = True
                break
    return run


def row(run: Run, expected: Counter[str]) -> str:
    missing = sum((expected - run.delivered).values())
    twice = sum(count - 1 for count in run.delivered.values() if count > 1)
    state = "all read" if run.finished else f"stopped after {run.polls} polls"
    return (
        f"| {run.label} | {run.polls} ({state}) | {sum(run.sizes):,} | {median(run.sizes):.0f} | "
        f"{median(run.requests):.0f} / {max(run.requests)} | {median(run.seconds):.2f} | "
        f"{missing:,} | {twice:,} | {run.stuck} |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--filler", type=int, default=150_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--max-polls", type=int, default=400)
    parser.add_argument("--baseline", default=None)
    parser.add_argument("--baseline-polls", type=int, default=5)
    parser.add_argument("--standin-rate-limit", type=int, default=20)
    args = parser.parse_args()
    mods = package(None)
    with Emulator(NOW, filler=args.filler, latency=args.latency) as emulator:
        expected = await walk_window(mods, emulator.base_url)
        runs = [await poll_on(mods, emulator, "this checkout, emulator", args.max_polls)]
    standin = StandIn(
        events=args.filler, now=NOW, latency=args.latency, rate_limit=args.standin_rate_limit, resets="whole"
    )
    with standin:
        standin_expected = await walk_window(mods, standin.base_url)
        standin_run = await poll_on(mods, standin, "this checkout, stand-in", args.max_polls)
    if args.baseline:
        for name in list(sys.modules):
            if name.startswith("close_events_mcp"):
                del sys.modules[name]
        old = package(args.baseline)
        with Emulator(NOW, filler=args.filler, latency=args.latency) as emulator:
            runs.append(await poll_on(old, emulator, "baseline, emulator", args.baseline_polls))
    lines = [
        "## Polls over a backlog",
        "",
        f"`python bench/polls.py --filler {args.filler} --latency {args.latency}`: poll_events since=7d "
        f"limit={LIMIT} followed checkpoint after checkpoint over {sum(expected.values()):,} events in the "
        f"window (the demo organization plus {args.filler:,} filler events over 7 days), "
        f"{args.latency * 1000:.0f} ms latency per request, default scan limits and call timeout. Missing "
        "and twice are counted against a plain cursor walk of the window.",
        "",
        f"Machine: {machine()}",
        "",
        "| engine | polls | delivered | per poll (median) | requests per poll (median / max) | s per poll "
        "(median) | missing | twice | stuck polls |",
        "|---|---|---|---|---|---|---|---|---|",
        *(row(run, expected) for run in runs),
        row(standin_run, standin_expected),
        "",
        "The stand-in (`bench/standin.py`, written from Close's docs alone, its own corpus: mostly emails "
        "and calls, opportunity pipelines, bulk deletes sharing a microsecond) held "
        f"{sum(standin_expected.values()):,} events in the window and limited the key to "
        f"{args.standin_rate_limit} requests a second in fixed windows, resets rounded up to whole seconds.",
    ]
    print("\n".join(lines))
    write_section("polls", "\n".join(lines))


if __name__ == "__main__":
    anyio.run(main)
