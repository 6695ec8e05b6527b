"""The MCP App view: its size, and how long headless Chromium takes to show an answer in it.

The view (``close_events_mcp/view/timeline.html``) is read as a host reads it (``resources/read`` by a
client that negotiated MCP Apps) and loaded by the tests' host page (``tests/view_host.html``: a
sandboxed iframe under the spec's default CSP, the Apps protocol's host side) in Debian's
``chromium``, driven by Playwright, as ``tests/test_view_browser.py`` does. Two answers of the
emulator, served in process at the tests' fixed moment:

- ``list_events limit=50`` on the demo organization (50 events);
- ``summarize_events since=30d`` on the demo organization's month plus 87 generated events over the
  30 days (``build_demo_org(..., filler_events=87, filler_days=30)``): a digest of 500 events.

"First render" is the view's own clock (``performance``, from the iframe's navigation start) at the
end of its first render of the answer: parsing the page, the ``ui/initialize`` handshake with the
host, receiving the result and building the DOM; "DOM build" is the last step alone. Each is the
median over ``--repeats`` fresh loads of the view (a new iframe document each), after one warm-up.
Also writes the README's screenshots (``docs/view-timeline.png``, ``docs/view-digest.png``: the top
of each view at 640 px, as palette PNGs) and the "view" section of docs/benchmarks.md.

    python bench/view.py [--repeats 21]

Needs the ``bench`` extra (playwright, pillow) and ``apt-get install -y chromium``. About 30 seconds.
"""

from __future__ import annotations

import argparse
import gzip
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))
from report import machine, median, write_section  # noqa: E402

from close_events_mcp.server.app import build_server  # noqa: E402
from close_events_mcp.view import TIMELINE_URI, timeline_html  # noqa: E402
from close_events_sandbox.app import Faults, SandboxApp  # noqa: E402
from close_events_sandbox.seed import build_demo_org  # noqa: E402
from tests.conftest import NOW, clock, make_settings  # noqa: E402
from tests.view_host import CHROMIUM, Host, chromium, hosting  # noqa: E402

SIZE_LIMIT = 60_000
LIST_LIMIT_MS = 200
DIGEST_LIMIT_MS = 1_000
DIGEST_FILLER = 87
SHOT_WIDTH, SHOT_HEIGHT = 640, 900
TIMINGS = """() => [
  performance.getEntriesByName("close-events:rendered")[0].startTime,
  performance.getEntriesByName("close-events:render")[0].duration,
]"""


def server_for(filler: int) -> Any:
    org = build_demo_org(NOW, filler_events=filler, filler_days=30)
    app = SandboxApp(org, clock=clock, faults=Faults())
    return build_server(make_settings(), transport=httpx.ASGITransport(app=app), clock=clock)


async def timed(host: Host, tool: str, arguments: dict[str, Any], repeats: int) -> dict[str, Any]:
    first, build, count = [], [], 0
    for attempt in range(repeats + 1):
        shown = await host.show(tool, arguments)
        rendered, built = await shown.frame.evaluate(TIMINGS)
        count = await shown.frame.evaluate("document.querySelectorAll('.ev').length")
        if attempt:  # the first load warms the browser up
            first.append(rendered)
            build.append(built)
    data = shown.result["structuredContent"]
    events = len(data["events"]) if "events" in data else data["total"]
    return {"events": events, "items": count, "first": median(first), "build": median(build), "runs": repeats}


async def screenshot(host: Host, tool: str, arguments: dict[str, Any], name: str, open_first: bool) -> int:
    from PIL import Image  # noqa: PLC0415

    shown = await host.show(tool, arguments)
    if open_first:  # the timeline with an event's diff open
        changed = [e["id"] for e in shown.result["structuredContent"]["events"] if e.get("changes")]
        quiet = await shown.frame.eval_on_selector_all(
            '.ev[data-noise="0"]', "(all) => all.map((e) => e.dataset.eventId)"
        )
        event = next(i for i in quiet if i in changed)
        await shown.frame.click(f'.ev[data-event-id="{event}"]')
        await shown.frame.wait_for_selector("#detail table")
    png = await host.page.locator("#view").screenshot()
    with Image.open(io.BytesIO(png)) as image:
        top = image.convert("RGB").crop((0, 0, image.width, min(image.height, SHOT_HEIGHT)))
        small = top.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        path = ROOT / "docs" / name
        small.save(path, optimize=True)
    return path.stat().st_size


async def measure(repeats: int) -> dict[str, Any]:
    async with chromium() as browser:
        async with hosting(browser, server_for(0), width=SHOT_WIDTH, height=SHOT_HEIGHT) as host:
            listed = await timed(host, "list_events", {"limit": 50}, repeats)
            shots = {
                "timeline": await screenshot(host, "list_events", {"limit": 50}, "view-timeline.png", True)
            }
            assert not host.errors, host.errors
        async with hosting(browser, server_for(DIGEST_FILLER), width=SHOT_WIDTH, height=SHOT_HEIGHT) as host:
            digest = await timed(host, "summarize_events", {"since": "30d"}, repeats)
            shots["digest"] = await screenshot(
                host, "summarize_events", {"since": "30d"}, "view-digest.png", False
            )
            assert not host.errors, host.errors
        version = browser.version
    return {"list": listed, "digest": digest, "shots": shots, "chromium": version}


def commit() -> str:
    command = ["git", "rev-parse", "--short", "HEAD"]
    done = subprocess.run(command, check=False, cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "?"


def section(result: dict[str, Any], size: int, zipped: int) -> str:
    rows = []
    for label, key, limit in (
        ("`list_events limit=50` (timeline)", "list", LIST_LIMIT_MS),
        ("`summarize_events since=30d` (digest)", "digest", DIGEST_LIMIT_MS),
    ):
        r = result[key]
        figures = f"{r['events']:,} | {r['items']} | {r['first']:.0f} | {r['build']:.1f}"
        rows.append(f"| {label} | {figures} | < {limit:,} |")
    return f"""## MCP App view

`python bench/view.py` — the view `{TIMELINE_URI}` (`close_events_mcp/view/timeline.html`), read
through `resources/read` by a client that negotiated MCP Apps, loaded by the tests' host page
(`tests/view_host.html`: a sandboxed iframe under the spec's default CSP) in headless Chromium
({result["chromium"]}, Debian's, driven by Playwright), fed the answers of the emulator in process at
the tests' fixed moment. This checkout: {commit()}.

Machine: {machine()}.

Size: {size:,} bytes ({zipped:,} gzipped); limit {SIZE_LIMIT:,} bytes. One file: inline CSS and
JavaScript, nothing fetched.

First render: from the iframe's navigation start to the end of the view's first render of the answer
(parsing, the `ui/initialize` handshake, the tool result, building the DOM), by the view's own clock
(`performance`); DOM build is the last step alone. Medians of {result["list"]["runs"]} fresh loads each,
after one warm-up. The digest is of the demo organization's month plus {DIGEST_FILLER} generated events.

| answer | events | items shown | first render (ms) | DOM build (ms) | target (ms) |
| --- | ---: | ---: | ---: | ---: | ---: |
{chr(10).join(rows)}

Items shown: the events the timeline lists (each a button that opens its diff), or the digest's notable
events. The README's screenshots (`docs/view-timeline.png`, {result["shots"]["timeline"]:,} bytes;
`docs/view-digest.png`, {result["shots"]["digest"]:,} bytes) are written by this run."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    html = timeline_html().encode()
    result = anyio.run(measure, args.repeats)
    markdown = section(result, len(html), len(gzip.compress(html)))
    print(markdown)
    write_section("view", markdown)


if __name__ == "__main__":
    main()
