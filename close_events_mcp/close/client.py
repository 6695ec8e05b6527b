"""The only module that speaks HTTP to Close.

One ``httpx.AsyncClient`` per process (keep-alive, timeouts, User-Agent), authenticated with
the API key (Basic, key as username) or an OAuth token (Bearer). Retries what is safe to retry
(429 after the wait Close asks for, 502/503/504, connection errors, unreadable bodies: every
call here is a GET), never beyond the tool call's deadline (a 429 as often as its wait fits in it;
other failures up to ``max_retries`` times), and turns every failure into an
``errors.CloseError`` whose message the model can act on.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio

from close_events_mcp import __version__
from close_events_mcp.close.ratelimit import RateGate, Ticket, wait_after_429
from close_events_mcp.config import Credential, Settings
from close_events_mcp.errors import (
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
)
from close_events_mcp.event import JSONDict
from close_events_mcp.text import clean, redact

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

USER_AGENT = f"close-events-mcp/{__version__}"
RETRYABLE_STATUSES = frozenset({502, 503, 504})
_SAFE_PATH = re.compile(r"/(?:[A-Za-z0-9_-][A-Za-z0-9_.-]*/)+")
Sleep = Callable[[float], Awaitable[None]]


class _RetryableError(Exception):
    """A failed attempt that may be retried; carries the error to raise if it may not."""

    def __init__(self, error: CloseError, wait: float | None = None) -> None:
        self.error = error
        self.wait = wait


def _auth_for(credential: Credential) -> httpx.Auth | None:
    import httpx  # noqa: PLC0415  (see CloseClient: start-up does not need httpx)

    if credential.kind == "api_key":
        return httpx.BasicAuth(credential.secret.reveal(), "")
    return None


def _auth_headers(credential: Credential) -> dict[str, str]:
    if credential.kind == "access_token":
        return {"Authorization": f"Bearer {credential.secret.reveal()}"}
    return {}


class CloseClient:
    """Authenticated access to Close's API, shared by every tool call of the process."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        gate: RateGate | None = None,
        sleep: Sleep = anyio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.gate = gate or RateGate()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._secrets = settings.secrets
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    def _connection(self) -> httpx.AsyncClient | None:
        """The HTTP client, made on first use: importing httpx and loading the TLS trust store take
        a tenth of a second, which start-up (``initialize``, ``tools/list``) does not need to pay."""
        credential = self.settings.credential
        if self._http is None and credential is not None:
            import httpx  # noqa: PLC0415

            settings = self.settings
            self._http = httpx.AsyncClient(
                base_url=settings.base_url,
                auth=_auth_for(credential),
                headers={"User-Agent": USER_AGENT, "Accept": "application/json", **_auth_headers(credential)},
                timeout=httpx.Timeout(settings.request_timeout, connect=settings.connect_timeout),
                limits=httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=60),
                transport=self._transport,
                follow_redirects=False,
            )
        return self._http

    @property
    def configured(self) -> bool:
        return self.settings.credential is not None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def __aenter__(self) -> CloseClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- endpoints ---------------------------------------------------------------------

    async def list_events(self, params: Mapping[str, str]) -> JSONDict:
        page = await self.get_json("/event/", params)
        if not isinstance(page.get("data"), list):
            raise BadResponse("Close's event list came back without a data list; try again in a moment.")
        return page

    async def get_event(self, event_id: str) -> JSONDict:
        return await self.get_json(f"/event/{event_id}/")

    async def me(self) -> JSONDict:
        return await self.get_json("/me/")

    # --- transport ---------------------------------------------------------------------

    async def get_json(self, path: str, params: Mapping[str, str] | None = None) -> JSONDict:
        """GET ``{base}{path}`` and return the JSON object, retrying what is safe to retry."""
        http = self._connection()
        if http is None:
            raise MissingCredentials()
        if not _SAFE_PATH.fullmatch(path):
            raise ValueError(f"refusing to request an unvetted path {path!r}")
        attempt = 0  # retries so far: the backoff grows with them
        failures = 0  # failures other than 429s: at most max_retries of them are retried
        while True:
            self._check_gate_fits_deadline()
            ticket = await self.gate.wait()
            try:
                return await self._attempt(http, path, params, ticket)
            except _RetryableError as failed:
                retry = failed
            finally:
                self.gate.release(ticket)
            delay = retry.wait if retry.wait is not None else self._backoff(attempt)
            if isinstance(retry.error, RateLimited):
                self.gate.throttled(delay, ticket, window_end_known=retry.wait is not None)
                # The gate waits it out. Within a deadline, as long as the wait fits (checked before
                # the next attempt): a rate limit delays a call, it does not fail one that has time.
                # A 429 that says nothing of when to go on gets max_retries like other failures: its
                # backoff grows with each attempt, and would hold every later call too.
                unknown_wait = retry.wait is None
                if attempt >= self.settings.max_retries and (unknown_wait or not self._has_deadline()):
                    raise retry.error from None
                delay = 0.0
            elif failures >= self.settings.max_retries or not self._fits_deadline(delay):
                raise retry.error from None
            else:
                failures += 1
            attempt += 1
            logger.info("retrying GET %s (attempt %d) after: %s", path, attempt + 1, retry.error)
            if delay:
                await self._sleep(delay)

    async def _attempt(
        self, http: httpx.AsyncClient, path: str, params: Mapping[str, str] | None, ticket: Ticket
    ) -> JSONDict:
        import httpx  # noqa: PLC0415  (loaded already: _connection made the client)

        started = time.perf_counter()
        try:
            # httpx times each read alone; this bounds the whole answer, so a slow drip is retried too.
            with anyio.fail_after(self.settings.request_timeout):
                async with http.stream("GET", path, params=params) as response:
                    body = await self._read_capped(response)
        except (httpx.TimeoutException, TimeoutError):
            raise _RetryableError(
                Unreachable(
                    f"Close did not answer within {self.settings.request_timeout:g} s, even after retries; "
                    "try again, or narrow the time window so the query is lighter."
                )
            ) from None
        except httpx.TransportError as exc:
            raise _RetryableError(
                Unreachable(
                    f"Could not reach Close ({type(exc).__name__}) at {self.settings.base_url}; check the "
                    "network and CLOSE_API_BASE_URL, then try again."
                )
            ) from None
        except httpx.DecodingError:
            raise _RetryableError(
                BadResponse(
                    "Close's answer could not be decoded (its Content-Encoding does not match the body), "
                    "even after retries; this is usually a proxy in between. Try again, and check "
                    "CLOSE_API_BASE_URL."
                )
            ) from None
        elapsed = (time.perf_counter() - started) * 1000
        logger.debug("GET %s %s -> %d in %.0f ms", path, dict(params or {}), response.status_code, elapsed)
        self.gate.observe(response.headers, ticket, limited=response.status_code == 429)
        return self._interpret(response, body, path)

    async def _read_capped(self, response: httpx.Response) -> bytes:
        limit = self.settings.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise self._too_large()
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self) -> BadResponse:
        return BadResponse(
            f"Close sent a response larger than {self.settings.max_response_bytes // (1024 * 1024)} MB, far "
            "more than any page of events; it was refused. Check CLOSE_API_BASE_URL points at Close's API."
        )

    def _interpret(self, response: httpx.Response, body: bytes, path: str) -> JSONDict:
        status = response.status_code
        parsed = _parse_json(body)
        if status == 429:
            wait = wait_after_429(response.headers, parsed)
            advice = f"wait {wait:.0f} s" if wait is not None else "wait a minute"
            raise _RetryableError(
                RateLimited(
                    f"Close's rate limit is exhausted (HTTP 429); {advice} before retrying, or narrow the "
                    "query (filters, a shorter window) so it needs fewer requests.",
                    wait,
                ),
                wait,
            )
        if status in RETRYABLE_STATUSES:
            raise _RetryableError(
                ServerError(
                    f"Close is having trouble (HTTP {status}) and still was after retries; try again in a "
                    "minute (status.close.com shows incidents)."
                )
            )
        if status >= 300 or status < 200:
            raise self._status_error(status, parsed, path)
        if not isinstance(parsed, dict):
            kind = response.headers.get("content-type", "unknown type").split(";")[0]
            raise _RetryableError(
                BadResponse(
                    f"Close answered HTTP {status} with a body that is not a JSON object ({kind}), even "
                    "after retries; this is usually a proxy or an outage page. Try again, and check "
                    "CLOSE_API_BASE_URL."
                )
            )
        return parsed

    def _status_error(self, status: int, body: Any, path: str) -> CloseError:
        detail = self._close_message(body)
        said = f": {detail.rstrip('.')}" if detail else ""
        credential = self.settings.credential
        if status == 400:
            return BadRequest(f"Close rejected the request (HTTP 400){said}.")
        if status == 401 and credential is not None:
            return AuthenticationFailed.rejected(credential)
        if status == 402:
            return PermissionDenied(
                f"Close refused the request (HTTP 402): the organization's plan does not allow it{said}."
            )
        if status == 403:
            return PermissionDenied(
                f"Close refused access (HTTP 403){said}. The credential's user lacks permission for this; "
                "an organization admin's credential can see more."
            )
        if status == 404:
            return NotFound(f"Close has nothing at {path} (HTTP 404).")
        return ServerError(
            f"Close answered HTTP {status} unexpectedly{said}; check CLOSE_API_BASE_URL "
            f"({self.settings.base_url}) and try again."
        )

    def _close_message(self, body: Any) -> str:
        """Close's own explanation from an error body, cleaned and short."""
        if not isinstance(body, dict):
            return ""
        parts: list[str] = []
        error = body.get("error")
        if isinstance(error, str):
            parts.append(error)
        elif isinstance(error, dict) and isinstance(error.get("message"), str):
            parts.append(error["message"])
        errors = body.get("errors")
        if isinstance(errors, list):
            parts.extend(str(item) for item in errors[:3])
        field_errors = body.get("field-errors")
        if isinstance(field_errors, dict):
            parts.extend(f"{key}: {value}" for key, value in list(field_errors.items())[:3])
        return clean(redact("; ".join(parts), self._secrets), 300)

    def _backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff: up to 0.5 s, 1 s, 2 s, ... capped at 8 s (by default)."""
        ceiling = min(8.0, self.settings.backoff_base * 2**attempt)
        return self._rng.uniform(ceiling / 5, ceiling)

    def _fits_deadline(self, delay: float) -> bool:
        return anyio.current_time() + delay < anyio.current_effective_deadline()

    def _has_deadline(self) -> bool:
        return math.isfinite(anyio.current_effective_deadline())

    def _check_gate_fits_deadline(self) -> None:
        delay = self.gate.delay()
        if delay and not self._fits_deadline(delay):
            raise RateLimited(
                f"Close's rate limit asks to wait {math.ceil(delay)} s, longer than this call may take; try "
                "again after that, or narrow the query so it needs fewer requests.",
                delay,
            )


def _parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
