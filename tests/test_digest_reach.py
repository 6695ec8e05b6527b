"""summarize_events stays within its 2,000 tokens whatever alphabet the organization's names are in,
says what a non-admin key could not count, lists won and lost opportunities with a follow-up call
that says how many more it returns, and states nothing a filter made stale."""

from __future__ import annotations

import random
import re
import shlex
import string
from datetime import timedelta
from typing import Any

import httpx
import pytest
from mcp import Client

from close_events_mcp.close.names import NameBook
from close_events_mcp.engine.digest import Tally, build_digest
from close_events_mcp.engine.scan import ScanResult
from close_events_mcp.event import Event, parse_timestamp
from close_events_mcp.render.digest import digest_text, estimate_tokens
from close_events_mcp.server.app import build_server
from close_events_sandbox.seed import DEMO_MEMBER_API_KEY
from tests.conftest import NOW, clock, make_settings, text_of
from tests.token_count import tokens

pytestmark = pytest.mark.anyio
BUDGET = 2_000

# --- names in any alphabet ------------------------------------------------------------------------

_JAPANESE = ("山田", "田中", "東京", "大阪", "製作所", "商事", "電機", "不動産", "営業部", "本社", "支店")
_JAPANESE += ("ホールディングス", "システムズ", "エンジニアリング")


def _name(alphabet: str, rng: random.Random, n: int) -> str:
    """A name as long as names get (30 characters and more), in one alphabet."""
    if alphabet == "japanese":  # realistic: company names of common words
        return (
            rng.choice(["株式会社", "合同会社", "有限会社"]) + "".join(rng.choices(_JAPANESE, k=6)) + str(n)
        )
    if alphabet == "rare cjk":
        return "".join(rng.choices("龘齉爨麤鱻驫靐鬱", k=30)) + str(n)
    if alphabet == "emoji":
        return "".join(rng.choices("😀🎉🚀🔥💼📈🧪🦄🍕🎯", k=30)) + str(n)
    if alphabet == "random ascii":
        return "".join(rng.choices(string.ascii_letters + string.digits + "-_.~!#@%", k=30))
    if alphabet == "cyrillic":
        return " ".join(rng.choices(["Общество", "Ограниченной", "Ответственностью", "Северсталь"], k=4))
    raise AssertionError(alphabet)


def _id(prefix: str, rng: random.Random, length: int = 22) -> str:
    return f"{prefix}_" + "".join(rng.choices(string.ascii_letters + string.digits, k=length))


def _org_events(alphabet: str, count: int = 1_200) -> tuple[list[Event], dict[str, str]]:
    """A month of an organization whose every name (people, leads, statuses, custom fields, values) is
    in ``alphabet``: won and lost opportunities, status changes, deletions of every kind, merges, jobs
    and custom field changes. Also the custom fields' names, by ID."""
    rng = random.Random(alphabet)
    users = [(_id("user", rng), _name(alphabet, rng, n)) for n in range(12)]
    fields = {_id("cf", rng): _name(alphabet, rng, n) for n in range(20)}
    leads = [(_id("lead", rng), _name(alphabet, rng, n)) for n in range(60)]
    statuses = [_name(alphabet, rng, n) for n in range(15)]
    raws: list[dict[str, Any]] = []
    for n in range(count):
        user_id, user_name = rng.choice(users)
        lead_id, lead_name = rng.choice(leads)
        at = NOW - timedelta(minutes=30 * n + 1)
        raw: dict[str, Any] = {
            "id": _id("ev", rng),
            "date_created": at.isoformat(),
            "date_updated": at.isoformat(),
            "user_id": user_id,
            "lead_id": lead_id,
            "request_id": _id("req", rng),
            "meta": {},
        }
        kind = n % 8
        if kind == 0:
            outcome = rng.choice(["won", "lost"])
            raw |= {
                "object_type": "opportunity", "action": "updated", "object_id": _id("oppo", rng),
                "changed_fields": ["status_id", "status_label", "status_type"],
                "data": {"lead_name": lead_name, "user_name": user_name, "status_label": rng.choice(statuses),
                         "status_type": outcome, "value_formatted": _name(alphabet, rng, n)[:20]},
                "previous_data": {"status_label": rng.choice(statuses), "status_type": "active"},
            }  # fmt: skip
        elif kind == 1:
            before, after = rng.sample(statuses, 2)
            raw |= {
                "object_type": "lead", "action": "updated", "object_id": lead_id,
                "changed_fields": ["status_id", "status_label"],
                "data": {"display_name": lead_name, "status_label": after},
                "previous_data": {"status_label": before},
            }  # fmt: skip
        elif kind == 2:
            gone_id, gone_name = _id("lead", rng), _name(alphabet, rng, n)
            how = rng.choice(["hand", "api", "bulk", "import"])
            raw |= {
                "object_type": "lead", "action": "deleted", "object_id": gone_id, "lead_id": gone_id,
                "previous_data": {"display_name": gone_name},
                "api_key_id": _id("api", rng) if how == "api" else None,
                "user_id": None if how == "api" else user_id,
                "meta": {"bulk_action_id": _id("bulkdel", rng)} if how == "bulk"
                else {"revert_import_id": _id("imp", rng)} if how == "import" else {},
            }  # fmt: skip
        elif kind == 3:
            source = rng.choice(leads)
            raw |= {
                "object_type": "lead", "action": "merged", "object_id": lead_id,
                "data": {"display_name": lead_name}, "previous_data": {"display_name": source[1]},
                "meta": {"merge_source_lead_id": source[0], "merge_destination_lead_id": lead_id},
            }  # fmt: skip
        elif kind == 4:
            key = rng.choice(list(fields))
            raw |= {
                "object_type": "lead", "action": "updated", "object_id": lead_id,
                "changed_fields": [f"custom.{key}"],
                "data": {"display_name": lead_name, f"custom.{key}": _name(alphabet, rng, n)},
                "previous_data": {f"custom.{key}": None},
            }  # fmt: skip
        elif kind == 5:
            raw |= {
                "object_type": rng.choice(["bulk_action.delete", "import"]), "lead_id": None,
                "action": rng.choice(["created", "completed", "paused"]), "object_id": _id("bulkdel", rng),
                "data": {"file_name": _name(alphabet, rng, n), "n_objects": 7, "n_processed": 3},
            }  # fmt: skip
        else:
            raw |= {
                "object_type": rng.choice(["contact", "activity.note", "opportunity", "task.lead"]),
                "action": rng.choice(["created", "deleted", "updated"]), "object_id": _id("cont", rng),
                "changed_fields": ["name"], "data": {"name": _name(alphabet, rng, n), "user_name": user_name},
                "previous_data": {"name": _name(alphabet, rng, n)},
            }  # fmt: skip
        raws.append(raw)
    return [Event.from_close(raw) for raw in raws], fields


@pytest.mark.parametrize("alphabet", ["japanese", "rare cjk", "emoji", "random ascii", "cyrillic"])
def test_the_digest_fits_its_budget_in_any_alphabet(alphabet):
    events, fields = _org_events(alphabet)
    names = NameBook()
    names.directory._fields.store(fields)  # as Close's custom field list names them
    tally = Tally(on_event=names.learn, now=NOW)
    for event in events:
        tally.add(event)
    for event in events:
        if event.object_type == "lead" and event.data:
            names.learn_lead(event.object_id or "", event.data["display_name"], event.date_updated)
    scan = ScanResult(slices=[], complete=True, covered_from=0, covered_to=0, events=len(events), pages=12)
    digest = build_digest(tally, names, scan, since=NOW - timedelta(days=30), until=NOW, now=NOW)
    text = digest_text(digest)
    assert tokens(text) <= BUDGET, (tokens(text), text)
    assert estimate_tokens(text) >= tokens(text), "the estimate errs high"
    for kind in ("Opportunities: ", "Lead status: ", "Deleted: ", "Merges: ", "Custom fields changed: "):
        assert f"\n  {kind}" in text, kind
    assert "\nWho: " in text and "\nWhat: " in text


@pytest.mark.parametrize(
    "text",
    [
        "株式会社山田田中東京大阪製作所商事電機不動産ホールディングス" * 20,
        "龘齉爨麤鱻驫靐鬱" * 50,
        "😀🎉🚀🔥💼📈🧪🦄🍕🎯" * 40,
        "Привет мир компания Общество " * 20,
        " ".join("lead_" + "".join(random.Random(n).choices(string.ascii_letters, k=43)) for n in range(30)),
        "".join(random.Random(2).choices(string.printable, k=2_000)),
        "Northwind Consolidated Logistics Holdings, +3 more (1,234 events) · " * 20,
    ],
)
def test_the_token_estimate_errs_high(text):
    assert estimate_tokens(text) >= tokens(text)


# --- a key that is not an admin's -----------------------------------------------------------------


async def _digest(app: Any, arguments: dict[str, Any], key: str | None = None) -> tuple[str, dict[str, Any]]:
    settings = make_settings(key) if key else make_settings()
    server = build_server(settings, transport=httpx.ASGITransport(app=app), clock=clock)
    async with Client(server) as client:
        result = await client.call_tool("summarize_events", arguments)
    assert not result.is_error, text_of(result)
    return text_of(result), result.structured_content or {}


def _window(org: Any, days: int = 30) -> list[dict[str, Any]]:
    start = NOW - timedelta(days=days)
    return [e for e in org.events if start <= parse_timestamp(e["date_updated"]) < NOW]


def _type_changes(org: Any) -> list[dict[str, Any]]:
    return [
        e
        for e in _window(org)
        if e["object_type"] == "opportunity"
        and e["action"] == "updated"
        and "status_type" in (e.get("changed_fields") or [])
    ]


async def test_a_non_admin_digest_says_what_it_could_not_count(sandbox, demo_org):
    text, digest = await _digest(sandbox, {"since": "30d", "object_type": "opportunity"}, DEMO_MEMBER_API_KEY)
    opportunities = [e for e in _window(demo_org) if e["object_type"] == "opportunity"]
    old = [e for e in opportunities if NOW - parse_timestamp(e["date_created"]) > timedelta(hours=1)]
    assert old and digest["withheld"] == len(old)
    assert f"{len(old)} events here came without them" in text
    assert "Close withholds the values of events older than 1 hour" in text
    assert "won/lost, status transitions and custom-field values could not be counted" in text
    changes = [e for e in _type_changes(demo_org) if e in old]
    assert changes and digest["withheld_outcomes"] == len(changes)
    assert f"{len(changes)} status-type changes with values withheld" in text
    status = [
        e
        for e in old
        if e["action"] == "updated" and {"status_id", "status_label"} & set(e["changed_fields"])
    ]
    assert digest["withheld_status"] == {"opportunity": len(status)}
    assert f"Opportunity status: {len(status)} changes with values withheld" in text
    assert digest["total"] == len(opportunities), "what can be counted is"


async def test_an_admin_digest_has_nothing_withheld(sandbox):
    text, digest = await _digest(sandbox, {"since": "30d"})
    assert not digest.get("withheld") and "withh" not in text


# --- won and lost: the follow-up call and what it returns ------------------------------------------


async def _walk(app: Any, call: str) -> list[dict[str, Any]]:
    name, *pairs = shlex.split(call)
    arguments: dict[str, Any] = dict(pair.split("=", 1) for pair in pairs)
    server = build_server(make_settings(), transport=httpx.ASGITransport(app=app), clock=clock)
    found: list[dict[str, Any]] = []
    async with Client(server) as client:
        cursor = None
        while True:
            page = await client.call_tool(name, {**arguments, "cursor": cursor} if cursor else arguments)
            assert not page.is_error, text_of(page)
            found += page.structured_content["events"]
            cursor = page.structured_content.get("next_cursor")
            if not cursor:
                return found


async def test_the_won_or_lost_follow_up_lists_them_all_and_says_how_many_more(sandbox, demo_org):
    text, digest = await _digest(sandbox, {"since": "30d"})
    group = next(g for g in digest["notable"] if g["kind"] == "Opportunities won or lost")
    assert "changed_field=status_type" in group["follow_up"]
    listed = await _walk(sandbox, group["follow_up"])
    won_or_lost = {
        e["id"]
        for e in _type_changes(demo_org)
        if (e.get("data") or {}).get("status_type") in ("won", "lost")
    }
    assert len(won_or_lost) == group["count"] and won_or_lost <= {e["id"] for e in listed}
    assert len(listed) == group["listed"] == len(_type_changes(demo_org)) > group["count"]
    more = group["count"] - len(digest["outcomes"])
    assert (
        f"+{more} more, among {len(listed)} status-type changes this call lists: {group['follow_up']}" in text
    )


# --- what the text leaves out ---------------------------------------------------------------------


async def test_no_busiest_leads_line_when_no_event_has_a_lead(sandbox):
    text, digest = await _digest(sandbox, {"since": "30d", "object_type": "import"})
    assert digest["total"] and not digest["top_leads"]
    assert "Busiest leads" not in text


async def test_more_actions_say_what_they_count(sandbox):
    text, _ = await _digest(sandbox, {"since": "30d"})
    what = next(line for line in text.splitlines() if line.startswith("What: "))
    assert re.search(r" \+2 more actions \(\d+ events\)", what), what
    assert "more (" not in what


async def test_a_filtered_digest_gives_no_progress_the_filter_made_stale(sandbox, demo_org):
    """The bulk delete's "completed" event has no user: under a user filter its latest event seen is
    "created", whose progress (processed 0) is stale."""
    text, everyone = await _digest(sandbox, {"since": "30d"})
    job = next(j for j in everyone["jobs"] if j["object_type"] == "bulk_action.delete")
    text, digest = await _digest(sandbox, {"since": "30d", "user_id": job["user_id"]})
    mine = next(j for j in digest["jobs"] if j["job_id"] == job["job_id"])
    assert mine["filtered"] and mine.get("summary") is None
    line = next(line for line in text.splitlines() if job["job_id"] in line and "bulk_action" in line)
    assert "processed" not in line and f"last seen with these filters: {mine['state']}" in line
