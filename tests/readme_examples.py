"""The README's example answers, produced by the real server from the demo organization.

An example in README.md is a region that names a tool call in its opening comment:

    <!-- example: list_events {"object_type": "lead", "action": "deleted", "limit": 3} -->
    (generated: the call, then the text the tool answered, in a fenced block)
    <!-- /example -->

Everything between the two comments is generated: each call goes to a fresh server through the MCP
client in memory, against the demo organization at the tests' fixed NOW, so the answers are
deterministic. An argument written "$previous.PATH" takes a value from the structured content of
the example before it: "$previous.checkpoint", "$previous.events.0.id". tests/test_readme.py fails
when the README differs from what this produces; after changing what a tool prints, regenerate
them with

    python -m tests.readme_examples --write
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client

from close_events_mcp.server.app import build_server
from close_events_sandbox.app import Faults, SandboxApp
from close_events_sandbox.org import DemoOrg
from close_events_sandbox.seed import build_demo_org
from close_events_sandbox.store import EventStore
from tests.conftest import NOW, clock, make_settings, text_of

README = Path(__file__).resolve().parent.parent / "README.md"
REGION = re.compile(
    r"^<!-- example: (?P<tool>\w+) (?P<arguments>\{.*\}) -->\n(?P<body>(?s:.*?))^<!-- /example -->$", re.M
)
PREVIOUS = "$previous."


@dataclass(frozen=True)
class Example:
    tool: str
    arguments: dict[str, Any]
    start: int
    end: int
    """Where the generated body lies in the README's text."""


def examples(readme: str) -> list[Example]:
    return [
        Example(m["tool"], json.loads(m["arguments"]), m.start("body"), m.end("body"))
        for m in REGION.finditer(readme)
    ]


async def answer(org: DemoOrg, tool: str, arguments: dict[str, Any]) -> tuple[str, Any]:
    """The text a fresh server answers, and its structured content."""
    sandbox = SandboxApp(org, clock=clock, faults=Faults())
    # The emulator signs its cursors with a secret of its own, new every run; a fixed one makes the
    # cursors in the answers repeatable.
    sandbox.store = EventStore(org.events, clock=clock, cursor_secret=b"readme examples")
    server = build_server(make_settings(), transport=httpx.ASGITransport(app=sandbox), clock=clock)
    async with Client(server) as client:
        result = await client.call_tool(tool, arguments)
    return text_of(result), result.structured_content


def body(tool: str, shown: dict[str, Any], text: str) -> str:
    return f"`{tool} {json.dumps(shown, ensure_ascii=False)}`\n\n```text\n{text}\n```\n"


def from_previous(reference: str, previous: Any) -> tuple[Any, Any]:
    """The value a "$previous.a.0.b" reference names, and how the README shows it."""
    found = previous
    try:
        for key in reference.removeprefix(PREVIOUS).split("."):
            found = found[int(key)] if isinstance(found, list) else found[key]
    except (KeyError, IndexError, TypeError, ValueError):
        raise ValueError(f"{reference}: the example before has no such value") from None
    shown = found if len(str(found)) <= 40 else f"<{key} from the answer above>"
    return found, shown


async def render(readme: str, org: DemoOrg | None = None) -> str:
    """``readme`` with every example's body generated afresh."""
    org = org or build_demo_org(NOW)
    parts, done, previous = [], 0, None
    for example in examples(readme):
        arguments, shown = {}, {}
        for name, value in example.arguments.items():
            if isinstance(value, str) and value.startswith(PREVIOUS):
                arguments[name], shown[name] = from_previous(value, previous)
            else:
                arguments[name] = shown[name] = value
        text, previous = await answer(org, example.tool, arguments)
        parts += [readme[done : example.start], body(example.tool, shown, text)]
        done = example.end
    return "".join([*parts, readme[done:]])


def diff(current: str, fresh: str) -> str:
    lines = difflib.unified_diff(current.splitlines(True), fresh.splitlines(True), "README.md", "generated")
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.readme_examples", description="Regenerate them.")
    parser.add_argument("--write", action="store_true", help="rewrite README.md (default: show the diff)")
    args = parser.parse_args(argv)
    current = README.read_text()
    fresh = anyio.run(render, current)
    if args.write:
        README.write_text(fresh)
        print(f"README.md: {len(examples(fresh))} examples generated")
        return 0
    sys.stdout.write(diff(current, fresh))
    return 1 if fresh != current else 0


if __name__ == "__main__":
    sys.exit(main())
