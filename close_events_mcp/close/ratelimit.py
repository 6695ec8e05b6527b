"""Close's rate limits: reading how long to wait, and one gate every request passes.

Close answers 429 when a key goes over its limit and says how long to wait, in order of
preference: the ``RateLimit`` header's ``reset``, then ``Retry-After``, then the body's
``error.rate_reset``. Successful responses carry ``RateLimit`` too, and the gate spends each
window's ``remaining`` without provoking a 429 (``ratewindow`` learns when windows end, from
resets to the millisecond or in whole seconds); without the header it learns a pace from the
429s (see ``RateGate``).
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from close_events_mcp.close.ratewindow import Stamp, WindowTracker
from close_events_mcp.close.turns import Turns, Waiter, current_lane, current_rank

MAX_WAIT = 120.0
"""No single wait Close asks for is honoured beyond this; the deadline decides before then."""


@dataclass(frozen=True, slots=True)
class RateLimitState:
    limit: float | None
    remaining: float | None
    reset: float | None


def parse_ratelimit_header(value: str) -> RateLimitState | None:
    """Parse ``limit=100, remaining=0, reset=1`` (also with ``;`` separators)."""
    fields: dict[str, float] = {}
    for part in value.replace(";", ",").split(","):
        key, sep, raw = part.partition("=")
        if not sep:
            continue
        try:
            number = float(raw.strip().strip('"'))
        except ValueError:
            continue
        if math.isfinite(number) and number >= 0:
            fields[key.strip().lower()] = number
    if not fields:
        return None
    return RateLimitState(fields.get("limit"), fields.get("remaining"), fields.get("reset"))


def _header_state(headers: Mapping[str, str]) -> RateLimitState | None:
    combined = headers.get("ratelimit")
    if combined:
        return parse_ratelimit_header(combined)
    reset = headers.get("ratelimit-reset")
    if reset is None:
        return None
    return parse_ratelimit_header(
        f"limit={headers.get('ratelimit-limit', '')}, remaining={headers.get('ratelimit-remaining', '')}, "
        f"reset={reset}"
    )


def _retry_after(value: str, now: Callable[[], float]) -> float | None:
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None or parsed.tzinfo is None:
            return None
        seconds = parsed.timestamp() - now()
    return seconds if math.isfinite(seconds) else None


def _body_reset(body: Any) -> float | None:
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    reset = error.get("rate_reset") if isinstance(error, dict) else None
    if isinstance(reset, int | float) and not isinstance(reset, bool) and math.isfinite(reset):
        return float(reset)
    return None


def wait_after_429(
    headers: Mapping[str, str], body: Any, wall_clock: Callable[[], float] = time.time
) -> float | None:
    """Seconds Close asks us to wait, or None when it does not say."""
    state = _header_state(headers)
    candidates = (
        state.reset if state else None,
        _retry_after(headers["retry-after"], wall_clock) if "retry-after" in headers else None,
        _body_reset(body),
    )
    for seconds in candidates:
        if seconds is not None:
            return min(max(seconds, 0.0), MAX_WAIT)
    return None


@dataclass(frozen=True, slots=True)
class Ticket:
    """A request let through the gate: its place in the order of requests, and when it went."""

    number: int
    sent_at: float


PACE_MARGIN = 1.05
"""A learned pace is kept this much slower than one known to be too fast."""
CATCH_UP, CREEP = 0.98, 0.9998
"""Each answered request shortens the pace by these factors: quickly while it is well slower than
the last pace that met a 429 (the first estimate is rough: a Retry-After rounds the window's end
up to a whole second), then barely, so the limit is met again only now and then."""


def loop_clock() -> float:
    """The event loop's clock (what ``anyio.sleep`` counts in), or the monotonic clock outside one."""
    try:
        return anyio.current_time()
    except RuntimeError:
        return time.monotonic()


class RateGate:
    """Shared by all requests of a process: what makes a request wait before it goes out.

    - Turns: the callers' requests go in turn (``turns``), so concurrent calls share the limit.
    - A hold: Close said wait (a 429 without a RateLimit header), so nobody sends until then.
    - The window's budget, when Close sends the ``RateLimit`` header (it does, on every answer):
      what ``ratewindow`` knows of the current window, whose end it learns to within a few
      milliseconds even when resets are whole seconds. Concurrent requests use each window to
      the full and seldom provoke a 429; a 429 that carries the header only tells it more.
    - Without the header, a pace learned from the 429s: the requests Close let through from the
      end of one hold to the next 429, over the time up to the window's end (the 429's wait). It
      is kept slightly slower and creeps up again, so it follows the limit without relying on
      any header being there.

    The client calls ``wait`` before each request, ``observe`` with its answer, and ``release``
    once it is no longer on its way (answered or failed).
    """

    def __init__(self, clock: Callable[[], float] = loop_clock) -> None:
        self._clock = clock
        self._resume_at = 0.0
        self._issued = 0
        self._turns = Turns()
        self._windows = WindowTracker()
        self._explained: set[int] = set()
        """429s whose RateLimit header the window already accounts for: no hold for them."""
        self._header_seen = False
        self._interval = 0.0
        self._too_fast = 0.0
        """The last pace that met a 429 (0: none yet)."""
        self._next_slot = 0.0
        self._cycle_first = 0
        """The first ticket sent since the last hold ended: where the current pace cycle starts."""
        self._cycle_started: float | None = None

    @property
    def pace(self) -> float:
        """Seconds between requests learned from 429s (0: no pace)."""
        return self._interval

    @property
    def waiting(self) -> int:
        """Requests waiting for their turn."""
        return len(self._turns)

    def delay(self) -> float:
        """Seconds before the next request may go out (when it is its turn)."""
        now = self._clock()
        waits = [
            self._resume_at - now,
            self._next_slot - now if self._interval else 0.0,
            self._windows.opens_at(now) - now,
        ]
        return max(0.0, *waits)

    def hold(self, seconds: float) -> None:
        resume_at = self._clock() + min(max(seconds, 0.0), MAX_WAIT)
        if resume_at > self._resume_at:
            self._resume_at = resume_at
            self._cycle_first, self._cycle_started = self._issued, resume_at

    async def wait(self) -> Ticket:
        """Wait for this caller's turn and until a request may go out; it then counts as on its
        way until ``release``."""
        waiter = Waiter(current_lane(), current_rank())
        self._turns.join(waiter)
        served = False
        try:
            while True:
                if self._turns.head() is not waiter:
                    await waiter.woken()
                elif (delay := self.delay()) > 0:
                    with anyio.move_on_after(delay):
                        await waiter.woken()  # the gate's state changed: look again
                else:
                    break
            served = True
        finally:
            self._turns.leave(waiter, served=served)
        # Nothing awaits from here on: the next in turn looks only once this request is counted.
        now = self._clock()
        if self._cycle_started is None:
            self._cycle_started = now
        if self._interval:
            self._next_slot = max(now, self._next_slot) + self._interval
        ticket = Ticket(self._issued, now)
        self._issued += 1
        self._windows.sent(ticket.number, now)
        return ticket

    def release(self, ticket: Ticket) -> None:
        """The request is answered, or failed: no longer on its way."""
        self._windows.done(ticket.number)
        self._turns.wake_head()

    def observe(
        self, headers: Mapping[str, str], ticket: Ticket | None = None, *, limited: bool = False
    ) -> None:
        """Learn from an answer's headers (``limited``: it was a 429)."""
        state = _header_state(headers)
        if state is not None and state.remaining is not None and state.reset is not None:
            self._header_seen = True
            number = ticket.number if ticket else self._issued - 1
            sent_at = ticket.sent_at if ticket else self._clock()
            reset = min(state.reset, MAX_WAIT)
            remaining = 0.0 if limited else state.remaining
            self._windows.observe(Stamp(number, sent_at, state.limit, remaining, reset, limited))
            if limited:
                self._explained.add(number)
        if not limited and self._interval:
            slow = not self._too_fast or self._interval > self._too_fast * PACE_MARGIN * 1.02
            self._interval *= CATCH_UP if slow else CREEP
        self._turns.wake_head()

    def throttled(
        self, seconds: float, ticket: Ticket | None = None, *, window_end_known: bool = True
    ) -> None:
        """A 429: hold everyone ``seconds`` and, without a RateLimit header, learn a pace from it.
        With the header, the window it described is all there is to know: no hold."""
        number = ticket.number if ticket else self._issued - 1
        if number in self._explained:
            self._explained.discard(number)
            return
        now = self._clock()
        started = self._cycle_started if self._cycle_started is not None else now
        if not self._header_seen and number >= self._cycle_first:  # the first 429 of its cycle
            if self._interval:
                self._too_fast = self._interval
                self._interval *= PACE_MARGIN
            else:  # the first: the rate Close let through, up to the window's end
                let_through = number - self._cycle_first
                span = (now + seconds if window_end_known else now) - started
                if let_through >= 1 and span > 0:
                    self._interval = span / let_through * PACE_MARGIN
        self.hold(seconds)
