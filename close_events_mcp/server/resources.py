"""Resources: the catalog, one object type, and one rendered event, addressable by URI.

What renders them is imported on first read, not at start-up (see ``answers``)."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp_types import TextContent

from close_events_mcp.errors import ArgumentError, UserFacingError
from close_events_mcp.server.frame import answer, state_of
from close_events_mcp.state import AppState


def register(server: MCPServer[AppState]) -> None:
    @server.resource(
        "close-events://event-types",
        name="event-types",
        title="Close event types",
        description="Every Close event object type and its actions; filter rules, retention, visibility.",
        mime_type="text/plain",
    )
    def event_types() -> str:
        from close_events_mcp.render.describe import describe_catalog  # noqa: PLC0415

        return describe_catalog(None)[0]

    @server.resource(
        "close-events://event-types/{object_type}",
        name="event-type",
        title="One Close event type",
        description="One object type's actions and what triggers each.",
        mime_type="text/plain",
    )
    def event_type(object_type: str) -> str:
        from close_events_mcp import catalog  # noqa: PLC0415
        from close_events_mcp.query.filters import echo  # noqa: PLC0415
        from close_events_mcp.render.describe import describe_catalog  # noqa: PLC0415

        if catalog.lookup(object_type) is None:
            raise ResourceNotFoundError(
                f"{echo(object_type)} is not a Close event type; see close-events://event-types."
            )
        return describe_catalog(object_type)[0]

    @server.resource(
        "close-events://event/{event_id}",
        name="event",
        title="One Close event",
        description="One event rendered in full, as get_event shows it.",
        mime_type="text/plain",
    )
    async def event(event_id: str, ctx: Context[AppState, Any]) -> str:
        from close_events_mcp.answers import event_detail  # noqa: PLC0415

        state = state_of(ctx)
        try:
            answered = await answer(state, lambda current: event_detail(current, event_id))
        except ArgumentError as exc:
            raise ResourceNotFoundError(str(exc)) from None
        except UserFacingError as exc:
            raise ResourceError(str(exc)) from None
        except TimeoutError:
            raise ResourceError(
                f"Close did not answer within {state.settings.call_timeout:g} s (CLOSE_EVENTS_CALL_TIMEOUT); "
                "try again."
            ) from None
        return "\n".join(block.text for block in answered.content if isinstance(block, TextContent))
