"""Checkpoints cannot be turned into decompression bombs, and real ones still round-trip."""

from __future__ import annotations

import base64
import hashlib
import json
import tracemalloc
import zlib

import pytest

from close_events_mcp.engine.poll import Checkpoint
from close_events_mcp.errors import ArgumentError
from close_events_mcp.event import micros
from close_events_mcp.query.filters import parse_filters
from close_events_mcp.query.tokens import CHECKPOINT, MAX_TOKEN, seal
from tests.conftest import NOW


def bomb(inflated: int) -> str:
    """A well-formed checkpoint (right prefix, right checksum) whose body inflates to ``inflated`` bytes."""
    raw = json.dumps({"at": micros(NOW), "fl": micros(NOW), "h": "", "pad": " " * inflated}).encode()
    payload = base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")
    return f"{CHECKPOINT.prefix}{payload}.{hashlib.sha256(raw + b'|').hexdigest()[:8]}"


def test_a_checkpoint_that_inflates_to_50_mb_is_refused_without_inflating_it():
    token = bomb(50_000_000)
    assert len(token) <= MAX_TOKEN, "small enough to pass the length check: inflation is what must stop"
    tracemalloc.start()
    try:
        with pytest.raises(ArgumentError, match="not a checkpoint this server issued"):
            Checkpoint.decode(token, now=NOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, f"decoding allocated {peak:,} bytes"


def test_an_overlong_checkpoint_is_refused_before_decoding():
    with pytest.raises(ArgumentError):
        Checkpoint.decode(CHECKPOINT.prefix + "A" * MAX_TOKEN + ".00000000", now=NOW)


def test_a_checkpoint_with_thousands_of_recent_events_round_trips():
    filters = parse_filters(object_type="lead", now=NOW)
    seen = {hashlib.blake2b(str(n).encode(), digest_size=8).digest(): micros(NOW) - n for n in range(2_000)}
    state = Checkpoint(filters, micros(NOW) - 10_000, micros(NOW) - 10**9, seen, density=1e-5)
    token = state.encode()
    assert Checkpoint.decode(token, now=NOW) == state


def test_a_checkpoint_of_the_previous_format_continues_five_minutes_before_its_watermark():
    watermark = micros(NOW) - 3_600_000_000
    token = seal(CHECKPOINT, {"t": "lead", "w": watermark, "fl": watermark - 10**9, "h": ""})
    state = Checkpoint.decode(token, now=NOW)
    assert state.resume == watermark - 300_000_000 and state.filters.object_type == "lead"
