"""Settings from the environment (and CLI overrides): credential, base URL, limits."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlsplit

DEFAULT_BASE_URL = "https://api.close.com/api/v1"
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LOG_LEVELS: tuple[LogLevel, ...] = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


class Secret:
    """A credential that never shows itself in ``repr``, ``str`` or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class Credential:
    kind: Literal["api_key", "access_token"]
    secret: Secret = field(repr=False)

    @property
    def env_var(self) -> str:
        return "CLOSE_API_KEY" if self.kind == "api_key" else "CLOSE_ACCESS_TOKEN"

    @property
    def description(self) -> str:
        return "API key" if self.kind == "api_key" else "OAuth access token"


@dataclass(frozen=True, slots=True)
class Settings:
    credential: Credential | None = None
    base_url: str = DEFAULT_BASE_URL
    log_level: LogLevel = "WARNING"
    call_timeout: float = 30.0
    """Total seconds one tool call may take, retries and waits included."""
    request_timeout: float = 20.0
    """Seconds to wait for one response from Close."""
    connect_timeout: float = 5.0
    max_retries: int = 4
    """Retries of one request after a 429, a 502/503/504, a bad body or a connection error."""
    backoff_base: float = 0.5
    """First retry waits up to this many seconds (full jitter), doubling each time, capped at 8 s."""
    max_response_bytes: int = 16 * 1024 * 1024
    """A response larger than this is refused: no page of 50 events comes close."""
    max_output_chars: int = 60_000
    """Hard cap on each answer's text, and on its structured content as compact JSON."""
    scan_concurrency: int = 8
    """Requests one scan keeps in flight. Enough to keep up with Close's per-key limit when each
    request takes half a second (10 requests/s x 0.5 s = 5 in flight, plus slack); never more
    requests than the limit allows: all share the rate-limit gate, which spends each window's
    budget as Close's RateLimit header states it, or paces from its 429s."""
    scan_max_events: int = 50_000
    """Events one scan may read before it stops and says where to continue: a busy week. At a
    per-key limit of 10 requests/s this is 100 s of reading, so with the default call timeout the
    time budget stops a scan first; this bounds scans when the timeout is raised."""
    scan_max_pages: int = 1_500
    """Requests one scan may make: half as many again as its events fill (see ``page_budget``)."""
    demo: bool = False
    store: str = field(default="off", repr=False)  # a postgresql:// address may carry a password
    """``CLOSE_EVENTS_STORE``: "off", "" (SQLite under the user data directory), a path, or a
    ``postgresql://`` address (``store.location``). Settings made in code default to no store."""
    store_retention_days: int = 365
    """Events older than this many days are dropped from the store; 0 keeps them for ever."""
    http_token: Secret | None = field(default=None, repr=False)
    """HTTP transport: the bearer token every client must send; never a Close credential."""
    http_allowed_hosts: tuple[str, ...] = ()
    """HTTP transport: Host names (optionally host:port) accepted besides loopback and the bound host."""
    http_header_timeout: float = 10.0
    """HTTP transport: seconds a client has to send a request's line and headers, from connecting (or
    from the first byte of its next request on a kept-alive connection); then it is cut off."""
    http_body_timeout: float = 30.0
    """HTTP transport: seconds a client has to send a request's body once its headers are in."""

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in any output."""
        held = (self.credential.secret if self.credential else None, self.http_token)
        store_password = urlsplit(self.store).password if "://" in self.store else None
        return tuple(secret.reveal() for secret in held if secret is not None) + (
            (store_password,) if store_password else ()
        )

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def page_budget(max_events: int) -> int:
    """The requests a scan of ``max_events`` may make: each slice of the window ends on a part-filled
    page, so half as many again as full pages of 50 would take."""
    return -(-max_events * 3 // 100)


def _float_env(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}.") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g} seconds, got {value:g}.")
    return value


def _int_env(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {raw!r}.")
    return int(raw)


def validate_base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"CLOSE_API_BASE_URL must be an http(s) URL like {DEFAULT_BASE_URL}.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError("CLOSE_API_BASE_URL must not carry credentials, a query or a fragment.")
    return url


HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
"""Visible ASCII: what a credential may hold to be sent in an HTTP header as it is."""


def validate_credential(credential: Credential) -> Credential:
    """``credential`` if every character can go in an HTTP header; else a ConfigError naming its
    variable and what is wrong, never showing the value (it is a secret, and often nearly right)."""
    value = credential.secret.reveal()
    if HEADER_SAFE.fullmatch(value):
        return credential
    if not value.isascii():
        found = "a non-ASCII character (a typographic quote, an accented letter, an invisible space?)"
    elif any(char.isspace() for char in value):
        found = "a space, tab or line break"
    else:
        found = "a control character"
    where = (
        "Close (Settings > Developer > API Keys)"
        if credential.kind == "api_key"
        else "the OAuth token response it came in"
    )
    raise ConfigError(
        f"{credential.env_var} contains {found}, which cannot be sent in an HTTP header: only visible "
        f"ASCII is allowed. Copy it again from {where}."
    )


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    api_key = env.get("CLOSE_API_KEY", "").strip()
    token = env.get("CLOSE_ACCESS_TOKEN", "").strip()
    credential: Credential | None = None
    if api_key:
        credential = validate_credential(Credential("api_key", Secret(api_key)))
    elif token:
        credential = validate_credential(Credential("access_token", Secret(token)))

    level = env.get("CLOSE_EVENTS_LOG_LEVEL", "WARNING").strip().upper() or "WARNING"
    if level not in LOG_LEVELS:
        raise ConfigError(f"CLOSE_EVENTS_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}.")

    max_events = _int_env(env, "CLOSE_EVENTS_SCAN_MAX_EVENTS", 50_000, 50, 1_000_000)
    http_token = env.get("CLOSE_EVENTS_HTTP_TOKEN", "").strip()
    allowed_hosts = env.get("CLOSE_EVENTS_HTTP_ALLOWED_HOSTS", "").split(",")
    return Settings(
        credential=credential,
        base_url=validate_base_url(env.get("CLOSE_API_BASE_URL", "") or DEFAULT_BASE_URL),
        log_level=level,
        call_timeout=_float_env(env, "CLOSE_EVENTS_CALL_TIMEOUT", 30.0, 1.0, 600.0),
        max_output_chars=_int_env(env, "CLOSE_EVENTS_MAX_OUTPUT_CHARS", 60_000, 2_000, 1_000_000),
        http_token=Secret(http_token) if http_token else None,
        http_allowed_hosts=tuple(h.strip().lower() for h in allowed_hosts if h.strip()),
        scan_concurrency=_int_env(env, "CLOSE_EVENTS_SCAN_CONCURRENCY", 8, 1, 32),
        scan_max_events=max_events,
        scan_max_pages=page_budget(max_events),
        store=env.get("CLOSE_EVENTS_STORE", "").strip(),
        store_retention_days=_int_env(env, "CLOSE_EVENTS_STORE_RETENTION", 365, 0, 36_500),
    )
