"""Reading how long Close asks us to wait, and the shared gate."""

import email.utils

import pytest

from close_events_mcp.ratelimit import RateGate, parse_ratelimit_header, wait_after_429


def test_ratelimit_header_forms():
    state = parse_ratelimit_header("limit=100, remaining=0, reset=1")
    assert (state.limit, state.remaining, state.reset) == (100, 0, 1)
    assert parse_ratelimit_header("limit=10;remaining=3;reset=0.25").reset == 0.25
    assert parse_ratelimit_header("garbage") is None
    assert parse_ratelimit_header("reset=nan, limit=-4") is None


def test_wait_order_is_ratelimit_then_retry_after_then_body():
    body = {"error": {"rate_reset": 7.5}}
    assert wait_after_429({"ratelimit": "limit=1, remaining=0, reset=2", "retry-after": "5"}, body) == 2
    assert wait_after_429({"retry-after": "5"}, body) == 5
    assert wait_after_429({}, body) == 7.5
    assert wait_after_429({}, {"error": "slow down"}) is None
    assert wait_after_429({"ratelimit-reset": "3", "ratelimit-remaining": "0"}, None) == 3


def test_retry_after_as_http_date():
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert wait_after_429({"retry-after": date}, None, wall_clock=lambda: 1_000_000) == pytest.approx(30)


def test_absurd_waits_are_capped():
    assert wait_after_429({"retry-after": "99999"}, None) == 120


def test_gate_holds_everyone_and_paces_from_headers():
    now = [100.0]
    gate = RateGate(clock=lambda: now[0])
    assert gate.delay() == 0
    gate.hold(2)
    gate.hold(1)  # a shorter hold never shortens the current one
    assert gate.delay() == 2
    now[0] += 2
    assert gate.delay() == 0
    gate.observe({"ratelimit": "limit=10, remaining=4, reset=1"})
    assert gate.delay() == 0
    gate.observe({"ratelimit": "limit=10, remaining=0, reset=0.5"})
    assert gate.delay() == 0.5
