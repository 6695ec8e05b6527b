"""An asyncio event loop on virtual time, for tests whose subject is timing.

Whenever every task is waiting and the next thing due is a timer, the loop's clock jumps to it at
once instead of sleeping: a test of a 10-second rate-limited scan runs in a moment of real time,
and sees exactly the same waits on a busy machine as on an idle one. I/O still works (the loop
polls its selector without blocking before each jump), but a test on this loop must not depend on
threads finishing in a given time: virtual time does not wait for them.

Use it in a test module with::

    @pytest.fixture
    def anyio_backend():
        return VIRTUAL_TIME
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any

REAL_WAIT = 0.05
"""When nothing at all is scheduled (only I/O or a thread can wake the loop), wait this long in real
time before looking again."""


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        super().__init__(selectors.DefaultSelector())
        self._now = 0.0
        real_select = self._selector.select  # type: ignore[attr-defined]

        def select(timeout: float | None = None) -> list[Any]:
            ready = real_select(0)
            if ready or timeout == 0:
                return ready
            if timeout is None:
                return real_select(REAL_WAIT)
            self._now += timeout  # nothing to do until the next timer: go straight to it
            return []

        self._selector.select = select  # type: ignore[attr-defined]

    def time(self) -> float:
        return self._now


VIRTUAL_TIME = ("asyncio", {"loop_factory": VirtualTimeLoop})
"""An ``anyio_backend`` value that runs the test on virtual time."""
