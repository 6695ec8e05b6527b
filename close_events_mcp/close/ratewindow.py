"""Close's rate-limit windows, as the ``RateLimit`` headers of its answers describe them.

Close counts a key's requests in fixed windows and stamps each answer, as its request arrives,
with what is left of the current window: ``remaining`` requests and ``reset`` seconds until it
ends. Close gives ``reset`` to the millisecond, but the IETF RateLimit fields draft and many
gateways round it up to whole seconds: ``reset=1`` then means the window ends within the coming
second, not in one second. Taking that as exact waits up to a second too long in every window.

So the end of the window requests go into is kept as an interval ``(lo, hi]`` on our clock (a
request is taken to be stamped as it is sent; ``MARGIN`` covers the way to Close):

- An answer to a request sent at ``s`` with reset ``R`` says its window ends in ``(s + R - grain,
  s + R]``, where ``grain`` is 0.001 s once any reset had decimals, and 1 s while all were whole.
- Which window an answer was stamped in is not always clear (with whole seconds, two windows'
  intervals overlap), so only what holds either way is kept. Answers to requests sent no later
  than the window's *anchor* (the answer with the least left: the last stamped) were stamped in
  it or an older window, which ended no sooner, so their lower ends bound ``lo``. Answers to
  requests sent no earlier than its *opener* (the first answer seen from it) were stamped in it or
  a newer window, which ends no sooner, so their upper ends bound ``hi``.
- More left than the anchor said, for a request sent well after it (``REORDER``: requests sent
  together reach Close in any order), means a new window. It began after the old one's ``lo``
  and, windows lasting a fixed time (the longest reset seen), ends no sooner than that time later.
- When the budget is spent and ``(lo, hi]`` is wide, one request (a probe) goes at its middle: a
  429 says the window had not ended yet, an answer from a new window that it had, and when the
  probe went bounds the new window's end. Windows repeat, so after a few of them the interval is
  narrow, and requests go as soon as a window ends, whole seconds or not.

The budget of a window is its least ``remaining`` stated, less the requests on their way into it
(any of them may not have been counted yet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

FINE_GRAIN = 0.001
"""The grain of a reset with decimals: Close's are rounded to the millisecond."""
MARGIN = 0.03
"""Seconds past a window's latest possible end before its budget counts as renewed: a request
takes a little time to reach Close, and is stamped then, not when it was sent."""
REORDER = 0.1
"""Requests sent closer together than this may reach Close in either order."""
TOLERANCE = 0.06
"""A window end known to within this needs no probe: the requests go at its latest."""
TOLERANCE_AFTER_REFUSAL = 0.25
"""The same, after the last probe met a 429. Where each window starts with the first request
after the last one ended, the end is always at the latest of its range (which then widens by the
requests' lateness each window): probing it again only costs 429s. Where windows follow one
another on the limiter's clock, probes find the end lower down, and the range stays narrow."""
KEPT_STAMPS = 256
"""The answers kept per window (the latest): more than any limit per window we meet."""


@dataclass(frozen=True, slots=True)
class Stamp:
    """One answer's RateLimit header, and when and in what order its request went out."""

    number: int
    sent_at: float
    limit: float | None
    remaining: float
    reset: float
    refused: bool
    """A 429: not counted, and its ``remaining`` is 0."""


@dataclass(slots=True)
class Window:
    first: int
    """Requests numbered below this went into older windows."""
    remaining: float
    """What is left in it: the least ``remaining`` an answer stamped in it stated (before any
    answer, the limit)."""
    floor: float = -math.inf
    """It ends after this whatever its answers say: the one before ended by then, and windows last
    that long."""
    ceiling: float = math.inf
    """It ends no later than this whatever its answers say (it began by the time its first
    request arrived)."""
    opened_at: float | None = None
    """For a window assumed (the one before surely over, no answer from it yet): since when."""
    stamps: list[Stamp] = field(default_factory=list)
    lo: float = -math.inf
    """It ends after this moment (our clock)..."""
    hi: float = math.inf
    """...and no later than this one."""
    anchor_sent: float = -math.inf
    """When the request of its anchor (the answer with the least left) was sent."""
    anchor_refused: bool = False
    opener_sent: float = math.inf
    """When the request of its opener (the first answer known to be from it) was sent."""

    def add(self, stamp: Stamp, grain: float, *, opens: bool = False) -> None:
        """``stamp`` was stamped in this window (``opens``: certainly, not in an older one)."""
        if self.opened_at is not None:
            self.opened_at = None
            self.remaining = stamp.remaining
        if opens:
            self.opener_sent = min(self.opener_sent, stamp.sent_at)
        self.stamps.append(stamp)
        del self.stamps[:-KEPT_STAMPS]
        self.settle(grain)

    def settle(self, grain: float) -> None:
        """Recompute what its answers say (see the module's docstring)."""
        lo, hi = self.floor, self.ceiling
        if self.stamps:
            anchor = min(self.stamps, key=lambda s: (s.remaining, -s.sent_at))
            self.remaining, self.anchor_sent = anchor.remaining, anchor.sent_at
            self.anchor_refused = anchor.refused
            since = min(self.opener_sent, anchor.sent_at)
            for stamp in self.stamps:
                if stamp.sent_at <= anchor.sent_at:
                    lo = max(lo, stamp.sent_at + max(stamp.reset - grain, 0.0))
                if stamp.sent_at >= since:
                    hi = min(hi, stamp.sent_at + stamp.reset)
        if lo >= hi:
            # One request reached Close later than another (a busy network or event loop), so its
            # reset puts the end earlier on our clock. The lower bound holds whatever the way took.
            hi = lo + grain
        self.lo, self.hi = lo, hi


class WindowTracker:
    """The window requests go into now, and the requests on their way."""

    def __init__(self) -> None:
        self.window: Window | None = None
        self._previous: Window | None = None
        """While ``window`` is assumed: the one before, whose late answers may still come in."""
        self.limit: float | None = None
        self.grain = 1.0
        self._opening_reset = 0.0
        """The longest reset stated to the first request of a window: about the windows' length."""
        self._longest_reset = 0.0
        self.in_flight: dict[int, float] = {}
        """Requests on their way: number → when sent."""
        self._issued = 0
        self._probe: int | None = None
        """The request sent to find out whether the spent window had ended, until answered."""
        self._probe_refused = False

    @property
    def length(self) -> float:
        """How long a window lasts: the reset stated to a window's first request (none stated to
        a later one is longer), else the longest seen."""
        return self._opening_reset or self._longest_reset

    def _shortest(self) -> float:
        """How long a window lasts at least: with whole-second resets, a whole-second window."""
        return self.length if self.grain == 1.0 else max(self.length - FINE_GRAIN, 0.0)

    # --- requests going out and coming back -----------------------------------------------

    def sent(self, number: int, now: float) -> None:
        window = self.window
        if window is not None and self.budget(window) < 1:
            self._probe = number
        self.in_flight[number] = now
        self._issued = number + 1
        if window is not None and window.opened_at is not None and math.isinf(window.ceiling):
            window.ceiling = now + self.length  # it began by the time this request arrived
            window.settle(self.grain)

    def done(self, number: int) -> None:
        self.in_flight.pop(number, None)
        if number == self._probe:
            self._probe = None

    def observe(self, stamp: Stamp) -> None:
        self._learn(stamp)
        window, previous = self.window, self._previous
        if window is None:
            self.window = Window(min(self.in_flight, default=stamp.number), stamp.remaining)
            self.window.add(stamp, self.grain)
        elif window.opened_at is not None and previous is not None and stamp.refused:
            # A 429 before any answer from the window assumed: the one before had not ended.
            previous.add(stamp, self.grain)
            self.window, self._previous = previous, None
        elif window.opened_at is not None and previous is not None and stamp.sent_at < window.opened_at:
            if _jumped(previous, stamp):  # from the window assumed, though sent before it was
                window.add(stamp, self.grain, opens=True)
            else:  # a late answer from the window before
                previous.add(stamp, self.grain)
                window.floor = max(window.floor, previous.lo + self._shortest())
                window.settle(self.grain)
        elif stamp.number < window.first:
            return  # sent before this window could have begun
        elif _jumped(window, stamp):
            self.window = self._after(window, stamp)
        else:
            window.add(stamp, self.grain)

    def _learn(self, stamp: Stamp) -> None:
        if stamp.limit is not None:
            self.limit = stamp.limit
        if stamp.reset != math.floor(stamp.reset):
            self.grain = FINE_GRAIN
        if stamp.number == self._probe:
            self._probe_refused = stamp.refused
        if not stamp.refused:  # a 429 may come from another limit than the one requests spend
            self._longest_reset = max(self._longest_reset, stamp.reset)
            if self.limit is not None and stamp.remaining == self.limit - 1:
                self._opening_reset = max(self._opening_reset, stamp.reset)

    def _after(self, old: Window, stamp: Stamp) -> Window:
        """The window ``stamp`` shows began after ``old``."""
        first = min(self._sent_after(old.lo), stamp.number)
        window = Window(first, stamp.remaining, floor=old.lo + self._shortest())
        window.add(stamp, self.grain, opens=True)
        return window

    def _sent_after(self, moment: float) -> int:
        """The first request on its way that was sent after ``moment`` (or the next one)."""
        return min((n for n, sent_at in self.in_flight.items() if sent_at > moment), default=self._issued)

    # --- when the next request may go --------------------------------------------------------

    def budget(self, window: Window) -> float:
        uncounted = sum(1 for number in self.in_flight if number >= window.first)
        return window.remaining - uncounted

    def current(self, now: float) -> Window | None:
        """The window a request sent now goes into: once the last one surely ended, a new one is
        assumed, with the whole limit to spend, until an answer from it says more."""
        window = self.window
        if window is not None and self.limit is not None and now >= window.hi + MARGIN:
            first = self._sent_after(window.lo)
            self._previous = window
            window = Window(first, self.limit, floor=window.lo + self._shortest(), opened_at=now)
            window.opener_sent = now  # what is sent from now on goes into it (or a later one)
            window.settle(self.grain)
            self.window = window
        return window

    def opens_at(self, now: float) -> float:
        """When the next request may go: now while the window has budget; once it is spent, the
        window's latest end, or the middle of its possible ends (a probe) when they are far apart."""
        window = self.current(now)
        if window is None or self.budget(window) >= 1:
            return now
        if math.isinf(window.hi):  # requests sent before it began used it up: their answers will say
            return now + max(self.length, MARGIN)
        settled = window.hi + MARGIN
        probing = any(sent_at > window.lo for sent_at in self.in_flight.values())
        tolerance = TOLERANCE_AFTER_REFUSAL if self._probe_refused else TOLERANCE
        if window.hi - window.lo <= tolerance or probing:
            return settled
        return window.lo + (window.hi - window.lo) / 2


def _jumped(window: Window, stamp: Stamp) -> bool:
    """More left than ``window`` had, for a request sent well after the one that said so: a newer
    window. (Requests sent together reach Close in any order: more left for one sent with the
    request that said so is no sign of a new window.) Every request counted takes one, so as much
    left is a newer window too."""
    if stamp.refused or stamp.sent_at <= window.anchor_sent + REORDER:
        return False
    # As much left as the anchor said is a new window too, unless the anchor was a 429 (nothing
    # left, whether or not the request after it took the last one).
    return stamp.remaining > window.remaining or (
        stamp.remaining == window.remaining and not window.anchor_refused
    )
