"""The scan engine: concurrent slices read exactly what one sequential cursor walk reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import anyio
import httpx
import pytest

from close_events_mcp.close.client import CloseClient
from close_events_mcp.engine.scan import ScanLimits, Scanner, ScanResult
from close_events_mcp.errors import RateLimited, ServerError
from close_events_mcp.event import Event, from_micros
from close_events_mcp.query.filters import EventFilters, parse_filters
from close_events_sandbox.app import Faults, SandboxApp
from close_events_sandbox.seed import build_demo_org
from tests.conftest import NOW, clock, make_settings

pytestmark = pytest.mark.anyio


@dataclass
class Collect:
    events: list[Event] = field(default_factory=list)
    want: int | None = None

    def add(self, event: Event) -> None:
        self.events.append(event)

    @property
    def satisfied(self) -> bool:
        return self.want is not None and len(self.events) >= self.want


@pytest.fixture(scope="module")
def busy_org():
    org = build_demo_org(NOW, filler_events=4000, filler_days=3)
    # Many events in one microsecond, so a page boundary must fall inside such a group.
    template = next(e for e in org.events if e["object_type"] == "activity.note")
    instant = (NOW - timedelta(days=1, minutes=7)).replace(tzinfo=None).isoformat(timespec="microseconds")
    for i in range(130):
        org.events.append({**template, "id": f"ev_sameInstant{i:09d}", "date_updated": instant})
    return org


def client_for(sandbox: SandboxApp) -> CloseClient:
    return CloseClient(make_settings(), transport=httpx.ASGITransport(app=sandbox))


async def sequential(client: CloseClient, filters: EventFilters) -> list[str]:
    params = {**filters.to_params(), "_limit": "50"}
    ids: list[str] = []
    while True:
        page = await client.list_events(params)
        ids += [e["id"] for e in page["data"]]
        if not page["cursor_next"]:
            return ids
        params["_cursor"] = page["cursor_next"]


@pytest.mark.parametrize("concurrency", [1, 4, 8])
@pytest.mark.parametrize(
    "arguments",
    [{}, {"object_type": "activity.note"}, {"object_type": "lead", "action": "updated"}],
)
async def test_slices_match_a_sequential_walk_event_for_event(busy_org, arguments, concurrency):
    sandbox = SandboxApp(busy_org, clock=clock)
    filters = parse_filters(since="4d", until="2h", now=NOW, **arguments)
    async with client_for(sandbox) as client:
        expected = await sequential(client, filters)
        scanner = Scanner(
            client,
            filters,
            Collect,
            since=filters.since,
            until=filters.until,
            limits=ScanLimits(max_events=100_000, max_pages=10_000, concurrency=concurrency),
        )
        result = await scanner.run()
    got = [e.id for sink in result.sinks for e in sink.events]
    assert result.complete and result.cut_by is None
    assert got == expected  # same events, same newest-first order, nothing lost or doubled
    assert len(got) > 100


async def test_the_budget_cuts_at_a_clean_instant(busy_org):
    sandbox = SandboxApp(busy_org, clock=clock)
    filters = parse_filters(since="4d", now=NOW)
    async with client_for(sandbox) as client:
        everything = await sequential(client, filters)
        pages: list[int] = []

        async def on_page(count: int, _events: int) -> None:
            pages.append(count)

        result = await Scanner(
            client,
            filters,
            Collect,
            since=filters.since,
            until=NOW,
            limits=ScanLimits(max_events=700, concurrency=4),
            on_page=on_page,
        ).run()
        assert not result.complete and result.cut_by == "events"
        got = [e.id for sink in result.sinks for e in sink.events]
        covered = from_micros(result.covered_from)
        # Exactly the events of [covered_from, until): the newest ones, in order, none missing.
        assert got == everything[: len(got)]
        rest = await sequential(client, parse_filters(since="4d", until=covered.isoformat(), now=NOW))
        # ...and a new query that ends where the scan stopped reads all the others.
        assert got + rest == everything
    assert pages == sorted(pages) and pages[-1] == result.pages


async def test_a_satisfied_sink_stops_the_scan_early(busy_org):
    sandbox = SandboxApp(busy_org, clock=clock)
    filters = parse_filters(since="4d", now=NOW)
    async with client_for(sandbox) as client:
        result = await Scanner(
            client, filters, lambda: Collect(want=10), since=filters.since, until=NOW, limits=ScanLimits()
        ).run()
    assert sum(len(s.events) for s in result.sinks) >= 10
    assert result.pages <= 6


async def test_oldest_first_prefix(busy_org):
    sandbox = SandboxApp(busy_org, clock=clock)
    filters = parse_filters(since="3d", until="1d", now=NOW)
    async with client_for(sandbox) as client:
        expected = await sequential(client, filters)
        result = await Scanner(
            client,
            filters,
            Collect,
            since=filters.since,
            until=filters.until,
            limits=ScanLimits(max_events=100_000, max_pages=10_000),
            order="oldest",
        ).run()
    got = [e.id for sink in result.sinks for e in reversed(sink.events)]
    assert result.complete and got == list(reversed(expected))


async def scan_with(client: CloseClient, filters: EventFilters, concurrency: int = 4) -> ScanResult[Collect]:
    return await Scanner(
        client,
        filters,
        Collect,
        since=filters.since,
        until=filters.until or NOW,
        limits=ScanLimits(max_events=100_000, max_pages=10_000, concurrency=concurrency),
    ).run()


def read_part(result: ScanResult[Collect]) -> list[str]:
    return [e.id for sink in result.sinks for e in sink.events]


async def test_a_scan_the_rate_limit_stops_returns_what_it_read_and_why(busy_org):
    sandbox = SandboxApp(busy_org, clock=clock)
    filters = parse_filters(since="4d", now=NOW)
    async with client_for(sandbox) as client:
        everything = await sequential(client, filters)
    # From the seventh request on, Close's rate limit asks to wait far longer than the call may take.
    sandbox.faults = Faults(after=6, burst_429=10_000, burst_429_reset=30)
    async with client_for(sandbox) as client:
        with anyio.fail_after(5):  # a tool call's deadline
            result = await scan_with(client, filters)
    sandbox.faults = Faults()
    got = read_part(result)
    assert not result.complete and result.cut_by == "rate limit" and isinstance(result.error, RateLimited)
    assert len(got) >= 50 and got == everything[: len(got)]  # the newest events, none missing
    async with client_for(sandbox) as client:
        rest = await sequential(client, parse_filters(since="4d", until=_iso(result.covered_from), now=NOW))
    assert got + rest == everything  # ...and the scan says where the rest begins


async def test_an_outage_half_way_raises_its_error_rather_than_pass_for_a_quiet_stretch(busy_org):
    sandbox = SandboxApp(busy_org, clock=clock, faults=Faults(after=6, burst_5xx=10_000))
    filters = parse_filters(since="4d", now=NOW)
    async with client_for(sandbox) as client:
        with pytest.raises(ServerError, match="HTTP 503"), anyio.fail_after(5):
            await scan_with(client, filters)


async def test_a_scan_that_read_nothing_raises_the_error(busy_org):
    sandbox = SandboxApp(busy_org, clock=clock, faults=Faults(burst_5xx=10_000))
    filters = parse_filters(since="4d", now=NOW)
    async with client_for(sandbox) as client:
        with pytest.raises(ServerError, match="HTTP 503"):
            await scan_with(client, filters)


def _iso(moment: int) -> str:
    return from_micros(moment).isoformat()
