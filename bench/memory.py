"""Memory: the server process's peak resident memory while it summarises 10,000 and 100,000 events.

For each size, the emulator runs in its own process on a loopback port (the demo organization plus
that many generated events over the last 7 days; no latency, no rate limit) and a fresh
close-events-mcp runs in its own over stdio, with a budget and a call timeout that let one
``summarize_events`` read the whole week (``CLOSE_EVENTS_SCAN_MAX_EVENTS=200000``,
``CLOSE_EVENTS_CALL_TIMEOUT=600``). Its peak RSS (``VmHWM`` in /proc) is read after the call;
the RSS after start-up, before any call, is shown for reference. Sizes alternate over the runs.

    python bench/memory.py [--runs 3]

Writes the "memory" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from close_events_sandbox.seed import DEMO_API_KEY

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emulator import Emulator
from report import machine, median, write_section
from server_process import ServerProcess

SIZES = (10_000, 100_000)
CEILING_MB = 200
TARGET_GROWTH = 0.25
MB = 1024 * 1024


@dataclass
class Sample:
    size: int
    started_rss: int
    peak_rss: int
    scanned: int
    complete: bool
    seconds: float


def sample(size: int) -> Sample:
    now = datetime.now(UTC).replace(microsecond=0)
    arguments = {"since": _iso(now - timedelta(days=7)), "until": _iso(now)}
    with (
        Emulator(now, filler=size) as emulator,
        ServerProcess(
            emulator.base_url,
            DEMO_API_KEY,
            CLOSE_EVENTS_SCAN_MAX_EVENTS="200000",
            CLOSE_EVENTS_CALL_TIMEOUT="600",
        ) as server,
    ):
        started_rss, _ = server.memory()
        began = time.perf_counter()
        digest = server.call("summarize_events", arguments)["structuredContent"]
        seconds = time.perf_counter() - began
        _, peak = server.memory()
    return Sample(size, started_rss, peak, digest["total"], digest["complete"], seconds)


def render(samples: list[Sample], runs: int) -> str:
    by_size = {size: [s for s in samples if s.size == size] for size in SIZES}
    peaks = {size: median([s.peak_rss for s in runs_]) for size, runs_ in by_size.items()}
    rows = [
        f"| {size:,} | {runs_[0].scanned:,} | {'yes' if all(s.complete for s in runs_) else '**no**'} "
        f"| {median([s.seconds for s in runs_]):.1f} s "
        f"| {median([s.started_rss for s in runs_]) / MB:.0f} MB | {peaks[size] / MB:.0f} MB |"
        for size, runs_ in by_size.items()
    ]
    small, large = peaks[SIZES[0]], peaks[SIZES[1]]
    growth = large / small - 1
    under = large / MB < CEILING_MB
    return "\n".join(
        [
            "## Memory",
            "",
            f"`python bench/memory.py --runs {runs}` — the peak resident memory (`VmHWM`) of the server "
            "process over stdio while `summarize_events` reads a week of the emulator's demo organization "
            "plus the generated events below; the emulator runs in another process on loopback, with no "
            "latency and no rate limit. A fresh server for each run; the budget and the call timeout raised "
            "so one call reads everything (`CLOSE_EVENTS_SCAN_MAX_EVENTS=200000`, "
            f"`CLOSE_EVENTS_CALL_TIMEOUT=600`). Medians of {runs} runs.",
            "",
            f"Machine: {machine()}.",
            "",
            "| generated events | events summarised | complete | call time | RSS after start-up | peak RSS |",
            "| ---: | ---: | :---: | ---: | ---: | ---: |",
            *rows,
            "",
            f"**Peak at {SIZES[1]:,} events: {large / MB:.0f} MB (target < {CEILING_MB} MB: "
            f"{'met' if under else '**not met**'}); {growth:+.0%} over the peak at {SIZES[0]:,} "
            f"(target within {TARGET_GROWTH:.0%}: "
            f"{'met' if abs(growth) <= TARGET_GROWTH else '**not met**'}).** "
            "The digest streams: each slice of the window feeds its own counters and keeps a few notable "
            "events; no page is kept once counted.",
        ]
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each size (default 3)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    samples: list[Sample] = []
    for _ in range(args.runs):
        for size in SIZES:
            samples.append(sample(size))
            last = samples[-1]
            print(
                f"{size}: read {last.scanned} in {last.seconds:.1f} s, peak {last.peak_rss / MB:.0f} MB",
                file=sys.stderr,
            )
    markdown = render(samples, args.runs)
    print(markdown)
    if not args.no_write:
        write_section("memory", markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
