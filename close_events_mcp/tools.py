"""The tools: what the model sees of each (name, arguments, description), and the call's frame.

All are registered through ``read_only``, which sets the annotations every tool here shares:
read-only, not destructive, idempotent, open-world (they read a live CRM). The work itself is in
``answers``, imported on the first call so that start-up does not load it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Annotated, Any, Final

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from close_events_mcp.capping import Draft
from close_events_mcp.results import EventDetail, EventDigest, EventList, EventTypeCatalog, PollEvents
from close_events_mcp.server import AppState, finished, progress_to, state_of, tool_errors

MAX_POLL: Final = 500
"""Most events one poll_events call returns."""
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
Ctx = Context[AppState, Any]

ObjectTypeArg = Annotated[
    str | None,
    Field(description="Event object type, e.g. lead, contact, opportunity, activity.email, task.lead."),
]
ActionArg = Annotated[str | None, Field(description="Action, e.g. created, updated, deleted, merged, sent.")]
ObjectIdArg = Annotated[
    str | None, Field(description="Events of this one object only (e.g. acti_…, oppo_…).")
]
LeadIdArg = Annotated[
    str | None, Field(description="Events of this lead and its contacts, activities, opportunities, tasks.")
]
UserIdArg = Annotated[str | None, Field(description="Events caused by this user (user_…).")]
RequestIdArg = Annotated[str | None, Field(description="Everything one API request did (req_…).")]
SinceArg = Annotated[
    str | None,
    Field(description="Window start: ISO date/datetime (UTC if no offset), or back from now: 90m, 24h, 7d."),
]
UntilArg = Annotated[str | None, Field(description="End of the window (exclusive), same formats as since.")]
ChangedFieldArg = Annotated[
    str | None,
    Field(
        description="Only updates changing this field: status_label, custom.cf_… or a custom field's name."
    ),
]
ExcludeNoisyArg = Annotated[
    bool, Field(description="Drop the autosave updates of emails, calls, SMS and notes (many per edit).")
]
LimitArg = Annotated[int | None, Field(description="Events per page, 1–50 (default 50).", ge=1)]
CursorArg = Annotated[
    str | None,
    Field(description="next_cursor from a previous list_events answer; alone it continues that query."),
]


Work = Callable[[ModuleType, AppState], Awaitable[Draft]]
"""A tool's work, given the ``answers`` module and the server's state: its answer, to be rendered."""


async def answered(ctx: Ctx, work: Work) -> CallToolResult:
    """The frame every tool shares: the work (in ``answers``, imported on the first call, not at
    start-up), within the call's deadline, its errors as short tool errors, the answer rendered to fit
    the size cap. Rendering runs in a worker thread: cleaning a huge or hostile CRM text never holds
    up other clients' calls, and a call whose rendering outlasts the deadline ends on time."""
    from close_events_mcp import answers  # noqa: PLC0415

    state = state_of(ctx)
    settings = state.settings
    with tool_errors(settings.call_timeout):
        draft = await work(answers, state)
        return await anyio.to_thread.run_sync(finished, draft, settings, abandon_on_cancel=True)


def register(server: MCPServer[AppState]) -> None:
    def read_only(title: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return server.tool(title=title, annotations=READ_ONLY.model_copy(update={"title": title}))

    @read_only("List Close events")
    async def list_events(
        ctx: Ctx,
        object_type: ObjectTypeArg = None,
        action: ActionArg = None,
        object_id: ObjectIdArg = None,
        lead_id: LeadIdArg = None,
        user_id: UserIdArg = None,
        request_id: RequestIdArg = None,
        since: SinceArg = None,
        until: UntilArg = None,
        changed_field: ChangedFieldArg = None,
        exclude_noisy: ExcludeNoisyArg = False,
        limit: LimitArg = None,
        cursor: CursorArg = None,
    ) -> Annotated[CallToolResult, EventList]:
        """Find events in Close's Event Log (last 30 days), newest first, one line each: what happened to
        which object on which lead, who did it, what changed from → to, and how (merge, bulk action, import
        revert, API key).

        Use it for "who deleted/changed X?", "what happened on this lead?", "what did this user or
        integration do today?", "how did this custom field change?". Close filters some combinations
        itself (e.g. object_type+action, lead_id alone, user_id+object_type); for any other combination,
        and for changed_field and exclude_noisy, the server scans the window and checks them itself, within
        a budget, and says so. Follow next_cursor for more; get_event shows one event in full."""
        return await answered(ctx, lambda answers, state: answers.list_events(
            state, progress_to(ctx), object_type=object_type, action=action, object_id=object_id,
            lead_id=lead_id, user_id=user_id, request_id=request_id, since=since, until=until,
            changed_field=changed_field, exclude_noisy=exclude_noisy, limit=limit, cursor=cursor,
        ))  # fmt: skip

    @read_only("Get one Close event")
    async def get_event(
        ctx: Ctx,
        event_id: Annotated[str, Field(description="The event's ID: ev_ followed by letters and digits.")],
    ) -> Annotated[CallToolResult, EventDetail]:
        """Show one event in full: what happened in words, who did it and through what (API key, OAuth app),
        the request that caused it, how (merged into / from which lead, bulk action, import revert), every
        changed field before → after, and the object's key fields. Use it after list_events, with an event
        ID from there."""
        return await answered(ctx, lambda answers, state: answers.event_detail(state, event_id))

    @read_only("Summarize Close events")
    async def summarize_events(
        ctx: Ctx,
        since: Annotated[
            str | None, Field(description="Window start (default 24h): ISO date/datetime, or 90m, 24h, 7d.")
        ] = None,
        until: UntilArg = None,
        object_type: ObjectTypeArg = None,
        action: ActionArg = None,
        object_id: ObjectIdArg = None,
        lead_id: Annotated[
            str | None, Field(description="One lead's story: that lead and everything on it.")
        ] = None,
        user_id: UserIdArg = None,
        request_id: RequestIdArg = None,
        changed_field: ChangedFieldArg = None,
        exclude_noisy: ExcludeNoisyArg = False,
        max_events: Annotated[
            int | None,
            Field(description="Read at most this many events (default: the server's budget).", ge=50),
        ] = None,
    ) -> Annotated[CallToolResult, EventDigest]:
        """A digest of a time window (default the last 24 hours) in one call, however many events it holds:
        counts by object type and action, by user, the busiest leads with names, and the events worth
        reading in full (deletions and how, merges, opportunities won or lost, lead status changes,
        custom field changes, bulk actions and imports). Use it for "what happened today / this week",
        one lead's story (lead_id), or a user's day (user_id). Takes any list_events filter."""
        return await answered(ctx, lambda answers, state: answers.summarize_events(
            state, progress_to(ctx), object_type=object_type, action=action, object_id=object_id,
            lead_id=lead_id, user_id=user_id, request_id=request_id, since=since or "24h", until=until,
            changed_field=changed_field, exclude_noisy=exclude_noisy, max_events=max_events,
        ))  # fmt: skip

    @read_only("Poll new Close events")
    async def poll_events(
        ctx: Ctx,
        checkpoint: Annotated[
            str | None,
            Field(description="The checkpoint from the previous poll_events answer; omit on the first call."),
        ] = None,
        since: Annotated[
            str | None, Field(description="First call only: start here (default: now, so only new events).")
        ] = None,
        object_type: ObjectTypeArg = None,
        action: ActionArg = None,
        object_id: ObjectIdArg = None,
        lead_id: LeadIdArg = None,
        user_id: UserIdArg = None,
        request_id: RequestIdArg = None,
        changed_field: ChangedFieldArg = None,
        exclude_noisy: ExcludeNoisyArg = False,
        limit: Annotated[
            int | None, Field(description=f"Most events per call, 1–{MAX_POLL} (default 100).", ge=1)
        ] = None,
    ) -> Annotated[CallToolResult, PollEvents]:
        """The events that are new since the last call, oldest first, and a new checkpoint to pass next time.
        Use it in unattended workflows ("what is new since my last run?"). Nothing is missed or repeated:
        the latest five minutes are re-read and de-duplicated (Close can show events late or merge recent
        ones), and an event Close later consolidated is delivered again, marked. The checkpoint is
        self-contained (no server state), so any replica can serve the next call. Filters are those of
        list_events; pass the same ones with every checkpoint."""
        return await answered(ctx, lambda answers, state: answers.poll_events(
            state, progress_to(ctx), object_type=object_type, action=action, object_id=object_id,
            lead_id=lead_id, user_id=user_id, request_id=request_id, since=since,
            changed_field=changed_field, exclude_noisy=exclude_noisy, checkpoint=checkpoint,
            limit=min(limit or 100, MAX_POLL),
        ))  # fmt: skip

    @read_only("Describe Close event types")
    async def describe_event_types(
        ctx: Ctx,
        object_type: Annotated[
            str | None, Field(description="One object type to explain in detail; omit for the index of all.")
        ] = None,
    ) -> Annotated[CallToolResult, EventTypeCatalog]:
        """The catalog of Close event types: every object type with its actions (which are noisy autosave or
        progress updates, and the quieter ones to use instead), the filter combinations Close supports,
        the 30-day retention and who sees event data. Use it before filtering by a type or action you are
        unsure of; pass object_type for what triggers each of its actions. Needs no Close credential."""
        return await answered(ctx, lambda answers, _: answers.describe_event_types(object_type))
