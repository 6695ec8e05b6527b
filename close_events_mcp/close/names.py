"""Who and what the IDs are: user and lead names learned from event payloads.

Close's events carry IDs; the payloads often carry the matching names (``created_by_name``,
``lead_name``, a lead's ``display_name``). Every event the server reads teaches the book, so
later answers can say "Gob Bluth" and "Bluth Company" instead of bare IDs; a lead an answer shows
that no event named is looked up in Close (``directory``) and kept here too. The book gives names
cleaned but plain, as structured content carries them; the text shows them in double quotes,
whatever they say (``text.name_text``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from close_events_mcp.close.directory import Directory
from close_events_mcp.event import Event
from close_events_mcp.text import clean

_USER_NAME_KEYS = (
    ("user_id", "user_name"),
    ("user_id", "user_full_name"),
    ("created_by", "created_by_name"),
    ("updated_by", "updated_by_name"),
    ("assigned_to", "assigned_to_name"),
    ("task_assigned_to", "task_assigned_to_name"),
)


class _Names:
    """A bounded ID → name map where a name learned from an older event never replaces a newer one."""

    def __init__(self, max_entries: int) -> None:
        # ID → (name as shown, name as Close sent it, when it was seen)
        self._entries: OrderedDict[str, tuple[str, str, datetime]] = OrderedDict()
        self._max = max_entries

    def learn(self, key: object, name: object, seen_at: datetime) -> None:
        if not isinstance(key, str) or not key or not isinstance(name, str) or not name.strip():
            return
        known = self._entries.get(key)
        if known is not None and known[2] > seen_at:
            return
        shown = known[0] if known is not None and known[1] == name else clean(name, 80)
        if not shown:  # nothing but markup or invisible characters: no name
            return
        self._entries[key] = (shown, name, seen_at)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def get(self, key: str | None) -> str | None:
        found = self._entries.get(key) if key else None
        return found[0] if found else None


class NameBook:
    """Names for IDs: Close's own directory first (users, custom fields), then what payloads said."""

    def __init__(self, max_entries: int = 20_000, directory: Directory | None = None) -> None:
        self.users = _Names(max_entries)
        self.leads = _Names(max_entries)
        self.directory = directory or Directory()

    def learn(self, event: Event) -> None:
        seen = event.date_updated
        for payload in (event.previous_data, event.data):
            if payload:
                self._learn_payload(event, payload, seen)

    def _learn_payload(self, event: Event, payload: Mapping[str, Any], seen: datetime) -> None:
        for id_key, name_key in _USER_NAME_KEYS:
            self.users.learn(payload.get(id_key), payload.get(name_key), seen)
        self.leads.learn(payload.get("lead_id"), payload.get("lead_name"), seen)
        if event.object_type == "lead":
            self.leads.learn(event.object_id, payload.get("display_name") or payload.get("name"), seen)

    def user(self, user_id: str | None) -> str | None:
        """The user's name, cleaned (``Gob Bluth``)."""
        return self.directory.user(user_id) or self.users.get(user_id) or None

    def field(self, key: str) -> str:
        """``custom.cf_…`` as the custom field's name, cleaned, when known; other fields by their key."""
        if key.startswith("custom."):
            found = self.directory.field(key.removeprefix("custom."))
            if found:
                return found
        return key

    def lead(self, lead_id: str | None) -> str | None:
        return self.leads.get(lead_id)

    def learn_lead(self, lead_id: str, name: str, seen_at: datetime) -> None:
        """A lead's name as Close gave it at ``seen_at`` (``GET /lead/{id}/``), for later answers too."""
        self.leads.learn(lead_id, name, seen_at)
