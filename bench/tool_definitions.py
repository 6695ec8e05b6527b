"""Tool definitions: what ``tools/list`` costs a model in tokens, and a client in schema checking.

The tools are listed from two checkouts of the project, each in its own process: a revision to
compare with (``--before``, default 2679e14, before the definitions were made lean; checked out in a
temporary git worktree, removed afterwards) and this working tree. Each serves the demo organization
through the in-process emulator (at the tests' fixed moment) to ``mcp.Client`` in memory and
reports its ``tools/list`` and a 50-event ``list_events`` answer. This tree's answer is then checked
against ``list_events``' output schema as each tree serves it, the way the client checks (the
compiled ``jsonschema`` validator, the best-matching error), in turn, many times: the same answer,
so only the schema differs.

Counted in cl100k_base tokens (tests/token_count.py, nothing downloaded), as compact JSON
(``separators=(",", ":")``, non-ASCII kept):

- model-read: per tool, its ``name``, ``title`` (when it has one), ``description`` and
  ``inputSchema`` (what hosts put in front of the model; tests/test_tool_definitions.py holds it
  to a budget);
- of it, input schemas alone;
- output schemas: what the client keeps to validate answers against;
- the whole ``tools/list`` result as sent (annotations included).

    python bench/tool_definitions.py [--before REV] [--checks 1000]

Writes the "tool-definitions" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import ROOT, machine, median, write_section

BEFORE = "2679e14"
BUDGET = 1400
PAGE = 50


def compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def model_read(tool: dict[str, Any]) -> dict[str, Any]:
    """As tests/test_tool_definitions.py counts it: name, title when there is one, description,
    inputSchema."""
    read = {key: tool[key] for key in ("name", "title", "description") if tool.get(key) is not None}
    return {**read, "inputSchema": tool["inputSchema"]}


def without_titles(node: Any) -> Any:
    """A schema without its ``title`` keywords (fields named title are kept)."""
    if isinstance(node, list):
        return [without_titles(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: {name: without_titles(field) for name, field in value.items()}
        if key in ("properties", "$defs")
        else without_titles(value)
        for key, value in node.items()
        if key != "title"
    }


# --- the probe: runs inside the checkout being measured -------------------------------------------


async def probe() -> dict[str, Any]:
    """This checkout's ``tools/list`` (as served, and the output schemas as pydantic makes them) and a
    50-event ``list_events`` answer's structured content."""
    import httpx  # noqa: PLC0415  (imported in the checkout measured, not the one running the bench)
    from mcp import Client  # noqa: PLC0415
    from mcp.server.mcpserver import MCPServer  # noqa: PLC0415

    from close_events_mcp.server.app import build_server  # noqa: PLC0415
    from close_events_sandbox.app import SandboxApp  # noqa: PLC0415
    from close_events_sandbox.seed import build_demo_org  # noqa: PLC0415
    from tests.conftest import NOW, clock, make_settings  # noqa: PLC0415

    app = SandboxApp(build_demo_org(NOW), clock=clock)
    server = build_server(make_settings(), transport=httpx.ASGITransport(app=app), clock=clock)
    async with Client(server) as client:
        listed = await client.list_tools()
        answer = await client.call_tool("list_events", {"limit": PAGE})
    assert not answer.is_error and answer.structured_content and answer.structured_content["count"] == PAGE
    tools = [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in listed.tools]
    generated = [tool.output_schema for tool in await MCPServer.list_tools(server) if tool.output_schema]
    return {"tools": tools, "generated": generated, "answer": answer.structured_content}


def probe_main() -> int:
    import anyio  # noqa: PLC0415

    print(json.dumps(anyio.run(probe)))
    return 0


# --- the bench: both checkouts, counted and compared ----------------------------------------------


@dataclass
class Figures:
    label: str
    """The revision measured, or "after" for this tree."""
    model_read: int
    input_schemas: int
    output_schemas: int
    generated_output_schemas: int
    """The output schemas as pydantic makes them, before the server compacts them."""
    generated_titles: int
    """Of them, the generated titles of fields and models."""
    tools_list: int
    tools: list[dict[str, Any]]
    answer: dict[str, Any]
    """A 50-event list_events answer's structured content."""
    per_tool: dict[str, tuple[int, int]]
    """tool name → (model-read tokens, output-schema tokens)"""

    @property
    def served_share(self) -> float:
        return self.output_schemas / self.generated_output_schemas


def measure(tree: Path, label: str) -> Figures:
    sys.path.insert(0, str(ROOT))
    from tests.token_count import tokens  # noqa: PLC0415

    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, str(Path(__file__).resolve()), "--probe"]
    output = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=True).stdout
    probed = json.loads(output.strip().splitlines()[-1])
    tools: list[dict[str, Any]] = probed["tools"]
    per_tool = {
        tool["name"]: (tokens(compact(model_read(tool))), tokens(compact(tool.get("outputSchema", {}))))
        for tool in tools
    }
    return Figures(
        label=label,
        model_read=sum(read for read, _ in per_tool.values()),
        input_schemas=sum(tokens(compact(tool["inputSchema"])) for tool in tools),
        output_schemas=sum(output for _, output in per_tool.values()),
        generated_output_schemas=sum(tokens(compact(schema)) for schema in probed["generated"]),
        generated_titles=sum(
            tokens(compact(schema)) - tokens(compact(without_titles(schema)))
            for schema in probed["generated"]
        ),
        tools_list=tokens(compact({"tools": tools})),
        tools=tools,
        answer=probed["answer"],
        per_tool=per_tool,
    )


def measure_before(revision: str) -> Figures:
    with tempfile.TemporaryDirectory(prefix="tool-definitions-") as parent:
        tree = Path(parent) / "before"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(tree), revision],
            check=True,
        )
        try:
            return measure(tree, revision)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)


def schema_checks(before: Figures, after: Figures, checks: int) -> tuple[float, float]:
    """Seconds to check this tree's 50-event answer against list_events' output schema as each tree
    serves it (the same answer, so only the schema differs), as the client checks: the compiled
    validator, the best-matching error. In turn, after a warm-up; medians."""
    from jsonschema.exceptions import best_match  # noqa: PLC0415
    from jsonschema.validators import validator_for  # noqa: PLC0415

    def validator(figures: Figures) -> Any:
        schema = next(t["outputSchema"] for t in figures.tools if t["name"] == "list_events")
        return validator_for(schema)(schema)

    validators = [validator(before), validator(after)]
    timings: list[list[float]] = [[], []]
    for turn in range(checks + checks // 10):
        for which, checking in enumerate(validators):
            started = time.perf_counter()
            error = best_match(checking.iter_errors(after.answer))
            elapsed = time.perf_counter() - started
            assert error is None, error
            if turn >= checks // 10:
                timings[which].append(elapsed)
    return median(timings[0]), median(timings[1])


def render(before: Figures, after: Figures, checks: int) -> str:
    checked = schema_checks(before, after, checks)

    def change(old: float, new: float) -> str:
        return f"{(new - old) / old:+.0%}"

    def row(name: str, old: float, new: float, unit: str = "") -> str:
        return f"| {name} | {old:,.0f}{unit} | {new:,.0f}{unit} | {change(old, new)} |"

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.2f} ms"

    tools = [
        f"| {name} | {before.per_tool.get(name, (0, 0))[0]:,} → {read:,} "
        f"| {before.per_tool.get(name, (0, 0))[1]:,} → {output:,} |"
        for name, (read, output) in after.per_tool.items()
    ]
    verdict = "met" if after.model_read <= BUDGET else "**not met**"
    return "\n".join(
        [
            "## Tool definitions",
            "",
            f"`python bench/tool_definitions.py --before {before.label} --checks {checks}` — `tools/list` "
            f"of the five tools, from {before.label} (a temporary git "
            "worktree) and from this tree, each in its own process, counted in cl100k_base tokens as "
            "compact JSON. Model-read is, per tool, its name, title, description and input schema: what "
            "hosts put in front of the model in every conversation. Output schemas are what the client "
            "keeps to check each structured answer against; the check of one 50-event `list_events` "
            "answer (this tree's) against each tree's schema is timed as the client makes it (compiled "
            f"`jsonschema` validator, best match; {checks} of each, in turn, medians).",
            "",
            f"Machine: {machine()}.",
            "",
            f"| | before ({before.label}) | after | change |",
            "| --- | ---: | ---: | ---: |",
            row("model-read tokens (all five tools)", before.model_read, after.model_read),
            row("of them, input schemas", before.input_schemas, after.input_schemas),
            row("output-schema tokens, as served", before.output_schemas, after.output_schemas),
            row(
                "output-schema tokens, as pydantic makes them",
                before.generated_output_schemas,
                after.generated_output_schemas,
            ),
            row(
                "of these, generated titles (served before, dropped now)",
                before.generated_titles,
                after.generated_titles,
            ),
            f"| served / as pydantic makes them | {before.served_share:.0%} | {after.served_share:.0%} | |",
            row("whole `tools/list` result", before.tools_list, after.tools_list),
            f"| client's check of one 50-event answer | {ms(checked[0])} | {ms(checked[1])} "
            f"| {change(*checked)} |",
            "",
            "| tool | model-read tokens | output-schema tokens |",
            "| --- | ---: | ---: |",
            *tools,
            "",
            f"**Model-read: {after.model_read:,} tokens for the five tools; budget <= {BUDGET:,}: "
            f"{verdict}.**",
            "",
            "Input schemas lost pydantic's boilerplate (`anyOf [T, null]` and `default: null` for an "
            "optional argument, which is left out rather than sent as null; a generated `title` beside "
            "every name) and gained the bounds that lived in prose (`limit` 1–50 and 1–500, `max_events` "
            ">= 50, refused with the range when crossed); descriptions lost their docstring indentation "
            "and hard line breaks; the filters summarize_events and poll_events share with list_events "
            "are described there and pointed to from the others. Output schemas lost the generated "
            f"titles of every field and model ({after.generated_titles:,} tokens of this tree's) and "
            "their descriptions, which no client checks (they stay in results.py, for the code). The result "
            "models themselves may differ between the two revisions (they do when the served totals "
            "move the other way), hence the rows against pydantic's schema of each tree's own models. "
            "The check's time depends on the values checked, "
            "not on the annotations, so it hardly moves: see the overhead section for the whole call.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help=f"the revision to compare with (default {BEFORE})")
    parser.add_argument("--checks", type=int, default=1000, help="schema checks timed of each (default 1000)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        return probe_main()
    before = measure_before(args.before)
    after = measure(ROOT, "after")
    markdown = render(before, after, args.checks)
    print(markdown)
    if not args.no_write:
        write_section("tool-definitions", markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
