"""The Close client against the emulator: auth, retries, waits, deadlines and error messages."""

from __future__ import annotations

import socket

import anyio
import httpx
import pytest

from close_events_mcp import __version__
from close_events_mcp.close.client import CloseClient
from close_events_mcp.config import Settings
from close_events_mcp.errors import (
    AuthenticationFailed,
    BadRequest,
    BadResponse,
    MissingCredentials,
    NotFound,
    RateLimited,
    ServerError,
    Unreachable,
)
from close_events_sandbox.app import SandboxApp
from close_events_sandbox.seed import DEMO_OAUTH_TOKEN
from tests.conftest import make_settings
from tests.virtual_time import VIRTUAL_TIME

pytestmark = pytest.mark.anyio
PAGE = {"object_type": "lead", "_limit": "5"}


def client_for(sandbox: SandboxApp, settings: Settings | None = None) -> CloseClient:
    return CloseClient(settings or make_settings(), transport=httpx.ASGITransport(app=sandbox))


async def test_basic_auth_and_user_agent(sandbox):
    async with client_for(sandbox) as client:
        page = await client.list_events(PAGE)
    assert len(page["data"]) == 5
    assert sandbox.requests[-1].user_agent == f"close-events-mcp/{__version__}"


async def test_bearer_token(sandbox):
    settings = make_settings(DEMO_OAUTH_TOKEN, kind="access_token")
    async with client_for(sandbox, settings) as client:
        me = await client.me()
    assert me["first_name"] == "Lucille"


@pytest.mark.parametrize(
    ("kind", "variable"), [("api_key", "CLOSE_API_KEY"), ("access_token", "CLOSE_ACCESS_TOKEN")]
)
async def test_rejected_credential_names_its_variable_and_never_itself(sandbox, kind, variable):
    secret = "sk_canary_7f3a9c2e"
    async with client_for(sandbox, make_settings(secret, kind=kind)) as client:
        with pytest.raises(AuthenticationFailed) as caught:
            await client.list_events(PAGE)
    assert variable in str(caught.value) and "401" in str(caught.value)
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert len(sandbox.requests) == 1  # a 401 is not retried


async def test_missing_credentials():
    async with CloseClient(Settings()) as client:
        with pytest.raises(MissingCredentials, match="CLOSE_API_KEY"):
            await client.list_events(PAGE)


@pytest.mark.parametrize("anyio_backend", [VIRTUAL_TIME])
@pytest.mark.parametrize("style", ["ratelimit", "retry-after", "body", "none"])
async def test_429_is_retried_after_the_wait_close_asks_for(anyio_backend, sandbox, style):
    sandbox.faults.burst_429 = 2
    sandbox.faults.burst_429_style = style
    sandbox.faults.burst_429_reset = 0.05
    settings = make_settings(backoff_base=0.05)
    started = anyio.current_time()
    async with client_for(sandbox, settings) as client:
        page = await client.list_events(PAGE)
    assert page["data"]
    assert [r.status for r in sandbox.requests] == [429, 429, 200]
    if style == "retry-after":  # Retry-After is in whole seconds: at least one second each
        assert anyio.current_time() - started >= 2


async def test_429_beyond_the_retries_says_how_long_to_wait(sandbox):
    sandbox.faults.burst_429 = 10
    sandbox.faults.burst_429_reset = 0.01
    async with client_for(sandbox, make_settings(max_retries=2)) as client:
        with pytest.raises(RateLimited, match=r"HTTP 429.*wait 0 s"):
            await client.list_events(PAGE)
    assert len(sandbox.requests) == 3


async def test_429s_are_waited_out_as_long_as_the_deadline_allows(sandbox):
    # More 429s in a row than max_retries: a call with time left waits for Close, it does not fail.
    sandbox.faults.burst_429 = 8
    sandbox.faults.burst_429_reset = 0.01
    async with client_for(sandbox, make_settings(max_retries=2)) as client:
        with anyio.fail_after(10):
            page = await client.list_events(PAGE)
    assert page["data"]
    assert [r.status for r in sandbox.requests] == [429] * 8 + [200]


async def test_429_longer_than_the_deadline_fails_at_once(sandbox):
    sandbox.faults.burst_429 = 1
    sandbox.faults.burst_429_reset = 30
    async with client_for(sandbox) as client:
        with anyio.fail_after(5):
            started = anyio.current_time()
            with anyio.move_on_after(3):
                with pytest.raises(RateLimited, match="asks to wait 30 s, longer than this call may take"):
                    await client.list_events(PAGE)
            assert anyio.current_time() - started < 1


async def test_steady_rate_limit_is_paced_not_failed(sandbox):
    sandbox.faults.rate_limit = 3
    sandbox.faults.rate_window = 0.2
    async with client_for(sandbox) as client:
        for _ in range(10):
            await client.list_events(PAGE)
    assert [r.status for r in sandbox.requests].count(200) == 10


async def test_5xx_is_retried_then_reported(sandbox):
    sandbox.faults.burst_5xx = 2
    async with client_for(sandbox) as client:
        assert (await client.list_events(PAGE))["data"]
        sandbox.faults.burst_5xx = 50
        sandbox.faults.status_5xx = 502
        with pytest.raises(ServerError, match=r"HTTP 502.*try again in a minute"):
            await client.list_events(PAGE)
    assert [r.status for r in sandbox.requests].count(502) == 5  # the first try and four retries


@pytest.mark.parametrize("fault", ["malformed", "truncated"])
async def test_unreadable_bodies_are_retried_then_reported(sandbox, fault):
    setattr(sandbox.faults, fault, 1)
    async with client_for(sandbox) as client:
        assert (await client.list_events(PAGE))["data"]
        setattr(sandbox.faults, fault, 50)
        with pytest.raises(BadResponse, match="not a JSON object"):
            await client.list_events(PAGE)


async def test_oversized_response_is_refused(sandbox):
    async with client_for(sandbox, make_settings(max_response_bytes=2000)) as client:
        with pytest.raises(BadResponse, match="larger than"):
            await client.list_events({"_limit": "50"})


@pytest.mark.parametrize("anyio_backend", [VIRTUAL_TIME])
async def test_a_hanging_server_is_cut_by_the_deadline(anyio_backend, sandbox):
    sandbox.faults.hang = 1
    async with client_for(sandbox) as client:
        with pytest.raises(TimeoutError):
            with anyio.fail_after(0.5):
                await client.list_events(PAGE)
        assert (await client.list_events(PAGE))["data"]  # and the next call works


async def test_unreachable_host():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = make_settings(base_url=f"http://127.0.0.1:{port}/api/v1", max_retries=1)
    async with CloseClient(settings) as client:
        with pytest.raises(Unreachable, match="Could not reach Close"):
            await client.list_events(PAGE)


async def test_400_carries_closes_message_and_404_is_not_found(sandbox):
    async with client_for(sandbox) as client:
        with pytest.raises(BadRequest, match="Unsupported combination of filters: action"):
            await client.list_events({"action": "created"})
        with pytest.raises(NotFound):
            await client.get_event("ev_doesNotExist000000000")


async def test_only_vetted_paths_are_requested(sandbox):
    async with client_for(sandbox) as client:
        with pytest.raises(ValueError, match="unvetted path"):
            await client.get_json("/event/../me/")
        with pytest.raises(ValueError, match="unvetted path"):
            await client.get_json("/event/ev_1?x=1/")
    assert not sandbox.requests
