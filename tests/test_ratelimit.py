"""Reading how long Close asks us to wait, and the shared gate."""

import email.utils
import math
import random

import anyio
import anyio.lowlevel
import pytest

from close_events_mcp.close.ratelimit import (
    PACE_MARGIN,
    RateGate,
    parse_ratelimit_header,
    wait_after_429,
)
from close_events_mcp.close.ratewindow import MARGIN
from close_events_mcp.close.turns import own_lane, ranked
from tests.virtual_time import VIRTUAL_TIME


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
    assert gate.delay() == pytest.approx(0.48 + MARGIN)  # the window ends 0.98 s after sent[0] went
    stamped = list(zip(sent[1:] + more, range(8, -1, -1), strict=True))  # in the window ending at 100.98
    for ticket, left in reversed(stamped):  # answered in any order
        reset = f"{100.98 - ticket.sent_at:.2f}"
        gate.observe({"ratelimit": f"limit=10, remaining={left}, reset={reset}"}, ticket)
        gate.release(ticket)
    assert gate.delay() == pytest.approx(0.48 + MARGIN)  # nothing left until then
    now[0] += 0.48 + MARGIN
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


class FixedWindows:
    """A limiter as a gateway runs one: ``limit`` requests per one-second window, the windows
    back to back on its clock (``aligned``, shifted by ``phase``) or each starting with the first
    request after the last ended; ``reset`` in whole seconds or to the millisecond."""

    def __init__(self, limit: int, *, whole_seconds: bool, aligned: bool, phase: float) -> None:
        self.limit, self.whole_seconds, self.aligned, self.phase = limit, whole_seconds, aligned, phase
        self.start, self.used, self.admitted, self.refused = -math.inf, 0, 0, 0

    def arrive(self, now: float) -> tuple[bool, dict[str, str]]:
        if self.aligned:
            start = self.phase + math.floor(now - self.phase)
        else:
            start = self.start if now < self.start + 1 else now
        if start != self.start:
            self.start, self.used = start, 0
        admitted = self.used < self.limit
        self.used += admitted
        self.admitted += admitted
        self.refused += not admitted
        left = round(self.start + 1 - now, 9)
        reset = str(max(math.ceil(left), 1)) if self.whole_seconds else f"{math.ceil(left * 1000) / 1000:.3f}"
        return admitted, {
            "ratelimit": f"limit={self.limit}, remaining={self.limit - self.used}, reset={reset}"
        }


async def spend(
    gate: RateGate, limiter: FixedWindows, *, workers: int, latency: float, jitter: float, seconds: float
) -> None:
    """``workers`` requests at a time through ``gate`` for ``seconds``: each takes up to ``jitter``
    to reach the limiter (and its answer as long to come back), and is answered ``latency`` after
    it arrived (a 429 at once)."""
    rng = random.Random(7)

    async def worker() -> None:
        while True:
            ticket = await gate.wait()
            await anyio.sleep(rng.uniform(0, jitter))
            admitted, headers = limiter.arrive(anyio.current_time())
            await anyio.sleep((latency if admitted else 0.0) + rng.uniform(0, jitter))
            gate.observe(headers, ticket, limited=not admitted)
            gate.release(ticket)
            if not admitted:
                gate.throttled(float(headers["ratelimit"].rpartition("=")[2]), ticket)

    with anyio.move_on_after(seconds):
        async with anyio.create_task_group() as group:
            for _ in range(workers):
                group.start_soon(worker)


@pytest.mark.parametrize("anyio_backend", [VIRTUAL_TIME])
@pytest.mark.parametrize("jitter", [0.0, 0.06], ids=["steady network", "jittery network"])
@pytest.mark.parametrize("latency", [0.15, 0.5])
@pytest.mark.parametrize("aligned", [True, False], ids=["aligned windows", "windows from the first request"])
@pytest.mark.parametrize("whole_seconds", [True, False], ids=["whole-second resets", "decimal resets"])
async def test_the_gate_spends_nine_tenths_of_the_limit_whatever_the_resets_precision(
    anyio_backend, latency, aligned, whole_seconds, jitter
):
    # Virtual time: the same waits on a busy machine as on an idle one, and a minute in a moment.
    phase = random.Random(f"{latency}{aligned}{whole_seconds}").random()
    limiter = FixedWindows(10, whole_seconds=whole_seconds, aligned=aligned, phase=phase)
    gate = RateGate(clock=anyio.current_time)
    await spend(gate, limiter, workers=8, latency=latency, jitter=jitter, seconds=60)
    # Taking a reset of "1" for exactly one second waits up to a second too long in each window.
    assert limiter.admitted >= 0.9 * 10 * 60
    assert limiter.refused <= 0.05 * limiter.admitted  # a few probes of the windows' end, at most


@pytest.mark.anyio
async def test_a_429_with_the_header_waits_for_the_windows_learned_end_not_the_rounded_reset():
    now = [100.0]
    gate = RateGate(clock=lambda: now[0])

    async def request(at: float, header: str, *, limited: bool = False) -> None:
        now[0] = at
        ticket = await gate.wait()
        gate.observe({"ratelimit": header}, ticket, limited=limited)
        gate.release(ticket)
        if limited:
            gate.throttled(1.0, ticket)

    # Whole-second resets, three requests a window. The first two share a window; the third,
    # with more left, is in the next one: that began between 100.2 and 100.45, so ends in
    # (101.2, 101.45].
    await request(100.0, "limit=3, remaining=2, reset=1")
    await request(100.2, "limit=3, remaining=1, reset=1")
    await request(100.45, "limit=3, remaining=2, reset=1")
    await request(100.5, "limit=3, remaining=1, reset=1")
    await request(100.6, "limit=3, remaining=0, reset=1", limited=True)  # someone else took the last
    # Not a hold of the whole rounded second (to 101.6), nor a send before the window can end.
    assert 101.2 - now[0] < gate.delay() <= 101.45 + MARGIN - now[0]


async def take(gate: RateGate, label: str, order: list[str]) -> None:
    ticket = await gate.wait()
    order.append(label)
    gate.release(ticket)


@pytest.mark.parametrize("anyio_backend", [VIRTUAL_TIME])
async def test_callers_take_turns_and_each_callers_requests_go_in_order(anyio_backend):
    gate = RateGate()
    gate.hold(1)
    order: list[str] = []

    async def caller(name: str, requests: int) -> None:
        with own_lane():
            async with anyio.create_task_group() as group:
                for i in range(requests):
                    group.start_soon(take, gate, f"{name}{i}", order)
                    await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as group:
        group.start_soon(caller, "a", 8)  # a scan's eight workers...
        await anyio.sleep(0.1)
        group.start_soon(caller, "b", 2)  # ...a call that came later with two...
        await anyio.sleep(0.1)
        group.start_soon(take, gate, "c", order)  # ...and a lone request
    assert order[:5] == ["a0", "b0", "c", "a1", "b1"]  # round robin between the callers...
    assert [label for label in order if label.startswith("a")] == [f"a{i}" for i in range(8)]  # FIFO


@pytest.mark.parametrize("anyio_backend", [VIRTUAL_TIME])
async def test_within_a_callers_turn_the_request_of_lowest_rank_goes_first(anyio_backend):
    gate = RateGate()
    gate.hold(1)
    order: list[str] = []

    async def ranked_take(label: str, rank: float) -> None:
        with ranked(rank):
            await take(gate, label, order)

    with own_lane():
        async with anyio.create_task_group() as group:
            for label, rank in [("older slice", 2.0), ("newest slice", 0.0), ("middle slice", 1.0)]:
                group.start_soon(ranked_take, label, rank)
                await anyio.lowlevel.checkpoint()
    assert order == ["newest slice", "middle slice", "older slice"]


@pytest.mark.parametrize("anyio_backend", [VIRTUAL_TIME])
async def test_a_waiter_that_gives_up_does_not_hold_up_the_others(anyio_backend):
    gate = RateGate()
    gate.hold(1)
    order: list[str] = []
    first = anyio.CancelScope()

    async def gives_up() -> None:
        with first:
            await take(gate, "first", order)

    async with anyio.create_task_group() as group:
        group.start_soon(gives_up)
        await anyio.sleep(0.1)
        group.start_soon(take, gate, "second", order)
        await anyio.sleep(0.1)
        first.cancel()
    assert order == ["second"] and gate.waiting == 0
