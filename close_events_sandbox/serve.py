"""Serving the emulator on a loopback port: in the foreground (CLI) or in a thread (tests)."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import uvicorn

from close_events_sandbox.app import PREFIX, Faults, SandboxApp
from close_events_sandbox.seed import build_demo_org
from close_events_sandbox.store import EventStore


def demo_day(moment: datetime) -> datetime:
    """The demo organization's "now" on the UTC day of ``moment``: 12:00 UTC that day.

    Every process started on the same UTC day builds the same organization, so two ``call --demo``
    runs (or a ``sandbox`` restarted) agree to the microsecond, and a poll's checkpoint from one run
    finds nothing re-dated in the next. The story's day ends at noon UTC with the burst of its last
    hour; its events are served only once the real clock passes them (``EventStore`` ``up_to_now``),
    so before noon the morning is still unfolding and nothing is ever in the future."""
    return moment.astimezone(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def demo_app(
    *,
    filler_events: int = 0,
    faults: Faults | None = None,
    now: datetime | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SandboxApp:
    """The emulator over the seeded demo organization, as of ``now`` (default: ``demo_day`` of the
    clock's today). It answers on ``clock``, the real time by default, and signs its cursors with a
    secret of that day, so a cursor from one run continues in the next the same day."""
    anchor = now or demo_day(clock())
    org = build_demo_org(anchor, filler_events=filler_events)
    app = SandboxApp(org, faults=faults, clock=clock)
    secret = hashlib.sha256(f"close-events-mcp demo {anchor.isoformat()}".encode()).digest()[:16]
    app.store = EventStore(org.events, clock=clock, cursor_secret=secret, up_to_now=True)
    return app


def _config(app: Callable[..., Any], log_level: str) -> uvicorn.Config:
    # log_config=None: uvicorn's own config turns off propagation on its loggers for the whole process.
    return uvicorn.Config(
        app, log_level=log_level, log_config=None, lifespan="on", access_log=False, timeout_keep_alive=30
    )


def serve(app: SandboxApp, host: str, port: int) -> None:
    """Serve until interrupted."""
    sock = socket.create_server((host, port))
    server = uvicorn.Server(_config(app, "warning"))
    server.run(sockets=[sock])


@contextmanager
def serve_in_thread(app: SandboxApp, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve the emulator on a free loopback port in a background thread; yields the API base URL."""
    with serve_asgi_in_thread(app, host) as origin:
        yield origin + PREFIX


@contextmanager
def serve_asgi_in_thread(app: Callable[..., Any], host: str = "127.0.0.1") -> Iterator[str]:
    """Serve any ASGI app on a free port in a background thread; yields ``http://host:port``."""
    sock = socket.create_server((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(_config(app, "error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
