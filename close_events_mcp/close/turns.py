"""Whose request goes next through the rate gate: the callers take turns.

Each caller (a scan with its workers, or a lone request) has a lane; the lanes take turns one
request at a time. A scan running eight workers thus gets one request in each round, as does a
single ``list_events`` next to it: no call starves another, however many workers it runs. Within
a lane the request of lowest rank goes first (a scan ranks the part of its window it needs first
highest), then first come, first served.
"""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import anyio

_LANE: contextvars.ContextVar[object | None] = contextvars.ContextVar("close_events_lane", default=None)
_RANK: contextvars.ContextVar[float] = contextvars.ContextVar("close_events_rank", default=0.0)


@contextmanager
def own_lane() -> Iterator[None]:
    """Requests made within (and in tasks started within) share one lane: one turn per round."""
    token = _LANE.set(object())
    try:
        yield
    finally:
        _LANE.reset(token)


def current_lane() -> object:
    """The lane of the caller; outside ``own_lane`` every request is a lane of its own."""
    return _LANE.get() or object()


@contextmanager
def ranked(rank: float) -> Iterator[None]:
    """Requests made within go before those of higher rank in the same lane."""
    token = _RANK.set(rank)
    try:
        yield
    finally:
        _RANK.reset(token)


def current_rank() -> float:
    return _RANK.get()


class Waiter:
    """A request waiting for its turn."""

    __slots__ = ("_woken", "arrival", "lane", "rank")

    def __init__(self, lane: object, rank: float = 0.0) -> None:
        self.lane, self.rank = lane, rank
        self.arrival = 0
        self._woken = anyio.Event()

    def wake(self) -> None:
        self._woken.set()

    async def woken(self) -> None:
        """Until ``wake`` is called (at once if it was, since the last time)."""
        await self._woken.wait()
        self._woken = anyio.Event()


class Turns:
    """The queue of waiters: round robin between lanes, by rank and arrival within one."""

    def __init__(self) -> None:
        self._lanes: dict[object, list[Waiter]] = {}
        """In turn order: a dict keeps insertion order, and a lane just served is put back last."""
        self._arrivals = itertools.count()

    def join(self, waiter: Waiter) -> None:
        waiter.arrival = next(self._arrivals)
        self._lanes.setdefault(waiter.lane, []).append(waiter)

    def head(self) -> Waiter | None:
        """The waiter whose turn it is."""
        for queue in self._lanes.values():
            return min(queue, key=lambda waiter: (waiter.rank, waiter.arrival))
        return None

    def leave(self, waiter: Waiter, *, served: bool) -> None:
        """``waiter`` is done waiting: it went (its lane's turn is over) or it gave up."""
        queue = self._lanes.get(waiter.lane)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            if not queue or served:
                del self._lanes[waiter.lane]
            if queue and served:
                self._lanes[waiter.lane] = queue  # to the back of the round
        self.wake_head()

    def wake_head(self) -> None:
        """Let the waiter whose turn it is look again (the gate's state changed)."""
        head = self.head()
        if head is not None:
            head.wake()

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._lanes.values())
