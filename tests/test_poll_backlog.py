"""poll_events over a 150,000-event backlog: every event once, every call progressing, at a cost
proportional to what it delivers."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import httpx
import pytest

from close_events_mcp.close.client import CloseClient
from close_events_mcp.engine.poll import poll
from close_events_mcp.engine.scan import ScanLimits
from close_events_mcp.query.filters import parse_filters
from close_events_sandbox.app import SandboxApp
from close_events_sandbox.seed import build_demo_org
from tests.conftest import NOW, clock, make_settings

pytestmark = pytest.mark.anyio

BACKLOG = 150_000
LIMIT = 500


@pytest.fixture(scope="module")
def busy_org():
    return build_demo_org(NOW, filler_events=BACKLOG, filler_days=7)


async def test_a_week_of_150k_events_is_delivered_once_in_limit_sized_polls(busy_org):
    since = NOW - timedelta(days=7)
    floor = since.replace(tzinfo=None).isoformat(timespec="microseconds")
    expected = Counter(e["id"] for e in busy_org.events if e["date_updated"][:26] >= floor)
    assert sum(expected.values()) >= BACKLOG
    sandbox = SandboxApp(busy_org, clock=clock)
    limits = ScanLimits(max_events=50_000, max_pages=2_000, concurrency=8)
    delivered: Counter[str] = Counter()
    costs: list[int] = []
    async with CloseClient(make_settings(), transport=httpx.ASGITransport(app=sandbox)) as client:
        filters = parse_filters(since="7d", now=NOW)
        checkpoint: str | None = None
        for _ in range(400):
            outcome = await poll(client, filters, checkpoint=checkpoint, limit=LIMIT, now=NOW, limits=limits)
            delivered.update(event.id for event, _ in outcome.delivered)
            new_checkpoint = outcome.checkpoint()
            assert new_checkpoint != checkpoint, "the checkpoint always moves on"
            checkpoint = new_checkpoint
            if not outcome.more:
                break
            assert len(outcome.delivered) == LIMIT, "a call told 'more are waiting' delivered its limit"
            costs.append(outcome.requests)
    assert delivered == expected, "every event once, none twice"
    assert len(costs) <= BACKLOG // LIMIT + 2
    # A walk forward reads about what it delivers (500 events = 10 pages), never the whole window again.
    assert max(costs) <= 30, costs
    assert sum(costs) / len(costs) <= 20, sum(costs) / len(costs)
