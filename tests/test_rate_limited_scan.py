"""Scans under Close's rate limit: the emulator limits as Close does, every 429 is handled, with or
without the RateLimit header, and the digest counts exactly what a sequential cursor walk reads;
uneven activity is split among the workers."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import anyio
import httpx
import pytest
from mcp import Client

from close_events_mcp.close.client import CloseClient
from close_events_mcp.close.ratelimit import RateGate
from close_events_mcp.engine.digest import Tally
from close_events_mcp.engine.scan import ScanLimits, Scanner, ScanResult
from close_events_mcp.errors import UserFacingError
from close_events_mcp.event import Event
from close_events_mcp.query.filters import parse_filters
from close_events_mcp.server.app import build_server
from close_events_sandbox.app import Faults, SandboxApp
from close_events_sandbox.seed import DEMO_API_KEY, build_demo_org
from tests.conftest import BASE_URL, NOW, clock, make_settings
from tests.limiter import FixedWindowLimiter
from tests.virtual_time import VIRTUAL_TIME

pytestmark = pytest.mark.anyio
WINDOW = "2d"


@pytest.fixture(scope="module")
def org():
    return build_demo_org(NOW, filler_events=1500, filler_days=2)


def http(app: SandboxApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL, auth=httpx.BasicAuth(DEMO_API_KEY, "")
    )


async def test_the_limiter_answers_at_once_and_stamps_the_window_on_arrival(org):
    app = SandboxApp(org, clock=clock, faults=Faults(latency=0.3, rate_limit=1, rate_window=60))
    async with http(app) as api:
        started = time.monotonic()
        ok = await api.get("/event/", params={"_limit": "1"})
        assert time.monotonic() - started >= 0.3
        assert ok.headers["ratelimit"].startswith("limit=1, remaining=0, reset=")
        started = time.monotonic()
        refused = await api.get("/event/", params={"_limit": "1"})
        assert time.monotonic() - started < 0.2  # a 429 does not wait for the slow query
    assert refused.status_code == 429
    assert refused.json()["error"]["rate_reset"] > 50  # Close's body says it too
    assert float(refused.headers["ratelimit"].split("reset=")[1]) > 50


@pytest.mark.parametrize(
    ("style", "header", "retry_after", "body"),
    [
        ("retry-after", False, True, False),
        ("body", False, False, True),
        ("none", False, False, False),
    ],
)
async def test_without_the_header_a_429_says_only_what_its_style_says(org, style, header, retry_after, body):
    app = SandboxApp(org, clock=clock, faults=Faults(rate_limit=1, rate_window=60, rate_limit_style=style))
    async with http(app) as api:
        ok = await api.get("/me/")
        refused = await api.get("/me/")
    assert "ratelimit" not in ok.headers
    assert refused.status_code == 429
    assert ("ratelimit" in refused.headers) is header
    assert ("retry-after" in refused.headers) is retry_after
    assert ("rate_reset" in refused.json()["error"]) is body


async def sequential_tally(app: SandboxApp, since: str, until: str) -> Tally:
    tally = Tally()
    params = {"date_updated__gte": since, "date_updated__lt": until, "_limit": "50"}
    async with CloseClient(make_settings(), transport=httpx.ASGITransport(app=app)) as client:
        while True:
            page = await client.list_events(params)
            for raw in page["data"]:
                tally.add(Event.from_close(raw))
            if not page["cursor_next"]:
                return tally
            params = {**params, "_cursor": page["cursor_next"]}


@pytest.mark.parametrize("style", ["ratelimit", "retry-after", "body", "none"])
async def test_a_rate_limited_digest_counts_what_a_sequential_walk_reads(org, style):
    # 10 requests per 0.1 s window here (100/s, so the test stays short), 20 ms per request.
    faults = Faults(latency=0.02, rate_limit=10, rate_window=0.1, rate_limit_style=style)
    app = SandboxApp(org, clock=clock, faults=faults)
    window = parse_filters(since=WINDOW, now=NOW)
    since, until = (m.isoformat().replace("+00:00", "Z") for m in (window.since, NOW))
    walked = await sequential_tally(app, since, until)
    await anyio.sleep(0.1)
    app.requests.clear()
    server = build_server(
        make_settings(scan_concurrency=8, call_timeout=60),
        transport=httpx.ASGITransport(app=app),
        clock=clock,
    )
    async with Client(server) as client:
        result = await client.call_tool("summarize_events", {"since": since, "until": until})
    digest = result.structured_content
    statuses = Counter(r.status for r in app.requests)
    assert not result.is_error and digest["complete"]
    assert digest["total"] == walked.total > 1000
    assert digest["by_type"] == {
        kind: {a: n for (k, a), n in walked.by_type.items() if k == kind} for kind, _ in walked.by_type
    }
    assert {a["actor"]: a["count"] for a in digest["by_actor"]} == dict(walked.by_actor)
    assert digest["lead_count"] == len(walked.by_lead)
    assert statuses[200] >= digest["pages"] - 1 and set(statuses) <= {200, 429}
    if style == "ratelimit":
        assert statuses[429] <= 2  # the header's budget is spent without provoking Close
    else:
        assert statuses[429] >= 1  # learned from 429s alone, each one waited out and retried


async def test_idle_workers_split_the_busiest_slice():
    org = build_demo_org(NOW, filler_events=0)
    # A burst of 1200 events in one hour at the old end of a two-day window: the first slices hold
    # nothing, and the oldest holds it all until idle workers take parts of it.
    template = next(e for e in org.events if e["object_type"] == "activity.note")
    start = NOW - timedelta(days=2) + timedelta(minutes=5)
    for i in range(1200):
        moment = (start + timedelta(seconds=3 * i)).replace(tzinfo=None).isoformat(timespec="microseconds")
        org.events.append({**template, "id": f"ev_burst{i:017d}", "date_updated": moment})
    app = SandboxApp(org, clock=clock, faults=Faults(latency=0.01))
    window = parse_filters(since="2d", now=NOW)
    async with CloseClient(make_settings(), transport=httpx.ASGITransport(app=app)) as client:
        expected: list[str] = []
        params = {**window.to_params(), "date_updated__lt": NOW.isoformat(), "_limit": "50"}
        while True:
            page = await client.list_events(params)
            expected += [e["id"] for e in page["data"]]
            if not page["cursor_next"]:
                break
            params = {**params, "_cursor": page["cursor_next"]}
        app.requests.clear()

        class Ids:
            def __init__(self) -> None:
                self.ids: list[str] = []
                self.satisfied = False

            def add(self, event: Event) -> None:
                self.ids.append(event.id)

        scanner = Scanner(
            client,
            window,
            Ids,
            since=window.since,
            until=NOW,
            limits=ScanLimits(max_events=100_000, max_pages=10_000, concurrency=4),
        )
        result = await scanner.run()
    got = [i for sink in result.sinks for i in sink.ids]
    assert result.complete and got == expected
    queries = {
        (dict(r.params)["date_updated__gte"], dict(r.params)["date_updated__lt"]) for r in app.requests
    }
    # The first page's query, the one slice the quiet days suggested, and parts split off for idle workers.
    assert len(queries) >= 5


@pytest.mark.parametrize("anyio_backend", [VIRTUAL_TIME])
@pytest.mark.parametrize("whole_seconds", [False, True], ids=["decimal resets", "whole-second resets"])
async def test_concurrent_scans_take_turns_at_the_rate_limit_and_none_fails(
    anyio_backend, org, whole_seconds
):
    # Five digests at once against 20 requests a second, 500 ms a request and up to 50 ms each way,
    # each within a tool call's deadline; one runs fewer workers. Virtual time: the same waits on a
    # busy machine as on an idle one.
    app = SandboxApp(org, clock=clock, faults=Faults(latency=0.5))
    limiter = FixedWindowLimiter(app, limit=20, whole_seconds=whole_seconds, phase=0.37, transit=0.05)
    window = parse_filters(since=WINDOW, now=NOW)
    workers = [8, 8, 8, 8, 3]
    pages: list[list[float]] = [[] for _ in workers]
    results: list[ScanResult[Tally]] = []
    failures: list[str] = []
    gate = RateGate(clock=anyio.current_time)
    async with CloseClient(make_settings(), transport=httpx.ASGITransport(app=limiter), gate=gate) as client:

        async def digest(call: int) -> None:
            async def on_page(_pages: int, _events: int) -> None:
                pages[call].append(anyio.current_time())

            limits = ScanLimits(max_events=50_000, max_pages=1_000, concurrency=workers[call])
            scanner = Scanner(
                client, window, Tally, since=window.since, until=NOW, limits=limits, on_page=on_page
            )
            try:
                with anyio.fail_after(30):  # the default call timeout
                    results.append(await scanner.run())
            except UserFacingError as error:
                failures.append(str(error))

        async with anyio.create_task_group() as group:
            for call in range(len(workers)):
                group.start_soon(digest, call)
    assert not failures
    assert all(result.complete for result in results)  # 10 s of reading each: it fits in 24 s
    together = (max(times[0] for times in pages), min(times[-1] for times in pages))
    shares = [sum(together[0] <= t <= together[1] for t in times) for times in pages]
    assert min(shares) >= 0.5 * sum(shares) / len(shares)  # a fair share each, while all were reading
    assert limiter.statuses[429] <= 0.1 * limiter.statuses[200]
