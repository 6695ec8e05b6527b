"""close-events-mcp: an MCP server for Close CRM's Event Log.

The public surface is what ``__all__`` names: the version, the settings, and the exceptions, a short
tree under ``UserFacingError`` (``ArgumentError`` for a refused argument, ``CloseError`` and its
kinds for a request to Close that failed), each message written for the model to act on. The server
itself is built by ``close_events_mcp.server.app.build_server``; everything else is internal, laid
out by job (see CONTRIBUTING.md).
"""

from close_events_mcp.config import ConfigError, Settings, settings_from_env
from close_events_mcp.errors import (
    ArgumentError,
    AuthenticationFailed,
    BadRequest,
    BadResponse,
    CloseError,
    MissingCredentials,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    Unreachable,
    UserFacingError,
)

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "AuthenticationFailed",
    "BadRequest",
    "BadResponse",
    "CloseError",
    "ConfigError",
    "MissingCredentials",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "ServerError",
    "Settings",
    "Unreachable",
    "UserFacingError",
    "__version__",
    "settings_from_env",
]
