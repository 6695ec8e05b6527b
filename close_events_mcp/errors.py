"""Failures the tools report to the model: each message says what went wrong and what to do.

The tool layer turns every one of these into a ``ToolError``. Messages never contain a
credential: they are built from status codes, our own wording and sanitised snippets of
Close's error text.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from close_events_mcp.config import Credential

AFTER_FIXING: ContextVar[str] = ContextVar("after_fixing_the_credential", default="restart the server")
"""What to do once a rejected credential is fixed. The server reads its credential when it starts, so it
must be restarted; a command that starts no server of its own (``call``, ``check``) says its own."""


class UserFacingError(Exception):
    """An anticipated failure whose message is written for the model to read and act on."""


class ArgumentError(UserFacingError):
    """A tool argument we refuse before any request is made."""


class CloseError(UserFacingError):
    """A request to Close failed."""


class MissingCredentials(CloseError):
    def __init__(self) -> None:
        super().__init__(
            "No Close credential is configured. Set CLOSE_API_KEY to an API key (Close → Settings → "
            "Developer → API Keys) or CLOSE_ACCESS_TOKEN to an OAuth token in the server's environment, "
            "or start the server with --demo to try it on the demo organization."
        )


class BadRequest(CloseError):
    """HTTP 400: Close refused the query."""


class AuthenticationFailed(CloseError):
    """HTTP 401."""

    @classmethod
    def rejected(cls, credential: Credential) -> AuthenticationFailed:
        """Close refused ``credential``: where to get a good one, and what to do then (``AFTER_FIXING``)."""
        where = (
            "Close → Settings → Developer → API Keys"
            if credential.kind == "api_key"
            else "access tokens expire: get a new one from the OAuth app that issued it, with its "
            "refresh token"
        )
        return cls(
            f"Close rejected the {credential.description} in {credential.env_var} (HTTP 401). Check that it "
            f"is current and complete ({where}), then {AFTER_FIXING.get()}."
        )


class PermissionDenied(CloseError):
    """HTTP 402 or 403."""


class NotFound(CloseError):
    """HTTP 404."""


class RateLimited(CloseError):
    """HTTP 429 and no retry fits in the time left."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerError(CloseError):
    """HTTP 5xx after retries, or another unexpected status."""


class BadResponse(CloseError):
    """Close answered with something that is not the JSON we expect."""


class Unreachable(CloseError):
    """Connection failures or per-request timeouts after retries."""
