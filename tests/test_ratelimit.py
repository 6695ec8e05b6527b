"""Reading how long Close asks us to wait, and the shared gate."""

import email.utils

import anyio
import pytest

from close_events_mcp.ratelimit import (
    PACE_MARGIN,
    WINDOW_MARGIN,
    RateGate,
    parse_ratelimit_header,
    wait_after_429,
)


def test_ratelimit_header_forms():
    state = parse_ratelimit_header("limit=100, remaining=0, reset=1")
    assert (state.limit, state.remaining, state.reset) == (100, 0, 1)
    assert parse_ratelimit_header("limit=10;remaining=3;reset=0.25").reset == 0.25
    assert parse_ratelimit_header("garbage") is None
    assert parse_ratelimit_header("reset=nan, limit=-4") is None


def test_wait_order_is_ratelimit_then_retry_after_then_body():
    body = {"error": {"rate_reset": 7.5}}
    assert wait_after_429({"ratelimit": "limit=1, remaining=0, reset=2", "retry-after": "5"}, body) == 2
    assert wait_after_429({"retry-after": "5"}, body) == 5
    assert wait_after_429({}, body) == 7.5
    assert wait_after_429({}, {"error": "slow down"}) is None
    assert wait_after_429({"ratelimit-reset": "3", "ratelimit-remaining": "0"}, None) == 3


def test_retry_after_as_http_date():
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert wait_after_429({"retry-after": date}, None, wall_clock=lambda: 1_000_000) == pytest.approx(30)


def test_absurd_waits_are_capped():
    assert wait_after_429({"retry-after": "99999"}, None) == 120


def test_gate_holds_everyone():
    now = [100.0]
    gate = RateGate(clock=lambda: now[0])
    assert gate.delay() == 0
    gate.hold(2)
    gate.hold(1)  # a shorter hold never shortens the current one
    assert gate.delay() == 2
    now[0] += 2
    assert gate.delay() == 0


@pytest.mark.anyio
async def test_gate_spends_the_window_the_ratelimit_header_states():
    now = [100.0]
    gate = RateGate(clock=lambda: now[0])
    sent = [await gate.wait() for _ in range(4)]
    now[0] += 0.5
    # The first answer was stamped when only it had arrived: 9 left, but 3 more are on their way.
    gate.observe({"ratelimit": "limit=10, remaining=9, reset=0.98"}, sent[0])
    gate.release(sent[0])
    assert gate.delay() == 0
    more = [await gate.wait() for _ in range(6)]  # 9 - 3 on their way = 6 may go
    assert gate.delay() == pytest.approx(0.48 + WINDOW_MARGIN)  # the window ends 0.98 s after sent[0] went
    for ticket in sent[1:] + more:  # all stamped in the same window, which ends at 100.98
        gate.observe({"ratelimit": f"limit=10, remaining=0, reset={100.98 - ticket.sent_at:.2f}"}, ticket)
        gate.release(ticket)
    assert gate.delay() == pytest.approx(0.48 + WINDOW_MARGIN)  # nothing left until then
    now[0] += 0.48 + WINDOW_MARGIN
    assert gate.delay() == 0  # a new window
    late = await gate.wait()
    gate.observe({"ratelimit": "limit=10, remaining=9, reset=1"}, late)
    gate.release(late)
    assert gate.delay() == 0


@pytest.mark.anyio
async def test_without_the_header_the_gate_learns_a_pace_from_429s():
    now = [100.0]
    gate = RateGate(clock=lambda: now[0])
    for _ in range(10):  # ten requests go through within a window...
        ticket = await gate.wait()
        gate.observe({}, ticket)
        gate.release(ticket)
        now[0] += 0.01
    limited = await gate.wait()  # ...the eleventh is refused, with 0.9 s left in the window
    gate.observe({}, limited, limited=True)
    gate.release(limited)
    gate.throttled(0.9, limited)
    assert gate.delay() == pytest.approx(0.9)
    assert gate.pace == pytest.approx(1.0 / 10 * PACE_MARGIN)  # ten in one second, kept a little slower
    now[0] += 0.9
    first = await gate.wait()
    assert gate.delay() == pytest.approx(gate.pace)  # the next goes one pace later
    gate.observe({}, first)
    gate.release(first)
    assert gate.pace < 1.0 / 10 * PACE_MARGIN  # and the pace creeps up again...
    paced_at = gate.pace
    now[0] += gate.delay()
    with anyio.fail_after(5):  # the clock is ours: a wait that is not over would never end
        gate.throttled(0.5, await gate.wait())
    assert gate.pace == pytest.approx(paced_at * PACE_MARGIN)  # ...until it meets a 429: then slower
