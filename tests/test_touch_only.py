"""An update that changed nothing but ``date_updated`` says so, and which request touched the object.

Close records a lead ``updated`` with ``changed_fields: ["date_updated"]`` when a request on another
object (here ``PUT /api/v1/task/…``) touches it. Its ``data`` is the whole lead, status and all: shown
as the gist of an update, that status read as if it had just changed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from close_events_mcp.close.names import NameBook
from close_events_mcp.event import Event
from close_events_mcp.query.filters import EventFilters
from close_events_mcp.render.events import render_detail, render_list

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MICHAEL = "user_05fDfoskmUSi9dHGDT9FVYa8WONwNEl7W4NEzXkpVCG"
LEAD = "lead_sHR5sxie4dKOBkODA2flGciHen2c91YEpvTPt8x1NU0"
TASK = "task_QDOa8h4Q7b4u1JwSRqLBwJvYTxMXh7Bd3yUEAHGan59"
REQUEST = "req_2skaL7v81TflDfovw8A1CC"

TOUCHED_LEAD: dict[str, Any] = {
    "id": "ev_3O1oJvaIpZWzoWkP5R20ot",
    "date_created": "2026-11-23T11:50:30.120000",
    "date_updated": "2026-11-23T11:50:30.120000",
    "organization_id": "orga_RbREgmiiwcr1w2b4cOnCMQaQPSIFxMqAD2Dh243uxcH",
    "user_id": MICHAEL,
    "request_id": REQUEST,
    "api_key_id": None,
    "oauth_client_id": None,
    "object_type": "lead",
    "object_id": LEAD,
    "lead_id": LEAD,
    "action": "updated",
    "changed_fields": ["date_updated"],
    "data": {
        "id": LEAD,
        "display_name": "Sitwell Enterprises",
        "status_label": "Qualified",
        "date_updated": "2026-11-23T11:50:30.120000+00:00",
        "updated_by": MICHAEL,
        "updated_by_name": "Michael Bluth",
    },
    "previous_data": {"date_updated": "2026-11-20T09:12:00.000000+00:00"},
    "meta": {"request_method": "PUT", "request_path": f"/api/v1/task/{TASK}/"},
}


def names() -> NameBook:
    book = NameBook()
    book.learn(Event.from_close(TOUCHED_LEAD))
    return book


def test_a_touch_only_update_says_nothing_changed_and_which_request_touched_it():
    text, result = render_list(
        [Event.from_close(TOUCHED_LEAD)], names(), EventFilters(), now=NOW, next_cursor=None
    )
    line = next(line for line in text.split("\n") if "ev_3O1oJvaIpZWzoWkP5R20ot" in line)
    assert "Qualified" not in line, "the lead's current status did not change: not shown as if it had"
    assert "touched, no field changed" in line
    assert f"by PUT /api/v1/task/{TASK}/" in line
    item = result.events[0]
    assert item.touch_only is True and item.summary is None and item.changes == []
    assert item.request_id == REQUEST and item.request == f"PUT /api/v1/task/{TASK}/"


def test_a_touch_only_update_in_detail():
    text, detail = render_detail(Event.from_close(TOUCHED_LEAD), names(), now=NOW)
    sentence = text.split("\n")[1]
    assert "touched, no field changed" in sentence and f"PUT /api/v1/task/{TASK}/" in sentence
    assert "Changed: nothing but date_updated" in text
    assert "As of this event (unchanged by it):" in text
    assert detail.touch_only is True and detail.request_id == REQUEST


def test_an_update_that_changed_a_field_is_no_touch():
    changed = {
        **TOUCHED_LEAD,
        "changed_fields": ["date_updated", "status_label"],
        "previous_data": {"status_label": "Potential"},
    }
    text, result = render_list(
        [Event.from_close(changed)], names(), EventFilters(), now=NOW, next_cursor=None
    )
    assert "touched" not in text and "Potential → Qualified" in text
    assert result.events[0].touch_only is None and result.events[0].request is None


def touched(**changes: Any) -> Event:
    return Event.from_close({**TOUCHED_LEAD, **changes})


def test_without_its_method_and_path_a_touch_names_its_request_id():
    text, _ = render_list([touched(meta={})], names(), EventFilters(), now=NOW, next_cursor=None)
    line = next(line for line in text.split("\n") if "ev_3O1oJvaIpZWzoWkP5R20ot" in line)
    assert line.endswith(f"touched, no field changed (by request {REQUEST})")
    detail, _ = render_detail(touched(meta={}), names(), now=NOW)
    assert f"Request: {REQUEST}" in detail
    assert "Changed: nothing but date_updated (a touch, by the request above)" in detail


def test_a_touch_without_any_request_refers_to_none():
    event = touched(meta={}, request_id=None)
    text, _ = render_list([event], names(), EventFilters(), now=NOW, next_cursor=None)
    line = next(line for line in text.split("\n") if "ev_3O1oJvaIpZWzoWkP5R20ot" in line)
    assert line.endswith(": touched, no field changed")
    detail, _ = render_detail(event, names(), now=NOW)
    assert "Request:" not in detail and "request" not in detail
    assert "Changed: nothing but date_updated (a touch)" in detail


def test_every_bookkeeping_field_a_touch_changed_is_named():
    event = touched(
        changed_fields=["date_updated", "updated_by", "updated_by_name"],
        previous_data={"date_updated": "2026-11-20T09:12:00+00:00", "updated_by": "user_x"},
    )
    text, result = render_list([event], names(), EventFilters(), now=NOW, next_cursor=None)
    assert "touched, no field changed" in text and result.events[0].touch_only is True
    detail, item = render_detail(event, names(), now=NOW)
    assert "nothing but date_updated (" not in detail and "(only date_updated)" not in detail
    assert "(only date_updated, updated_by and updated_by_name)" in item.description
    assert (
        "Changed: nothing but date_updated, updated_by and updated_by_name (a touch, by the request" in detail
    )
