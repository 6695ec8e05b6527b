"""The MCP App view: one self-contained HTML page (``timeline.html``: inline CSS and JavaScript, no
external fetch) that hosts rendering MCP Apps show for ``list_events`` (a timeline by lead) and
``summarize_events`` (the digest as bars, highlights and notable events).

The view reads a tool's ``structuredContent``; the text the model reads is the same with or without
it. It is served through the SDK's Apps extension as ``text/html;profile=mcp-app``; which clients
are told of it (only those that negotiated the extension) is ``server.app``'s business.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any, Final

from mcp.server.apps import Apps

TIMELINE_URI: Final = "ui://close-events/timeline.html"
"""The view's resource, bound to ``list_events`` and ``summarize_events``."""


@cache
def timeline_html() -> str:
    """The page, as shipped in the package."""
    return files(__package__).joinpath("timeline.html").read_text(encoding="utf-8")


def ui_meta(resource_uri: str = TIMELINE_URI) -> dict[str, Any]:
    """A tool's ``_meta`` binding it to a view, as ``Apps.tool(resource_uri=...)`` stamps it."""
    return {"ui": {"resourceUri": resource_uri}}


def apps() -> Apps:
    """The Apps extension carrying the view (advertised under ``capabilities.extensions``)."""
    extension = Apps()
    extension.add_html_resource(
        TIMELINE_URI,
        timeline_html(),
        name="timeline",
        title="Close events timeline",
        description="Events on a time axis by lead, or a digest as bars; opens an event's diff.",
        prefers_border=True,
    )
    return extension
