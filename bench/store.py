"""The local event store (issue 15): what it saves a repeated question, how fast it answers from what
it holds, what it costs on disk, and how close ``sync`` comes to Close's rate limit.

Five figures, each (where Close plays a part) against the emulator and against the independent
stand-in (``bench/standin.py``, its own corpus, limiter and code), side by side:

1. ``digest``: the repeated weekly digest. A limiter in a process of its own serves 20,000 events over
   the 7 days before now (the stand-in: ``standin_corpus``; the emulator: the demo organization plus
   20,000 filler events) at 10 requests/s and 150 ms a request (the stand-in's resets in whole seconds,
   the emulator's to the millisecond); close-events-mcp runs in a process of its own over stdio with
   its defaults (a 30 s call budget) and ``CLOSE_EVENTS_STORE`` a fresh directory. ``summarize_events
   since=7d`` is asked three times in a row; for each: events in the answer (``total``), complete or
   not, events Close served (``scanned``), requests and wall time. The same without a store
   (``CLOSE_EVENTS_STORE=off``): two asks.
2. ``warm``: a warm 7-day digest of the same corpora, in process (httpx's ASGI transport, no latency
   and no rate limit): ``close-events-mcp sync`` (``run_sync``) first, then ``summarize_events
   since=7d`` through ``mcp.Client`` against ``build_server``, the first call and the median of
   ``--runs`` more, on SQLite and on PostgreSQL. Where its time goes: py-spy samples (every thread)
   of a process doing the same warm digests, each sample put under the first of its frames (from the
   innermost) that belongs to a stage.
3. ``large``: ``--large`` events generated here (varied object types, actions, leads, users, changed
   fields and bodies shaped like Close's; spread over 365 days ending 31 days before the bench's
   fixed "now") put straight into the store with ``EventStore.put`` in batches of 1,000 with their
   held ranges, on SQLite and on PostgreSQL; then p50/p95 of ``list_events`` and ``summarize_events``
   over a ``--window-days`` window the store holds completely (older than Close's 30 days, so only
   the store answers; Close is the emulator's demo organization, which has none of these events),
   per filter shape, each run with values drawn from a stored event of the window.
4. Bytes per stored event: the SQLite file (checkpointed) over its events; on PostgreSQL
   ``pg_total_relation_size`` of the store's tables over its events; at 20,000 (figure 2's stores)
   and at ``--large``.
5. ``sync``: ``close-events-mcp sync`` (a process of its own, a fresh store) against each limiter as in
   1 with 20,000 events: requests per second over the pass, divided by the limit (10/s).

PostgreSQL is a throwaway cluster from Debian's binaries (``tests/postgres.py``: fsync off).

    python bench/store.py [--parts digest,sync,warm,large] [--events 20000] [--large 1000000]
        [--runs 7] [--query-runs 15] [--window-days 7] [--results FILE] [--no-write]

Each part's figures are kept in ``--results`` (default /tmp/close-events-store-bench.json), so parts
can be run one at a time and the section is written from all of them. About 5 minutes for digest,
3 for sync, 3 for warm and 30 to 60 for large at 1,000,000 on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(ROOT))
from emulator import Emulator  # noqa: E402
from report import machine, write_section  # noqa: E402
from server_process import ServerProcess  # noqa: E402
from standin import StandIn, StandInApp  # noqa: E402
from standin_corpus import Corpus  # noqa: E402

RATE_LIMIT = 10
LATENCY = 0.150
EVENTS = 20_000
LIMITERS = ("emulator", "stand-in")
STANDIN_KEY = "api_bench_standin"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
"""The in-process parts' fixed "now" (figures 2 and 3)."""
BASE_URL = "http://close.bench/api/v1"
RESULTS = Path(tempfile.gettempdir()) / "close-events-store-bench.json"
SERVED_TARGET = 1.15
WARM_TARGET = 1.0
SYNC_TARGET = 0.90
SHAPES = ("no filter", "object_type+action", "lead_id", "user_id", "object_id", "request_id", "changed_field")
LARGE_SPAN_DAYS = 365
LARGE_END = NOW - timedelta(days=31)
BATCH = 1_000


# --- 1. The repeated weekly digest (real time, each side in its own process) ------------------------


def _limiter(kind: str, now: datetime) -> Emulator | StandIn:
    if kind == "emulator":
        return Emulator(now, filler=EVENTS, latency=LATENCY, rate_limit=RATE_LIMIT)
    return StandIn(events=EVENTS, now=now, rate_limit=RATE_LIMIT, resets="whole", latency=LATENCY)


def _key(kind: str) -> str:
    from close_events_sandbox.seed import DEMO_API_KEY  # noqa: PLC0415

    return DEMO_API_KEY if kind == "emulator" else STANDIN_KEY


def measure_digest() -> list[dict[str, Any]]:
    rows = []
    for kind in LIMITERS:
        for store in ("sqlite", "off"):
            asks = 3 if store != "off" else 2
            now = datetime.now(UTC).replace(microsecond=0)
            with tempfile.TemporaryDirectory() as place, _limiter(kind, now) as limiter:
                setting = str(Path(place) / "store") if store != "off" else "off"
                with ServerProcess(limiter.base_url, _key(kind), CLOSE_EVENTS_STORE=setting) as server:
                    for ask in range(1, asks + 1):
                        before = limiter.statuses()
                        started = time.perf_counter()
                        result = server.call("summarize_events", {"since": "7d"})
                        seconds = time.perf_counter() - started
                        served = limiter.statuses() - before
                        digest = result["structuredContent"]
                        rows.append({
                            "limiter": kind, "store": store, "ask": ask, "total": digest["total"],
                            "complete": bool(digest["complete"]), "scanned": digest["scanned"],
                            "requests": sum(served.values()), "429s": served.get(429, 0),
                            "seconds": round(seconds, 2),
                        })  # fmt: skip
                        print(json.dumps(rows[-1]), file=sys.stderr)
            time.sleep(1.1)
    return rows


# --- 5. sync as a share of the rate-limit bound ----------------------------------------------------

_PASS = re.compile(
    r"read ([\d,]+) events from Close in ([\d,]+) requests \(([\d.]+) s, ([\d.]+) requests/s\)"
)


def measure_sync() -> list[dict[str, Any]]:
    rows = []
    for kind in LIMITERS:
        now = datetime.now(UTC).replace(microsecond=0)
        with tempfile.TemporaryDirectory() as place, _limiter(kind, now) as limiter:
            clean = {k: v for k, v in os.environ.items() if not k.startswith("CLOSE_")}
            env = {
                **clean,
                "CLOSE_API_BASE_URL": limiter.base_url,
                "CLOSE_API_KEY": _key(kind),
                "CLOSE_EVENTS_STORE": str(Path(place) / "store"),
            }
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "close_events_mcp", "sync"],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            wall = time.perf_counter() - started
            statuses = limiter.statuses()
        found = _PASS.search(done.stdout)
        if done.returncode != 0 or found is None:
            raise RuntimeError(f"sync failed ({done.returncode}): {done.stdout[-500:]} {done.stderr[-500:]}")
        read, requests = int(found.group(1).replace(",", "")), int(found.group(2).replace(",", ""))
        seconds = float(found.group(3))
        rows.append({
            "limiter": kind, "events": read, "requests": requests, "seconds": seconds,
            "rate": requests / seconds, "share": requests / seconds / RATE_LIMIT,
            "wall": round(wall, 1), "served": sum(statuses.values()), "429s": statuses.get(429, 0),
        })  # fmt: skip
        print(json.dumps(rows[-1]), file=sys.stderr)
        time.sleep(1.1)
    return rows


# --- 2. The warm digest, and bytes per event at 20,000 ---------------------------------------------


def _clock() -> datetime:
    return NOW


def _app(kind: str) -> tuple[Any, str]:
    if kind == "emulator":
        from close_events_sandbox.app import SandboxApp  # noqa: PLC0415
        from close_events_sandbox.seed import build_demo_org  # noqa: PLC0415

        return SandboxApp(build_demo_org(NOW, filler_events=EVENTS, filler_days=7), clock=_clock), _key(kind)
    return StandInApp(Corpus(events=EVENTS, days=7, now=NOW, seed=1), None, 0.0), STANDIN_KEY


def _settings(key: str, store: str, **overrides: Any) -> Any:
    from close_events_mcp.config import Credential, Secret, Settings  # noqa: PLC0415

    return Settings(
        credential=Credential("api_key", Secret(key)), base_url=BASE_URL, store=store
    ).with_overrides(**overrides)


async def _call(client: Any, tool: str, arguments: dict[str, Any]) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    result = await client.call_tool(tool, arguments)
    seconds = time.perf_counter() - started
    if result.is_error:
        text = "\n".join(block.text for block in result.content if block.type == "text")
        raise RuntimeError(f"{tool} {arguments} failed: {text[:300]}")
    return result.structured_content or {}, seconds


async def _warm_digests(app: Any, key: str, store: str, runs: int) -> dict[str, Any]:
    import httpx  # noqa: PLC0415
    from mcp import Client  # noqa: PLC0415

    from close_events_mcp.server.app import build_server  # noqa: PLC0415

    server = build_server(_settings(key, store), transport=httpx.ASGITransport(app=app), clock=_clock)
    async with Client(server) as client:
        first, first_seconds = await _call(client, "summarize_events", {"since": "7d"})
        times, last = [], first
        for _ in range(runs):
            last, seconds = await _call(client, "summarize_events", {"since": "7d"})
            times.append(seconds)
    return {
        "first": round(first_seconds, 3), "median": statistics.median(times), "times": times,
        "total": last["total"], "complete": bool(last["complete"]), "scanned": last["scanned"],
    }  # fmt: skip


async def _sync(app: Any, key: str, store: str) -> float:
    import httpx  # noqa: PLC0415

    from close_events_mcp.store.commands import run_sync  # noqa: PLC0415

    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        code = await run_sync(_settings(key, store), httpx.ASGITransport(app=app), follow=False, clock=_clock)
    if code != 0:
        raise RuntimeError(f"sync failed with {code}")
    return time.perf_counter() - started


def measure_warm(runs: int, postgres: str | None, py_spy: str | None) -> dict[str, Any]:
    rows, sizes, profiles = [], [], {}
    with tempfile.TemporaryDirectory() as place:
        for kind in LIMITERS:
            app, key = _app(kind)
            backends = [("sqlite", str(Path(place) / f"{kind}.sqlite3"))]
            if postgres is not None:
                backends.append(("postgresql", _fresh_database(postgres)))
            for backend, store in backends:
                synced = asyncio.run(_sync(app, key, store))
                row = asyncio.run(_warm_digests(app, key, store, runs))
                row.update(limiter=kind, backend=backend, sync_seconds=round(synced, 1))
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
                sizes.append({"events": "20,000 (" + kind + ")", "backend": backend, **_size(backend, store)})
                print(json.dumps(sizes[-1]), file=sys.stderr)
            if py_spy is not None:
                profiles[kind] = profile_warm(py_spy, kind, backends[0][1])
    return {"rows": rows, "sizes": sizes, "profiles": profiles}


def _size(backend: str, store: str) -> dict[str, Any]:
    if backend == "sqlite":
        with contextlib.closing(sqlite3.connect(store)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            count = connection.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        wal = Path(store + "-wal")
        size = Path(store).stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        return {"count": count, "bytes": size, "per_event": size / count}
    import psycopg  # noqa: PLC0415

    with psycopg.connect(store, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
        count = connection.execute("SELECT COUNT(*) FROM events").fetchone()[0]  # type: ignore[index]
        size = connection.execute(
            "SELECT pg_total_relation_size('events') + pg_total_relation_size('changed_fields') "
            "+ pg_total_relation_size('held_ranges')"
        ).fetchone()[0]  # type: ignore[index]
    return {"count": count, "bytes": int(size), "per_event": int(size) / count}


# Stages of the warm digest, matched from the innermost frame outwards: (stage, file part, functions).
STAGES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("store read (SQL, fetch)", "store/backends.py", ("execute",)),
    ("JSON decode (orjson)", "store/events.py", ("events", "<listcomp>")),
    ("Event.from_close", "close_events_mcp/event.py", ()),
    ("visibility check", "store/gateway.py", ("visible", "<listcomp>", "<lambda>")),
    (
        "tally (Tally.add)",
        "engine/digest.py",
        ("add", "_count_bounded", "_status_change", "_kind", "_outcome"),
    ),
    ("render (build_digest, text)", "engine/digest.py", ()),
    ("render (build_digest, text)", "close_events_mcp/render/", ()),
    ("render (build_digest, text)", "close_events_mcp/text.py", ()),
    ("names (NameBook.learn)", "close/names.py", ()),
    ("scan engine", "engine/scan.py", ()),
    ("Close's latest hour (in process)", "httpx/", ()),
    ("Close's latest hour (in process)", "close_events_sandbox/", ()),
    ("Close's latest hour (in process)", "bench/standin", ()),
    ("MCP, pydantic (answer to the client)", "mcp/", ()),
    ("MCP, pydantic (answer to the client)", "pydantic", ()),
)
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^():]+)(?::\d+)?\)$")


def profile_warm(py_spy: str, kind: str, store: str) -> dict[str, Any]:
    """py-spy (all threads, 250 samples/s) over a process making 15 warm digests; samples per stage."""
    out = Path(tempfile.mkdtemp()) / "warm.txt"
    command = [py_spy, "record", "--format", "raw", "-r", "250", "-o", str(out), "--"]
    command += [sys.executable, str(Path(__file__).resolve()), "--profile-warm", kind, store]
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    stages: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "_find_and_load" in stack or "run_sync_loop" in stack or "_sync (" in stack:
            continue  # imports, and the set-up (the store is synced before the digests start)
        frames = stack.split(";")
        stages[_stage(frames)] += int(count)
        leaves[frames[-1] if frames else "?"] += int(count)
    shutil.rmtree(out.parent, ignore_errors=True)
    total = sum(stages.values()) or 1
    return {
        "stages": {name: n / total for name, n in stages.most_common()},
        "leaves": {name: n / total for name, n in leaves.most_common(12)},
        "samples": total,
    }


def _stage(frames: Sequence[str]) -> str:
    for frame in reversed(frames):
        found = _FRAME.match(frame.strip())
        if not found:
            continue
        function, file = found.group("function"), found.group("file")
        for stage, part, functions in STAGES:
            if part in file and (not functions or function.split(".")[-1] in functions):
                return stage
    return "other (event loop, threads, asyncio)"


def profiled_warm(kind: str, store: str) -> None:
    """The process py-spy watches: 15 warm digests of an already synced store."""
    app, key = _app(kind)
    row = asyncio.run(_warm_digests(app, key, store, 15))
    print(json.dumps({k: v for k, v in row.items() if k != "times"}), file=sys.stderr)


# --- 3 and 4. A large store ------------------------------------------------------------------------

_ALPHABET = string.ascii_letters + string.digits
LARGE_KINDS: tuple[tuple[str, str, float, tuple[tuple[str, float], ...]], ...] = (
    # object_type, id prefix, share, actions with their shares
    ("activity.email", "acti", 0.22, (("created", 0.3), ("updated", 0.5), ("sent", 0.2))),
    ("activity.call", "acti", 0.15, (("created", 0.5), ("updated", 0.3), ("completed", 0.2))),
    ("lead", "lead", 0.14, (("updated", 0.7), ("created", 0.2), ("deleted", 0.1))),
    ("opportunity", "oppo", 0.12, (("updated", 0.8), ("created", 0.15), ("deleted", 0.05))),
    ("contact", "cont", 0.1, (("created", 0.4), ("updated", 0.55), ("deleted", 0.05))),
    ("activity.note", "acti", 0.1, (("created", 0.7), ("updated", 0.25), ("deleted", 0.05))),
    ("task.lead", "task", 0.08, (("created", 0.5), ("completed", 0.3), ("updated", 0.2))),
    ("activity.sms", "acti", 0.05, (("created", 0.5), ("sent", 0.5))),
    ("activity.meeting", "acti", 0.04, (("created", 0.6), ("completed", 0.4))),
)
FIELDS = {
    "lead": ("status_id", "status_label", "name", "description", "custom.cf_segment", "custom.cf_source"),
    "opportunity": ("status_id", "status_label", "status_type", "value", "confidence", "note", "user_id"),
    "contact": ("name", "title", "emails", "phones"),
    "activity.email": ("status", "subject", "body_text", "opens"),
    "activity.call": ("status", "duration", "note", "disposition"),
    "activity.note": ("note", "note_html", "pinned"),
    "task.lead": ("is_complete", "text", "due_date", "assigned_to"),
    "activity.sms": ("status", "text", "attachments"),
    "activity.meeting": ("status", "note", "attendees"),
}
WORDS = (
    "pricing",
    "renewal",
    "pilot",
    "seats",
    "budget",
    "contract",
    "demo",
    "legal",
    "follow-up",
    "rollout",
)


def _id(prefix: str, rng: random.Random) -> str:
    return f"{prefix}_" + "".join(rng.choices(_ALPHABET, k=22))


class LargeCorpus:
    """``count`` events, generated batch by batch (batch ``b`` always the same), oldest batch first."""

    def __init__(self, count: int, org_id: str, users: Sequence[str]) -> None:
        self.count, self.org_id = count, org_id
        rng = random.Random("large")
        self.users = [*users, *(_id("user", rng) for _ in range(24))]
        self.leads = [_id("lead", rng) for _ in range(max(100, count // 40))]
        self.start = _micros(LARGE_END - timedelta(days=LARGE_SPAN_DAYS))
        self.end = _micros(LARGE_END)
        self.batches = -(-count // BATCH)

    def bounds(self, batch: int) -> tuple[int, int]:
        span = self.end - self.start
        return self.start + span * batch // self.batches, self.start + span * (batch + 1) // self.batches

    def batch(self, batch: int) -> list[dict[str, Any]]:
        rng = random.Random(f"large:{batch}")
        low, high = self.bounds(batch)
        size = min(BATCH, self.count - batch * BATCH)
        moments = sorted(rng.randrange(low, high) for _ in range(size))
        events, request, left = [], _id("req", rng), 0
        for moment in moments:
            if left <= 0:  # most requests make one event; some (bulk edits, merges) make a few
                request, left = _id("req", rng), rng.choice((1, 1, 1, 1, 2, 3, 8))
            left -= 1
            events.append(self._event(rng, moment, request))
        return events

    def _event(self, rng: random.Random, moment: int, request: str) -> dict[str, Any]:
        object_type, prefix, _, actions = rng.choices(LARGE_KINDS, [k[2] for k in LARGE_KINDS])[0]
        action = rng.choices([a for a, _ in actions], [w for _, w in actions])[0]
        lead = self.leads[
            min(int(rng.paretovariate(1.2)) - 1, len(self.leads) - 1)
            if rng.random() < 0.3
            else rng.randrange(len(self.leads))
        ]
        object_id = lead if object_type == "lead" else _id(prefix, rng)
        user = rng.choice(self.users)
        stamp = _iso(moment)
        changed: list[str] = []
        data: dict[str, Any] | None = {
            "id": object_id, "lead_id": lead, "organization_id": self.org_id, "updated_by": user,
            "date_updated": stamp + "+00:00", "note": " ".join(rng.choices(WORDS, k=rng.randint(3, 30))),
        }  # fmt: skip
        previous: dict[str, Any] | None = None
        if action == "updated":
            changed = [*sorted(rng.sample(FIELDS[object_type], k=rng.randint(1, 3))), "date_updated"]
            data.update({name: f"{rng.choice(WORDS)} {rng.randint(1, 999)}" for name in changed[:-1]})
            previous = {name: f"{rng.choice(WORDS)} {rng.randint(1, 999)}" for name in changed}
        elif action == "deleted":
            data, previous = None, {"id": object_id, "lead_id": lead, "name": rng.choice(WORDS).title()}
        path = f"/api/v1/{prefix}/"
        return {
            "id": _id("ev", rng), "date_created": stamp, "date_updated": stamp,
            "organization_id": self.org_id, "user_id": user, "request_id": request, "api_key_id": None,
            "oauth_client_id": None, "object_type": object_type, "object_id": object_id,
            "lead_id": lead, "action": action, "changed_fields": changed, "data": data,
            "previous_data": previous,
            "meta": {"request_method": "PUT" if action == "updated" else "POST", "request_path": path},
        }  # fmt: skip


def _micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _iso(micros: int) -> str:
    return (datetime(1970, 1, 1) + timedelta(microseconds=micros)).isoformat(timespec="microseconds")


def build_large(corpus: LargeCorpus, backend: str, store: str) -> float:
    """Put the corpus into ``store`` batch by batch, each with the range it holds; seconds taken."""
    from close_events_mcp.store.backends import PostgresDatabase, SqliteDatabase  # noqa: PLC0415
    from close_events_mcp.store.events import ALL_EVENTS, Covered, EventStore  # noqa: PLC0415

    database = SqliteDatabase(Path(store)) if backend == "sqlite" else PostgresDatabase(store)
    events = EventStore.open(database, corpus.org_id, created_at=corpus.start)
    started = time.perf_counter()
    for batch in range(corpus.batches):
        raws = corpus.batch(batch)
        events.put(raws, Covered({}, corpus.bounds(batch), {raw["id"] for raw in raws}), ALL_EVENTS)
        if batch % 100 == 99:
            done = (batch + 1) * BATCH
            rate = done / (time.perf_counter() - started)
            print(f"{backend}: {done:,} events put ({rate:,.0f}/s)", file=sys.stderr)
    seconds = time.perf_counter() - started
    database.close()
    return seconds


def _window(window_days: float) -> tuple[datetime, datetime]:
    """The queried window: the newest ``window_days`` of the store's last full month."""
    until = LARGE_END - timedelta(days=30)
    return until - timedelta(days=window_days), until


def _samples(store: str, since: datetime, until: datetime, runs: int) -> list[dict[str, str]]:
    """Filter values from ``runs`` stored events of the window, the same for every backend."""
    rng = random.Random("samples")
    with contextlib.closing(sqlite3.connect(store)) as connection:
        rows = connection.execute(
            "SELECT id, object_type, action, object_id, lead_id, user_id, request_id FROM events "
            "WHERE date_updated >= ? AND date_updated < ? ORDER BY id LIMIT 5000",
            (_micros(since), _micros(until)),
        ).fetchall()
        fields = dict(
            connection.execute(
                "SELECT event_id, field FROM changed_fields WHERE date_updated >= ? AND date_updated < ? "
                "AND field != 'date_updated' ORDER BY event_id LIMIT 5000",
                (_micros(since), _micros(until)),
            ).fetchall()
        )
    picked = rng.sample(rows, runs)
    with_fields = [field for field in fields.values()]
    keys = ("object_type", "action", "object_id", "lead_id", "user_id", "request_id")
    return [
        {**dict(zip(keys, row[1:], strict=True)), "changed_field": rng.choice(with_fields)} for row in picked
    ]


def _arguments(shape: str, sample: dict[str, str]) -> dict[str, str]:
    if shape == "no filter":
        return {}
    if shape == "object_type+action":
        return {"object_type": sample["object_type"], "action": sample["action"]}
    return {shape: sample[shape]}


async def _queries(
    store: str, since: datetime, until: datetime, samples: list[dict[str, str]]
) -> dict[str, dict[str, Any]]:
    import httpx  # noqa: PLC0415
    from mcp import Client  # noqa: PLC0415

    from close_events_mcp.server.app import build_server  # noqa: PLC0415
    from close_events_sandbox.app import SandboxApp  # noqa: PLC0415
    from close_events_sandbox.seed import build_demo_org  # noqa: PLC0415

    sandbox = SandboxApp(build_demo_org(NOW), clock=_clock)
    settings = _settings(_key("emulator"), store, store_retention_days=0, call_timeout=120.0)
    server = build_server(settings, transport=httpx.ASGITransport(app=sandbox), clock=_clock)
    window = {"since": _stamp(since), "until": _stamp(until)}
    figures: dict[str, dict[str, Any]] = {}
    async with Client(server) as client:
        await _call(client, "list_events", {**window, "limit": 5})  # opens the store
        before = len(sandbox.requests)
        for shape in SHAPES:
            for tool in ("list_events", "summarize_events"):
                times, counts = [], []
                for sample in samples:
                    answer, seconds = await _call(client, tool, {**window, **_arguments(shape, sample)})
                    times.append(seconds)
                    counts.append(answer.get("total", answer.get("count", 0)))
                    if answer.get("complete") is False:
                        raise RuntimeError(f"{tool} {shape}: not complete")
                figures[f"{tool}|{shape}"] = {
                    "p50": _percentile(times, 50), "p95": _percentile(times, 95),
                    "events": statistics.median(counts),
                }  # fmt: skip
                print(tool, shape, json.dumps(figures[f"{tool}|{shape}"]), file=sys.stderr)
        asked = Counter(_endpoint(r.path) for r in list(sandbox.requests)[before:])
        figures["close"] = {"requests": dict(asked), "calls": 2 * len(SHAPES) * len(samples)}
    return figures


def _endpoint(path: str) -> str:
    """``/api/v1/lead/lead_x/`` → ``/lead/{id}/``."""
    parts = path.removeprefix("/api/v1/").strip("/").split("/")
    return "/" + parts[0] + ("/{id}/" if len(parts) > 1 else "/")


def _percentile(values: Sequence[float], percent: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * percent / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def measure_large(
    count: int, runs: int, window_days: float, postgres: str | None, keep: Path | None
) -> dict[str, Any]:
    from close_events_sandbox.seed import build_demo_org  # noqa: PLC0415

    org = build_demo_org(NOW)
    corpus = LargeCorpus(count, org.organization["id"], [user["id"] for user in org.users])
    since, until = _window(window_days)
    place = keep or Path(tempfile.mkdtemp(prefix="store-large-"))
    place.mkdir(parents=True, exist_ok=True)
    sqlite_store = str(place / f"large-{count}.sqlite3")
    stores = [("sqlite", sqlite_store)]
    if postgres is not None:
        stores.append(("postgresql", _fresh_database(postgres)))
    result: dict[str, Any] = {"count": count, "window_days": window_days, "runs": runs, "backends": {}}
    samples: list[dict[str, str]] | None = None
    for backend, store in stores:
        built = None
        if not (backend == "sqlite" and Path(store).exists()):
            built = build_large(corpus, backend, store)
        size = _size(backend, store)
        if samples is None:
            samples = _samples(sqlite_store, since, until, runs)
        queries = asyncio.run(_queries(store, since, until, samples))
        result["backends"][backend] = {"build_seconds": built, "size": size, "queries": queries}
        print(backend, json.dumps({"build": built, "size": size}), file=sys.stderr)
    if keep is None:
        shutil.rmtree(place, ignore_errors=True)
    return result


# --- PostgreSQL -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _postgres(wanted: bool) -> Iterator[str | None]:
    if not wanted:
        yield None
        return
    from tests.postgres import postgres_server  # noqa: PLC0415

    with postgres_server() as url:
        yield url


def _fresh_database(url: str) -> str:
    from tests.postgres import fresh_database  # noqa: PLC0415

    return fresh_database(url)


# --- The section ---------------------------------------------------------------------------------


def _met(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def render(results: dict[str, Any]) -> str:
    lines = [
        "## The local event store",
        "",
        "`python bench/store.py` (parts: `--parts digest,sync,warm,large`) — issue 15's figures. Where Close "
        "plays a part, against the emulator (`close_events_sandbox`, where the server is tuned) and the "
        "independent stand-in (`bench/standin.py`, its own corpus, limiter and code), side by side.",
        "",
        f"Machine: {results.get('machine', machine())}; {results.get('revision', _revision())}.",
        "",
    ]
    if results.get("load"):
        loads = "; ".join(f"{part} {' / '.join(map(str, load))}" for part, load in results["load"].items())
        lines += [f"Load average (1 / 5 / 15 min) as each part ended: {loads}.", ""]
    if results.get("note"):
        lines += [str(results["note"]), ""]
    lines += _render_digest(results.get("digest"))
    lines += _render_warm(results.get("warm"))
    lines += _render_large(results.get("large"))
    lines += _render_sizes(results)
    lines += _render_sync(results.get("sync"))
    lines += _render_verdicts(results)
    return "\n".join(lines)


def _render_digest(rows: list[dict[str, Any]] | None) -> list[str]:
    if not rows:
        return []
    out = [
        "### 1. The repeated weekly digest",
        "",
        f"A limiter in a process of its own serves {EVENTS:,} events over the 7 days before now (the "
        "emulator: the demo organization plus 20,000 filler events; the stand-in: its own corpus) at "
        f"{RATE_LIMIT} requests/s and {LATENCY * 1000:.0f} ms a request (the stand-in's resets in whole "
        "seconds). close-events-mcp runs in a process of its own over stdio with its defaults (a 30 s call "
        "budget, `call_timeout=30`) and `CLOSE_EVENTS_STORE` a fresh directory (SQLite), or `off`. "
        "`summarize_events since=7d` asked again and again in the same server process; *served* is the "
        "answer's `scanned` (events Close served for it), requests as the limiter counted them.",
        "",
        "| limiter | store | ask | events answered | complete | served by Close | requests | 429s "
        "| seconds |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        out.append(
            f"| {row['limiter']} | {'SQLite' if row['store'] != 'off' else 'off'} | {row['ask']} "
            f"| {row['total']:,} | {'yes' if row['complete'] else 'no'} | {row['scanned']:,} "
            f"| {row['requests']:,} | {row['429s']:,} | {row['seconds']:.1f} |"
        )
    return [*out, ""]


def _digest_verdicts(rows: list[dict[str, Any]]) -> list[str]:
    verdicts = []
    for kind in LIMITERS:
        asks = [r for r in rows if r["limiter"] == kind and r["store"] != "off"]
        if len(asks) < 2:
            continue
        window = max(r["total"] for r in asks)
        served = asks[0]["scanned"] + asks[1]["scanned"]
        complete = asks[1]["complete"] or asks[0]["complete"]
        verdicts.append(
            f"- {kind}: complete by the second ask: {_met(complete)}; Close served {served:,} events over "
            f"both asks = {served / window:.2f} x the {window:,} in the window (target <= {SERVED_TARGET}: "
            f"{_met(served <= SERVED_TARGET * window)})."
        )
    return verdicts


def _render_warm(warm: dict[str, Any] | None) -> list[str]:
    if not warm:
        return []
    out = [
        "### 2. A warm 7-day digest",
        "",
        f"In process (httpx's ASGI transport: no latency, no rate limit), at a fixed now: `close-events-mcp "
        f"sync` (`run_sync`) of the same corpora ({EVENTS:,} events over 7 days; the emulator's demo "
        "organization besides), then `summarize_events since=7d` through `mcp.Client` against `build_server` "
        "(a new server: its first call opens the store and reads names), then again and again: the median "
        f"of {len(warm['rows'][0]['times'])} more. Every call still reads the latest hour from Close (here "
        "in process, so nearly free).",
        "",
        "| corpus | store | events answered | complete | served by Close | sync (s) | first call (s) "
        "| warm median (s) | warm min–max (s) |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in warm["rows"]:
        out.append(
            f"| {row['limiter']} | {row['backend']} | {row['total']:,} "
            f"| {'yes' if row['complete'] else 'no'} | {row['scanned']:,} | {row['sync_seconds']:.1f} "
            f"| {row['first']:.2f} | **{row['median']:.3f}** "
            f"| {min(row['times']):.3f}–{max(row['times']):.3f} |"
        )
    if warm.get("profiles"):
        kinds = list(warm["profiles"])
        stages = sorted(
            {s for p in warm["profiles"].values() for s in p["stages"]},
            key=lambda s: -max(warm["profiles"][k]["stages"].get(s, 0) for k in kinds),
        )
        out += [
            "",
            "Where the warm digest's time goes (SQLite): py-spy samples of every thread of a process making "
            "15 warm digests (the set-up and imports left out), each sample under the first stage among its "
            "frames from the innermost out. The store's part (SQL, JSON decode, `Event.from_close`, the "
            "visibility check) runs in a worker thread beside the event loop.",
            "",
            "| stage | " + " | ".join(f"{k} (share of samples)" for k in kinds) + " |",
            "| --- | " + " | ".join("---:" for _ in kinds) + " |",
        ]
        for stage in stages:
            cells = " | ".join(f"{warm['profiles'][k]['stages'].get(stage, 0):.0%}" for k in kinds)
            out.append(f"| {stage} | {cells} |")
        leaves = warm["profiles"][kinds[-1]]["leaves"]
        out += [
            "",
            f"Innermost frames ({kinds[-1]}): "
            + "; ".join(f"`{name.strip()}` {share:.0%}" for name, share in list(leaves.items())[:8])
            + ".",
        ]
    return [*out, ""]


def _render_large(large: dict[str, Any] | None) -> list[str]:
    if not large:
        return []
    count, days = large["count"], large["window_days"]
    since, until = _window(days)
    backends = list(large["backends"])
    out = [
        f"### 3. {count:,} stored events",
        "",
        f"{count:,} events generated here (9 object types and their actions, "
        f"{max(100, count // 40):,} leads, 30 users, 1–3 changed fields per update, bodies shaped like "
        "Close's; over the 365 days ending 31 days before the bench's now), put straight into the store "
        "with `EventStore.put` in batches of "
        f"{BATCH:,}, each with its held range. Queried through `mcp.Client` against `build_server` (Close: "
        "the emulator's demo organization, which has none of these events; the window is older than 30 "
        f"days, so only the store answers): a {days:g}-day window ({_stamp(since)} → {_stamp(until)}), "
        f"{large['runs']} calls per tool and filter shape, each with the values of another stored event of "
        "the window (a random one): p50 / p95 in seconds, and the median events in the answer "
        "(`list_events`: its page, default size; `summarize_events`: the events counted).",
        "",
    ]
    builds = ", ".join(
        f"{b}: {large['backends'][b]['build_seconds']:.0f} s"
        for b in backends
        if large["backends"][b]["build_seconds"]
    )
    if builds:
        out += [f"Building it: {builds} ({count:,} events).", ""]
    header = "| tool | filter | " + " | ".join(f"{b} p50 | {b} p95" for b in backends) + " | events |"
    out += [header, "| --- | --- | " + " | ".join("---: | ---:" for _ in backends) + " | ---: |"]
    for tool in ("list_events", "summarize_events"):
        for shape in SHAPES:
            cells = []
            for backend in backends:
                figure = large["backends"][backend]["queries"][f"{tool}|{shape}"]
                cells.append(f"{figure['p50']:.3f} | {figure['p95']:.3f}")
            events = large["backends"][backends[0]]["queries"][f"{tool}|{shape}"]["events"]
            out.append(f"| {tool} | {shape} | {' | '.join(cells)} | {events:,.0f} |")
    for backend in backends:
        close = large["backends"][backend]["queries"]["close"]
        asked = ", ".join(f"{n:,} `{path}`" for path, n in sorted(close["requests"].items())) or "none"
        out.append(
            f"\nRequests Close got during the {close['calls']} calls on {backend}: {asked} (names: the "
            "generated leads are unknown to the emulator, so each is looked up, then looked for among "
            "deleted leads in the event log)."
        )
    out.append("")
    return out


def _render_sizes(results: dict[str, Any]) -> list[str]:
    rows = list((results.get("warm") or {}).get("sizes", []))
    large = results.get("large")
    if large:
        for backend, figures in large["backends"].items():
            rows.append({"events": f"{large['count']:,} (generated)", "backend": backend, **figures["size"]})
    if not rows:
        return []
    out = [
        "### 4. Bytes per stored event",
        "",
        "SQLite: the file after a checkpoint (WAL folded in) over its events. PostgreSQL: "
        "`pg_total_relation_size` of `events`, `changed_fields` and `held_ranges` (indexes and TOAST "
        "included, after `VACUUM ANALYZE`) over the events. The body is kept as Close sent it (JSON text); "
        "beside it the filter columns, six indexes and one `changed_fields` row per changed field.",
        "",
        "| events | store | stored events | bytes | bytes per event |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for row in rows:
        out.append(
            f"| {row['events']} | {row['backend']} | {row['count']:,} | {row['bytes']:,} "
            f"| {row['per_event']:,.0f} |"
        )
    return [*out, ""]


def _render_sync(rows: list[dict[str, Any]] | None) -> list[str]:
    if not rows:
        return []
    out = [
        "### 5. `sync` backfill against the rate limit",
        "",
        f"`close-events-mcp sync` in a process of its own with a fresh SQLite store, against each limiter "
        f"as in 1 ({EVENTS:,} events in the week, {RATE_LIMIT} requests/s, {LATENCY * 1000:.0f} ms; the "
        "emulator's demo organization's month besides). Requests/s as the pass prints them (its requests "
        f"over its seconds), and their share of the bound ({RATE_LIMIT}/s); 429s as the limiter counted "
        "them; wall time includes the process's start.",
        "",
        "| limiter | events read | requests | pass (s) | requests/s | of the bound | 429s | wall (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        out.append(
            f"| {row['limiter']} | {row['events']:,} | {row['requests']:,} | {row['seconds']:.1f} "
            f"| {row['rate']:.2f} | **{row['share']:.2f}** | {row['429s']:,} | {row['wall']:.1f} |"
        )
    return [*out, ""]


def _render_verdicts(results: dict[str, Any]) -> list[str]:
    verdicts = _digest_verdicts(results.get("digest") or [])
    for row in (results.get("warm") or {}).get("rows", []):
        verdicts.append(
            f"- warm 7-day digest, {row['limiter']} on {row['backend']}: {row['median']:.3f} s (target < "
            f"{WARM_TARGET:g} s: {_met(row['median'] < WARM_TARGET)})."
        )
    for row in results.get("sync") or []:
        verdicts.append(
            f"- sync, {row['limiter']}: {row['share']:.2f} of the rate-limit bound (target >= {SYNC_TARGET}: "
            f"{_met(row['share'] >= SYNC_TARGET)})."
        )
    if not verdicts:
        return []
    return ["### Targets", "", *verdicts]


def _revision() -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%h"], check=False, capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "close_events_mcp"],
        check=False,
        capture_output=True,
        text=True,
    )
    revision = done.stdout.strip() or "unknown revision"
    return f"product code at {revision}" + (" with uncommitted changes" if dirty.stdout.strip() else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="digest,sync,warm,large", help="which figures to measure")
    parser.add_argument("--large", type=int, default=1_000_000, help="events in the large store")
    parser.add_argument("--runs", type=int, default=7, help="warm digests after the first (default 7)")
    parser.add_argument("--query-runs", type=int, default=15, help="calls per tool and filter shape")
    parser.add_argument("--window-days", type=float, default=7.0, help="the large store's queried window")
    parser.add_argument("--results", type=Path, default=RESULTS, help="figures kept between parts")
    parser.add_argument(
        "--keep-large", type=Path, default=None, help="keep (and reuse) the large SQLite here"
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--py-spy", default=shutil.which("py-spy"), help="py-spy, for the warm profile")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--note", default=None, help="a sentence on how the figures were taken, kept")
    parser.add_argument("--profile-warm", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.profile_warm is not None:
        profiled_warm(*args.profile_warm)
        return 0
    results: dict[str, Any] = json.loads(args.results.read_text()) if args.results.exists() else {}
    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    if args.note is not None:
        results["note"] = args.note
    postgres_wanted = not args.no_postgres and bool({"warm", "large"} & set(parts))
    with _postgres(postgres_wanted) as postgres:
        for part in parts:
            if part == "digest":
                results["digest"] = measure_digest()
            elif part == "sync":
                results["sync"] = measure_sync()
            elif part == "warm":
                results["warm"] = measure_warm(args.runs, postgres, args.py_spy)
            elif part == "large":
                results["large"] = measure_large(
                    args.large, args.query_runs, args.window_days, postgres, args.keep_large
                )
            elif part != "render":
                parser.error(f"unknown part {part!r}")
            if part != "render":
                results.setdefault("load", {})[part] = [round(x, 1) for x in os.getloadavg()]
            results["machine"], results["revision"] = machine(), _revision()
            args.results.write_text(json.dumps(results, indent=1))
    markdown = render(results)
    print(markdown)
    if not args.no_write:
        write_section("store", markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
