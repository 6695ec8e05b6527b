"""Scans: ``summarize_events`` over a week of 20,000+ events under Close's rate limit, against a
sequential cursor walk of the same window under the same conditions.

The emulator runs in its own process on a loopback port with the demo organization plus 20,000
events of lead work spread over the 7 days before now, limits each key to 10 requests a second
(429 beyond that) and adds a latency to every request, 150 ms or 500 ms. close-events-mcp runs in
its own process over stdio with its default settings, except a call timeout long enough for the
whole week (``CLOSE_EVENTS_CALL_TIMEOUT=600``; the default 30 s would stop the scan part way and
say where to go on). The walk reads the same window page after page with the same Close client
(one request at a time), in this process. Both are timed from the request to the answer; the
digest's counts must equal the walk's, and every 429 the emulator sent must have been handled.

The main runs use Close's way of limiting (a ``RateLimit`` header on every answer, and
``rate_reset`` in a 429's body); one more scan at each latency shows each way without the header:
a 429 with only ``Retry-After``, only the body's ``rate_reset``, or nothing at all.

Resets to the millisecond or in whole seconds: the same ``summarize_events`` against two limiters,
each saying ``reset`` to the millisecond (as Close) and rounded up to whole seconds (as the IETF
RateLimit fields draft and many gateways): the emulator (windows that start with the first request
after the last one ended) and the independent stand-in ``bench/standin.py`` (its own corpus of
``--filler`` events over the week, and windows back to back on its own clock from a random phase).
The figure that matters is the share of the rate-limit bound reached.

    python bench/scans.py [--runs 3] [--filler 20000] [--only resets] [--server-root PATH] [--no-write]

``--server-root`` runs close-events-mcp from another checkout (``git worktree add /tmp/base <rev>``)
to compare with. Writes the "scans" section of docs/benchmarks.md (unless ``--no-write`` or
``--only``). Takes about 20 minutes with 3 runs, and 6 more per run for the resets table.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

from close_events_mcp.close.client import CloseClient
from close_events_mcp.config import Credential, Secret, settings_from_env
from close_events_mcp.engine.digest import Tally
from close_events_mcp.event import Event
from close_events_sandbox.seed import DEMO_API_KEY

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emulator import Emulator
from report import machine, median, write_section
from server_process import ROOT, ServerProcess
from standin import StandIn

RATE_LIMIT = 10
BOUND = RATE_LIMIT * 50
TARGET_SHARE = 0.80
TARGET_GAIN_AT_500 = 4.0
LATENCIES = (0.150, 0.500)
HEADERLESS = ("retry-after", "body", "none")
LIMITERS = ("emulator", "stand-in")
RESETS = ("decimal", "whole")
STANDIN_KEY = "api_bench_standin"
CALL_TIMEOUT = "600"


@dataclass(frozen=True)
class Counts:
    total: int
    by_type: dict[str, int]
    by_actor: dict[str, int]
    leads: int
    notable: dict[str, int]

    @classmethod
    def of_digest(cls, digest: dict[str, Any]) -> Counts:
        return cls(
            digest["total"],
            {f"{k}/{a}": n for k, actions in digest["by_type"].items() for a, n in actions.items()},
            {a["actor"]: a["count"] for a in digest["by_actor"]},
            digest.get("lead_count", 0),
            {g["kind"]: g["count"] for g in digest.get("notable", [])},
        )

    @classmethod
    def of_tally(cls, tally: Tally) -> Counts:
        return cls(
            tally.total,
            {f"{k}/{a}": n for (k, a), n in tally.by_type.items()},
            dict(tally.by_actor),
            len(tally.by_lead),
            dict(tally.notable_counts),
        )


@dataclass
class Run:
    kind: str
    latency: float
    style: str
    seconds: float
    events: int
    statuses: Counter[int]
    counts: Counts
    complete: bool = True
    limiter: str = "emulator"
    resets: str = "decimal"

    @property
    def rate(self) -> float:
        return self.events / self.seconds


@dataclass
class Results:
    runs: list[Run] = field(default_factory=list)

    def of(self, kind: str, latency: float, style: str = "ratelimit") -> list[Run]:
        return [
            r
            for r in self.runs
            if r.kind == kind and r.latency == latency and r.style == style and r.resets == "decimal"
        ]

    def resets(self, limiter: str, resets: str, latency: float) -> list[Run]:
        return [
            r
            for r in self.runs
            if r.kind == "scan" and r.limiter == limiter and r.resets == resets and r.latency == latency
        ]


def scan(
    limiter: Emulator | StandIn,
    since: datetime,
    until: datetime,
    latency: float,
    style: str,
    *,
    root: Path = ROOT,
    api_key: str = DEMO_API_KEY,
    resets: str = "decimal",
) -> Run:
    server = ServerProcess(limiter.base_url, api_key, root=root, CLOSE_EVENTS_CALL_TIMEOUT=CALL_TIMEOUT)
    with server:
        before = limiter.statuses()
        started = time.perf_counter()
        result = server.call("summarize_events", {"since": _iso(since), "until": _iso(until)})
        seconds = time.perf_counter() - started
        statuses = limiter.statuses() - before
    digest = result["structuredContent"]
    counts = Counts.of_digest(digest)
    name = "stand-in" if isinstance(limiter, StandIn) else "emulator"
    return Run(
        "scan", latency, style, seconds, counts.total, statuses, counts, digest["complete"], name, resets
    )


async def walk(emulator: Emulator, since: datetime, until: datetime, latency: float) -> Run:
    """Every page of the window, one cursor after the other, with the server's own Close client."""
    settings = settings_from_env({"CLOSE_API_BASE_URL": emulator.base_url}).with_overrides(
        credential=Credential("api_key", Secret(DEMO_API_KEY))
    )
    tally = Tally()
    params = {"date_updated__gte": _iso(since), "date_updated__lt": _iso(until), "_limit": "50"}
    before = emulator.statuses()
    started = time.perf_counter()
    async with CloseClient(settings) as client:
        while True:
            page = await client.list_events(params)
            for raw in page["data"]:
                tally.add(Event.from_close(raw))
            if not page.get("cursor_next"):
                break
            params = {**params, "_cursor": page["cursor_next"]}
    seconds = time.perf_counter() - started
    statuses = emulator.statuses() - before
    return Run("walk", latency, "ratelimit", seconds, tally.total, statuses, Counts.of_tally(tally))


def measure(runs: int, filler: int, root: Path = ROOT) -> tuple[Results, datetime]:
    now = datetime.now(UTC).replace(microsecond=0)
    since, until = now - timedelta(days=7), now
    results = Results()
    for _ in range(runs):
        for latency in LATENCIES:
            with Emulator(now, filler=filler, latency=latency, rate_limit=RATE_LIMIT) as emulator:
                results.runs.append(scan(emulator, since, until, latency, "ratelimit", root=root))
                time.sleep(1.1)  # a fresh rate-limit window for the walk
                results.runs.append(anyio.run(walk, emulator, since, until, latency))
            _progress(results.runs[-2:])
    for latency in LATENCIES:
        for style in HEADERLESS:
            with Emulator(
                now, filler=filler, latency=latency, rate_limit=RATE_LIMIT, style=style
            ) as emulator:
                results.runs.append(scan(emulator, since, until, latency, style, root=root))
            _progress(results.runs[-1:])
    return results, now


def measure_resets(results: Results, runs: int, filler: int, now: datetime, root: Path) -> None:
    """summarize_events against the emulator and the stand-in, resets to the ms and whole seconds."""
    since, until = now - timedelta(days=7), now
    for _ in range(runs):
        for latency in LATENCIES:
            for resets in RESETS:
                with Emulator(
                    now, filler=filler, latency=latency, rate_limit=RATE_LIMIT, resets=resets
                ) as emulator:
                    results.runs.append(
                        scan(emulator, since, until, latency, "ratelimit", root=root, resets=resets)
                    )
                with StandIn(
                    events=filler, now=now, rate_limit=RATE_LIMIT, resets=resets, latency=latency
                ) as standin:
                    results.runs.append(
                        scan(
                            standin,
                            since,
                            until,
                            latency,
                            "ratelimit",
                            root=root,
                            api_key=STANDIN_KEY,
                            resets=resets,
                        )
                    )
                _progress(results.runs[-2:])


def _progress(runs: list[Run]) -> None:
    for run in runs:
        print(
            f"{run.kind} {run.limiter} {run.latency * 1000:.0f} ms {run.style} {run.resets} resets: "
            f"{run.events} events in {run.seconds:.1f} s = {run.rate:.0f}/s "
            f"({run.rate / BOUND:.0%} of the bound), statuses {dict(run.statuses)}",
            file=sys.stderr,
        )


def render(results: Results, runs: int, filler: int) -> str:
    walks = {latency: results.of("walk", latency) for latency in LATENCIES}
    reference = {latency: walks[latency][0].counts for latency in LATENCIES}
    rows: list[str] = []
    verdicts: list[str] = []
    for latency in LATENCIES:
        scans, walked = results.of("scan", latency), walks[latency]
        scan_rate, walk_rate = median([r.rate for r in scans]), median([r.rate for r in walked])
        gain = scan_rate / walk_rate
        rows.append(_row("summarize_events", scans, latency, "RateLimit header", reference, gain))
        rows.append(_row("sequential walk", walked, latency, "RateLimit header", reference, 1.0))
        share = scan_rate / BOUND
        ok_share = share >= TARGET_SHARE
        ok_gain = latency < 0.5 or gain >= TARGET_GAIN_AT_500
        same = all(r.counts == reference[latency] and r.complete for r in scans)
        handled = all(r.complete for r in scans)
        verdicts.append(
            f"- {latency * 1000:.0f} ms: {share:.0%} of the bound (target >= {TARGET_SHARE:.0%}: "
            f"{'met' if ok_share else '**not met**'}), {gain:.1f}x the sequential walk"
            + (
                f" (target >= {TARGET_GAIN_AT_500:.0f}x: {'met' if ok_gain else '**not met**'})"
                if latency >= 0.5
                else ""
            )
            + f"; counts equal to the walk's: {'yes' if same else '**no**'}; "
            f"every 429 handled: {'yes' if handled else '**no**'}."
        )
    styles = {
        "retry-after": "429 with Retry-After only",
        "body": "429 with body rate_reset only",
        "none": "429 saying nothing",
    }
    headerless = [
        _row("summarize_events", results.of("scan", latency, style), latency, styles[style], reference, None)
        for latency in LATENCIES
        for style in HEADERLESS
    ]
    return "\n".join(
        [
            "## Scans",
            "",
            f"`python bench/scans.py --runs {runs}` — `summarize_events` over the last 7 days of the "
            f"emulator's demo organization plus {filler:,} generated events of lead work (every everyday "
            "type: notes, emails, calls, SMS, lead and opportunity updates, tasks), against a sequential "
            "cursor walk of the same window with the same Close client, side by side at each latency. The "
            f"emulator runs in its own process on loopback, limits the key to {RATE_LIMIT} requests a second "
            "(a 429 beyond, counted as requests arrive; a fixed one-second window) and adds the latency to "
            "every request. The server runs in its own process over stdio with its default settings (8 "
            "requests in flight, a budget of 50,000 events) but "
            f"`CLOSE_EVENTS_CALL_TIMEOUT={CALL_TIMEOUT}`, so one call can read the whole week. Events per "
            "second = events summarised / time from request to answer. The bound: "
            f"{RATE_LIMIT} requests/s x 50 events = {BOUND} events/s. Medians of {runs} runs each (the "
            "header-less rows: one run).",
            "",
            f"Machine: {machine()}.",
            "",
            "| path | latency | limiter says | events | seconds | events/s | of the bound | vs walk "
            "| requests | 429s | counts = walk |",
            "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
            *rows,
            *headerless,
            "",
            "**Targets (>= 80% of the bound at both latencies; >= 4x the walk at 500 ms; every 429 handled; "
            "counts equal):**",
            "",
            *verdicts,
        ]
    )


def render_resets(results: Results, runs: int, filler: int, root: Path) -> str:
    rows = []
    for limiter in LIMITERS:
        for latency in LATENCIES:
            cells = []
            for resets in RESETS:
                measured = results.resets(limiter, resets, latency)
                rate = median([r.rate for r in measured]) if measured else 0.0
                limited = median([r.statuses.get(429, 0) for r in measured]) if measured else 0
                complete = all(r.complete for r in measured)
                cells.append(
                    f"{rate:.0f} | {rate / BOUND:.0%} | {limited:.0f}" + ("" if complete else " (incomplete)")
                )
            events = results.resets(limiter, "decimal", latency)
            total = f"{events[0].events:,}" if events else "–"
            rows.append(f"| {limiter} | {latency * 1000:.0f} ms | {total} | {' | '.join(cells)} |")
    server = "this checkout" if root == ROOT else f"`{root}` ({_revision(root)})"
    return "\n".join(
        [
            "### Resets to the millisecond or in whole seconds",
            "",
            f"`python bench/scans.py --only resets --runs {runs}` — `summarize_events` over 7 days against "
            f"two limiters of {RATE_LIMIT} requests a second, fixed windows, each giving `reset` to the "
            "millisecond (as Close) and rounded up to whole seconds (as the IETF RateLimit fields draft and "
            "many gateways): the emulator (the demo organization plus "
            f"{filler:,} events; a window starts with the first request after the last one ended) and the "
            f"independent stand-in `bench/standin.py` ({filler:,} events of its own; windows back to back on "
            "its clock from a random phase). Server: "
            f"{server}. Medians of {runs} runs. Of the bound: events/s over {BOUND} events/s.",
            "",
            f"Machine: {machine()}.",
            "",
            "| limiter | latency | events | ms resets: events/s | of the bound | 429s "
            "| whole-second resets: events/s | of the bound | 429s |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
        ]
    )


def _revision(root: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), "log", "-1", "--format=%h"], check=False, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown revision"


def _row(
    path: str, runs: list[Run], latency: float, says: str, reference: dict[float, Counts], gain: float | None
) -> str:
    if not runs:
        return f"| {path} | {latency * 1000:.0f} ms | {says} | – | – | – | – | – | – | – | – |"
    rate = median([r.rate for r in runs])
    requests = median([sum(r.statuses.values()) for r in runs])
    limited = median([r.statuses.get(429, 0) for r in runs])
    same = all(r.counts == reference[latency] and r.complete for r in runs)
    return (
        f"| {path} | {latency * 1000:.0f} ms | {says} | {runs[0].events:,} "
        f"| {median([r.seconds for r in runs]):.1f} | {rate:.0f} | {rate / BOUND:.0%} "
        f"| {f'{gain:.1f}x' if gain is not None else '–'} | {requests:.0f} "
        f"| {limited:.0f} | {'yes' if same else '**no**'} |"
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="scans and walks per latency (default 3)")
    parser.add_argument(
        "--filler", type=int, default=20_000, help="generated events in the week (default 20000)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--only", choices=("resets",), help="only the resets table (printed, not written)")
    parser.add_argument(
        "--server-root",
        type=Path,
        default=ROOT,
        help="run close-events-mcp from this checkout (default: this one)",
    )
    args = parser.parse_args(argv)
    root = args.server_root.resolve()
    if args.only == "resets":
        results = Results()
        measure_resets(results, args.runs, args.filler, datetime.now(UTC).replace(microsecond=0), root)
        print(render_resets(results, args.runs, args.filler, root))
        return 0
    results, now = measure(args.runs, args.filler, root)
    measure_resets(results, args.runs, args.filler, now, root)
    markdown = (
        render(results, args.runs, args.filler)
        + "\n\n"
        + render_resets(results, args.runs, args.filler, root)
    )
    print(markdown)
    if not args.no_write:
        write_section("scans", markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
