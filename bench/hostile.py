"""Hostile input: how long a call takes on hostile CRM text or a huge argument, and how long another
client's ``describe_event_types`` waits meanwhile.

The emulator (the demo organization) runs in this process behind the server, both in memory; one
note event holds hostile markup of the given size (an unclosed ``<!--``, ``<script>`` or ``<title>``
followed by text, or a flood of ``<a `` openings). For each, ``get_event`` on that note runs while a
second client calls ``describe_event_types`` every 20 ms; the slowest of those answers is the
figure that matters (the event loop must stay free). Then ``list_events`` with a 96 KB argument.

    python bench/hostile.py [--sizes 16,64,1024] [--baseline DIR --baseline-sizes 16,64]

``--baseline DIR`` runs another checkout's server (e.g. ``git worktree add /tmp/base <commit>``)
the same way, on the sizes given. Writes the "hostile" section of docs/reliability.md.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import machine, write_section

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RELIABILITY_MD = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
SHAPES = {
    "unclosed <!-- repeated": lambda n: "<!--a " * (n // 6),
    "unclosed <script> repeated": lambda n: "<script>a " * (n // 10),
    "unclosed <title> repeated": lambda n: "<title>a " * (n // 9),
    "<a flood": lambda n: "<a " * (n // 3),
}
ARGUMENTS = ("object_type", "action", "since", "object_id")


def load(root: str | None) -> dict[str, Any]:
    for name in list(sys.modules):
        if name.startswith(("close_events_mcp", "close_events_sandbox")):
            del sys.modules[name]
    if root:
        sys.path.insert(0, root)
    # The emulator is its own package, close_events_sandbox; a baseline older than that has it
    # inside the product, as close_events_mcp.sandbox.
    older = root is not None and not (Path(root) / "close_events_sandbox").is_dir()
    sandbox = "close_events_mcp.sandbox" if older else "close_events_sandbox"
    mods = {f"sandbox.{name}": importlib.import_module(f"{sandbox}.{name}") for name in ("app", "seed")}
    flat = root is not None and not (Path(root) / "close_events_mcp" / "engine").is_dir()  # before issue 14
    mods |= {
        "server": importlib.import_module(
            "close_events_mcp.server" if flat else "close_events_mcp.server.app"
        )
    }
    mods |= {"config": importlib.import_module("close_events_mcp.config")}
    if root:
        sys.path.remove(root)
    return mods


async def measure(mods: dict[str, Any], org: Any, text: str) -> tuple[float, float, bool]:
    """Seconds get_event took, the slowest describe_event_types meanwhile, whether get_event answered."""
    import httpx  # noqa: PLC0415
    from mcp import Client  # noqa: PLC0415

    template = next(e for e in org.events if e["object_type"] == "activity.note" and e["data"])
    at = (NOW - timedelta(hours=1)).replace(tzinfo=None).isoformat(timespec="microseconds")
    event = {**template, "id": "ev_" + "h" * 22, "date_created": at, "date_updated": at}
    event["data"] = {**template["data"], "note": text, "note_html": text}
    sandbox = mods["sandbox.app"].SandboxApp(org, clock=lambda: NOW)
    sandbox.store.add(event)
    config = mods["config"]
    settings = config.Settings(
        credential=config.Credential("api_key", config.Secret(mods["sandbox.seed"].DEMO_API_KEY)),
        base_url="http://sandbox.test/api/v1",
        call_timeout=15.0,
    )
    server = mods["server"].build_server(
        settings, transport=httpx.ASGITransport(app=sandbox), clock=lambda: NOW
    )
    waits: list[float] = []
    outcome: dict[str, Any] = {}
    async with Client(server) as slow, Client(server) as other:
        await other.call_tool("describe_event_types", {})  # warm: the catalog renders once

        async def chew() -> None:
            started = time.perf_counter()
            result = await slow.call_tool("get_event", {"event_id": event["id"]})
            outcome["seconds"], outcome["ok"] = time.perf_counter() - started, not result.is_error

        async with anyio.create_task_group() as group:
            group.start_soon(chew)
            while "seconds" not in outcome:
                started = time.perf_counter()
                await other.call_tool("describe_event_types", {})
                waits.append(time.perf_counter() - started)
                await anyio.sleep(0.02)
    return outcome["seconds"], max(waits), outcome["ok"]


async def argument_seconds(mods: dict[str, Any], org: Any, name: str) -> float:
    import httpx  # noqa: PLC0415
    from mcp import Client  # noqa: PLC0415

    config = mods["config"]
    settings = config.Settings(
        credential=config.Credential("api_key", config.Secret(mods["sandbox.seed"].DEMO_API_KEY)),
        base_url="http://sandbox.test/api/v1",
    )
    sandbox = mods["sandbox.app"].SandboxApp(org, clock=lambda: NOW)
    server = mods["server"].build_server(
        settings, transport=httpx.ASGITransport(app=sandbox), clock=lambda: NOW
    )
    value = ("<!--" + "x" * 98_300) if name != "since" else "2026-" + "<title>" * 14_000
    async with Client(server) as client:
        started = time.perf_counter()
        await client.call_tool("list_events", {name: value})
        return time.perf_counter() - started


async def run(label: str, mods: dict[str, Any], sizes: list[int]) -> list[str]:
    org = mods["sandbox.seed"].build_demo_org(NOW)
    rows = []
    for shape, make in SHAPES.items():
        for kb in sizes:
            seconds, worst_wait, ok = await measure(mods, org, make(kb * 1024))
            answer = "answer" if ok else "error"
            rows.append(
                f"| {label} | note: {shape}, {kb:,} KB | {seconds:.3f} s ({answer}) "
                f"| {worst_wait * 1000:.0f} ms |"
            )
    for name in ARGUMENTS:
        seconds = statistics.median([await argument_seconds(mods, org, name) for _ in range(3)])
        rows.append(f"| {label} | argument {name}, 96 KB | {seconds:.3f} s (error) | — |")
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="16,64,1024")
    parser.add_argument("--baseline", default=None)
    parser.add_argument("--baseline-sizes", default="16,64")
    args = parser.parse_args()
    rows = await run("this checkout", load(None), [int(s) for s in args.sizes.split(",")])
    if args.baseline:
        rows += await run("baseline", load(args.baseline), [int(s) for s in args.baseline_sizes.split(",")])
    lines = [
        "## Hostile input",
        "",
        f"`python bench/hostile.py --sizes {args.sizes}`"
        + (f" `--baseline-sizes {args.baseline_sizes}`" if args.baseline else "")
        + ": get_event on a note holding hostile markup, while a second client calls describe_event_types "
        "every 20 ms (the slowest of those answers is shown), then list_events with a 96 KB argument. Server "
        "and emulator in one process, in memory; call timeout 15 s. Baseline: the checkout before this work.",
        "",
        f"Machine: {machine()}",
        "",
        "| server | input | the call took | slowest describe_event_types meanwhile |",
        "|---|---|---|---|",
        *rows,
    ]
    print("\n".join(lines))
    write_section("hostile", "\n".join(lines), RELIABILITY_MD)


if __name__ == "__main__":
    anyio.run(main)
