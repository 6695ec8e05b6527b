"""The README tells the truth: its example answers are the demo organization's, its tables name every
setting and option there is, its host configurations parse, and CI runs its two commands."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from close_events_mcp.cli import build_parser, main
from tests.readme_examples import README, diff, examples, render

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent
TEXT = README.read_text()


async def test_example_answers_are_what_the_demo_organization_answers(demo_org):
    fresh = await render(TEXT, demo_org)
    stale = diff(TEXT, fresh)
    assert not stale, f"README examples are stale; run: python -m tests.readme_examples --write\n{stale}"


async def test_every_tool_has_an_example(client):
    served = {tool.name for tool in (await client.list_tools()).tools}
    assert served == {example.tool for example in examples(TEXT)}


def test_every_environment_variable_is_in_the_table():
    config = (ROOT / "close_events_mcp" / "config.py").read_text()
    read = set(re.findall(r'env(?:\.get\(|, )"(CLOSE_\w+)"', config))
    tabled = set(re.findall(r"^\| `(CLOSE_\w+)` \|", TEXT, re.M))
    assert len(read) >= 10
    assert tabled == read


def test_every_command_line_option_is_documented():
    parsers = [build_parser()]
    for action in parsers[0]._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                assert f"`close-events-mcp {name}" in TEXT, f"command {name} is not documented"
                parsers.append(sub)
    options = {opt for p in parsers for a in p._actions for opt in a.option_strings if opt.startswith("--")}
    missing = sorted(opt for opt in options - {"--help"} if not re.search(rf"`[^`\n]*{opt}\b", TEXT))
    assert not missing, f"options missing from the README: {missing}"


def test_the_check_output_shown_is_the_demo_organizations(capsys):
    assert main(["check", "--demo"]) == 0
    assert f"```text\n{capsys.readouterr().out}```" in TEXT


def test_json_blocks_parse():
    blocks = re.findall(r"^```json\n(.*?)^```$", TEXT, re.M | re.S)
    assert len(blocks) >= 4
    for block in blocks:
        json.loads(block)


def test_ci_runs_the_two_commands_at_the_top():
    """The first block holds the demo command and the test command; CI runs both as they are."""
    first = re.search(r"^```sh\n(.*?)^```$", TEXT, re.M | re.S)
    assert first
    demo, tests = [line for line in first.group(1).splitlines() if line and not line.startswith("#")]
    ci = (ROOT / ".ci" / "run").read_text()
    venv = "python3 -m venv .venv && "
    assert demo.startswith(venv) and tests.startswith(venv)
    assert tests.removeprefix(venv) in ci
    assert demo.split(" && ")[-1] in ci
