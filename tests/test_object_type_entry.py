"""An object type is one catalog entry: a fictional type, registered in the catalog alone, is
described, accepted as a filter, shown with its facts and its field pair, and counted by the
digest, with no other module knowing of it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from mcp import Client

from close_events_mcp import catalog
from close_events_mcp.catalog import Action, ObjectType
from close_events_mcp.catalog.facts import NAME, FieldPair, fact_of
from close_events_mcp.close.names import NameBook
from close_events_mcp.engine.digest import Tally, build_digest
from close_events_mcp.engine.scan import ScanResult
from close_events_mcp.errors import ArgumentError
from close_events_mcp.event import Event
from close_events_mcp.query.filters import EventFilters, parse_filters
from close_events_mcp.render.changes import field_changes
from close_events_mcp.render.describe import describe_catalog
from close_events_mcp.render.digest import digest_text
from close_events_mcp.render.events import render_detail, render_list
from close_events_mcp.render.objects import facts_for
from tests.conftest import NOW, text_of

INVOICE = ObjectType(
    "invoice",
    "Invoice",
    "Records",
    (
        Action("created", "An invoice is created."),
        Action("updated", "An invoice's fields change (amount, due date, ...)."),
        Action("deleted", "An invoice is deleted."),
        Action("paid", "An invoice is paid in full."),
    ),
    note="A fictional type: it exists only in this test.",
    facts=(
        fact_of("number", "invoice_number", style="quoted", line=True, bare=True),
        fact_of("amount", "amount_display", line=True, bare=True),
        fact_of("due", "due_date", style="time", line=True),
        fact_of("customer", "customer_name", style="quoted"),
    ),
    field_pairs=(FieldPair("amount", machine="amount_cents", human="amount_display"),),
    deletable=True,
)
SYNC = ObjectType(
    "sync",
    "Calendar sync",
    "Jobs",
    (Action("created", "A sync starts."), Action("completed", "A sync is completed.")),
    facts=(NAME, fact_of("records", "n_docs", line=True)),
    digest="job",
)
USER = "user_N6KhMpzHRCYQHdn4gRNIFNN5JExnsrprKA6ekxM63XA"
LEAD = "lead_sHR5sxie4dKOBkODA2flGciHen2c91YEpvTPt8x1NU0"
INVOICE_ID = "invo_4LNDQk2uhg7t8fGUWPyHX7cpCVH9PJtCyCssXFcao3e"
SYNC_ID = "sync_9ZeJz3k1wS4Ahh8lIh1fTg6bdXq2mV0cPPa5uYnXbQe"


def register(monkeypatch: pytest.MonkeyPatch, types: tuple[ObjectType, ...]) -> None:
    """The catalog as if ``types`` were its ``OBJECT_TYPES`` when it was imported."""
    monkeypatch.setattr(catalog, "OBJECT_TYPES", types)
    monkeypatch.setattr(catalog, "BY_NAME", {t.name: t for t in types})
    monkeypatch.setattr(catalog, "ALL_ACTIONS", tuple(sorted({a.name for t in types for a in t.actions})))


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    register(monkeypatch, (*catalog.OBJECT_TYPES, INVOICE, SYNC))


def close_event(n: int, object_type: str, action: str, **fields: Any) -> Event:
    return Event.from_close(
        {
            "id": f"ev_{n:022d}",
            "date_created": (NOW - timedelta(hours=n)).isoformat(),
            "date_updated": (NOW - timedelta(hours=n)).isoformat(),
            "object_type": object_type,
            "object_id": INVOICE_ID if object_type == "invoice" else SYNC_ID,
            "lead_id": LEAD,
            "action": action,
            "user_id": USER,
            "changed_fields": [],
            "data": {},
            "previous_data": {},
            "meta": {},
            **fields,
        }
    )


INVOICE_DATA = {
    "invoice_number": "INV-0042",
    "amount_cents": 125_000,
    "amount_display": "$1,250.00",
    "due_date": "2026-12-01T00:00:00+00:00",
    "customer_name": "Bluth Company",
}


def test_describe_event_types_lists_it_and_describes_its_actions():
    index, _ = describe_catalog(None)
    assert "Records:\n" in index and "  invoice: created updated deleted paid\n" in index
    assert "  sync: created completed\n" in index
    detail, result = describe_catalog("invoice")
    assert detail.startswith("invoice — Invoice (Records)\n  created: An invoice is created.\n")
    assert "  paid: An invoice is paid in full.\n" in detail
    assert "Note: A fictional type: it exists only in this test.\n" in detail
    assert [a.name for a in result.object_types[0].actions] == ["created", "updated", "deleted", "paid"]


def amount_raised() -> Event:
    return close_event(
        1,
        "invoice",
        "updated",
        changed_fields=["amount_cents", "amount_display"],
        data={**INVOICE_DATA, "amount_cents": 150_000, "amount_display": "$1,500.00"},
        previous_data={"amount_cents": 125_000, "amount_display": "$1,250.00"},
    )


@pytest.mark.anyio
async def test_the_tool_describes_it(client: Client):
    result = await client.call_tool("describe_event_types", {"object_type": "invoice"})
    assert text_of(result).startswith("invoice — Invoice (Records)\n  created: An invoice is created.\n")


def test_its_name_and_its_actions_are_accepted_as_filters():
    filters = parse_filters(object_type="Invoice", action="paid", now=NOW)
    assert (filters.object_type, filters.action) == ("invoice", "paid")
    assert parse_filters(action="paid", now=NOW).action == "paid"
    with pytest.raises(ArgumentError, match="invoice events have: created, updated, deleted, paid"):
        parse_filters(object_type="invoice", action="completed", now=NOW)
    with pytest.raises(ArgumentError, match="Did you mean invoice"):
        parse_filters(object_type="invoices", now=NOW)


def test_its_line_shows_its_facts_and_its_field_pair_reads_as_one_change():
    created = close_event(2, "invoice", "created", data=INVOICE_DATA)
    updated = amount_raised()
    names = NameBook()
    names.learn(created)
    text, result = render_list([updated, created], names, EventFilters(), now=NOW, next_cursor=None)
    assert text == (
        "2 events · no filters · by day and lead, newest first, times UTC\n"
        "2026-11-23\n"
        f"  {LEAD} by {USER}\n"
        f'    invoice {INVOICE_ID} "INV-0042"\n'
        '      11:00 ev_0000000000000000000001 updated: amount "$1,250.00" → "$1,500.00"\n'
        '      10:00 ev_0000000000000000000002 created: "$1,250.00" due 2026-12-01T00:00Z\n'
        "End of results."
    )
    assert [(c.field, c.before, c.after) for c in result.events[0].changes] == [
        ("amount", "$1,250.00", "$1,500.00")
    ]
    detail_text, detail = render_detail(created, names, now=NOW)
    assert f'{USER} created invoice "INV-0042".\n' in detail_text
    assert detail.facts == {
        "number": "INV-0042",
        "amount": "$1,250.00",
        "due": "2026-12-01T00:00Z",
        "customer": "Bluth Company",
    }


def test_the_digest_counts_its_events_its_deletions_and_its_jobs():
    events = [
        close_event(1, "invoice", "deleted", previous_data=INVOICE_DATA),
        close_event(2, "invoice", "paid", data=INVOICE_DATA),
        close_event(3, "invoice", "created", data=INVOICE_DATA),
        close_event(4, "sync", "completed", data={"name": "Calendar", "n_docs": 40}),
        close_event(5, "sync", "created", data={"name": "Calendar", "n_docs": 40}),
    ]
    names = NameBook()
    tally = Tally(on_event=names.learn, now=NOW)
    for event in events:
        tally.add(event)
    scan = ScanResult(slices=[], complete=True, covered_from=0, covered_to=0, events=len(events), pages=1)
    digest = build_digest(tally, names, scan, since=NOW - timedelta(days=1), until=NOW, now=NOW)

    assert digest.by_type == {
        "invoice": {"deleted": 1, "paid": 1, "created": 1},
        "sync": {"completed": 1, "created": 1},
    }
    assert digest.deleted_other == {"invoice": 1}
    assert [(g.how, g.others, g.leads) for g in digest.deletions] == [("by hand", 1, 0)]
    assert [(j.object_type, j.state, j.summary) for j in digest.jobs] == [("sync", "completed", "records 40")]
    assert digest_text(digest).split("\n", 1)[1] == (
        "Highlights:\n"
        "  Deleted: 1 other record (invoice 1):\n"
        f"    by hand: {USER} 1 other record\n"
        "  Bulk actions and imports: 1 created, 1 completed; newest 1 job:\n"
        f"    sync {SYNC_ID} by {USER} completed: records 40\n"
        "What: invoice 3 (created 1, deleted 1, paid 1) · sync 2 (completed 1, created 1)\n"
        f"Who: {USER} 5\n"
        f"Busiest leads: {LEAD} 5"
    )


def test_without_the_entries_nothing_knows_them(monkeypatch: pytest.MonkeyPatch):
    """The control: the facts, the pair and what the digest counts above come from the two entries."""
    register(monkeypatch, tuple(t for t in catalog.OBJECT_TYPES if t not in (INVOICE, SYNC)))
    tally = Tally(now=NOW)
    tally.add(close_event(1, "invoice", "deleted", previous_data=INVOICE_DATA))
    tally.add(close_event(2, "sync", "created", data={"name": "Calendar", "n_docs": 40}))
    assert (tally.total, sum(tally.deletions.values()), tally.notable) == (2, 0, {})
    assert [change.field for change in field_changes(amount_raised())] == ["amount_cents", "amount_display"]
    assert facts_for("invoice") == (NAME,)
