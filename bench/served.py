"""A benchmark's Close in a process of its own: started from a command that prints ``PORT <n>`` once it
listens on 127.0.0.1, asked for its answer counts at ``/_bench/stats``, stopped on exit."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections import Counter
from typing import Self


class ServedProcess:
    """``with Subclass(...) as served:`` its API base URL is ``served.base_url``."""

    name = "the server"

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.process: subprocess.Popen[str] | None = None
        self.root = ""

    def __enter__(self) -> Self:
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError(f"{self.name} did not start")
        self.root = f"http://127.0.0.1:{int(line.split()[1])}"
        time.sleep(0.2)  # uvicorn accepts on the socket a moment after it is handed over
        return self

    @property
    def base_url(self) -> str:
        return f"{self.root}/api/v1"

    def statuses(self) -> Counter[int]:
        with urllib.request.urlopen(f"{self.root}/_bench/stats", timeout=10) as response:
            return Counter({int(k): v for k, v in json.loads(response.read()).items()})

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
