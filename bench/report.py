"""Shared by the benchmarks: the machine they ran on, and their sections of docs/benchmarks.md.

Each benchmark owns one section, fenced by ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``;
rewriting it leaves the other benchmarks' figures as they were.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import statistics
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"
_HEADER = """# Benchmarks

Every figure here was written by a script under `bench/`; each section says how to rerun it.
"""


def machine() -> str:
    """One line: CPU, cores, Python, OS and the versions that matter."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("mcp", "httpx", "pydantic")
    )
    return (
        f"{cpu}, {os.cpu_count()} cores; {platform.python_implementation()} {platform.python_version()} "
        f"on {platform.system()} {platform.release()}; {versions}"
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def write_section(name: str, markdown: str, path: Path = BENCHMARKS_MD) -> None:
    """Put ``markdown`` into the section ``name`` of the benchmarks page, creating either as needed."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    text = path.read_text() if path.exists() else _HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
