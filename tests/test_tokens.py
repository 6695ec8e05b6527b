"""Checkpoints cannot be turned into decompression bombs, and real ones still round-trip."""

from __future__ import annotations

import base64
import hashlib
import json
import tracemalloc
import zlib

import pytest

from close_events_mcp.errors import ArgumentError
from close_events_mcp.poll import Checkpoint
from close_events_mcp.scan import micros
from close_events_mcp.tokens import CHECKPOINT, MAX_TOKEN
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
