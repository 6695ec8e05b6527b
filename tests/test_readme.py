"""The README tells the truth: its example answers are the demo organization's, its tables name every
setting and option there is, its host configurations parse, and CI runs its two commands."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import tomllib
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


CLONE = "/path/to/close-events-mcp"
"""Where the README's configurations from a clone say the clone is."""
HOSTS = ("Claude Desktop", "Claude Code", "Cursor", "VS Code", "MCP Inspector")


def section(title: str) -> str:
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", TEXT, re.M | re.S)
    assert found, f"no section {title}"
    return found.group(1)


def host_texts() -> dict[str, str]:
    """Each host's part of "Connect a host", from its bold name to the next one's."""
    text = section("Connect a host")
    starts = [(text.index(f"**{host}**"), host) for host in HOSTS]
    starts.sort()
    ends = [start for start, _ in starts[1:]] + [len(text)]
    return {host: text[start:end] for (start, host), end in zip(starts, ends, strict=True)}


def server_commands(text: str) -> list[list[str]]:
    """The command lines that start the server in a host's configurations: each JSON server entry's
    command and args, and in shell blocks what follows `claude mcp add … --` or the Inspector's own
    options."""
    commands: list[list[str]] = []
    for block in re.findall(r"^```json\n(.*?)^```$", text, re.M | re.S):
        config = json.loads(block)
        for entry in (config.get("mcpServers") or config.get("servers") or {}).values():
            commands.append([entry["command"], *entry.get("args", [])])
    for block in re.findall(r"^```sh\n(.*?)^```$", text, re.M | re.S):
        for line in block.splitlines():
            words = shlex.split(line)
            if words[:3] == ["claude", "mcp", "add"]:
                commands.append(words[words.index("--") + 1 :])
            elif words[:2] == ["npx", "@modelcontextprotocol/inspector"]:
                if "--cli" in words:
                    rest = words[words.index("--cli") + 1 :]
                    commands.append(rest[: rest.index("--")])
                else:
                    commands.append(words[words.index("--") + 1 :])
    return commands


def form_of(command: list[str]) -> tuple[str, list[str]]:
    """Which way a command runs the server, and the server's own arguments; fails on any other."""
    script = next(iter(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]))
    if command[:2] == ["uvx", script]:
        return "pypi", command[2:]
    if command[:4] == ["uvx", "--from", CLONE, script]:
        return "clone-uvx", command[4:]
    if command[0] == f"{CLONE}/.venv/bin/{script}":
        return "clone-venv", command[1:]
    if re.fullmatch(rf"(~|/Users/you)/\.close-events/bin/{script}", command[0]):
        return "pip", command[1:]
    raise AssertionError(f"a host configuration runs {command}, which is none of the README's install forms")


def test_every_host_has_a_configuration_from_a_clone_in_a_form_that_runs():
    """The package is not on PyPI yet: `uvx close-events-mcp` fails with "No matching distribution
    found", so every host also needs a configuration from a clone."""
    for host, text in host_texts().items():
        forms = []
        for command in server_commands(text):
            form, arguments = form_of(command)
            forms.append(form)
            parsed = build_parser().parse_args(arguments)
            assert parsed.command is None, f"{host}: {command} does not start the server"
        assert {"clone-venv", "clone-uvx"} & set(forms), f"{host} has no configuration from a clone"
    every = [form_of(c)[0] for text in host_texts().values() for c in server_commands(text)]
    assert {"pypi", "pip", "clone-venv", "clone-uvx"} <= set(every)


def test_the_install_section_says_the_package_is_not_on_pypi_yet_and_how_to_run_a_clone():
    install = section("Install")
    assert "**Not on PyPI yet.**" in install and "`No matching distribution found`" in install
    rows = re.findall(r"^\| (.+?) \| (.+?) \| (.+?) \|$", install, re.M)[1:]  # after the header
    for source, _, _ in rows:
        assert "clone" in source or "wheel" in source or "(once released)" in source, source
    homepage = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Homepage"]
    clone = {source: (command, runs) for source, command, runs in rows if "clone" in source}
    pip_command, pip_runs = clone["A clone, with pip"]
    venv = "python3 -m venv .venv && .venv/bin/pip install ."
    assert pip_command == f"`git clone {homepage} && cd close-events-mcp && {venv}`"
    assert pip_runs.startswith(f"`{CLONE}/.venv/bin/close-events-mcp`")
    assert form_of(shlex.split(pip_runs.split("`")[1]))[0] == "clone-venv"
    uv_command, uv_runs = clone[next(source for source in clone if "uv" in source)]
    assert uv_command.startswith(f"`git clone {homepage}`")
    assert form_of(shlex.split(uv_runs.strip("`")))[0] == "clone-uvx"
    # The venv the README's own first command creates is the one a host runs.
    assert "python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/close-events-mcp" in TEXT
