"""An emulator of Close's Event Log API over a seeded demo organization.

Used by ``--demo``, by the tests and by the benchmarks: real HTTP semantics (filters,
paging, auth, rate limits, faults) with no network and no credentials. It is the tests' oracle, so
it imports nothing from ``close_events_mcp``: what Close accepts is in ``close_rules``, written
from Close's docs.
"""
