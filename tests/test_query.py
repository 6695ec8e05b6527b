"""Argument validation, time windows and the paging token."""

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from close_events_mcp import catalog
from close_events_mcp.errors import ArgumentError
from close_events_mcp.query.filters import (
    EventFilters,
    parse_action,
    parse_event_id,
    parse_filters,
    parse_limit,
    parse_object_type,
    parse_time,
)
from close_events_mcp.query.tokens import PageToken, conflicting_filters

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", NOW - timedelta(minutes=90)),
        ("24h", NOW - timedelta(hours=24)),
        ("7d", NOW - timedelta(days=7)),
        ("2 weeks", NOW - timedelta(weeks=2)),
        ("3 days ago", NOW - timedelta(days=3)),
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-20T14:00:00Z", datetime(2026, 11, 20, 14, tzinfo=UTC)),
        ("2026-11-20T14:00:00", datetime(2026, 11, 20, 14, tzinfo=UTC)),
        ("2026-11-20T15:00:00+01:00", datetime(2026, 11, 20, 14, tzinfo=UTC)),
        ("now", NOW),
    ],
)
def test_times(text, expected):
    assert parse_time("since", text, NOW) == expected


@pytest.mark.parametrize(
    "text", ["tomorrow", "next week", "7", "-1d", "2026-13-01", "1999-01-01", "d7", "7d; drop"]
)
def test_bad_times_say_which_formats_work(text):
    with pytest.raises(ArgumentError, match=r"since .* is not a time\. Use an ISO 8601 date"):
        parse_time("since", text, NOW)


WEDNESDAY = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
"""A Wednesday afternoon: its ISO week began on Monday 23 November."""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", datetime(2026, 11, 25, tzinfo=UTC)),
        ("yesterday", datetime(2026, 11, 24, tzinfo=UTC)),
        ("this week", datetime(2026, 11, 23, tzinfo=UTC)),
        ("last week", datetime(2026, 11, 16, tzinfo=UTC)),
        (" Today ", datetime(2026, 11, 25, tzinfo=UTC)),
        ("Last_Week", datetime(2026, 11, 16, tzinfo=UTC)),
        ("this-week", datetime(2026, 11, 23, tzinfo=UTC)),
        ("LAST  WEEK", datetime(2026, 11, 16, tzinfo=UTC)),
    ],
)
def test_calendar_words_name_the_start_of_their_day_or_week_in_utc(text, expected):
    """Agents are asked "what happened today / yesterday / this week / last week"."""
    assert parse_time("since", text, WEDNESDAY) == expected
    assert parse_time("until", text, WEDNESDAY) == expected
    # The same words, asked from another zone's clock, still mean UTC days and weeks.
    elsewhere = WEDNESDAY.astimezone(timezone(timedelta(hours=-10)))
    assert parse_time("since", text, elsewhere) == expected


def test_calendar_words_at_the_edges_of_a_day_and_a_week():
    monday_midnight = datetime(2026, 11, 23, tzinfo=UTC)
    assert parse_time("since", "this week", monday_midnight) == monday_midnight
    assert parse_time("since", "today", monday_midnight) == monday_midnight
    assert parse_time("since", "last week", monday_midnight) == datetime(2026, 11, 16, tzinfo=UTC)
    sunday_night = datetime(2026, 11, 29, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_time("since", "this week", sunday_night) == monday_midnight
    assert parse_time("since", "yesterday", monday_midnight) == datetime(2026, 11, 22, tzinfo=UTC)


def test_a_calendar_word_as_until_ends_the_window_where_that_day_or_week_starts():
    """since=yesterday until=today is exactly yesterday; since=last week until=this week is last week."""
    yesterday = parse_filters(since="yesterday", until="today", now=WEDNESDAY)
    assert (yesterday.since, yesterday.until) == (
        datetime(2026, 11, 24, tzinfo=UTC),
        datetime(2026, 11, 25, tzinfo=UTC),
    )
    last_week = parse_filters(since="last week", until="this week", now=WEDNESDAY)
    assert last_week.until - last_week.since == timedelta(days=7)
    assert last_week.to_params() == {
        "date_updated__gte": "2026-11-16T00:00:00Z",
        "date_updated__lt": "2026-11-23T00:00:00Z",
    }
    with pytest.raises(ArgumentError, match="must be later than since"):
        parse_filters(since="today", until="yesterday", now=WEDNESDAY)


def test_the_header_says_what_a_calendar_word_meant_in_utc():
    described = parse_filters(since="yesterday", until="today", now=WEDNESDAY).describe()
    assert described == (
        "since 2026-11-24T00:00:00Z (yesterday 00:00 UTC), until 2026-11-25T00:00:00Z (today 00:00 UTC)"
    )
    assert parse_filters(since="this week", now=WEDNESDAY).describe() == (
        "since 2026-11-23T00:00:00Z (this week: Monday 00:00 UTC)"
    )
    # Given as a datetime, the window reads as before; the words never reach the structured query.
    assert parse_filters(since="2026-11-24", now=WEDNESDAY).describe() == "since 2026-11-24T00:00:00Z"
    assert parse_filters(since="last week", now=WEDNESDAY).to_json() == {"since": "2026-11-16T00:00:00Z"}
    assert parse_filters(since="today", now=WEDNESDAY) == parse_filters(since="2026-11-25", now=WEDNESDAY)


def test_window_checks():
    with pytest.raises(ArgumentError, match="must be later than since"):
        parse_filters(since="1d", until="2d", now=NOW)
    with pytest.raises(ArgumentError, match="in the future"):
        parse_filters(since="2026-12-01", now=NOW)
    with pytest.raises(ArgumentError, match="more than a year"):
        parse_filters(since="400d", now=NOW)


def test_ids_are_checked_by_kind():
    assert parse_event_id(" ev_17VaZdcdnsMNyWY9ZJnjph ") == "ev_17VaZdcdnsMNyWY9ZJnjph"
    for bad in ["", "ev_", "17VaZ", "ev_../me", "ev_abc/", "ev_a b", "ev_a%2F"]:
        with pytest.raises(ArgumentError, match="event_id must be a Close event ID"):
            parse_event_id(bad)
    with pytest.raises(ArgumentError, match="lead_id must be a lead ID"):
        parse_filters(lead_id="acti_123", now=NOW)
    with pytest.raises(ArgumentError, match="user_id must be a user ID"):
        parse_filters(user_id="lead_abc", now=NOW)
    with pytest.raises(ArgumentError, match="object_id must be"):
        parse_filters(object_id="../event", now=NOW)


def test_object_types_and_actions_suggest_corrections():
    assert parse_object_type("Lead") == "lead"
    assert parse_object_type("note") == "activity.note"
    assert parse_object_type("task.missed_call") == "task.missed_call"
    with pytest.raises(ArgumentError, match="Did you mean lead"):
        parse_object_type("leads")
    with pytest.raises(ArgumentError, match="Did you mean deleted"):
        parse_action("delete", None)
    with pytest.raises(ArgumentError, match="lead events have: created, updated, deleted, merged"):
        parse_action("sent", "lead")


def test_limit():
    assert parse_limit(None) == 50
    assert parse_limit(7) == 7
    with pytest.raises(ArgumentError, match=r"between 1 and 50 \(got 0\)"):
        parse_limit(0)
    with pytest.raises(ArgumentError, match=r"limit must be between 1 and 50 \(got 80\)"):
        parse_limit(80)


def test_filters_become_close_params():
    filters = parse_filters(object_type="lead", action="deleted", since="2026-11-20", until="12h", now=NOW)
    assert filters.to_params() == {
        "object_type": "lead",
        "action": "deleted",
        "date_updated__gte": "2026-11-20T00:00:00Z",
        "date_updated__lt": "2026-11-23T00:00:00Z",
    }


def test_page_token_round_trip_freezes_the_window():
    filters = parse_filters(lead_id="lead_abc", since="24h", now=NOW)
    token = PageToken(filters, "c2Vjb25kLXBhZ2U=", 20).encode()
    later = NOW + timedelta(hours=3)
    decoded = PageToken.decode(token, now=later)
    assert decoded.filters == filters
    assert decoded.close_cursor == "c2Vjb25kLXBhZ2U="
    assert decoded.limit == 20
    assert decoded.with_limit(5).limit == 5


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-3],
        lambda t: t.replace("ce1.", "ce2."),
        lambda t: t[:10] + "A" + t[11:],
        lambda t: "",
        lambda t: "ce1." + "A" * 9000,
        lambda t: t + "\n?x=1",
        lambda t: t.rsplit(".", 1)[0] + ".bad cursor with spaces",
    ],
)
def test_altered_tokens_are_refused(mangle):
    token = PageToken(parse_filters(object_type="lead", now=NOW), "abcDEF123", 50).encode()
    with pytest.raises(ArgumentError, match="cursor is not a cursor this server issued"):
        PageToken.decode(mangle(token), now=NOW)


def test_a_token_with_an_invalid_query_is_refused_even_if_well_formed():
    forged = PageToken(EventFilters(object_type="not a type"), "abc", 50).encode()
    with pytest.raises(ArgumentError, match="This cursor carries an invalid query"):
        PageToken.decode(forged, now=NOW)


def test_filters_passed_with_a_cursor_must_agree():
    token = PageToken(parse_filters(object_type="lead", action="deleted", now=NOW), "abc", 50)
    assert conflicting_filters(token.filters, parse_filters(object_type="lead", now=NOW)) == []
    assert conflicting_filters(token.filters, parse_filters(object_type="contact", now=NOW)) == [
        "object_type"
    ]
    assert conflicting_filters(token.filters, parse_filters(since="1h", now=NOW)) == []
    assert conflicting_filters(token.filters, parse_filters(exclude_noisy=True, now=NOW)) == ["exclude_noisy"]


TEXT_ARGUMENTS = (*catalog.FILTER_NAMES, "since", "until", "changed_field")
HOSTILE_96K = "<!--" * 24_576
"""96 KB that the old sanitiser took 7 s to echo back in an error (an unclosed comment at every 4th
character)."""


def _refusal(name: str, value: str) -> str:
    with pytest.raises(ArgumentError) as refused:
        if name == "event_id":
            parse_event_id(value)
        else:
            parse_filters(now=NOW, **{name: value})
    return str(refused.value)


@pytest.mark.parametrize("name", [*TEXT_ARGUMENTS, "event_id"])
def test_a_huge_argument_is_refused_by_its_length_before_anything_reads_it(name):
    started = time.process_time()
    message = _refusal(name, HOSTILE_96K)
    assert time.process_time() - started < 1.0  # ~0.1 ms; the old check took 7 s
    assert message.startswith(f"{name} is 98,304 characters long (it starts '<!--<!--")
    assert message.endswith(")."), message
    assert len(message) < 250, message


@pytest.mark.parametrize(
    ("name", "longest", "good"),
    [
        ("object_type", 200, "activity.email"),
        ("action", 200, "deleted"),
        ("lead_id", 200, "lead_" + "a" * 100),
        ("since", 64, "2026-11-20T14:00:00.000000+00:00"),
        ("changed_field", 200, "custom." + "x" * 100),
    ],
)
def test_lengths_are_checked_after_stripping_and_leave_good_values_alone(name, longest, good):
    parse_filters(now=NOW, **{name: f"  {good}  "})
    assert f"(at most {longest})" in _refusal(name, "x" * (longest + 1))


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("ev_abc\u0000def", r"'ev_abc\u0000def'"),
        ("ev_abc\u202edef", r"'ev_abc\u202edef'"),
        ("ev_abc\u200bdef", r"'ev_abc\u200bdef'"),
        ("ev_abc\U000e0041", r"'ev_abc\U000e0041'"),
        ("ev_abc\x1b[31mdef", r"'ev_abc\u001b[31mdef'"),
        ("ev_abc<b>def</b>", "'ev_abc<b>def</b>'"),
        ("ev_abc\\u0000def", r"'ev_abc\\u0000def'"),
        ("ev_a'b", r"'ev_a\'b'"),
    ],
)
def test_a_refused_value_is_echoed_with_nothing_hidden(value, shown):
    """``ev_abc\\u0000def`` was echoed as ``ev_abcdef``, which reads as a valid ID."""
    assert f"(got {shown})" in _refusal("event_id", value)


def test_the_echo_of_a_refused_value_stays_short():
    message = _refusal("lead_id", "\U000e0041" * 150)
    assert r"(got '\U000e0041\U000e0041\U000e0041\U000e0041…')" in message


def test_a_field_named_in_words_is_quoted_where_the_filters_are_described():
    """A custom field's name the server could not resolve stays as given: in the answer's header it is
    quoted like the names it stands for."""
    assert parse_filters(changed_field="status_label", now=NOW).describe() == "changed_field=status_label"
    described = parse_filters(changed_field="Ignore previous (x)", now=NOW).describe()
    assert described == 'changed_field="Ignore previous (x)"'
