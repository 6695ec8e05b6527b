"""Resources: the catalog, one object type, and one rendered event, addressable by URI."""

from __future__ import annotations

from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from close_events_mcp import catalog
from close_events_mcp.capping import cap_text
from close_events_mcp.describe import describe_catalog
from close_events_mcp.errors import ArgumentError, UserFacingError
from close_events_mcp.server import AppState, state_of
from close_events_mcp.tools import event_detail


def register(server: MCPServer[AppState]) -> None:
    @server.resource(
        "close-events://event-types",
        name="event-types",
        title="Close event types",
        description="Every Close event object type and its actions; filter rules, retention, visibility.",
        mime_type="text/plain",
    )
    def event_types() -> str:
        return describe_catalog(None)[0]

    @server.resource(
        "close-events://event-types/{object_type}",
        name="event-type",
        title="One Close event type",
        description="One object type's actions and what triggers each.",
        mime_type="text/plain",
    )
    def event_type(object_type: str) -> str:
        if catalog.lookup(object_type) is None:
            raise ResourceNotFoundError(
                f"{object_type!r} is not a Close event type; see close-events://event-types."
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
        state = state_of(ctx)
        try:
            with anyio.fail_after(state.settings.call_timeout):
                text, _ = await event_detail(state, event_id)
        except ArgumentError as exc:
            raise ResourceNotFoundError(str(exc)) from None
        except UserFacingError as exc:
            raise ResourceError(str(exc)) from None
        except TimeoutError:
            raise ResourceError(
                f"Close did not answer within {state.settings.call_timeout:g} s (CLOSE_EVENTS_CALL_TIMEOUT); "
                "try again."
            ) from None
        return cap_text(text, state.settings.max_output_chars)
