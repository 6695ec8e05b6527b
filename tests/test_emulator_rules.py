"""The emulator is the tests' oracle: it imports nothing from the product, and its rules of what
Close accepts are Close's docs (copied under tests/data/close_docs/), not the product's catalog."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from close_events_sandbox import close_rules as rules
from close_events_sandbox.org import DemoOrg

ROOT = Path(__file__).resolve().parent.parent
EMULATOR = ROOT / "close_events_sandbox"
DOCS = Path(__file__).resolve().parent / "data" / "close_docs"

# Imports every module of the emulator with the product made unimportable, then serves the demo
# organization's listing and one event through it: any import of close_events_mcp, at the top of a
# module or inside a function, fails.
ISOLATED = """
import importlib, json, pkgutil, sys
from datetime import UTC, datetime

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name == "close_events_mcp" or name.startswith("close_events_mcp."):
            raise ImportError(f"the emulator imported {name}")
        return None

sys.meta_path.insert(0, Blocked())
import close_events_sandbox
for module in pkgutil.walk_packages(close_events_sandbox.__path__, "close_events_sandbox."):
    importlib.import_module(module.name)

import anyio, httpx
from close_events_sandbox.seed import DEMO_API_KEY
from close_events_sandbox.serve import demo_app

async def main():
    app = demo_app(now=datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test/api/v1",
                                 auth=(DEMO_API_KEY, "")) as api:
        page = (await api.get("/event/", params={"object_type": "lead", "_limit": "3"})).json()
        one = (await api.get(f"/event/{page['data'][0]['id']}/")).json()
        refused = await api.get("/event/", params={"action": "created"})
    print(json.dumps({"listed": len(page["data"]), "one": one["id"], "refused": refused.status_code,
                      "product": sorted(m for m in sys.modules if m.startswith("close_events_mcp"))}))

anyio.run(main)
"""


def test_no_module_of_the_emulator_imports_the_product():
    for path in sorted(EMULATOR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert name.split(".")[0] != "close_events_mcp", f"{path.name}:{node.lineno} imports {name}"


def test_the_emulator_runs_with_the_product_unimportable():
    done = subprocess.run(
        [sys.executable, "-c", ISOLATED], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert '"listed": 3' in done.stdout and '"refused": 400' in done.stdout and '"product": []' in done.stdout


def _documented_combinations() -> tuple[list[frozenset[str]], str]:
    text = " ".join((DOCS / "event-log-api.listing-filters.md").read_text().split())
    listed = re.search(r"Only these combinations are supported \(.*?\): (.*?)\. ", text)
    assert listed, "the docs' list of supported combinations"
    combos = [frozenset(item.removesuffix(" alone").split("+")) for item in listed.group(1).split(" · ")]
    return combos, text


def test_the_accepted_combinations_are_the_documented_ones_and_those_closes_scripts_use():
    documented, text = _documented_combinations()
    assert len(documented) == 15
    assert list(rules.DOCUMENTED_COMBINATIONS) == documented
    assert "Close's own scripts also query with `object_type` alone and with only a date range." in text
    assert set(rules.USED_BY_CLOSE_SCRIPTS) == {frozenset({"object_type"}), frozenset()}
    assert {*documented, frozenset({"object_type"}), frozenset()} == rules.ACCEPTED_COMBINATIONS
    assert {name for combo in documented for name in combo} == set(rules.FILTER_NAMES)
    assert all(f"`{name}`" in text for name in (*rules.FILTER_NAMES, *rules.DATE_FILTERS))


def _documented_event_types() -> dict[str, tuple[str, ...]]:
    """Object types and their actions, in order, as "List of Events" lists them."""
    found: dict[str, tuple[str, ...]] = {}
    current: list[str] = []
    for line in (DOCS / "list-of-events.md").read_text().replace("\\", "").splitlines():
        if line.startswith("- "):
            # The page links each type: "- Export ([export.lead](#), [export.opportunity](#))"; tasks
            # read "[task.SUBTYPE](#), see the [Tasks](#) section ..., e.g. [task.lead](#)".
            current = re.findall(r"\[([a-z][a-z_.]*)\]\(#\)", line)
            found.update({name: () for name in current})
        elif action := re.match(r"  - \[([a-z]+)\]\(#\) - ", line):
            for name in current:
                found[name] = (*found[name], action.group(1))
    return found


def test_the_event_types_are_the_documented_ones():
    documented = _documented_event_types()
    assert len(documented) == 38 and documented["task.lead"] == ("created", "updated", "deleted", "completed")
    assert list(rules.EVENT_TYPES.items()) == list(documented.items())


def test_the_demo_organization_records_only_documented_events(demo_org: DemoOrg):
    for event in demo_org.events:
        name = rules.OLDER_NAMES.get(event["object_type"], event["object_type"])
        if name.startswith("task."):
            name = "task.lead"  # every task subtype has the task actions
        assert event["action"] in rules.EVENT_TYPES.get(name, ()), (event["id"], event["object_type"])


def test_timestamps_are_utc_whether_naive_or_offset():
    naive = rules.parse_timestamp("2016-10-19T12:22:10.434000")
    offset = rules.parse_timestamp("2016-10-19T14:22:10.434000+02:00")
    assert naive == offset and naive is not None and naive.utcoffset() is not None
    assert rules.parse_timestamp("last tuesday") is None and rules.parse_timestamp(None) is None
