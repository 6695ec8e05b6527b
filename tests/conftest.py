"""Shared fixtures: the demo organization at a fixed moment, the emulator, the server, a client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from mcp import Client

from close_events_mcp.config import Credential, Secret, Settings
from close_events_mcp.server import EventLogServer, build_server
from close_events_sandbox.app import Faults, SandboxApp
from close_events_sandbox.org import DemoOrg
from close_events_sandbox.seed import DEMO_API_KEY, build_demo_org

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BASE_URL = "http://sandbox.test/api/v1"


def clock() -> datetime:
    return NOW


def make_settings(key: str = DEMO_API_KEY, kind: str = "api_key", **overrides: object) -> Settings:
    settings = Settings(
        credential=Credential(kind, Secret(key)),  # type: ignore[arg-type]
        base_url=BASE_URL,
        backoff_base=0.01,
        call_timeout=10.0,
    )
    return settings.with_overrides(**overrides)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def demo_org() -> DemoOrg:
    return build_demo_org(NOW)


@pytest.fixture
def sandbox(demo_org: DemoOrg) -> SandboxApp:
    return SandboxApp(demo_org, clock=clock, faults=Faults())


@pytest.fixture
def server(sandbox: SandboxApp) -> EventLogServer:
    return build_server(make_settings(), transport=httpx.ASGITransport(app=sandbox), clock=clock)


@pytest.fixture
async def client(server: EventLogServer) -> AsyncIterator[Client]:
    async with Client(server) as connected:
        yield connected


def text_of(result: object) -> str:
    content = result.content  # type: ignore[attr-defined]
    return "\n".join(block.text for block in content if block.type == "text")
