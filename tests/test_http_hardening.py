"""The HTTP transport under hostile or careless clients, served as ``serve_http`` serves it (our
uvicorn settings, protocol and server class) on a loopback port: clients too slow to send a
request, running out of file descriptors, and warnings any client can trigger once per request.

Deadlines are configured short so that a test only waits for the server to act; no test asserts
how long anything took.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest

from close_events_mcp.config import Settings
from close_events_mcp.server import http as http_app
from close_events_mcp.server.app import build_server
from close_events_sandbox.app import SandboxApp
from tests.conftest import clock, make_settings
from tests.test_http_transport import SCRIPT, cli_env, free_port, reply, rpc

GUARD = 30.0
"""Seconds after which a test gives up waiting for the server to act: a failure, never a margin."""


@contextmanager
def hardened_server(sandbox: SandboxApp, settings: Settings) -> Iterator[int]:
    """``build_http_app`` under ``HttpServer`` with ``uvicorn_config``, in a thread; yields the port."""
    server = build_server(settings, transport=httpx.ASGITransport(app=sandbox), clock=clock)
    app = http_app.build_http_app(server, settings, "127.0.0.1")
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uvicorn_server = http_app.HttpServer(http_app.uvicorn_config(app, settings, "127.0.0.1", port))
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + GUARD
    while not uvicorn_server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield port
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=GUARD)
        sock.close()


@pytest.fixture
def hardened(sandbox: SandboxApp) -> Iterator[int]:
    settings = make_settings(http_header_timeout=0.5, http_body_timeout=0.5)
    with hardened_server(sandbox, settings) as port:
        yield port


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=GUARD)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (socket.timeout if it never does)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_malformed_requests_are_logged_once_per_interval(hardened, caplog):
    caplog.set_level(logging.WARNING, logger="uvicorn.error")
    for _ in range(20):
        with connect(hardened) as sock:
            sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            assert read_until_closed(sock).startswith(b"HTTP/1.1 400 ")
    invalid = [r for r in caplog.records if r.getMessage().startswith("Invalid HTTP request received.")]
    assert len(invalid) == 1


class FakeLoop:
    def __init__(self) -> None:
        self.passed_on: list[dict[str, Any]] = []

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        self.passed_on.append(context)


def accept_failed(code: int = errno.EMFILE) -> dict[str, Any]:
    """What asyncio's accept loop reports on each failed accept() (selector_events._accept_connection)."""
    return {
        "message": "socket.accept() out of system resource",
        "exception": OSError(code, os.strerror(code)),
        "socket": object(),
    }


def test_running_out_of_descriptors_is_logged_once_per_interval(caplog):
    caplog.set_level(logging.DEBUG)
    now = [0.0]
    handler = http_app.ResourceErrorLog(interval=30.0, clock=lambda: now[0])
    loop = FakeLoop()
    for tick in range(9_500):  # 95 s of failed accepts, 100 a second
        now[0] = tick / 100
        handler(loop, accept_failed(errno.ENFILE if tick % 7 == 0 else errno.EMFILE))  # type: ignore[arg-type]
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 4, lines  # at 0, 30, 60 and 90 s
    assert all(record.levelno == logging.WARNING and not record.exc_info for record in caplog.records)
    assert "Too many open files" in lines[0] and "not logged" not in lines[0]
    assert all("2,999 more like it in the last 30 s not logged" in line for line in lines[1:])
    assert loop.passed_on == []


def test_other_loop_errors_still_reach_the_default_handler(caplog):
    handler = http_app.ResourceErrorLog(interval=30.0, clock=lambda: 0.0)
    loop = FakeLoop()
    reset = {"message": "connection lost", "exception": ConnectionResetError(errno.ECONNRESET, "reset")}
    plain = {"message": "Task exception was never retrieved", "exception": ValueError("x")}
    for context in (reset, plain, reset):
        handler(loop, context)  # type: ignore[arg-type]
    assert loop.passed_on == [reset, plain, reset]
    assert caplog.records == []


def test_the_repeated_warning_filter_counts_what_it_held_back():
    now = [0.0]
    quiet = http_app.RepeatedWarningFilter(
        ["Exceeded concurrency limit."], interval=30.0, clock=lambda: now[0]
    )

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 1, message, None, None)

    admitted = []
    for tick in range(61):
        now[0] = float(tick)
        for message in ("Exceeded concurrency limit.", "Something else."):
            entry = record(message)
            if quiet.filter(entry):
                admitted.append(entry.getMessage())
    assert admitted.count("Something else.") == 61
    limited = [line for line in admitted if line.startswith("Exceeded")]
    assert limited == [
        "Exceeded concurrency limit.",
        "Exceeded concurrency limit. (29 more like it in the last 30 s not logged)",
        "Exceeded concurrency limit. (29 more like it in the last 30 s not logged)",
    ]


@contextmanager
def cli_server(*args: str, limit_files: int | None = None, **env: str) -> Iterator[tuple[int, list[str]]]:
    """The console script serving the demo over HTTP; yields its port and its stderr lines so far."""
    port = free_port()
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "close_events_mcp"]

    def lower_limit() -> None:
        import resource  # noqa: PLC0415  (Unix only, in the child)

        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit_files, hard))

    process = subprocess.Popen(
        [*command, "--demo", "--transport", "streamable-http", "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(**env),
        preexec_fn=lower_limit if limit_files else None,  # noqa: PLW1509
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        deadline = time.monotonic() + GUARD
        while True:
            try:
                rpc(f"http://127.0.0.1:{port}{http_app.MCP_PATH}", "ping")
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        yield port, lines
    finally:
        process.terminate()
        process.wait(timeout=GUARD)
        reader.join(timeout=GUARD)


@pytest.mark.skipif(sys.platform == "win32", reason="open-file limits are Unix's")
def test_out_of_descriptors_logs_a_line_not_a_flood_and_recovers():
    """300 connections that never finish their request, against a server allowed 256 open files."""
    with cli_server(limit_files=256) as (port, lines), ExitStack() as held:
        for _ in range(300):
            sock = held.enter_context(socket.create_connection(("127.0.0.1", port), timeout=GUARD))
            sock.sendall(b"POST /mcp HTTP/1.1\r\nHo")

        def resource_lines() -> list[str]:
            return [line for line in lines if re.search("out of system resource", line, re.IGNORECASE)]

        deadline = time.monotonic() + GUARD
        while not resource_lines():
            assert time.monotonic() < deadline, "the server never ran out of descriptors"
            time.sleep(0.05)
        time.sleep(2)  # the old accept loop logged thousands of tracebacks in this time
        logged = resource_lines()
        assert len(logged) == 1, f"{len(logged)} lines, e.g. {logged[:2]}"
        assert "Traceback" not in "".join(lines)
        assert "ulimit -n" in logged[0]
        held.close()
        # Descriptors come free: the server serves again.
        url = f"http://127.0.0.1:{port}{http_app.MCP_PATH}"
        deadline = time.monotonic() + GUARD
        while (response := rpc(url, "ping")).status_code != 200:
            assert response.status_code == 503 and time.monotonic() < deadline, response
            time.sleep(0.1)
    assert len(resource_lines()) <= 2


def trickle_until_cut_off(sock: socket.socket, data: bytes) -> bytes:
    """Sends ``data`` one byte at a time, waiting for an answer between bytes, until the server
    answers or closes; returns what it sent. Fails if all of ``data`` went out unanswered."""
    sock.settimeout(0.05)
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return b""
        try:
            answer = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return b""
        sock.settimeout(GUARD)
        return answer + (read_until_closed(sock) if answer else b"")
    raise AssertionError(f"the server was still reading a request after {len(data)} bytes sent one by one")


def test_a_client_that_sends_half_a_request_line_is_cut_off(hardened):
    with connect(hardened) as sock:
        sock.sendall(b"POST /mc")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer


def test_a_client_that_connects_and_says_nothing_is_disconnected(hardened):
    with connect(hardened) as sock:
        assert read_until_closed(sock) == b""


def test_headers_sent_a_byte_at_a_time_are_cut_off_however_steadily_they_come(hardened):
    endless = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Padding: " + b"a" * 600
    with connect(hardened) as sock:
        answer = trickle_until_cut_off(sock, endless)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408 "), answer


def test_the_deadline_applies_again_to_the_next_request_on_a_kept_alive_connection(hardened):
    port = hardened
    with connect(port) as sock:
        sock.sendall(f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 405 "), head
        length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE)[1])  # type: ignore[index]
        body = head.partition(b"\r\n\r\n")[2]
        while len(body) < length:
            body += sock.recv(65536)
        # The same connection, kept alive: a second request trickled in must be cut off as well.
        answer = trickle_until_cut_off(sock, b"POST /mcp HTTP/1.1\r\nX-Padding: " + b"a" * 600)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408 "), answer


def test_a_body_that_does_not_arrive_is_answered_408_and_the_connection_closed(hardened):
    port = hardened
    head = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
        "accept: application/json, text/event-stream\r\ncontent-length: 200\r\n\r\n"
    )
    with connect(port) as sock:
        sock.sendall(head.encode() + b'{"jsonrpc": "2.0", ')
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"request_timeout" in answer


def test_an_oversized_body_is_refused_without_reading_it(hardened):
    port = hardened
    head = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
        f"content-length: {http_app.MAX_BODY_BYTES + 1}\r\n\r\n"
    )
    with connect(port) as sock:
        sock.sendall(head.encode())
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 413 "), answer


def test_clients_in_time_are_served_under_the_same_deadlines(hardened):
    url = f"http://127.0.0.1:{hardened}{http_app.MCP_PATH}"
    with httpx.Client(timeout=GUARD) as http:
        for _ in range(3):  # a kept-alive connection: the deadline is re-armed, and disarmed, each time
            response = http.post(
                url,
                json={"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {}},
                headers={
                    "accept": "application/json, text/event-stream",
                    "mcp-protocol-version": "2025-11-25",
                },
            )
            assert reply(response)["result"] == {}
