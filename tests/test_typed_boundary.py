"""The boundary between a tool and its work is typed: mypy --strict rejects a misspelled argument in
a call from the tool layer into ``answers``, or in the filters the tools share."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRATCH = """\
from close_events_mcp import answers
from close_events_mcp.engine.scan import OnPage
from close_events_mcp.query.filters import FilterArguments
from close_events_mcp.render.capping import Draft
from close_events_mcp.state import AppState


async def right(state: AppState, on_page: OnPage) -> list[Draft]:
    filters = FilterArguments(object_type="lead", exclude_noisy=True)
    return [
        await answers.list_events(state, on_page, filters, limit=5, cursor=None),
        await answers.summarize_events(state, on_page, filters, max_events=None),
        await answers.poll_events(state, on_page, filters, checkpoint=None, limit=100),
    ]


async def wrong(state: AppState, on_page: OnPage) -> None:
    filters = FilterArguments(object_typ="lead")  # line 18
    await answers.list_events(state, on_page, filters, limit=5, curser=None)  # line 19
    await answers.summarize_events(state, on_page, filters, max_event=None)  # line 20
    await answers.poll_events(state, on_page, filters, checkpoint=None, limit="100")  # line 21
"""


def test_mypy_rejects_a_misspelled_argument_between_a_tool_and_its_work(tmp_path):
    scratch = tmp_path / "scratch_calls.py"
    scratch.write_text(SCRATCH)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--hide-error-context",
            str(scratch),
        ],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = {int(line.split(":")[1]) for line in done.stdout.splitlines() if ": error:" in line}
    assert done.returncode == 1, done.stdout + done.stderr
    assert lines == {18, 19, 20, 21}, done.stdout
