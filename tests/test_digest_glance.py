"""summarize_events reads at a glance at any size: aggregated highlights, bounded lists that say what
they left out and which call lists it all, custom fields by name, noise labelled for what it is, and
at most 2,000 tokens whatever the window and the organization (the demo organization, a big generated
one, and the independent stand-in's corpus)."""

from __future__ import annotations

import random
import shlex
import string
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from close_events_mcp.close.names import NameBook
from close_events_mcp.engine import digest as digest_module
from close_events_mcp.engine.digest import Tally, build_digest
from close_events_mcp.engine.scan import ScanResult
from close_events_mcp.event import Event, parse_timestamp
from close_events_mcp.query.filters import EventFilters
from close_events_mcp.render.digest import digest_text
from close_events_mcp.server.app import build_server
from close_events_sandbox.app import SandboxApp
from close_events_sandbox.seed import build_demo_org
from tests.conftest import NOW, clock, make_settings, text_of
from tests.contract import assert_clean_structured, assert_clean_text
from tests.token_count import tokens

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from standin import StandInApp
from standin_corpus import Corpus

pytestmark = pytest.mark.anyio
BUDGET = 2_000
WIDE_OPEN = {"scan_max_events": 200_000, "scan_max_pages": 10_000, "call_timeout": 300}


@pytest.fixture(scope="module")
def big_org():
    return build_demo_org(NOW, filler_events=20_000, filler_days=7)


async def digest_of(transport: httpx.AsyncBaseTransport, arguments: dict[str, Any], **settings: Any):
    server = build_server(make_settings(**{**WIDE_OPEN, **settings}), transport=transport, clock=clock)
    async with Client(server) as client:
        result = await client.call_tool("summarize_events", arguments)
    assert not result.is_error, text_of(result)
    return text_of(result), result.structured_content


def standin(events: int, days: float) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=StandInApp(Corpus(events=events, days=days, now=NOW, seed=1), None, 0.0))


def in_window(org, days: float) -> list[dict]:
    start = NOW - timedelta(days=days)
    return [e for e in org.events if start <= parse_timestamp(e["date_updated"]) < NOW]


# --- the token budget, on three corpora ----------------------------------------------------------


async def test_the_demo_month_fits_the_budget(sandbox):
    text, digest = await digest_of(httpx.ASGITransport(app=sandbox), {"since": "30d"})
    assert digest["complete"] and tokens(text) <= BUDGET, tokens(text)
    assert_clean_text(text)
    assert_clean_structured(digest)


async def test_a_big_generated_org_fits_the_budget(big_org):
    text, digest = await digest_of(
        httpx.ASGITransport(app=SandboxApp(big_org, clock=clock)), {"since": "30d"}
    )
    assert digest["complete"] and digest["total"] > 20_000
    assert tokens(text) <= BUDGET, tokens(text)


@pytest.mark.parametrize(("events", "days"), [(225, 30), (20_000, 30)])
async def test_the_independent_corpus_fits_the_budget(events, days):
    text, digest = await digest_of(standin(events, days), {"since": "30d"})
    assert digest["complete"] and digest["total"] == events
    assert tokens(text) <= BUDGET, tokens(text)
    assert "custom.cf_" not in text, "custom fields by name"
    assert_clean_text(text)


async def test_structured_content_stays_bounded_too():
    _, digest = await digest_of(standin(20_000, 30), {"since": "30d"})
    assert len(digest["by_actor"]) <= 20 and digest["actors_left_out"]["items"] > 0
    listed = sum(a["count"] for a in digest["by_actor"]) + digest["actors_left_out"]["events"]
    assert listed == digest["total"], "what the bounded list left out is counted"
    assert (
        len(digest["deleted_leads"]) <= 5 and len(digest["outcomes"]) <= 5 and len(digest["deletions"]) <= 12
    )
    assert max(Counter(t["object_type"] for t in digest["transitions"]).values()) <= 6


# --- aggregated, not listed ----------------------------------------------------------------------


async def test_status_transitions_are_counted_not_listed(sandbox, demo_org):
    text, digest = await digest_of(httpx.ASGITransport(app=sandbox), {"since": "30d"})
    expected: Counter[tuple[str, str]] = Counter()
    for event in in_window(demo_org, 30):
        if (
            event["object_type"] == "lead"
            and event["action"] == "updated"
            and "status_label" in (event.get("changed_fields") or [])
        ):
            expected[(event["previous_data"]["status_label"], event["data"]["status_label"])] += 1
    moves = {
        (t["before"], t["after"]): t["count"] for t in digest["transitions"] if t["object_type"] == "lead"
    }
    assert sorted(moves.values(), reverse=True) == [n for _, n in expected.most_common(len(moves))]
    assert (
        all(expected[move] == count for move, count in moves.items())
        and moves[("Potential", "Qualified")] >= 4
    )
    left_out = digest["transitions_left_out"]["lead"]
    assert (left_out["items"], left_out["events"]) == (
        len(expected) - len(moves),
        expected.total() - sum(moves.values()),
    )
    assert f"(+{left_out['items']} more transitions, {left_out['events']} events)" in text
    assert f"Potential → Qualified ×{moves[('Potential', 'Qualified')]}" in text
    assert "status Potential → Qualified" not in text, "no event lines repeating a transition"


async def test_won_and_lost_opportunities_with_value_and_lead(sandbox, demo_org):
    text, digest = await digest_of(httpx.ASGITransport(app=sandbox), {"since": "30d"})
    won = [
        e for e in in_window(demo_org, 30)
        if e["object_type"] == "opportunity" and e["action"] == "updated"
        and (e.get("data") or {}).get("status_type") in ("won", "lost")
        and "status_type" in (e.get("changed_fields") or [])
    ]  # fmt: skip
    outcomes = Counter(e["data"]["status_type"] for e in won)
    assert (digest["opportunities_won"], digest["opportunities_lost"]) == (outcomes["won"], outcomes["lost"])
    newest = sorted(won, key=lambda e: e["date_updated"], reverse=True)
    assert [o["event_id"] for o in digest["outcomes"]] == [e["id"] for e in newest[: len(digest["outcomes"])]]
    group = next(g for g in digest["notable"] if g["kind"] == "Opportunities won or lost")
    among = f"among {group['listed']} status-type changes this call lists"
    assert f"+{len(won) - len(digest['outcomes'])} more, {among}: {group['follow_up']}" in text
    sitwell = next(o for o in digest["outcomes"] if o["lead_name"] == "Sitwell Enterprises")
    assert sitwell["outcome"] == "won" and sitwell["value"]
    line = next(line for line in text.splitlines() if sitwell["event_id"] in line)
    assert line.strip().startswith("won ") and '"Sitwell Enterprises"' in line and sitwell["value"] in line


async def test_deletions_grouped_by_how_and_by_whom(sandbox, demo_org):
    text, digest = await digest_of(httpx.ASGITransport(app=sandbox), {"since": "30d"})
    leads = [e for e in in_window(demo_org, 30) if e["object_type"] == "lead" and e["action"] == "deleted"]
    by_how: Counter[str] = Counter()
    for group in digest["deletions"]:
        by_how[group["how"]] += group.get("leads", 0)
    assert sum(by_how.values()) == len(leads)
    assert {"by bulk action", "by merge", "by import revert"} <= set(by_how)
    bulk = next(g for g in digest["deletions"] if g["how"] == "by bulk action")
    assert bulk["name"] == "Gob Bluth" and bulk["via"][0].startswith("bulkdel_")
    assert f'by bulk action: "Gob Bluth" {bulk["leads"]} leads' in text
    assert "Leads deleted (" not in text, "not one line per deleted lead"


async def test_every_deleted_lead_is_one_call_away(big_org):
    """More leads deleted than fit: the digest says the call that lists them all, and it does."""
    sandbox = SandboxApp(big_org, clock=clock)
    transport = httpx.ASGITransport(app=sandbox)
    text, digest = await digest_of(transport, {"since": "30d"})
    group = next(g for g in digest["notable"] if g["kind"] == "Leads deleted")
    assert group["count"] > len(digest["deleted_leads"])
    assert group["follow_up"] in text
    name, *pairs = shlex.split(group["follow_up"])
    arguments: dict[str, Any] = dict(pair.split("=", 1) for pair in pairs)
    server = build_server(make_settings(**WIDE_OPEN), transport=transport, clock=clock)
    found: set[str] = set()
    async with Client(server) as client:
        cursor = None
        while True:
            page = await client.call_tool(name, {**arguments, "cursor": cursor} if cursor else arguments)
            found |= {e["object_id"] for e in page.structured_content["events"]}
            cursor = page.structured_content.get("next_cursor")
            if not cursor:
                break
    expected = {
        e["object_id"]
        for e in in_window(big_org, 30)
        if e["object_type"] == "lead" and e["action"] == "deleted"
    }
    assert found == expected and len(expected) == group["count"]
    assert {d["lead_id"] for d in digest["deleted_leads"]} <= expected


def test_a_follow_up_call_keeps_the_digests_filters_and_window():
    follow_up = digest_module.follow_up
    since, until = NOW - timedelta(days=7), NOW.replace(microsecond=120)
    filters = EventFilters(user_id="user_abc", exclude_noisy=True, since=since, until=until)
    call = follow_up(filters, since, until, object_type="activity.note")
    assert call == (
        "list_events object_type=activity.note user_id=user_abc exclude_noisy=true "
        "since=2026-11-16T12:00:00Z until=2026-11-23T12:00:00.000120Z"
    )
    deleted = follow_up(filters, since, until, object_type="lead", action="deleted")
    assert deleted == call.replace("activity.note", "lead action=deleted").replace(" exclude_noisy=true", "")


# --- words ---------------------------------------------------------------------------------------


async def test_plurals_follow_the_counts(client, demo_org):
    sitwell = demo_org.landmarks["lead:Sitwell Enterprises"]
    event = next(e for e in in_window(demo_org, 30) if e["lead_id"] == sitwell and e["user_id"])
    moment = parse_timestamp(event["date_updated"])
    window = {"since": moment.isoformat(), "until": (moment + timedelta(microseconds=1)).isoformat()}
    result = await client.call_tool("summarize_events", {"lead_id": sitwell, **window})
    assert ": 1 event by 1 user on 1 lead." in text_of(result).splitlines()[0]


async def test_noise_is_labelled_for_what_it_is(client):
    jobs = text_of(
        await client.call_tool("summarize_events", {"since": "30d", "object_type": "bulk_action.delete"})
    )
    assert "updated (progress) " in jobs and "autosaves" not in jobs
    notes = text_of(
        await client.call_tool("summarize_events", {"since": "30d", "object_type": "activity.note"})
    )
    assert "updated (autosaves) " in notes and "(progress)" not in notes


async def test_every_bounded_list_says_what_it_left_out(sandbox):
    text, digest = await digest_of(httpx.ASGITransport(app=sandbox), {"since": "30d"})
    what = next(line for line in text.splitlines() if line.startswith("What: "))
    parts = what.removeprefix("What: ").split(" · ")
    shown = len(parts) - 1
    left_out = list(digest["by_type"].values())[shown:]
    assert (
        shown <= 8
        and parts[-1] == f"+{len(left_out)} more types ({sum(sum(a.values()) for a in left_out)} events)"
    )
    who = next(line for line in text.splitlines() if line.startswith("Who: ")).split(" · ")
    hidden = digest["by_actor"][len(who) - 1 :]
    assert who[-1] == f"+{len(hidden)} more actors ({sum(a['count'] for a in hidden)} events)"


# --- memory stays flat ---------------------------------------------------------------------------


def _status_event(n: int) -> Event:
    return Event.from_close(
        {
            "id": f"ev_{n:022d}",
            "date_created": "2026-11-20T10:00:00",
            "date_updated": f"2026-11-20T10:{n // 60 % 60:02d}:{n % 60:02d}",
            "object_type": "lead",
            "object_id": f"lead_{n:022d}",
            "lead_id": f"lead_{n:022d}",
            "action": "updated",
            "user_id": "user_0000000000000000000001",
            "changed_fields": ["status_label", f"custom.cf_{n:022d}"],
            "data": {"status_label": f"Stage {n}"},
            "previous_data": {"status_label": f"Stage {n - 1}"},
        }
    )


def test_a_tally_stays_bounded_however_many_distinct_values():
    MAX_KEYS = digest_module.MAX_KEYS  # noqa: N806
    tally = Tally()
    for n in range(MAX_KEYS * 3):
        tally.add(_status_event(n))
    assert len(tally.transitions) == MAX_KEYS and tally.transitions_dropped == MAX_KEYS * 2
    assert len(tally.fields) == MAX_KEYS and tally.fields_dropped == MAX_KEYS * 2
    assert all(len(kept) <= max(digest_module._KEEP.values()) for kept in tally.notable.values())
    merged = Tally()
    merged.merge(tally)
    merged.merge(tally)
    assert len(merged.transitions) == MAX_KEYS
    assert sum(merged.transitions.values()) + merged.transitions_dropped == 2 * MAX_KEYS * 3


# --- the worst case: everything at once, long names and long IDs ---------------------------------


def _close_id(prefix: str, rng: random.Random, length: int = 43) -> str:
    return f"{prefix}_" + "".join(rng.choices(string.ascii_letters + string.digits, k=length))


_WORDS = (  # noqa: SIM905
    "Northwind Consolidated Logistics Holdings International Partners Brothers Associates Regional "
    "Wholesale Distribution Manufacturing Healthcare Technologies Solutions Enterprises Worldwide "
    "Qualified Negotiation Onboarding Procurement Evaluation Renewal Expansion Contracting Churned"
).split()


def _long_name(rng: random.Random) -> str:
    """As long as a name gets in the text (cut there), in words people use."""
    return " ".join(rng.choices(_WORDS, k=6))


def _worst_case_events(count: int) -> list[Event]:
    """Every notable kind, many people, API keys, statuses and fields; names and IDs as long as Close's."""
    rng = random.Random(13)
    users = [_close_id("user", rng) for _ in range(40)]
    leads = [_close_id("lead", rng) for _ in range(2_000)]
    statuses = [_long_name(rng) for _ in range(30)]
    kinds = "lead opportunity contact activity.email activity.call activity.note task.lead bulk_action.delete"
    kinds += " import export.lead custom_object sequence"
    events = []
    for n in range(count):
        lead = rng.choice(leads)
        user = rng.choice(users) if rng.random() < 0.8 else None
        kind = rng.choice(kinds.split())
        action = rng.choice(["created", "updated", "deleted", "completed", "merged", "reverting", "paused"])
        meta: dict[str, Any] = {}
        how = rng.random()
        if how < 0.2:
            meta["bulk_action_id"] = _close_id("bulkdel", rng, 22)
        elif how < 0.3:
            meta["revert_import_id"] = _close_id("imp", rng, 22)
        elif how < 0.35 or action == "merged":
            meta |= {"merge_source_lead_id": rng.choice(leads), "merge_destination_lead_id": lead}
        before, after = rng.sample(statuses, 2)
        name = _long_name(rng)
        data = {
            "display_name": name, "lead_name": name, "status_label": after, "user_name": _long_name(rng),
            "status_type": rng.choice(["won", "lost", "active"]), "value_formatted": "$1,234,567.89 annually",
        }  # fmt: skip
        events.append(
            Event.from_close(
                {
                    "id": _close_id("ev", rng, 22),
                    "date_created": "2026-11-01T10:00:00",
                    "date_updated": (NOW - timedelta(seconds=n * 7)).isoformat(),
                    "object_type": kind,
                    "object_id": lead if kind == "lead" else _close_id(kind.split(".")[0][:8], rng),
                    "lead_id": lead,
                    "action": action,
                    "user_id": user,
                    "api_key_id": None if user else _close_id("api", rng, 22),
                    "changed_fields": ["status_label", "status_type", f"custom.cf_{rng.randrange(60):022d}"],
                    "data": {**data, "user_id": user},
                    "previous_data": {"status_label": before},
                    "meta": meta,
                }
            )
        )
    return events


def test_the_worst_case_fits_the_budget():
    names = NameBook()
    tally = Tally(on_event=names.learn)
    events = _worst_case_events(20_000)
    for event in events:
        tally.add(event)
    scan = ScanResult(slices=[], complete=True, covered_from=0, covered_to=0, events=len(events), pages=400)
    since = NOW - timedelta(days=30)
    filters = EventFilters(
        user_id=_close_id("user", random.Random(1)), exclude_noisy=True, changed_field="custom.cf_" + "x" * 22
    )
    digest = build_digest(tally, names, scan, since=since, until=NOW, now=NOW, filters=filters)
    digest.notes += ["x " * 60, "y " * 60]  # the plan's note and the budget's, as long as they get
    text = digest_text(digest)
    assert tokens(text) <= BUDGET, (tokens(text), text)
    for kind in ("Opportunities: ", "Lead status: ", "Deleted: ", "Merges: ", "Bulk actions and imports: "):
        assert f"\n  {kind}" in text


async def test_a_filtered_digests_follow_up_calls_carry_its_filters(big_org):
    """A digest of one user's work points to calls that list that user's events, not everyone's."""
    transport = httpx.ASGITransport(app=SandboxApp(big_org, clock=clock))
    _, everyone = await digest_of(transport, {"since": "30d"})
    user = next(a["actor"] for a in everyone["by_actor"] if a["actor"].startswith("user_"))
    text, digest = await digest_of(transport, {"since": "30d", "user_id": user})
    calls = [g["follow_up"] for g in digest["notable"] if g.get("follow_up")]
    assert calls, "the user's digest should point to at least one follow-up call"
    for call in calls:
        assert f"user_id={user}" in call and call in text
