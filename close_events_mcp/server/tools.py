"""The tools: what the model sees of each (name, arguments, description), and the call's frame.

All are registered through ``read_only``, which sets the annotations every tool here shares:
read-only, not destructive, idempotent, open-world (they read a live CRM). The work itself is in
``answers``, imported on the first call so that start-up does not load it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, Final

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BeforeValidator, Field

from close_events_mcp import view
from close_events_mcp.query.filters import MAX_PAGE, FilterArguments
from close_events_mcp.results import EventDetail, EventDigest, EventList, EventTypeCatalog, PollEvents
from close_events_mcp.server.frame import Work, answer, progress_to, state_of, tool_errors
from close_events_mcp.state import AppState

MAX_SCAN: Final = 1_000_000
"""Most events one summarize_events call may ask to read (the server's budget may be lower)."""
MAX_POLL: Final = 500
"""Most events one poll_events call returns."""
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
Ctx = Context[AppState, Any]

ObjectTypeArg = Annotated[
    str | None, Field(description="Object type, e.g. lead, contact, opportunity, activity.email, task.lead.")
]
ActionArg = Annotated[str | None, Field(description="Action, e.g. created, updated, deleted, merged, sent.")]
ObjectIdArg = Annotated[str | None, Field(description="One object's events (acti_…, oppo_…).")]
LeadIdArg = Annotated[
    str | None, Field(description="Events of this lead and its contacts, activities, opportunities, tasks.")
]
UserIdArg = Annotated[str | None, Field(description="Events caused by this user (user_…).")]
RequestIdArg = Annotated[str | None, Field(description="Everything one API request did (req_…).")]
SinceArg = Annotated[
    str | None,
    Field(
        description="Window start: ISO date/datetime (UTC if no offset), back from now (90m, 24h, 7d), or "
        "today, yesterday, this week, last week (UTC)."
    ),
]
UntilArg = Annotated[
    str | None, Field(description="Window end (exclusive), formats as since; a day or week means its start.")
]
ChangedFieldArg = Annotated[
    str | None,
    Field(
        description="Only updates changing this field: status_label, custom.cf_… or a custom field's name."
    ),
]
ExcludeNoisyArg = Annotated[
    bool,
    Field(
        description="Drop noise: autosave updates (emails, calls, SMS, notes) and progress updates (bulk "
        "actions, imports, exports)."
    ),
]


def _not_a_flag(value: object) -> object:
    """JSON's true and false would pass as 1 and 0; a count must be a number."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true or false")
    return value


# Whole numbers within their bounds: 5, 5.0 and "5" are 5 (clients send all three), true is refused.
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE), BeforeValidator(_not_a_flag)]
PollSize = Annotated[int, Field(ge=1, le=MAX_POLL), BeforeValidator(_not_a_flag)]
ScanSize = Annotated[int, Field(ge=50, le=MAX_SCAN), BeforeValidator(_not_a_flag)]
LimitArg = Annotated[PageSize | None, Field(description="Events per page (default 50).")]
CursorArg = Annotated[
    str | None, Field(description="next_cursor of a previous answer; alone it continues that query.")
]

AS_LIST_EVENTS: Final = "As in list_events."
"""summarize_events and poll_events take list_events' filters, described there once."""
SharedText = Annotated[str | None, Field(description=AS_LIST_EVENTS)]
SharedFlag = Annotated[bool, Field(description=AS_LIST_EVENTS)]


def described(docstring: str) -> str:
    """A docstring as a tool description: no indentation, and each paragraph on one line (the line breaks
    of the source mean nothing to a model or a client's display)."""
    paragraphs = inspect.cleandoc(docstring).split("\n\n")
    return "\n\n".join(" ".join(paragraph.split("\n")) for paragraph in paragraphs)


async def answered(ctx: Ctx, work: Work) -> CallToolResult:
    """A tool's answer through the shared frame (``frame.answer``), its failures as short tool errors.
    Each tool calls its function in ``answers`` with typed arguments (the filters as one
    ``FilterArguments``), imported in the tool's body so that start-up does not load the engine and
    the renderers; mypy checks the call all the same."""
    state = state_of(ctx)
    with tool_errors(state.settings.call_timeout):
        return await answer(state, work)


def register(server: MCPServer[AppState]) -> None:
    def read_only(
        title: str, *, shown_in_view: bool = False
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """``shown_in_view``: hosts that render MCP Apps show the answer in ``view`` (``_meta.ui``)."""

        def registered(tool: Callable[..., Any]) -> Callable[..., Any]:
            return server.tool(
                title=title,
                description=described(tool.__doc__ or ""),
                annotations=READ_ONLY.model_copy(update={"title": title}),
                meta=view.ui_meta() if shown_in_view else None,
            )(tool)

        return registered

    @read_only("List Close events", shown_in_view=True)
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
        which object on which lead, who did it, what changed (from → to) and how (merge, bulk action,
        import revert, API key).

        Use it for "who deleted/changed X?", "what happened on this lead?", "what did this user or
        integration do today?", "how did this custom field change?". Close filters some combinations
        itself (e.g. object_type+action, lead_id alone, user_id+object_type); the server checks others,
        changed_field and exclude_noisy by scanning the window within a budget, and says so. Follow
        next_cursor for more; get_event shows one event in full."""
        from close_events_mcp import answers  # noqa: PLC0415  (loaded on the first call, not at start-up)

        filters = FilterArguments(
            object_type=object_type, action=action, object_id=object_id, lead_id=lead_id, user_id=user_id,
            request_id=request_id, since=since, until=until, changed_field=changed_field,
            exclude_noisy=exclude_noisy,
        )  # fmt: skip
        return await answered(
            ctx,
            lambda state: answers.list_events(state, progress_to(ctx), filters, limit=limit, cursor=cursor),
        )

    @read_only("Get one Close event")
    async def get_event(
        ctx: Ctx, event_id: Annotated[str, Field(description="The event's ID: ev_ then letters and digits.")]
    ) -> Annotated[CallToolResult, EventDetail]:
        """One event in full: what happened in words, who did it and through what (API key, OAuth app),
        the request that caused it, how (merge and which lead, bulk action, import revert), every
        changed field before → after, and the object's key fields. Use it with an event ID from
        list_events."""
        from close_events_mcp import answers  # noqa: PLC0415  (loaded on the first call, not at start-up)

        return await answered(ctx, lambda state: answers.event_detail(state, event_id))

    @read_only("Summarize Close events", shown_in_view=True)
    async def summarize_events(
        ctx: Ctx,
        since: Annotated[
            str | None, Field(description="Window start (default: 24h before until), formats as list_events.")
        ] = None,
        until: SharedText = None,
        object_type: SharedText = None,
        action: SharedText = None,
        object_id: SharedText = None,
        lead_id: Annotated[
            str | None, Field(description="One lead's story: that lead and everything on it.")
        ] = None,
        user_id: SharedText = None,
        request_id: SharedText = None,
        changed_field: SharedText = None,
        exclude_noisy: SharedFlag = False,
        max_events: Annotated[
            ScanSize | None,
            Field(description="Read at most this many events (default: the server's budget)."),
        ] = None,
    ) -> Annotated[CallToolResult, EventDigest]:
        """A one-page digest of a time window of any size: won/lost opportunities with value, status
        transitions ×n, deletions by how and by whom, merges, bulk actions, imports, custom field changes,
        counts by type and user, the busiest leads, a few event IDs worth opening, and the list_events
        call for the rest. Use it for "what happened today / this week", one lead's story
        (lead_id) or a user's day (user_id)."""
        from close_events_mcp import answers  # noqa: PLC0415  (loaded on the first call, not at start-up)

        filters = FilterArguments(
            object_type=object_type, action=action, object_id=object_id, lead_id=lead_id, user_id=user_id,
            request_id=request_id, since=since, until=until, changed_field=changed_field,
            exclude_noisy=exclude_noisy,
        )  # fmt: skip
        return await answered(
            ctx,
            lambda state: answers.summarize_events(state, progress_to(ctx), filters, max_events=max_events),
        )

    @read_only("Poll new Close events")
    async def poll_events(
        ctx: Ctx,
        checkpoint: Annotated[
            str | None, Field(description="checkpoint of the previous answer; omit on the first call.")
        ] = None,
        since: Annotated[
            str | None, Field(description="First call only: start here (default now: only new events).")
        ] = None,
        object_type: SharedText = None,
        action: SharedText = None,
        object_id: SharedText = None,
        lead_id: SharedText = None,
        user_id: SharedText = None,
        request_id: SharedText = None,
        changed_field: SharedText = None,
        exclude_noisy: SharedFlag = False,
        limit: Annotated[PollSize | None, Field(description="Most events per call (default 100).")] = None,
    ) -> Annotated[CallToolResult, PollEvents]:
        """The events new since the last call, oldest first, and a checkpoint to pass next time. Use it in
        unattended workflows ("what is new since my last run?"). Nothing is missed or repeated: the latest
        five minutes are re-read and de-duplicated (Close can show events late or merge recent ones), and
        an event Close later consolidated is delivered again, marked. The checkpoint is self-contained (no
        server state). Pass the same filters with every checkpoint."""
        from close_events_mcp import answers  # noqa: PLC0415  (loaded on the first call, not at start-up)

        filters = FilterArguments(
            object_type=object_type, action=action, object_id=object_id, lead_id=lead_id, user_id=user_id,
            request_id=request_id, since=since, changed_field=changed_field,
            exclude_noisy=exclude_noisy,
        )  # fmt: skip
        return await answered(
            ctx,
            lambda state: answers.poll_events(
                state, progress_to(ctx), filters, checkpoint=checkpoint, limit=limit or 100
            ),
        )

    @read_only("Describe Close event types")
    async def describe_event_types(
        ctx: Ctx,
        object_type: Annotated[
            str | None, Field(description="One object type to explain in detail; omit for the index.")
        ] = None,
    ) -> Annotated[CallToolResult, EventTypeCatalog]:
        """The catalog of Close event types: each object type's actions (the noisy ones and quieter ones
        to use instead), the filter combinations Close supports, the 30-day retention and who sees event
        data. Use it before filtering by a type or action you are
        unsure of; pass object_type for what triggers each action. Needs no Close credential."""
        from close_events_mcp import answers  # noqa: PLC0415  (loaded on the first call, not at start-up)

        return await answered(ctx, lambda _: answers.describe_event_types(object_type))
