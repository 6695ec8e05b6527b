"""Close's rate limits: reading how long to wait, and one gate every request passes.

Close answers 429 when a key goes over its limit and says how long to wait, in order of
preference: the ``RateLimit`` header's ``reset``, then ``Retry-After``, then the body's
``error.rate_reset``. Successful responses may carry ``RateLimit`` too; when it says nothing
remains, the gate holds new requests until the window resets instead of provoking a 429.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio

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


class RateGate:
    """Shared by all requests of a process: once Close says wait, nobody sends until then."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._resume_at = 0.0

    def delay(self) -> float:
        return max(0.0, self._resume_at - self._clock())

    def hold(self, seconds: float) -> None:
        self._resume_at = max(self._resume_at, self._clock() + min(seconds, MAX_WAIT))

    def observe(self, headers: Mapping[str, str]) -> None:
        """Pace from a response's ``RateLimit`` header: nothing left means wait for the reset."""
        state = _header_state(headers)
        if state and state.remaining is not None and state.remaining < 1 and state.reset:
            self.hold(state.reset)

    async def wait(self) -> None:
        # A loop, not an Event: another request may extend the hold while we sleep.
        while (delay := self.delay()) > 0:  # noqa: ASYNC110
            await anyio.sleep(delay)
