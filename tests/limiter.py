"""A fixed-window rate limiter in front of the emulator, on the event loop's clock (virtual time
in the tests that use ``tests.virtual_time``), saying ``reset`` to the millisecond or in whole
seconds.

``aligned``: windows follow one another on the clock (``phase`` shifts them), as a gateway's do;
otherwise a window starts with the first request after the last one ended, as the emulator's
own limiter does. Requests are counted as they arrive; a 429 comes back at once, with
``Retry-After`` in whole seconds, and is not counted. ``transit``: each request takes up to that
long to arrive, and each answer to come back (a random share of it, from ``seed``), as over a
busy network.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import anyio


@dataclass
class FixedWindowLimiter:
    app: Any
    limit: int
    window: float = 1.0
    phase: float = 0.0
    whole_seconds: bool = False
    aligned: bool = True
    transit: float = 0.0
    seed: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    admitted_at: list[float] = field(default_factory=list)
    _start: float = -math.inf
    _used: int = 0
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    async def _travel(self) -> None:
        if self.transit:
            await anyio.sleep(self._rng.uniform(0, self.transit))

    def _admit(self, now: float) -> tuple[bool, float]:
        """Whether a request arriving now is let through, and the seconds left in its window."""
        if self.aligned:
            start = self.phase + math.floor((now - self.phase) / self.window) * self.window
        else:
            start = self._start if now < self._start + self.window else now
        if start != self._start:
            self._start, self._used = start, 0
        admitted = self._used < self.limit
        self._used += admitted
        return admitted, self._start + self.window - now

    def _reset(self, seconds: float) -> str:
        seconds = round(seconds, 9)  # start + window - now: not a hair over a whole second
        if self.whole_seconds:
            return str(max(math.ceil(seconds), 1))
        return f"{max(math.ceil(seconds * 1000) / 1000, 0.001):.3f}"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self._travel()
        now = anyio.current_time()
        admitted, left = self._admit(now)
        remaining = max(self.limit - self._used, 0)
        header = (
            b"ratelimit",
            f"limit={self.limit}, remaining={remaining}, reset={self._reset(left)}".encode(),
        )
        if not admitted:
            self.statuses[429] += 1
            retry_after = (b"retry-after", str(max(math.ceil(round(left, 9)), 1)).encode())
            headers = [(b"content-type", b"application/json"), header, retry_after]
            await self._travel()
            await send({"type": "http.response.start", "status": 429, "headers": headers})
            await send({"type": "http.response.body", "body": b'{"error": "Too many requests."}'})
            return
        self.admitted_at.append(now)

        async def stamped(message: Any) -> None:
            if message["type"] == "http.response.start":
                await self._travel()
                self.statuses[message["status"]] += 1
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        await self.app(scope, receive, stamped)
