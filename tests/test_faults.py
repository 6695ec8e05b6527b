"""Fault injection over loopback HTTP: every tool that calls Close, against every fault the emulator
can inject, ends within its deadline with the complete answer, an answer that says plainly it is
incomplete (scans only), or an error that says what to do; no request is retried without bound, and
the next call on the same server works.

A *lane* is one tool meeting the fault one way (from its first request or half way through a scan,
for a few requests or for all of them), on its own emulator and through its own MCP server. All the
emulators run under uvicorn in a process of their own (so they neither share the tests' CPU time nor
their GIL), each under ``/{lane}`` of one loopback port; the servers under test use real httpx sockets,
so resets, drips and oversized bodies happen on the wire. The lanes of one fault kind run side by side.
``bench/reliability.py`` runs the same lanes many times over and writes docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx
import pytest
from mcp import Client

from close_events_mcp.config import Settings
from close_events_mcp.server.app import build_server
from close_events_sandbox.app import PREFIX, Faults, Receive, SandboxApp, Scope, Send
from close_events_sandbox.org import DemoOrg
from close_events_sandbox.seed import DEMO_API_KEY, build_demo_org
from tests.conftest import NOW, clock, make_settings, text_of

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent

CALL_TIMEOUT = 3.0
"""The per-call deadline (CLOSE_EVENTS_CALL_TIMEOUT) under test."""
REQUEST_TIMEOUT = 0.5
MAX_RETRIES = 3
MARGIN = 1.0
"""A call that ends later than CALL_TIMEOUT + MARGIN counts as hung."""
LASTING = 10_000
"""A fault count no call can use up: the fault lasts for the whole call."""
FILLER_EVENTS = 300
"""Enough events that a two-day scan reads a few pages, concurrently."""


@dataclass(frozen=True)
class ToolCall:
    """A tool that calls Close and its arguments on the demo organization."""

    label: str
    name: str
    arguments: Callable[[DemoOrg], dict[str, Any]]
    scans: bool = False
    """Reads many pages concurrently (the scan engine), so a fault can strike in the middle."""


TOOL_CALLS = (
    ToolCall("list_events", "list_events", lambda org: {"object_type": "lead", "limit": 10}),
    ToolCall(
        "list_events scan",
        "list_events",
        lambda org: {"changed_field": "status_label", "since": "2d"},
        scans=True,
    ),
    ToolCall("get_event", "get_event", lambda org: {"event_id": org.landmarks["recent_event"]}),
    ToolCall("summarize_events", "summarize_events", lambda org: {"since": "2d"}, scans=True),
    ToolCall("poll_events", "poll_events", lambda org: {"since": "2d", "limit": 10}, scans=True),
)

Mode = Literal["passing", "lasting", "passing mid-scan", "lasting mid-scan"]
"""When the fault strikes: from the call's first request or after half of them; for a few requests
(``FaultKind.passing``) or for every one from then on."""
MODES: tuple[Mode, ...] = ("passing", "lasting", "passing mid-scan", "lasting mid-scan")


@dataclass(frozen=True)
class FaultKind:
    """One way Close (or the network in between) misbehaves, as emulator settings."""

    name: str
    counter: str
    """The ``Faults`` field that counts how many requests get the fault."""
    settings: dict[str, Any] = field(default_factory=dict)
    passing: int = MAX_RETRIES - 1
    """How many requests a passing fault of this kind spoils."""
    recovers: bool = True
    """Whether a call that meets a passing fault should still succeed (by retrying)."""
    lasting_fails: bool = True
    """Whether a call that meets the fault on every request should end in an error."""
    slow: bool = False
    """Each fault costs a good part of a second, so a scan may run out of time and say so."""

    def faults(self, count: int, after: int = 0) -> Faults:
        faults = Faults(**self.settings, after=after)
        setattr(faults, self.counter, count)
        return faults


FAULT_KINDS = (
    FaultKind("429 storm, RateLimit header", "burst_429", {"burst_429_reset": 0.2}),
    # Retry-After is whole seconds: a passing storm makes a call wait once, a lasting one until the next
    # wait would not fit in the call's deadline.
    FaultKind("429 storm, Retry-After only", "burst_429", {"burst_429_style": "retry-after"}, 1, slow=True),
    FaultKind(
        "429 storm, body rate_reset only", "burst_429", {"burst_429_style": "body", "burst_429_reset": 0.2}
    ),
    FaultKind("429 storm, no wait given", "burst_429", {"burst_429_style": "none"}),
    FaultKind("502 burst", "burst_5xx", {"status_5xx": 502}),
    FaultKind("503 burst", "burst_5xx", {"status_5xx": 503}),
    FaultKind("504 burst", "burst_5xx", {"status_5xx": 504}),
    FaultKind("server hangs", "hang", slow=True),
    FaultKind("connection reset before the answer", "reset", {"reset_style": "before"}),
    FaultKind("connection reset mid-body", "reset", {"reset_style": "during"}),
    FaultKind("connection closed mid-body", "reset", {"reset_style": "close"}),
    FaultKind("truncated JSON", "truncated"),
    FaultKind("non-JSON body (HTML page)", "malformed"),
    FaultKind("undecodable body (bad gzip)", "garbled"),
    FaultKind("oversized body, Content-Length", "oversized", recovers=False),
    FaultKind("oversized body, chunked", "oversized", {"oversized_declared": False}, recovers=False),
    FaultKind(
        "slow drip, within limits",
        "drip",
        {"drip_bytes": 16384, "drip_pause": 0.01},
        lasting_fails=False,
        slow=True,
    ),
    FaultKind(
        "slow drip, past the request timeout", "drip", {"drip_bytes": 64, "drip_pause": 0.1}, slow=True
    ),
)

Outcome = Literal[
    "ok first try",
    "ok after retry",
    "incomplete, said so",
    "clean error",
    "unclear error",
    "wrong result",
    "crashed",
    "hung",
]
FAILURES: tuple[Outcome, ...] = ("unclear error", "wrong result", "crashed", "hung")
ADVICE = ("try again", "wait", "check", "narrow")
CRASH_MARKERS = ("Error executing tool", "Traceback", 'File "', "ExceptionGroup")


def fault_settings(base_url: str) -> Settings:
    return make_settings(
        base_url=base_url,
        call_timeout=CALL_TIMEOUT,
        request_timeout=REQUEST_TIMEOUT,
        connect_timeout=REQUEST_TIMEOUT,
        max_retries=MAX_RETRIES,
        backoff_base=0.05,
        max_response_bytes=512 << 10,  # pages here are under 200 KB; the oversized bodies are 256 MiB
    )


@dataclass(frozen=True)
class Baseline:
    """A fault-free answer, and the requests it took once the server had learnt the names."""

    structured: dict[str, Any]
    requests: int


def _event_ids(structured: dict[str, Any]) -> list[str]:
    return [item["id"] for item in structured.get("events", [])]


def says_incomplete(tool: ToolCall, structured: dict[str, Any], text: str, baseline: Baseline) -> bool:
    """A scan's answer that covers less than the baseline, says so, and says how to get the rest."""
    expected = baseline.structured
    if tool.name == "summarize_events":
        return (
            structured.get("complete") is False
            and "covers" in text
            and "For the earlier part call summarize_events" in text
            and structured.get("total", 0) <= expected.get("total", 0)
        )
    ids, expected_ids = _event_ids(structured), _event_ids(expected)
    prefix = ids == expected_ids[: len(ids)]
    if tool.name == "poll_events":
        # The checkpoint says where the next poll goes on; it must not claim more than was read.
        return prefix and structured.get("more") is True and "poll_events again now" in text
    return (
        prefix
        and len(ids) <= len(expected_ids)  # all there is may be read before the scan is cut
        and bool(structured.get("next_cursor"))
        and "next_cursor continues" in text
    )


@dataclass(frozen=True)
class Observed:
    """One tool call under a fault, as the agent and the emulator saw it."""

    tool: ToolCall
    is_error: bool
    text: str
    structured: dict[str, Any] | None
    elapsed: float
    requests: int
    injected: int
    exception: str = ""
    paced_by_close: bool = False
    """429s that say how long to wait: a call waits them out for as long as its deadline allows, so
    the deadline bounds it, not a number of retries."""

    def problems(self, baseline: Baseline) -> list[str]:
        """What is wrong with this call, whatever its outcome; empty when nothing is."""
        found = []
        if self.elapsed > CALL_TIMEOUT + MARGIN:
            found.append(f"took {self.elapsed:.2f} s, past the {CALL_TIMEOUT:g} s deadline")
        budget = baseline.requests * (1 + MAX_RETRIES)
        if self.requests > budget and not self.paced_by_close:
            found.append(f"made {self.requests} requests, more than {budget}")
        if self.exception:
            found.append(f"the call raised {self.exception}")
        if DEMO_API_KEY in self.text:
            found.append("the key in the answer")
        if not self.is_error:
            complete = self.structured == baseline.structured
            if not complete and not (
                self.tool.scans and says_incomplete(self.tool, self.structured or {}, self.text, baseline)
            ):
                found.append(f"a partial or wrong answer presented as complete: {self.text[-300:]!r}")
            return found
        if any(marker in self.text for marker in CRASH_MARKERS):
            found.append(f"crash text: {self.text!r}")
        if not any(advice in self.text.lower() for advice in ADVICE) or len(self.text) > 500:
            found.append(f"not actionable: {self.text!r}")
        if self.structured is not None or "ev_" in self.text:
            found.append("an error that carries results")
        return found

    def outcome(self, baseline: Baseline) -> Outcome:
        if self.elapsed > CALL_TIMEOUT + MARGIN:
            return "hung"
        if self.exception or any(marker in self.text for marker in CRASH_MARKERS):
            return "crashed"
        if self.is_error:
            return "unclear error" if self.problems(baseline) else "clean error"
        if self.structured != baseline.structured:
            return "wrong result" if self.problems(baseline) else "incomplete, said so"
        return "ok first try" if self.requests <= baseline.requests else "ok after retry"


def expected_outcomes(tool: ToolCall, kind: FaultKind, mode: Mode) -> frozenset[Outcome]:
    """What a call may end in: anything else fails the test."""
    ok: frozenset[Outcome] = frozenset({"ok first try", "ok after retry"})
    fails = kind.lasting_fails if mode.startswith("lasting") else not kind.recovers
    allowed = frozenset({"clean error"}) if fails else ok
    if tool.scans and (kind.slow or (mode == "lasting mid-scan" and fails)):
        # The scan may run short of its time (each fault costs a good part of a second) and say so.
        allowed |= {"incomplete, said so"}
    return allowed


# --- the emulators' process ----------------------------------------------------------------------


class LaneRouter:
    """One ASGI app for many emulators: ``/{lane}/api/v1/…`` goes to that lane's emulator, and
    ``/{lane}/faults`` sets (PUT, which also clears its request log) or reads (GET) its faults. It
    passes ``send`` on untouched, so the emulators' connection resets still reach the socket."""

    def __init__(self, apps: dict[str, SandboxApp]) -> None:
        self.apps = apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        lane, _, rest = scope["path"].lstrip("/").partition("/")
        app = self.apps.get(lane)
        if app is None:
            await _respond(send, 404, {})
        elif rest == "faults":
            if scope["method"] == "PUT":
                body = b""
                while (message := await receive())["type"] == "http.request":
                    body += message.get("body", b"")
                    if not message.get("more_body"):
                        break
                app.faults = Faults(**json.loads(body))
                app.requests.clear()
            await _respond(send, 200, {"faults": asdict(app.faults), "requests": len(app.requests)})
        else:
            await app({**scope, "path": f"/{rest}"}, receive, send)


async def _respond(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})


def serve_lanes(count: int) -> None:
    """The emulators' process: ``count`` lanes over the fault organization on a free loopback port,
    which it prints on stdout before serving until it is terminated."""
    import uvicorn  # noqa: PLC0415

    org = fault_org()
    router = LaneRouter({f"lane{i}": SandboxApp(org, clock=clock) for i in range(count)})
    sock = socket.create_server(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(router, log_level="critical", lifespan="off", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


@contextmanager
def emulator_process(count: int) -> Iterator[str]:
    """Start the emulators' process; yields its root URL (``http://127.0.0.1:PORT``)."""
    code = f"from tests.test_faults import serve_lanes; serve_lanes({count})"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError(f"the emulators' process did not start (exit code {process.poll()})")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


# --- lanes ---------------------------------------------------------------------------------------


@dataclass
class Lane:
    """One tool meeting one kind of fault in one mode, on its own emulator, through its own server."""

    tool: ToolCall
    mode: Mode
    name: str
    root: str
    control: httpx.AsyncClient
    client: Client | None = None
    baseline: Baseline | None = None

    @property
    def base_url(self) -> str:
        return f"{self.root}/{self.name}{PREFIX}"

    async def inject(self, faults: Faults) -> None:
        """Set the emulator's faults (and clear its request log)."""
        (await self.control.put(f"/{self.name}/faults", json=asdict(faults))).raise_for_status()

    async def state(self) -> tuple[Faults, int]:
        """The emulator's faults now (counters used up so far) and the requests it answered since."""
        reply = (await self.control.get(f"/{self.name}/faults")).raise_for_status().json()
        return Faults(**reply["faults"]), reply["requests"]


def make_lanes() -> list[tuple[ToolCall, Mode]]:
    return [
        (tool, mode) for tool in TOOL_CALLS for mode in MODES if tool.scans or not mode.endswith("mid-scan")
    ]


@dataclass
class LaneResult:
    lane: Lane
    observed: Observed
    outcome: Outcome
    problems: list[str]
    next_call_ok: bool


async def call_under_fault(lane: Lane, arguments: dict[str, Any], faults: Faults, counter: str) -> Observed:
    """Inject ``faults`` and make one call; the emulator is fault-free again when this returns."""
    assert lane.client is not None, "the lane is not open"
    count = getattr(faults, counter)
    await lane.inject(faults)
    result = None
    exception = ""
    started = time.monotonic()
    with anyio.move_on_after(CALL_TIMEOUT + MARGIN + 5):
        try:
            result = await lane.client.call_tool(lane.tool.name, arguments)
        except Exception as exc:
            exception = type(exc).__name__
    elapsed = time.monotonic() - started
    left, requests = await lane.state()
    await lane.inject(Faults())
    return Observed(
        lane.tool,
        is_error=result is None or bool(result.is_error),
        text=text_of(result) if result is not None else "",
        structured=result.structured_content if result is not None else None,
        elapsed=elapsed,
        requests=requests,
        injected=count - getattr(left, counter),
        exception=exception,
        paced_by_close=counter == "burst_429" and faults.burst_429_style != "none",
    )


async def fault_free(lane: Lane, arguments: dict[str, Any]) -> Baseline:
    assert lane.client is not None, "the lane is not open"
    await lane.inject(Faults())
    result = await lane.client.call_tool(lane.tool.name, arguments)
    assert not result.is_error and result.structured_content, f"{lane.tool.label}: {text_of(result)}"
    return Baseline(result.structured_content, (await lane.state())[1])


async def run_lane(lane: Lane, org: DemoOrg, kind: FaultKind, count: int) -> LaneResult:
    """One faulted call in this lane, then a fault-free one that must give the complete answer."""
    assert lane.client is not None and lane.baseline is not None, "the lane is not open"
    baseline = lane.baseline
    arguments = lane.tool.arguments(org)
    passing = lane.mode.startswith("passing")
    after = baseline.requests // 2 if lane.mode.endswith("mid-scan") else 0
    faults = kind.faults(count if passing else LASTING, after)
    observed = await call_under_fault(lane, arguments, faults, kind.counter)
    problems = observed.problems(baseline)
    if observed.injected < 1:
        problems.append("the fault was never injected")
    outcome = observed.outcome(baseline)
    if outcome not in expected_outcomes(lane.tool, kind, lane.mode):
        problems.append(f"ended in {outcome}: {observed.text[:300]!r}")
    after_call = await lane.client.call_tool(lane.tool.name, arguments)
    next_ok = not after_call.is_error and after_call.structured_content == baseline.structured
    if not next_ok:
        problems.append(f"the next fault-free call failed: {text_of(after_call)[:200]!r}")
    return LaneResult(lane, observed, outcome, problems, next_ok)


async def run_kind(
    lanes: list[Lane], org: DemoOrg, kind: FaultKind, count: int | None = None
) -> list[LaneResult]:
    """Every lane meets ``kind`` once, side by side."""
    results: list[LaneResult] = []

    async def one(lane: Lane) -> None:
        results.append(await run_lane(lane, org, kind, count or kind.passing))

    async with anyio.create_task_group() as group:
        for lane in lanes:
            group.start_soon(one, lane)
    return results


@asynccontextmanager
async def open_lanes(org: DemoOrg) -> AsyncIterator[list[Lane]]:
    """Every lane's emulator up, its server connected, the names learnt and the baseline taken."""
    specs = make_lanes()
    with emulator_process(len(specs)) as root:
        async with AsyncExitStack() as stack:
            control = await stack.enter_async_context(httpx.AsyncClient(base_url=root, timeout=10))
            lanes = [Lane(tool, mode, f"lane{i}", root, control) for i, (tool, mode) in enumerate(specs)]
            for lane in lanes:
                server = build_server(fault_settings(lane.base_url), clock=clock)
                lane.client = await stack.enter_async_context(Client(server))
            limiter = anyio.CapacityLimiter(4)  # all at once, the first calls would compete for the CPU

            async def warm(lane: Lane) -> None:
                async with limiter:
                    arguments = lane.tool.arguments(org)
                    await fault_free(lane, arguments)  # the server learns the names first
                    lane.baseline = await fault_free(lane, arguments)

            async with anyio.create_task_group() as group:
                for lane in lanes:
                    group.start_soon(warm, lane)
            yield lanes


def fault_org() -> DemoOrg:
    return build_demo_org(NOW, filler_events=FILLER_EVENTS, filler_days=7)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # module-wide, so the lanes' servers stay connected from one test to the next


@pytest.fixture(scope="module")
def org() -> DemoOrg:
    return fault_org()


@pytest.fixture(scope="module")
async def lanes(org: DemoOrg) -> AsyncIterator[list[Lane]]:
    async with open_lanes(org) as opened:
        yield opened


# --- tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FAULT_KINDS, ids=[kind.name for kind in FAULT_KINDS])
async def test_every_tool_ends_in_the_whole_answer_or_an_actionable_error_in_time(lanes, org, kind):
    results = await run_kind(lanes, org, kind)
    problems = [f"{r.lane.tool.label} ({r.lane.mode}): {p}" for r in results for p in r.problems]
    assert problems == []
    assert len(results) == len(lanes)


async def test_a_scan_that_fails_half_way_shows_nothing_it_read(lanes, org):
    """A week's scan meets a lasting 503 after half its pages: an error, never the pages read so far
    shown as the answer. A passing one half way is retried and the answer is whole."""
    chosen = [lane for lane in lanes if lane.tool.scans and lane.mode == "lasting mid-scan"]
    problems: list[str] = []

    async def one(lane: Lane) -> None:
        arguments = {**lane.tool.arguments(org), "since": "7d"}
        if lane.tool.name == "poll_events":
            arguments["limit"] = 500  # a poll reads about what it delivers: enough to need many pages
        baseline = await fault_free(lane, arguments)
        assert baseline.requests >= 6, f"{lane.tool.label}: {baseline.requests} pages is no scan"
        half = baseline.requests // 2
        failed = await call_under_fault(lane, arguments, Faults(after=half, burst_5xx=LASTING), "burst_5xx")
        clean_error = failed.is_error and failed.structured is None and failed.injected >= 1
        if not clean_error or not failed.text.startswith("Close is having trouble (HTTP 503)"):
            problems.append(f"{lane.tool.label} lasting: {failed.text[:200]!r}")
        passed = await call_under_fault(lane, arguments, Faults(after=half, burst_5xx=2), "burst_5xx")
        if passed.is_error or passed.structured != baseline.structured or passed.injected != 2:
            problems.append(f"{lane.tool.label} passing: {passed.text[:200]!r}")

    async with anyio.create_task_group() as group:
        for lane in chosen:
            group.start_soon(one, lane)
    assert len(chosen) == 3 and problems == []


async def test_a_scan_out_of_time_says_plainly_what_it_covers(lanes, org):
    """Every page slow (within the request timeout) and one request at a time: each scanning tool stops
    reading at its share of the deadline and answers with what it read, saying so and how to go on."""
    chosen = {lane.tool.label: lane for lane in lanes if lane.tool.scans and lane.mode == "passing"}
    outcomes: dict[str, tuple[Outcome, list[str], dict[str, Any]]] = {}

    async def one(lane: Lane) -> None:
        arguments = {**lane.tool.arguments(org), "since": "7d"}
        if lane.tool.name == "poll_events":
            arguments["limit"] = 500  # all there is: a poll cut short then delivers less
        settings = fault_settings(lane.base_url).with_overrides(scan_concurrency=1)
        async with Client(build_server(settings, clock=clock)) as client:
            scanning = Lane(lane.tool, lane.mode, lane.name, lane.root, lane.control, client)
            await fault_free(scanning, arguments)
            baseline = await fault_free(scanning, arguments)
            observed = await call_under_fault(scanning, arguments, Faults(latency=0.35), "latency")
        outcomes[lane.tool.label] = (
            observed.outcome(baseline),
            observed.problems(baseline),
            observed.structured or {},
        )

    async with anyio.create_task_group() as group:
        for lane in chosen.values():
            group.start_soon(one, lane)
    assert {label: outcome[:2] for label, outcome in outcomes.items()} == {
        label: ("incomplete, said so", []) for label in chosen
    }
    assert outcomes["summarize_events"][2]["complete"] is False


@pytest.mark.parametrize(
    ("style", "status", "seen"),
    [
        ("before", None, httpx.ReadError),
        ("during", 200, httpx.ReadError),
        ("close", 200, httpx.RemoteProtocolError),
    ],
)
async def test_dropped_connections_reach_httpx_as_real_ones_do(lanes, style, status, seen):
    lane = lanes[0]
    await lane.inject(Faults(reset=1, reset_style=style))
    statuses = []
    async with httpx.AsyncClient(base_url=lane.base_url, auth=(DEMO_API_KEY, "")) as http:
        with pytest.raises(seen):
            async with http.stream("GET", "/event/", params={"_limit": "5"}) as response:
                statuses.append(response.status_code)
                await response.aread()
        assert statuses == ([status] if status else [])
        assert (await http.get("/event/", params={"_limit": "5"})).status_code == 200


async def test_a_drip_and_an_oversized_body_are_streamed(lanes):
    lane = lanes[0]
    async with httpx.AsyncClient(base_url=lane.base_url, auth=(DEMO_API_KEY, "")) as http:
        whole = (await http.get("/event/", params={"_limit": "5"})).content
        await lane.inject(Faults(drip=1, drip_bytes=2048, drip_pause=0.05))
        started = time.monotonic()
        async with http.stream("GET", "/event/", params={"_limit": "5"}) as response:
            chunks = [chunk async for chunk in response.aiter_raw()]
        assert b"".join(chunks) == whole
        assert len(chunks) >= 3 and time.monotonic() - started >= 0.05 * (len(whole) // 2048)

        for declared in (True, False):
            await lane.inject(Faults(oversized=1, oversized_bytes=1 << 30, oversized_declared=declared))
            received = 0
            async with http.stream("GET", "/event/", params={"_limit": "5"}) as response:
                assert response.headers.get("content-length") == (str(1 << 30) if declared else None)
                async for chunk in response.aiter_raw():
                    received += len(chunk)
                    if received > 8 << 20:
                        break  # hang up; the emulator stops generating
            assert received > 8 << 20
        assert (await http.get("/event/", params={"_limit": "5"})).content == whole
