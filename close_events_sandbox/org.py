"""The shape of a demo organization: what the seed produces and the emulator serves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSONDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who an API key or OAuth token authenticates as."""

    user_id: str
    is_admin: bool


@dataclass(slots=True)
class DemoOrg:
    organization: JSONDict
    """``{"id": "orga_…", "name": …}``."""
    users: list[JSONDict]
    """Close user objects: id, first_name, last_name, email, image, date_created, date_updated."""
    memberships: list[JSONDict]
    """``{"id", "user_id", "organization_id", "role_id": "admin" | "member"}``, one per user."""
    credentials: dict[str, Principal]
    """API keys and OAuth access tokens the emulator accepts, and whom they authenticate."""
    events: list[JSONDict]
    """Close events exactly as ``GET /event/`` returns them, in no particular order."""
    landmarks: dict[str, str] = field(default_factory=dict)
    """Well-known IDs of the story (e.g. ``"lead:Sitwell Enterprises"``, ``"bulk_delete"``),
    for tests and docs that need to point at something specific."""
    custom_fields: dict[str, list[JSONDict]] = field(default_factory=dict)
    """Current custom field definitions by event object type (``custom_fields.lead``, …), as
    ``GET /custom_field/<kind>/`` returns them."""
