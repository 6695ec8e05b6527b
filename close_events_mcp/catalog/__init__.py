"""Close's event catalog as data: object types, their actions, what triggers each.

Each object type is one entry: besides its actions and their noise, what is worth showing of its
objects, the fields an update changes together, and what the digest tells of it. ``render/`` and
``engine/`` read them from here, and keep no table of types of their own.

Source: Close's "List of Events" docs page (its text: ``tests/data/close_docs/list-of-events.md``).
This module is the one source of truth for ``describe_event_types`` and for argument validation;
the emulator (``close_events_sandbox``) keeps its own table of what Close accepts, written from the same docs.
Trigger texts are condensed from the docs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

from close_events_mcp.catalog.facts import NAME, Fact, FieldPair, fact_of

Noise = Literal["autosave", "progress"]
DigestRule = Literal["lead", "outcome", "job"]


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    trigger: str
    noise: Noise | None = None
    """``autosave``: fired repeatedly while a user types; ``progress``: fired while a job runs."""
    quieter: tuple[str, ...] = ()
    """Actions of the same type that answer the usual question with less noise."""


@dataclass(frozen=True, slots=True)
class ObjectType:
    name: str
    label: str
    group: str
    actions: tuple[Action, ...]
    note: str = ""
    facts: tuple[Fact, ...] = (NAME,)
    """What is worth showing about its objects, most important first; the first, if quoted, bare and
    in the line, is the object's title."""
    field_pairs: tuple[FieldPair, ...] = ()
    """Fields an update changes together that read as one change, beyond Close's naming conventions."""
    deletable: bool = False
    """Its deletions are counted among the digest's deletions (records and activities, not
    configuration)."""
    digest: DigestRule | None = None
    """What the digest tells of it besides its counts: ``job`` its latest state among the bulk actions
    and imports; ``lead`` and ``outcome`` are the lead's (merges, deletions and status changes apart)
    and the opportunity's (won or lost, status changes), whose words name them."""

    def action(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)

    @property
    def action_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.actions)


def _crud(noun: str, *, updated: str | None = None, deleted: str | None = None) -> tuple[Action, ...]:
    return (
        Action("created", f"{noun} is created."),
        Action("updated", updated or f"{noun} is updated."),
        Action("deleted", deleted or f"{noun} is deleted."),
    )


def _custom_field(owner: str) -> ObjectType:
    return ObjectType(
        f"custom_fields.{owner}",
        f"{owner.capitalize()} custom field",
        "Configuration",
        _crud(
            f"A {owner} custom field",
            updated=f"A {owner} custom field's name, type or choices change.",
        ),
        note="Definitions of fields; a value changing on a record is an `updated` event on that record "
        "with `custom.<field id>` in its changed fields.",
        facts=(
            NAME,
            fact_of("type", line=True),
            fact_of("choices", style="list"),
            fact_of("description", style="quoted"),
        ),
    )


_TASK_ACTIONS: Final = (
    Action("created", "A task is created."),
    Action("updated", "A task's basic fields change (is_complete, date, text, assignee, ...)."),
    Action("deleted", "A task is deleted."),
    Action("completed", "A task is marked as done."),
)

OBJECT_TYPES: Final[tuple[ObjectType, ...]] = (
    # --- CRM records ---
    ObjectType(
        "lead",
        "Lead",
        "Records",
        (
            Action("created", "A lead is created, by any method (UI, API, import, merge)."),
            Action(
                "updated",
                "A lead's own fields change: name, description, url, status, contacts added or removed, "
                "addresses, custom field values. Not fired for changes to its activities, opportunities, "
                "tasks or existing contacts.",
            ),
            Action(
                "deleted",
                "A lead is deleted; its contacts, activities, opportunities and tasks get their own "
                "`deleted` events.",
            ),
            Action(
                "merged",
                "Two leads are merged; `lead_id` and `data` are the resulting (destination) lead. Every "
                "event of the merge carries meta.merge_source_lead_id and meta.merge_destination_lead_id.",
            ),
        ),
        note="For a lead event `object_id` equals `lead_id`. Deleted leads keep their name in "
        "previous_data.display_name.",
        facts=(
            NAME,
            fact_of("status", "status_label", line=True),
            fact_of("contacts", "contacts", style="list"),
            fact_of("url"),
            fact_of("addresses", "addresses", style="list"),
            fact_of("description", style="quoted"),
            fact_of("opportunities", style="count"),
            fact_of("tasks", style="count"),
        ),
        deletable=True,
        digest="lead",
    ),
    ObjectType(
        "contact",
        "Contact",
        "Records",
        _crud(
            "A contact",
            updated="A contact's fields change (name, title) or its emails, phones or URLs are added, "
            "changed or removed.",
        ),
        facts=(
            NAME,
            fact_of("title", style="quoted", line=True),
            fact_of("emails", style="list"),
            fact_of("phones", style="list"),
            fact_of("urls", style="list"),
        ),
        deletable=True,
    ),
    ObjectType(
        "opportunity",
        "Opportunity",
        "Records",
        _crud(
            "An opportunity",
            updated="An opportunity's fields change: status, date_won, value, value_period, confidence "
            "(not value_currency, which is organization-wide).",
        ),
        facts=(
            fact_of("status", "status_label", line=True, bare=True),
            fact_of("value", "value_formatted", "value", line=True, bare=True),
            fact_of("period", "value_period", line=True, bare=True),
            fact_of("confidence", style="plain"),
            fact_of("pipeline", "pipeline_name"),
            fact_of("contact", "contact_name", style="quoted"),
            fact_of("owner", "user_name"),
            fact_of("won", "date_won", style="time"),
            fact_of("note", style="long"),
        ),
        deletable=True,
        digest="outcome",
    ),
    ObjectType(
        "task.lead",
        "Task (task.SUBTYPE)",
        "Records",
        _TASK_ACTIONS,
        note="Tasks use `task.SUBTYPE` object types, e.g. `task.lead`; other subtypes follow Close's "
        "Tasks docs and are accepted by the filters as `task.SUBTYPE`.",
        facts=(
            fact_of("text", style="quoted", line=True, bare=True),
            fact_of("due", "date", style="time", line=True),
            fact_of("assigned to", "assigned_to_name", "assigned_to", line=True),
            fact_of("done", "is_complete"),
        ),
        deletable=True,
    ),
    ObjectType(
        "custom_object",
        "Custom object",
        "Records",
        _crud("A custom object"),
        deletable=True,
    ),
    # --- Activities ---
    ObjectType(
        "activity.email",
        "Email",
        "Activities",
        (
            Action(
                "created",
                "An email is created: an incoming email synced, or an outgoing one queued (outbox) or "
                "saved as a draft.",
            ),
            Action(
                "updated",
                "Any email field changes (status, subject, body, opens, ...). Fires repeatedly while a "
                "user drafts, from periodic autosaves.",
                noise="autosave",
                quieter=("created", "sent"),
            ),
            Action("deleted", "An email is deleted."),
            Action(
                "sent",
                "An outgoing email is actually sent through Close's UI or API (not when the user clicks "
                "send). Emails sent outside Close only get `created` when synced.",
            ),
        ),
        facts=(
            fact_of("subject", style="quoted", line=True, bare=True),
            fact_of("direction", line=True, bare=True),
            fact_of("status", line=True, bare=True),
            fact_of("from", "sender"),
            fact_of("to", style="list", line=True),
            fact_of("cc", style="list"),
            fact_of("sent", "date_sent", style="time"),
            fact_of("template", "template_name"),
            fact_of("attachments", style="list"),
            fact_of("opens", style="count"),
            fact_of("body", "body_text", "body_preview", style="long"),
        ),
        deletable=True,
    ),
    ObjectType(
        "activity.email_thread",
        "Email thread",
        "Activities",
        _crud(
            "An email thread",
            updated="A thread's emails, n_emails, latest_normalized_subject or participants change.",
            deleted="An email thread is deleted: all its emails were deleted or it was merged into another.",
        ),
        facts=(
            fact_of("subject", "latest_normalized_subject", style="quoted", line=True, bare=True),
            fact_of("emails", "n_emails", line=True),
            fact_of("participants", style="list"),
        ),
        deletable=True,
    ),
    ObjectType(
        "activity.call",
        "Call",
        "Activities",
        (
            Action(
                "created",
                "A call is created: a user calls or transfers, an inbound call arrives, or a call is "
                "logged manually or via the API.",
            ),
            Action(
                "updated",
                "Any call field changes (note, status, duration, recording_url, ...). Fires repeatedly "
                "while a user writes a call note, from periodic autosaves.",
                noise="autosave",
                quieter=("created", "completed"),
            ),
            Action("deleted", "A call is deleted."),
            Action("answered", "A call is answered (not for calls made outside Close)."),
            Action("completed", "A call is completed (not for calls made outside Close)."),
        ),
        facts=(
            fact_of("direction", line=True, bare=True),
            fact_of("status", "disposition", "status", line=True, bare=True),
            fact_of("duration", style="duration", line=True, bare=True),
            fact_of("phone", "remote_phone", "remote_phone_formatted", "phone", line=True, bare=True),
            fact_of("source"),
            fact_of("recording", "recording_url"),
            fact_of("note", style="long"),
        ),
        deletable=True,
    ),
    ObjectType(
        "activity.sms",
        "SMS",
        "Activities",
        (
            Action(
                "created",
                "An SMS is created: an inbound SMS to a Close number, or an outbound one queued (outbox) "
                "or saved as a draft.",
            ),
            Action(
                "updated",
                "Any SMS field changes (status, text, phones, ...). Fires repeatedly while a user drafts.",
                noise="autosave",
                quieter=("created", "sent"),
            ),
            Action("deleted", "An SMS is deleted."),
            Action("sent", "An outbound SMS is actually sent through Close's UI or API."),
        ),
        facts=(
            fact_of("direction", line=True, bare=True),
            fact_of("status", line=True, bare=True),
            fact_of("phone", "remote_phone", "remote_phone_formatted", line=True, bare=True),
            fact_of("text", style="long", line=True, bare=True),
        ),
        deletable=True,
    ),
    ObjectType(
        "activity.note",
        "Note",
        "Activities",
        (
            Action("created", "A note is created."),
            Action(
                "updated",
                "A note is updated. Fires periodically while a user is typing.",
                noise="autosave",
                quieter=("created",),
            ),
            Action("deleted", "A note is deleted."),
        ),
        facts=(fact_of("note", "note", "note_html", style="long", line=True, bare=True),),
        deletable=True,
    ),
    ObjectType(
        "activity.meeting",
        "Meeting",
        "Activities",
        (
            *_crud("A meeting"),
            Action(
                "scheduled",
                "A future meeting is created, an upcoming meeting is rescheduled, or a meeting moves to "
                "status upcoming.",
            ),
            Action("started", "A meeting moves to status in-progress."),
            Action("completed", "A meeting moves to status completed."),
            Action("canceled", "A meeting moves to status canceled."),
        ),
        facts=(
            fact_of("title", style="quoted", line=True, bare=True),
            fact_of("starts", "starts_at", style="time", line=True),
            fact_of("status", line=True),
            fact_of("duration", style="duration"),
            fact_of("location", style="quoted"),
            fact_of("attendees", style="list"),
            fact_of("note", style="long"),
        ),
        deletable=True,
    ),
    ObjectType(
        "activity.lead_status_change",
        "Lead status change",
        "Activities",
        _crud(
            "A lead status change activity",
            updated="The same user or API client changed the same lead's status again shortly after; the "
            "existing status change is updated with the newest new_status.",
            deleted="A status change made by mistake is reverted shortly after.",
        ),
        note="Changing a lead's status also fires `lead.updated` with the old status in previous_data.",
        facts=(
            fact_of("from", "old_status_label", line=True),
            fact_of("to", "new_status_label", line=True),
        ),
        deletable=True,
    ),
    ObjectType(
        "activity.opportunity_status_change",
        "Opportunity status change",
        "Activities",
        _crud(
            "An opportunity status change activity",
            updated="The same user or API client changed the same opportunity's status again shortly after; "
            "the existing status change is updated with the newest new_status.",
            deleted="A status change made by mistake is reverted shortly after.",
        ),
        note="Changing an opportunity's status also fires `opportunity.updated` with the old status in "
        "previous_data.",
        facts=(
            fact_of("from", "old_status_label", line=True),
            fact_of("to", "new_status_label", line=True),
            fact_of("value", "opportunity_value_formatted", line=True),
            fact_of("opportunity", "opportunity_id"),
        ),
        deletable=True,
    ),
    ObjectType(
        "activity.task_completed",
        "Task completed",
        "Activities",
        (
            Action(
                "created",
                "A lead task is completed (the task also gets `completed` and `updated`, the lead "
                "`updated`).",
            ),
            Action("deleted", "A completed task is marked incomplete again."),
        ),
        facts=(
            fact_of("task", "task_text", style="quoted", line=True, bare=True),
            fact_of("assigned to", "task_assigned_to_name"),
            fact_of("task id", "task_id"),
        ),
        deletable=True,
    ),
    ObjectType(
        "activity.custom_activity",
        "Custom activity",
        "Activities",
        _crud(
            "A custom activity instance",
            updated="A custom activity instance is updated (changes to its type do not fire this).",
        ),
        facts=(
            fact_of(
                "type",
                "custom_activity_type_name",
                "activity_type_name",
                "custom_activity_type_id",
                line=True,
            ),
            fact_of("status", line=True),
        ),
        deletable=True,
    ),
    # --- Jobs ---
    ObjectType(
        "import",
        "CSV import",
        "Jobs",
        (
            Action("created", "A CSV import is created; each lead it creates gets its own `created` event."),
            Action(
                "updated",
                "An import's fields change (status, totals, ...). Fires often while the import runs.",
                noise="progress",
                quieter=("created", "completed"),
            ),
            Action("completed", "An import is completed."),
            Action(
                "reverting",
                "An import starts being reverted; the changes of the revert carry meta.revert_import_id.",
            ),
            Action("reverted", "An import has been reverted."),
        ),
        facts=(
            fact_of("file", "file_name", "filename", style="quoted", line=True, bare=True),
            fact_of("status", line=True),
            fact_of("imported", "total_imported", "n_imported", line=True),
            fact_of("failed", "total_failed"),
        ),
        digest="job",
    ),
    *(
        ObjectType(
            f"export.{kind}",
            f"{kind.capitalize()} export",
            "Jobs",
            (
                Action("created", "An export is requested via the UI or the API."),
                Action(
                    "updated",
                    "An export's fields change (status, n_docs_processed, download_url, ...). Fires often "
                    "while it runs.",
                    noise="progress",
                    quieter=("created", "completed"),
                ),
                Action("completed", "An export is completed."),
            ),
            facts=(
                fact_of("type", "type", line=True, bare=True),
                fact_of("format", line=True, bare=True),
                fact_of("status", line=True),
                fact_of("records", "n_docs", line=True),
                fact_of("processed", "n_docs_processed"),
            ),
        )
        for kind in ("lead", "opportunity")
    ),
    *(
        ObjectType(
            f"bulk_action.{kind}",
            f"Bulk {kind.replace('_', ' ')}",
            "Jobs",
            (
                Action("created", "A bulk action is created."),
                Action(
                    "updated",
                    "A bulk action's fields change (status, n_docs_processed, ...). Fires often while it "
                    "runs.",
                    noise="progress",
                    quieter=("created", "completed"),
                ),
                Action("completed", "A bulk action is completed."),
                Action(
                    "paused",
                    "A bulk action is paused and needs the user's attention to resume (e.g. email provider "
                    "credentials changed during a bulk email).",
                ),
            ),
            note="Records a bulk action changes carry meta.bulk_action_id.",
            facts=(
                fact_of("status", line=True),
                fact_of("records", "n_docs", line=True),
                fact_of("processed", "n_docs_processed", line=True),
                fact_of("query", "s_query", "query", style="quoted"),
            ),
            digest="job",
        )
        for kind in ("delete", "edit", "email", "sequence_subscription")
    ),
    # --- Configuration ---
    *(_custom_field(owner) for owner in ("lead", "contact", "opportunity", "activity", "shared")),
    ObjectType(
        "custom_activity_type",
        "Custom activity type",
        "Configuration",
        _crud(
            "A custom activity type",
            updated="Its fields change (name, description, api_create_only, ...), its field order changes, "
            "or a field is added or removed.",
        ),
    ),
    ObjectType("custom_object_type", "Custom object type", "Configuration", _crud("A custom object type")),
    *(
        ObjectType(
            f"status.{kind}",
            f"{kind.capitalize()} status",
            "Configuration",
            _crud(f"A {kind} status", updated=f"A {kind} status's label changes."),
            facts=(fact_of("label", style="quoted", line=True, bare=True), fact_of("type", line=True)),
        )
        for kind in ("lead", "opportunity")
    ),
    ObjectType(
        "membership",
        "Membership",
        "Configuration",
        (
            Action(
                "activated",
                "A user joins the organization (accepts an invitation or is re-added); carries the user.",
            ),
            Action("deactivated", "A user is removed from the organization; carries the user."),
        ),
        facts=(
            fact_of("user", "user_full_name", "user_email", line=True, bare=True),
            fact_of("email", "user_email"),
            fact_of("role", "role_id", line=True),
            fact_of("user id", "user_id"),
        ),
    ),
    ObjectType(
        "group",
        "Group",
        "Configuration",
        _crud("A group", updated="A group is renamed or members are added or removed."),
        facts=(NAME, fact_of("members", style="count", line=True)),
    ),
    ObjectType(
        "saved_search",
        "Smart View",
        "Configuration",
        (
            Action("created", "A Smart View is created."),
            Action(
                "updated",
                "A Smart View's fields change (name, query, is_shared, shared_with); not when its "
                "results change.",
            ),
        ),
        facts=(NAME, fact_of("shared", "is_shared", line=True)),
    ),
    ObjectType(
        "phone_number",
        "Phone number",
        "Configuration",
        _crud(
            "A phone number",
            updated="A phone number's settings change (forwarding, participants, voicemail greeting, ...).",
        ),
        facts=(
            fact_of("number", "number_formatted", "number", line=True, bare=True),
            fact_of("label", style="quoted", line=True),
            fact_of("forwarding", "forward_to_enabled"),
            fact_of("participants", style="count"),
        ),
    ),
    ObjectType(
        "email_template",
        "Email template",
        "Configuration",
        _crud(
            "An email template",
            updated="A template's fields change (name, subject, body, attachments, is_shared).",
        ),
        facts=(NAME, fact_of("subject", style="quoted", line=True), fact_of("shared", "is_shared")),
    ),
    ObjectType(
        "sequence",
        "Sequence (workflow)",
        "Automation",
        _crud("A sequence", updated="Any of a sequence's fields change, including its steps."),
        facts=(NAME, fact_of("status", line=True), fact_of("steps", style="count", line=True)),
    ),
    ObjectType(
        "sequence_subscription",
        "Sequence subscription",
        "Automation",
        _crud(
            "A sequence subscription",
            updated="A subscription's fields change, e.g. status active → paused.",
            deleted="The lead, contact or email address of the subscription is deleted.",
        ),
        facts=(
            fact_of("sequence", "sequence_name", "sequence_id", style="quoted", line=True, bare=True),
            fact_of("contact", "contact_email", "contact_name", line=True),
            fact_of("status", line=True),
            fact_of("paused because", "pause_reason"),
        ),
    ),
)

BY_NAME: Final[dict[str, ObjectType]] = {t.name: t for t in OBJECT_TYPES}

ALL_ACTIONS: Final[tuple[str, ...]] = tuple(sorted({a.name for t in OBJECT_TYPES for a in t.actions}))

LEGACY_NAMES: Final[dict[str, str]] = {
    "note": "activity.note",
    "status_change.opportunity": "activity.opportunity_status_change",
}
"""Names older docs and old events use, mapped to the current ones."""

_TASK_TYPE = re.compile(r"task\.[a-z][a-z_]{0,39}")


def lookup(object_type: str) -> ObjectType | None:
    """The catalog entry for an object type; any ``task.SUBTYPE`` shares the task entry."""
    name = LEGACY_NAMES.get(object_type, object_type)
    found = BY_NAME.get(name)
    if found is None and _TASK_TYPE.fullmatch(name):
        found = BY_NAME["task.lead"]
    return found


T = TypeVar("T")


def trait(object_type: str, read: Callable[[ObjectType], T], default: T) -> T:
    """What ``read`` takes from a type's entry. For a subtype the docs do not list (``export.contact``),
    its family's (the exports'), when every listed subtype of that family agrees on it."""
    entry = lookup(object_type)
    if entry is not None:
        return read(entry)
    family, dot, _ = LEGACY_NAMES.get(object_type, object_type).partition(".")
    found = {read(t) for t in OBJECT_TYPES if dot and t.name.startswith(family + dot)}
    return found.pop() if len(found) == 1 else default


def digest_rule(object_type: str) -> DigestRule | None:
    """What the digest tells of this type besides its counts (``ObjectType.digest``)."""
    return trait(object_type, lambda entry: entry.digest, None)


# --- Filtering rules --------------------------------------------------------------------

FilterName = Literal["object_type", "object_id", "action", "lead_id", "user_id", "request_id"]
FILTER_NAMES: Final[tuple[FilterName, ...]] = (
    "object_type",
    "object_id",
    "action",
    "lead_id",
    "user_id",
    "request_id",
)

SUPPORTED_COMBINATIONS: Final[tuple[frozenset[str], ...]] = tuple(
    frozenset(c.split("+")) if c else frozenset()
    for c in (
        "object_type+object_id",
        "object_type+action",
        "object_id+action",
        "lead_id+object_type",
        "lead_id+object_type+action",
        "lead_id+user_id+object_type",
        "lead_id+user_id+object_type+action",
        "lead_id+user_id",
        "user_id+object_id",
        "user_id+object_id+action",
        "user_id+object_type",
        "user_id+object_type+action",
        "lead_id",
        "user_id",
        "request_id",
        "object_type",
        "",
    )
)
"""Filter sets Close supports; the date filters may be added to any of them. The last two
(``object_type`` alone, no filter at all) are used by Close's own scripts."""


def is_supported(filters: frozenset[str]) -> bool:
    return filters in SUPPORTED_COMBINATIONS


def combo_label(combo: frozenset[str]) -> str:
    return "+".join(name for name in FILTER_NAMES if name in combo) or "(no filter)"


RETENTION_DAYS: Final = 30
DATA_VISIBILITY_HOURS: Final = 1

RULES: Final[tuple[str, ...]] = (
    f"Close keeps events for {RETENTION_DAYS} days; older ones are gone for good.",
    f"Non-admin users see an event's data and previous_data only for {DATA_VISIBILITY_HOURS} hour after it "
    "happened; after that the event shows who did what, but not the values.",
    "Events are sorted by date_updated, newest first. Recent events on one object can be consolidated "
    "into one, which moves its date_updated.",
    "The date filters (since/until) can be added to any supported filter combination.",
)
