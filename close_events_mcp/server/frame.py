"""The frame every tool call shares: the server's state from the request context, scan progress as
MCP progress notifications, anticipated failures as short tool errors (the one error frame) and the
answer as a ``CallToolResult`` within the size cap, with the credential redacted."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, get_origin

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel

from close_events_mcp.config import Settings
from close_events_mcp.errors import UserFacingError
from close_events_mcp.render.capping import Draft, cap_structured, cap_text, fit
from close_events_mcp.results import dump
from close_events_mcp.state import AppState
from close_events_mcp.text import redact, secret_forms

if TYPE_CHECKING:
    from close_events_mcp.engine.scan import OnPage


def state_of(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


def progress_to(ctx: Context[AppState, Any]) -> OnPage:
    """Scan progress as MCP progress notifications (a no-op when the caller asked for none)."""

    async def report(pages: int, events: int) -> None:
        await ctx.report_progress(pages, None, f"read {events} events in {pages} requests")

    return report


Work = Callable[[AppState], Awaitable[Draft]]
"""A call's work, given the server's state: its answer, to be rendered."""


async def answer(state: AppState, work: Work) -> CallToolResult:
    """The frame every tool call and the event resource share: the work within the call's deadline
    (``TimeoutError`` past it), the answer rendered to fit the size cap. Rendering runs in a worker
    thread: cleaning a huge or hostile CRM text never holds up other clients' calls, and a call whose
    rendering outlasts the deadline ends on time. What the caller is told of a failure depends on the
    surface: ``tool_errors`` for tools, the resource's own errors for resources."""
    settings = state.settings
    with anyio.fail_after(settings.call_timeout):
        draft = await work(state)
        return await anyio.to_thread.run_sync(finished, draft, settings, abandon_on_cancel=True)


@contextmanager
def tool_errors(timeout: float) -> Iterator[None]:
    """Anticipated failures of a tool call as ToolErrors: past the deadline (``timeout``), or one with
    a message for the model."""
    try:
        yield
    except TimeoutError:
        raise ToolError(
            f"The call took longer than its {timeout:g} s limit (CLOSE_EVENTS_CALL_TIMEOUT) and was "
            "stopped; nothing partial is shown. Narrow the query (filters, a shorter window) or try again."
        ) from None
    except UserFacingError as exc:
        raise ToolError(str(exc)) from None


def text_result(
    text: str, structured: BaseModel, cap: int, secrets: Sequence[str] = (), keep: Collection[str] = ()
) -> CallToolResult:
    """The answer: its text and its structured content, each within ``cap`` characters, with any form of
    a ``secrets`` entry (the credential, which CRM text might contain) redacted. Lists named in ``keep``
    lose no entries (see ``cap_structured``)."""
    maps = [
        name for name, info in type(structured).model_fields.items() if get_origin(info.annotation) is dict
    ]
    data = dump(structured)
    if secrets:
        text = redact(text, secrets)
        if _holds_secret(data, secrets):  # walk the result only when it holds one: a rare case
            data = _redacted(data, secrets)
    return CallToolResult(
        content=[TextContent(type="text", text=cap_text(text, cap))],
        structured_content=cap_structured(data, cap, maps, keep),
    )


def _holds_secret(data: dict[str, Any], secrets: Sequence[str]) -> bool:
    encoded = json.dumps(data, ensure_ascii=False)
    forms = (form for secret in secrets for form in secret_forms(secret))
    return any(json.dumps(form, ensure_ascii=False)[1:-1] in encoded for form in forms)


def _redacted(node: Any, secrets: Sequence[str]) -> Any:
    if isinstance(node, str):
        return redact(node, secrets)
    if isinstance(node, dict):
        return {key: _redacted(value, secrets) for key, value in node.items()}
    if isinstance(node, list):
        return [_redacted(item, secrets) for item in node]
    return node


def finished(draft: Draft, settings: Settings) -> CallToolResult:
    """A draft answer, rendered with as many events as fit the size cap, as the tool's result."""
    (text, structured), _ = fit(draft, settings.max_output_chars)
    keep = ("events",) if draft.items else ()
    return text_result(text, structured, settings.max_output_chars, settings.secrets, keep)
