"""The store's tables, as numbered migrations that SQLite and PostgreSQL both run.

A migration is applied once, in order, inside one transaction with its row in ``schema_version``;
a store whose version is newer than this code knows is refused rather than guessed at.

Times are microseconds since the epoch (UTC) in BIGINT columns, so ranges compare as integers on
both backends. ``events.body`` is the event as Close sent it (JSON text); the columns beside it are
what Close filters on, copied out so that every filter shape Close supports has an index.
"""

from __future__ import annotations

from typing import Final

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: events, the ranges held completely, and the fields each event changed.
    (
        """CREATE TABLE store_owner (
            org_id TEXT PRIMARY KEY,
            created_at BIGINT NOT NULL
        )""",
        """CREATE TABLE events (
            org_id TEXT NOT NULL,
            id TEXT NOT NULL,
            date_updated BIGINT NOT NULL,
            date_created BIGINT NOT NULL,
            object_type TEXT NOT NULL,
            object_id TEXT,
            action TEXT NOT NULL,
            lead_id TEXT,
            user_id TEXT,
            request_id TEXT,
            has_values INTEGER NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (org_id, id)
        )""",
        "CREATE INDEX events_by_time ON events (org_id, date_updated)",
        "CREATE INDEX events_by_type ON events (org_id, object_type, action, date_updated)",
        "CREATE INDEX events_by_object ON events (org_id, object_id, date_updated)",
        "CREATE INDEX events_by_lead ON events (org_id, lead_id, user_id, date_updated)",
        "CREATE INDEX events_by_user ON events (org_id, user_id, object_type, date_updated)",
        "CREATE INDEX events_by_request ON events (org_id, request_id)",
        """CREATE TABLE changed_fields (
            org_id TEXT NOT NULL,
            event_id TEXT NOT NULL,
            field TEXT NOT NULL,
            date_updated BIGINT NOT NULL,
            PRIMARY KEY (org_id, event_id, field)
        )""",
        "CREATE INDEX changed_fields_by_field ON changed_fields (org_id, field, date_updated)",
        """CREATE TABLE held_ranges (
            org_id TEXT NOT NULL,
            query TEXT NOT NULL,
            start_us BIGINT NOT NULL,
            end_us BIGINT NOT NULL,
            PRIMARY KEY (org_id, query, start_us)
        )""",
    ),
)
"""Migration N is ``MIGRATIONS[N - 1]``; never edit one that has shipped, add the next."""

VERSION_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
)

LATEST: Final = len(MIGRATIONS)
