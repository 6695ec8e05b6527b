"""The scan engine: every event of a query over a time window, fast and within a budget.

Close pages 50 events at a time, newest first, one cursor after the other. To go faster the
window is cut into time slices (``date_updated__gte``/``__lt``) walked concurrently, all
requests sharing the client's rate-limit gate. Each slice feeds its own sink, so results stay
exact per slice; the caller gets the sinks of the contiguous stretch of the window that was
fully read, newest first (or oldest first), and where that stretch ends.

Slice boundaries lose and duplicate nothing: a page's events at its oldest timestamp are held
back until the next page shows no more events share that microsecond, so a slice that stops
early has read exactly the events *after* that instant, and the next query can start there.

Activity is uneven (busy afternoons, quiet nights), so equal slices are not equal work: a worker
that finds no slice left to start takes the older half of what the busiest slice still has to
read, and that slice stops where the new one begins. Every worker stays busy to the end.

A scan that cannot go on (its budget, its share of the call's time, Close's rate limit) still
returns what it read: the stretch up to where it stopped, and why. A request that failed for good
otherwise (an outage, a refusal) ends the scan with its error.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Generic, Literal, Protocol, TypeVar

import anyio

from close_events_mcp.catalog import RETENTION_DAYS
from close_events_mcp.close.client import CloseClient
from close_events_mcp.close.turns import own_lane, ranked
from close_events_mcp.errors import RateLimited, UserFacingError
from close_events_mcp.event import Event, format_timestamp, from_micros, micros
from close_events_mcp.query.filters import MAX_PAGE, EventFilters
from close_events_mcp.query.plan import FilterPlan, fields_matched
from close_events_mcp.store.events import Covered, Range, missing, query_key

if TYPE_CHECKING:
    from close_events_mcp.store.gateway import StoreGateway


STORE_CHUNK = 2000
"""Stored events loaded at a time (newest first): a scan's memory stays bounded by it, whatever the
store holds."""


@dataclass(frozen=True, slots=True)
class StoreNarrowing:
    """What a scan may ask the store beyond Close's filters: the filters it checks locally that are
    columns (``object_id``, …) and the fields an event must change (``changed_field``), so that the
    store returns only what can match; and, for a caller that needs only the newest few, how many to
    load at a time."""

    columns: Mapping[str, str] = field(default_factory=dict)
    changed: frozenset[str] = frozenset()
    chunk: int = STORE_CHUNK
    count_only: bool = False
    """The caller needs only what Close has that the store lacks (``sync``): held slices are counted,
    not loaded."""

    @classmethod
    def of(cls, plan: FilterPlan, chunk: int = STORE_CHUNK) -> StoreNarrowing:
        changed = fields_matched(plan.changed_field) if plan.changed_field else frozenset()
        return cls(dict(plan.local), changed, chunk)


Order = Literal["newest", "oldest"]
OnPage = Callable[[int, int], Awaitable[None]]
"""Called after every page with (pages read, events read) so far."""


class Sink(Protocol):
    def add(self, event: Event) -> None: ...

    @property
    def satisfied(self) -> bool:
        """True once this slice has all the caller needs (its walk may then stop early)."""
        ...


S = TypeVar("S", bound=Sink)


MIN_SPLIT_PAGES = 3
"""A slice is split for an idle worker only if it has at least this many pages left to read."""


@dataclass(frozen=True, slots=True)
class ScanLimits:
    max_events: int = 5000
    max_pages: int = 200
    concurrency: int = 8
    time_share: float = 0.8
    """Stop reading once this share of the call's remaining time is spent, so what was read
    can still be reported (with where to continue) before the call's hard deadline."""


@dataclass(slots=True)
class Slice(Generic[S]):
    start: int
    """Oldest microsecond included."""
    end: int
    """Newest microsecond excluded."""
    sink: S
    done: bool = False
    """The whole slice was read."""
    reached: int | None = None
    """When not done: every event at or after this microsecond (and before ``end``) was read."""
    read: int = 0
    """Events read in this slice so far (its density, for splitting)."""
    held: bool = False
    """The store holds it completely: it is filled from there (then done), not read from Close."""
    stored: list[Event] | None = None
    """A held slice's events, loaded from the store and not yet given to its sink."""
    stored_to: int | None = None
    """When ``stored`` is only the newest part of a held slice: every event from here up was loaded."""


@dataclass(slots=True)
class ScanResult(Generic[S]):
    slices: list[Slice[S]]
    """The contiguous stretch that was read, in the order asked for; the last may be partial."""
    complete: bool
    """The whole window was read."""
    covered_from: int
    """Newest-first scans: every event in [covered_from, until) was read."""
    covered_to: int
    """Oldest-first scans: every event in [since, covered_to) was read."""
    events: int
    pages: int
    cut_by: str | None = None
    """What stopped the scan early: "events" or "pages" (the budget), "time", "rate limit" (Close's
    rate limit would have made a request wait past the deadline), or None."""
    error: UserFacingError | None = None
    """The rate-limit refusal that cut the scan short (``cut_by`` "rate limit")."""
    stored: int = 0
    """Events of the window that came from the local store instead of Close."""
    stored_until: int | None = None
    """The newest microsecond of the window the store held (it never holds the latest hour)."""
    missing: list[Range] = field(default_factory=list)
    """Parts of the window older than Close's retention that the store does not hold either."""

    @property
    def sinks(self) -> list[S]:
        return [s.sink for s in self.slices]


@dataclass(slots=True)
class _Progress:
    events: int = 0
    pages: int = 0
    cut_by: str | None = None
    error: UserFacingError | None = None
    stored: int = 0
    stop: anyio.Event = field(default_factory=anyio.Event)


class Scanner(Generic[S]):
    """One scan: ``await Scanner(...).run()``."""

    def __init__(
        self,
        client: CloseClient,
        filters: EventFilters,
        make_sink: Callable[[], S],
        *,
        since: datetime,
        until: datetime,
        limits: ScanLimits,
        order: Order = "newest",
        on_page: OnPage | None = None,
        store: StoreGateway | None = None,
        narrowing: StoreNarrowing | None = None,
    ) -> None:
        self._client = client
        self._base = {k: v for k, v in filters.to_params().items() if not k.startswith("date_updated")}
        self._store = store
        self._narrowing = narrowing or StoreNarrowing()
        self._query = query_key(self._base)
        self._from_close: set[str] | None = None
        """IDs of the events read from Close in this scan, kept once the store holds part of it (an
        event may then come from both; ``_add_loaded`` takes Close's)."""
        self._missing: list[Range] = []
        self._stored_until: int | None = None
        self._make_sink = make_sink
        self._since, self._until = micros(since), micros(until)
        self._limits = limits
        self._order = order
        self._on_page = on_page
        self._progress = _Progress()
        self._slices: list[Slice[S]] = []
        self._soft_deadline = math.inf
        self._progressed = anyio.Event()
        """Set (and replaced) whenever a page is read or a slice finished: idle workers look again."""

    async def run(self) -> ScanResult[S]:
        """Read the window. When Close's rate limit would make a request wait past the deadline, the
        scan ends with what was read before it, said in ``cut_by`` (its error propagates only when
        nothing was read); any other request that failed for good raises its error."""
        if self._since >= self._until:
            return self._result()
        now, deadline = anyio.current_time(), anyio.current_effective_deadline()
        if math.isfinite(deadline):
            self._soft_deadline = now + (deadline - now) * self._limits.time_share
        # Within the soft deadline, so that the client waits for Close's rate limit only as long as
        # what was read can still be reported; and in a lane of its own, so that concurrent calls
        # take turns at the rate limit instead of the one with the most workers taking it all.
        with own_lane(), anyio.CancelScope(deadline=self._soft_deadline) as budget:
            async with anyio.create_task_group() as loading:
                from_store = await self._from_store()
                if from_store:  # decoded in a worker thread while Close is read for the rest
                    loading.start_soon(self._load_held)
                async with anyio.create_task_group() as group:
                    group.start_soon(self._watch_stop, group.cancel_scope)
                    if from_store:
                        await self._walk_all()
                    else:
                        first = Slice(self._since, self._until, self._make_sink())
                        self._slices.append(first)
                        remaining = await self._walk(first, first_page_only=True)
                        if remaining is not None and not self._progress.stop.is_set():
                            self._split(remaining, first)
                            await self._walk_all()
                    group.cancel_scope.cancel()
        await self._add_loaded()
        progress = self._progress
        if budget.cancelled_caught:
            progress.cut_by = progress.cut_by or "time"
        result = self._result()
        if progress.error is not None and (not result.slices or not isinstance(progress.error, RateLimited)):
            # Only Close's rate limit leaves a partial answer: any other lasting failure is an error,
            # so that an outage never passes for a quiet stretch of the window.
            raise progress.error
        return result

    async def _from_store(self) -> bool:
        """Slices for the window as the store holds it: what it holds completely filled from it, what
        only it could hold (older than Close's retention) but does not marked missing, and the rest
        (the latest hour always among it) left to read from Close, cut for the workers. False when the
        store holds none of the window: it is then read from Close as without a store."""
        store = self._store
        if store is None:
            return False
        horizon = micros(store.clock() - timedelta(days=RETENTION_DAYS))
        span = (self._since, self._until)
        held = await store.held(self._query, span)
        gaps = missing(span, held)
        lost = [(start, min(end, horizon)) for start, end in gaps if start < horizon]
        if not held and not lost:
            return False
        stored = await store.count(self._base, held)
        if stored is None:  # the store failed: read the window from Close
            return False
        if held and not self._narrowing.count_only:
            self._from_close = set()
        for start, end in held:
            if self._narrowing.count_only:
                self._slices.append(Slice(start, end, self._make_sink(), done=True))
            else:
                self._slices.append(Slice(start, end, self._make_sink(), held=True))
        if self._narrowing.count_only:
            self._progress.stored = stored
        for start, end in lost:
            self._slices.append(Slice(start, end, self._make_sink(), done=True))
        self._missing = lost
        self._stored_until = max((end for _, end in held), default=None)
        to_read = [(max(start, horizon), end) for start, end in gaps if end > horizon]
        total = sum(end - start for start, end in to_read)
        held_span = sum(end - start for start, end in held)
        density = stored / held_span if held_span else None
        for start, end in to_read:
            # As many slices as the density the store shows calls for (a page of 50 is cheap, a slice
            # ending on a part-filled page costs a request), read side by side; without one, slices for
            # every worker.
            share = round(self._limits.concurrency * 2 * (end - start) / total)
            pages = math.ceil(density * (end - start) / MAX_PAGE) if density is not None else share
            count = max(1, min(pages, share))
            bounds = [start + (end - start) * i // count for i in range(count)] + [end]
            for low, high in itertools.pairwise(bounds):
                if high > low:
                    self._slices.append(Slice(low, high, self._make_sink()))
        return True

    def _held_newest_first(self) -> list[Slice[S]]:
        return sorted((s for s in self._slices if s.held), key=lambda s: -s.end)

    async def _load(self, piece: Slice[S], end: int) -> bool:
        """Load (the next part of) a held slice, down from ``end``; False when the store failed."""
        store = self._store
        assert store is not None
        narrowing = self._narrowing
        loaded = await store.events(
            self._base,
            (piece.start, end),
            limit=narrowing.chunk if self._order == "newest" else None,
            narrow=narrowing.columns,
            changed=narrowing.changed,
        )
        if loaded is None:
            return False
        piece.stored, piece.stored_to = loaded
        return True

    async def _load_held(self) -> None:
        """Load the slices the store holds, newest first (the order answers are read in), beside the
        reads from Close; a slice the store fails to give is read from Close instead."""
        for piece in self._held_newest_first():
            if not await self._load(piece, piece.end):
                piece.held = False
                await self._walk(piece)

    async def _add_loaded(self) -> None:
        """Give the loaded slices' events to their sinks, once Close's part is read: an event Close
        returned in this scan is taken from Close only (a consolidated event moved; the store may not
        know yet). A sink that has all it needs stops the loading: that slice, read down to where it
        was, ends what the scan returns."""
        for piece in self._held_newest_first():
            from_close = self._from_close or set()
            while piece.stored is not None:
                fresh = [event for event in piece.stored if event.id not in from_close]
                for event in fresh:
                    piece.sink.add(event)
                self._progress.stored += len(fresh)
                piece.stored, reached = None, piece.stored_to
                if reached is None:
                    piece.done = True
                    break
                piece.reached = reached
                if piece.sink.satisfied or not await self._load(piece, reached):
                    return
            if not piece.done:
                return

    async def _watch_stop(self, scope: anyio.CancelScope) -> None:
        await self._progress.stop.wait()
        scope.cancel()

    def _split(self, rest_end: int, first: Slice[S]) -> None:
        """After the first page: the newest slice is read down to ``rest_end``; cut the rest into
        slices sized from the density seen so far."""
        first.start = rest_end
        first.done = True
        first.reached = None
        seen_span = max(self._until - rest_end, 1)
        rest_span = rest_end - self._since
        estimated_pages = rest_span / seen_span  # the first page held a full page of events
        # Each slice ends on a part-filled page, so not too many; idle workers split busy ones later.
        count = max(1, min(math.ceil(estimated_pages / 4), self._limits.concurrency * 2))
        step = rest_span / count
        bounds = [self._since + round(step * i) for i in range(count)] + [rest_end]
        for low, high in itertools.pairwise(bounds):
            if high > low:
                self._slices.append(Slice(low, high, self._make_sink()))

    async def _walk_all(self) -> None:
        pending = sorted(
            (s for s in self._slices if not (s.done or s.held)),
            key=lambda s: s.start,
            reverse=self._order == "newest",
        )
        walking: list[Slice[S]] = []

        async def worker() -> None:
            while not self._progress.stop.is_set():
                progressed = self._progressed
                piece = pending.pop(0) if pending else self._split_busiest(walking)
                if piece is None:
                    if not walking:
                        return
                    await progressed.wait()  # a page further on, a slice may be worth splitting
                    continue
                walking.append(piece)
                try:
                    await self._walk(piece)
                finally:
                    walking.remove(piece)
                    self._signal_progress()

        async with anyio.create_task_group() as group:
            for _ in range(self._limits.concurrency):
                group.start_soon(worker)

    def _signal_progress(self) -> None:
        self._progressed.set()
        self._progressed = anyio.Event()

    def _split_busiest(self, walking: list[Slice[S]]) -> Slice[S] | None:
        """For an idle worker: the older half of what the slice with the most left to read has left."""
        best: tuple[float, Slice[S], int] | None = None
        for piece in walking:
            if piece.reached is None or piece.done:
                continue
            left = piece.read / max(piece.end - piece.reached, 1) * (piece.reached - piece.start)
            if left >= MIN_SPLIT_PAGES * MAX_PAGE and (best is None or left > best[0]):
                best = (left, piece, piece.reached)
        if best is None:
            return None
        _, busiest, reached = best
        middle = busiest.start + (reached - busiest.start) // 2
        older = Slice(busiest.start, middle, self._make_sink())
        busiest.start = middle  # its walk stops once it reads past here
        self._slices.append(older)
        return older

    async def _walk(self, piece: Slice[S], *, first_page_only: bool = False) -> int | None:
        """Read one slice newest first. For the window's first page only, returns where the
        rest of the window ends (None when that page was all there is)."""
        cursor: str | None = None
        held: list[Event] = []
        query = {  # fixed for the walk: a cursor goes with the query it came from
            **self._base,
            "date_updated__gte": format_timestamp(from_micros(piece.start), "microseconds"),
            "date_updated__lt": format_timestamp(from_micros(piece.end), "microseconds"),
            "_limit": str(MAX_PAGE),
        }
        while True:
            params = {**query, "_cursor": cursor} if cursor else query
            try:
                with ranked(self._rank(piece)):
                    page = await self._client.list_events(params)
            except UserFacingError as error:
                self._fail(error)
                return None
            raws = [raw for raw in page["data"] if isinstance(raw, dict)]
            events = [Event.from_close(raw) for raw in raws]
            upper = piece.end if piece.reached is None else piece.reached
            next_cursor = page.get("cursor_next")
            cursor = next_cursor if isinstance(next_cursor, str) and next_cursor and events else None
            piece.read += len(events)
            if events and micros(events[-1].date_updated) < piece.start:
                # Split while this page was on its way: what is older belongs to the new slice.
                kept = [i for i, e in enumerate(events) if micros(e.date_updated) >= piece.start]
                events, raws = [events[i] for i in kept], [raws[i] for i in kept]
                cursor = None
            batch = held + events
            if cursor:
                # The next page may hold more events of this page's oldest microsecond: keep
                # those back until it is read, so a stop here leaves no half-read instant.
                oldest = micros(events[-1].date_updated)
                held = [e for e in batch if micros(e.date_updated) == oldest]
                batch = [e for e in batch if micros(e.date_updated) > oldest]
                piece.reached = oldest + 1
            for event in batch:
                piece.sink.add(event)
            if cursor is None:  # before any await: a finished slice is never split again
                piece.done, piece.reached = True, None
            if self._store is not None:
                # This page completes [lower, upper): exactly ``batch`` is there, so the store holds
                # that stretch now, and drops what it had there that Close no longer has.
                if self._from_close is not None:
                    self._from_close.update(event.id for event in events)
                lower = piece.start if cursor is None else (piece.reached or piece.end)
                await self._store.keep(raws, Covered(self._base, (lower, upper), {e.id for e in batch}))
            self._signal_progress()
            await self._count(len(events))
            if cursor is None:
                return None
            if first_page_only:
                return piece.reached
            if piece.sink.satisfied or self._progress.stop.is_set():
                return None

    def _rank(self, piece: Slice[S]) -> float:
        """At the rate gate, the slices nearest the start of the order go first: when the scan
        stops early, what it returns (the contiguous stretch from the start) is then the longest."""
        return -piece.end if self._order == "newest" else piece.start

    def _fail(self, error: UserFacingError) -> None:
        """A request failed for good: the scan stops, and says why."""
        progress = self._progress
        if progress.error is None:
            progress.error = error
            progress.cut_by = progress.cut_by or ("rate limit" if isinstance(error, RateLimited) else "error")
        progress.stop.set()

    async def _count(self, events: int) -> None:
        progress = self._progress
        progress.pages += 1
        progress.events += events
        if self._on_page is not None:
            await self._on_page(progress.pages, progress.events)
        if progress.events >= self._limits.max_events:
            progress.cut_by = progress.cut_by or "events"
        elif progress.pages >= self._limits.max_pages:
            progress.cut_by = progress.cut_by or "pages"
        elif anyio.current_time() >= self._soft_deadline:
            progress.cut_by = progress.cut_by or "time"
        if progress.cut_by or self._prefix_satisfied():
            progress.stop.set()

    def _ordered(self) -> list[Slice[S]]:
        return sorted(self._slices, key=lambda s: s.start, reverse=self._order == "newest")

    def _prefix(self) -> list[Slice[S]]:
        prefix: list[Slice[S]] = []
        for piece in self._ordered():
            if piece.done:
                prefix.append(piece)
                continue
            if self._order == "newest" and piece.reached is not None:
                prefix.append(piece)
            break
        return prefix

    def _prefix_satisfied(self) -> bool:
        return any(piece.sink.satisfied for piece in self._prefix())

    def _result(self) -> ScanResult[S]:
        prefix = self._prefix()
        complete = len(prefix) == len(self._slices) and all(p.done for p in prefix)
        if self._order == "newest":
            last = prefix[-1] if prefix else None
            if last is None:
                covered_from = self._until
            else:
                covered_from = last.start if last.done else (last.reached or last.end)
            covered_to = self._until
        else:
            covered_from = self._since
            covered_to = prefix[-1].end if prefix else self._since
        return ScanResult(
            slices=prefix,
            complete=complete,
            covered_from=self._since if complete else covered_from,
            covered_to=self._until if complete else covered_to,
            events=self._progress.events,
            pages=self._progress.pages,
            cut_by=None if complete else self._progress.cut_by,
            error=None if complete else self._progress.error,
            stored=self._progress.stored,
            missing=list(self._missing),
            stored_until=self._stored_until if self._progress.stored else None,
        )
