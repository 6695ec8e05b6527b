"""Typed, trimmed results: the ``structured_content`` of every tool and its output schema.

These carry the same facts as the text an agent reads, for programs. Never raw payloads;
empty fields are left out when serialised. What Close sends (names, IDs, types, values) is here
cleaned but plain: JSON delimits it. The text quotes it where it shows it (``render``), and marks an
ID that is not shaped like a Close ID; the few hints the text needs for that and that the plain value
cannot tell (which values it quotes whole) are private attributes, never serialised.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr


class Answer(BaseModel):
    """What every tool answer carries besides its own fields."""

    cut: str | None = Field(
        default=None, description="Present when the answer was over the size cap: what was left out."
    )


class FieldChange(BaseModel):
    field: str = Field(description="The field; a custom field's name when known.")
    key: str | None = Field(
        default=None, description="Close's field key (custom.cf_…) when `field` is a name."
    )
    before: str | None = Field(
        default=None, description="Old value as text; absent when Close withheld it or for a list's changes."
    )
    after: str | None = Field(
        default=None, description="New value as text; absent when Close withheld it or for a list's changes."
    )
    added: list[str] = Field(default_factory=list, description="A list field: the items it gained.")
    removed: list[str] = Field(default_factory=list, description="A list field: the items it lost.")
    _bare: frozenset[str] = PrivateAttr(default=frozenset())
    """The values above that the text shows as they are (single tokens, summaries, our own words); it
    quotes every other one, as user text."""

    def with_bare(self, values: Iterable[str]) -> FieldChange:
        self._bare = frozenset(values)
        return self

    def is_bare(self, value: str) -> bool:
        return value in self._bare


class EventItem(BaseModel):
    id: str = Field(description="Event ID (ev_…), for get_event.")
    at: str = Field(description="When it happened (date_updated), UTC ISO 8601.")
    object_type: str
    action: str
    object_id: str | None = None
    lead_id: str | None = None
    lead_name: str | None = None
    user_id: str | None = Field(default=None, description="Who did it; absent for automatic changes.")
    user_name: str | None = None
    object_name: str | None = Field(
        default=None, description="The object's name, subject or title (a lead's is lead_name)."
    )
    summary: str | None = Field(
        default=None, description="The object in a few more words: status, value, direction, recipients."
    )
    changes: list[FieldChange] = Field(default_factory=list)
    how: str | None = Field(
        default=None,
        description="Part of a lead merge ('this lead' is lead_id), a bulk action or an import revert.",
    )
    via: str | None = Field(default=None, description="The API key or OAuth app that made the change.")
    data_withheld: bool | None = Field(
        default=None, description="True when Close withheld the values (see notes)."
    )
    consolidated: bool | None = Field(
        default=None,
        description="poll_events: delivered before with an earlier date; Close merged later changes into it.",
    )
    touch_only: bool | None = Field(
        default=None,
        description="True when the update changed no field, only timestamps (date_updated): a touch, "
        "often by a request on another object (see request).",
    )
    request_id: str | None = Field(
        default=None, description="The request that caused it (in lists, given for touch-only updates)."
    )
    request: str | None = Field(
        default=None, description="HTTP method and path of the request that caused it (as request_id)."
    )


class EventList(Answer):
    events: list[EventItem]
    count: int
    query: dict[str, str] = Field(description="The filters as applied, times in UTC.")
    next_cursor: str | None = Field(default=None, description="Pass as cursor to get the next (older) page.")
    notes: list[str] = Field(default_factory=list)
    users: dict[str, str] = Field(default_factory=dict, description="user_id → name for the actors listed.")


class EventDetail(EventItem, Answer):
    description: str = Field(description="What happened, in one sentence.")
    facts: dict[str, str] = Field(default_factory=dict, description="Key fields of the object for its type.")
    notes: list[str] = Field(default_factory=list)
    _bare_facts: frozenset[str] = PrivateAttr(default=frozenset())
    """The facts (by label) whose values the text shows as they are; it quotes every other one."""

    def with_bare_facts(self, labels: Iterable[str]) -> EventDetail:
        self._bare_facts = frozenset(labels)
        return self

    def is_bare_fact(self, label: str) -> bool:
        return label in self._bare_facts


class PollEvents(Answer):
    events: list[EventItem] = Field(description="New events, oldest first.")
    count: int
    checkpoint: str = Field(description="Pass to the next poll_events call.")
    more: bool = Field(description="More new events are waiting: poll again now.")
    since: str = Field(description="Start of the window read (the last five minutes are always re-read).")
    until: str


class ActorCount(BaseModel):
    actor: str = Field(description="user_… ID, 'API key api_…', or 'no user (automatic)'.")
    name: str | None = None
    count: int


class LeadCount(BaseModel):
    lead_id: str
    name: str | None = None
    count: int


class LeftOut(BaseModel):
    """What a bounded list left out."""

    items: int = Field(description="Entries not listed.")
    events: int = Field(description="The events they account for.")


class NotableGroup(BaseModel):
    kind: str = Field(description="Leads deleted, Merges, Opportunities won or lost, ...")
    count: int = Field(description="How many events of this kind in the window.")
    follow_up: str | None = Field(
        default=None, description="The call that lists every one of them (this digest's window and filters)."
    )
    listed: int | None = Field(
        default=None,
        description="How many events follow_up lists, when more than count: Close cannot filter on won or "
        "lost, so that call lists every status-type (or status) change of an opportunity.",
    )


class StatusTransition(BaseModel):
    object_type: str = Field(description="lead or opportunity.")
    before: str
    after: str
    count: int


class OpportunityOutcome(BaseModel):
    outcome: str = Field(description="won or lost.")
    opportunity_id: str | None = None
    lead_id: str | None = None
    lead_name: str | None = None
    value: str | None = Field(default=None, description="The opportunity's value as Close formats it.")
    user_id: str | None = None
    user_name: str | None = None
    at: str
    event_id: str


class DeletionGroup(BaseModel):
    how: str = Field(description="by hand, via API, by bulk action, by merge or by import revert.")
    actor: str = Field(description="user_… ID, 'API key api_…', or 'no user (automatic)'.")
    name: str | None = None
    leads: int = Field(default=0, description="Leads deleted.")
    others: int = Field(
        default=0, description="Other records deleted (contacts, opportunities, activities…)."
    )
    via: list[str] = Field(
        default_factory=list, description="The bulk actions, imports or merge destinations (the first few)."
    )


class DeletedLead(BaseModel):
    lead_id: str
    name: str | None = None
    how: str
    at: str
    event_id: str


class MergeItem(BaseModel):
    source: str | None = Field(default=None, description="The lead merged away (deleted).")
    source_name: str | None = None
    destination: str | None = Field(default=None, description="The lead it was merged into.")
    destination_name: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    at: str
    event_id: str


class JobItem(BaseModel):
    object_type: str = Field(description="bulk_action.… or import.")
    job_id: str
    state: str = Field(description="The latest action seen: created, paused, completed, reverted…")
    summary: str | None = Field(default=None, description="Records and progress, as the text shows them.")
    filtered: bool | None = Field(
        default=None,
        description="True when the digest's filters may hide the job's later events: state is the latest "
        "seen with them, and no progress is given.",
    )
    user_id: str | None = None
    user_name: str | None = None
    at: str
    event_id: str


class FieldCount(BaseModel):
    field: str = Field(description="The custom field's name when known, else its key.")
    key: str
    count: int


class EventPointer(BaseModel):
    event_id: str
    at: str
    why: str = Field(description="What it is: lead deleted by hand, lead merged, bulk delete, import revert…")
    object_id: str | None = None
    lead_id: str | None = None
    lead_name: str | None = None
    user_id: str | None = None
    user_name: str | None = None


class EventDigest(Answer):
    since: str
    until: str
    total: int = Field(description="Events counted (matching the filters) in the window read.")
    user_count: int = 0
    lead_count: int = 0
    by_type: dict[str, dict[str, int]] = Field(description="object_type → action → count.")
    by_actor: list[ActorCount] = Field(description="The most active actors, busiest first.")
    actors_left_out: LeftOut | None = None
    top_leads: list[LeadCount]
    notable: list[NotableGroup] = Field(description="How many events of each notable kind.")
    opportunities_won: int = 0
    opportunities_lost: int = 0
    outcomes: list[OpportunityOutcome] = Field(
        default_factory=list, description="Opportunities won or lost, newest first (the newest few)."
    )
    transitions: list[StatusTransition] = Field(
        default_factory=list, description="Status changes of leads and opportunities, most frequent first."
    )
    transitions_left_out: dict[str, LeftOut] = Field(
        default_factory=dict, description="object_type → the transitions not listed."
    )
    deletions: list[DeletionGroup] = Field(default_factory=list, description="Deletions by how and by whom.")
    deletions_left_out: LeftOut | None = None
    deleted_other: dict[str, int] = Field(
        default_factory=dict, description="Records other than leads deleted, by object type."
    )
    deleted_leads: list[DeletedLead] = Field(default_factory=list, description="The newest leads deleted.")
    merges: list[MergeItem] = Field(default_factory=list, description="The newest lead merges.")
    jobs: list[JobItem] = Field(default_factory=list, description="The newest bulk actions and imports.")
    custom_fields: list[FieldCount] = Field(
        default_factory=list, description="Custom fields changed, by name, most changed first."
    )
    custom_fields_left_out: LeftOut | None = None
    withheld: int = Field(
        default=0,
        description="Events whose values Close withheld (a non-admin key sees values only for an hour): "
        "won/lost, status transitions and custom-field values are not counted for them.",
    )
    withheld_status: dict[str, int] = Field(
        default_factory=dict,
        description="lead or opportunity → status changes whose values were withheld (not in transitions).",
    )
    withheld_outcomes: int = Field(
        default=0,
        description="Opportunity status-type changes whose values were withheld: won, lost or reopened, "
        "not counted in opportunities_won or opportunities_lost.",
    )
    worth_opening: list[EventPointer] = Field(
        default_factory=list, description="A few events worth reading in full (get_event)."
    )
    complete: bool = Field(description="False when the scan budget cut the window short (see notes).")
    scanned: int = Field(description="Events read from Close.")
    pages: int
    notes: list[str] = Field(default_factory=list)


class ActionInfo(BaseModel):
    name: str
    trigger: str | None = None
    noise: str | None = Field(
        default=None, description="autosave or progress: fires often; prefer `quieter`."
    )
    quieter: list[str] = Field(default_factory=list)


class ObjectTypeInfo(BaseModel):
    name: str
    label: str
    group: str
    actions: list[ActionInfo]
    note: str | None = None


class EventTypeCatalog(Answer):
    object_types: list[ObjectTypeInfo]
    supported_filter_combinations: list[str]
    rules: list[str]


def dump(model: BaseModel) -> dict[str, Any]:
    """JSON-ready data without the fields left at their empty defaults (nulls, [], {})."""
    return model.model_dump(mode="json", exclude_defaults=True)
