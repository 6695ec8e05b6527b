"""close-events-mcp in a process of its own over stdio, spoken to in plain JSON-RPC lines, for the
scan and memory benchmarks: tool calls, and the process's resident memory read from /proc."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from mcp_types.version import LATEST_HANDSHAKE_VERSION

ROOT = Path(__file__).resolve().parent.parent


class ServerProcess:
    """``with ServerProcess(base_url, api_key, **env) as server: server.call(tool, arguments)``."""

    def __init__(self, base_url: str, api_key: str, *, root: Path = ROOT, **env: str) -> None:
        """``root``: the checkout whose ``close_events_mcp`` runs (another one to compare with)."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("CLOSE_")}
        self.env = {**clean, "CLOSE_API_BASE_URL": base_url, "CLOSE_API_KEY": api_key, **env}
        self.root = root
        self.process: subprocess.Popen[bytes] | None = None
        self._next_id = 0
        self._stderr: list[bytes] = []

    def __enter__(self) -> ServerProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "close_events_mcp"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
            cwd=self.root,  # python -m finds the package of the working directory first
        )
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.request(
            "initialize",
            {
                "protocolVersion": LATEST_HANDSHAKE_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"},
            },
        )
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return self

    def _drain_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send one request and return its result (notifications on the way are skipped)."""
        assert self.process is not None and self.process.stdout is not None
        self._next_id += 1
        self._send({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(
                    "the server exited: " + b"".join(self._stderr[-20:]).decode(errors="replace")
                )
            message = json.loads(line)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method} failed: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result

    def call_concurrently(
        self, calls: list[tuple[str, dict[str, Any]]]
    ) -> list[tuple[dict[str, Any], float]]:
        """Send every call at once; each one's result (an error's too) and the seconds it took."""
        assert self.process is not None and self.process.stdout is not None
        started = time.perf_counter()
        ids = []
        for tool, arguments in calls:
            self._next_id += 1
            ids.append(self._next_id)
            params = {"name": tool, "arguments": arguments}
            self._send({"jsonrpc": "2.0", "id": self._next_id, "method": "tools/call", "params": params})
        answered: dict[int, tuple[dict[str, Any], float]] = {}
        while len(answered) < len(ids):
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(
                    "the server exited: " + b"".join(self._stderr[-20:]).decode(errors="replace")
                )
            message = json.loads(line)
            if message.get("id") in ids:
                result = message.get("result") or {"isError": True, "error": message.get("error")}
                answered[message["id"]] = (result, time.perf_counter() - started)
        return [answered[i] for i in ids]

    def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """A tool's result; raises if it is an error."""
        result = self.request("tools/call", {"name": tool, "arguments": arguments})
        if result.get("isError"):
            raise RuntimeError(f"{tool} failed: {result['content'][0]['text']}")
        return result

    def memory(self) -> tuple[int, int]:
        """The server process's resident memory now and at its peak (VmRSS, VmHWM), in bytes."""
        assert self.process is not None
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        )
        return _kib(fields["VmRSS"]), _kib(fields["VmHWM"])

    def __exit__(self, *exc_info: object) -> None:
        if self.process is None:
            return
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _kib(value: str) -> int:
    return int(value.strip().split()[0]) * 1024
