"""Two server processes sharing one PostgreSQL store, as replicas behind the HTTP transport do: two
syncs started at once (one holds the advisory lock, the other refuses), and both servers answering
while the sync writes. The store then holds every event of Close's window exactly once, and every
answer is the answer a server without a store gives.

Close is one ``close-events-mcp sandbox`` process on loopback, slowed and rate-limited, that every
process here shares (``tests/test_store_sync.py``)."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import text_of
from tests.postgres import fresh_database
from tests.test_store_sync import (
    ANOTHER_SYNC,
    COMMAND,
    PATIENCE,
    Sandbox,
    Spawned,
    assert_holds_the_window,
    end_process,
    free_port,
    sandbox_process,
    stored_ids,
    wait_until,
)

pytestmark = pytest.mark.anyio
TOKEN = "shared-store-token-0123456789-abcdef"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with sandbox_process() as served:
        yield served


@contextmanager
def http_server(sandbox: Sandbox, store: str, where: Path) -> Iterator[str]:
    """``close-events-mcp --transport streamable-http`` on a free port, using ``store``; its MCP URL."""
    port = free_port()
    where.mkdir(parents=True, exist_ok=True)
    with (where / "stderr").open("w") as stderr:
        process = subprocess.Popen(
            [*COMMAND, "--transport", "streamable-http", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=sandbox.env(store, CLOSE_EVENTS_HTTP_TOKEN=TOKEN),
        )
        url = f"http://127.0.0.1:{port}/mcp"

        def answers() -> bool:
            try:
                httpx.post(url, json={}, timeout=5)
            except httpx.TransportError:
                return False
            return True

        try:
            wait_until(answers, "the server to answer", process)
            yield url
        finally:
            end_process(process)
    assert "Traceback" not in (where / "stderr").read_text()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def ask(url: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=PATIENCE) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        result = await client.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


def storeless(sandbox: Sandbox, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The answer of ``close-events-mcp call`` with no store."""
    line = [f"{name}={value}" for name, value in arguments.items()]
    done = subprocess.run(
        [*COMMAND, "call", tool, *line, "--structured"],
        capture_output=True,
        text=True,
        env=sandbox.env("off", CLOSE_EVENTS_CALL_TIMEOUT="120"),
        timeout=PATIENCE,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def digest_of(answer: dict[str, Any]) -> tuple[Any, ...]:
    return answer["total"], answer["by_type"]


def ids_of(answer: dict[str, Any]) -> list[str]:
    return [event["id"] for event in answer["events"]]


async def test_two_servers_and_two_syncs_share_one_postgres_store_without_duplicates_or_gaps(
    sandbox: Sandbox, postgres_url: str, tmp_path: Path
) -> None:
    store = fresh_database(postgres_url)
    now = datetime.now(UTC)
    window = {"since": _iso(now - timedelta(days=7)), "until": _iso(now - timedelta(hours=2))}
    digest_args = {**window, "max_events": 50_000}
    list_args = {**window, "object_type": "lead", "limit": 50}

    with ExitStack() as stack:
        server_a = stack.enter_context(http_server(sandbox, store, tmp_path / "a"))
        server_b = stack.enter_context(http_server(sandbox, store, tmp_path / "b"))
        syncs = [Spawned(sandbox, store, tmp_path / f"sync{n}", "sync") for n in (1, 2)]
        for sync in syncs:
            stack.callback(sync.stop)
        first_start = min(sync.started for sync in syncs)

        # Whichever takes the lock first is held still while it holds it: the other must refuse.
        wait_until(lambda: any("Syncing" in sync.stdout for sync in syncs), "a sync to take the lock")
        holder, other = syncs if "Syncing" in syncs[0].stdout else syncs[::-1]
        holder.process.send_signal(signal.SIGSTOP)
        try:
            refused = other.finish()
        finally:
            holder.process.send_signal(signal.SIGCONT)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert ANOTHER_SYNC in refused.stderr and "Syncing" not in refused.stdout

        # Both servers answer, and write what they read into the store, while the sync writes.
        during: list[tuple[str, dict[str, Any]]] = []

        async def keep_asking(url: str) -> None:
            while holder.process.poll() is None:
                during.append(("digest", await ask(url, "summarize_events", digest_args)))
                during.append(("list", await ask(url, "list_events", list_args)))

        async with anyio.create_task_group() as readers:
            readers.start_soon(keep_asking, server_a)
            readers.start_soon(keep_asking, server_b)
        done = holder.finish()
        assert done.returncode == 0, done.stdout + done.stderr
        assert during, "the servers answered while the sync ran"

        after = {
            name: (await ask(url, "summarize_events", digest_args), await ask(url, "list_events", list_args))
            for name, url in (("a", server_a), ("b", server_b))
        }

    assert_holds_the_window(sandbox, stored_ids(store), first_start, done)

    reference_digest = storeless(sandbox, "summarize_events", digest_args)
    reference_list = storeless(sandbox, "list_events", list_args)
    assert reference_digest["complete"] and reference_digest["total"] > 500
    for name, (digest, listed) in after.items():
        assert digest["complete"], f"server {name}'s digest after the sync is whole"
        assert digest_of(digest) == digest_of(reference_digest), f"server {name}'s digest"
        assert ids_of(listed) == ids_of(reference_list), f"server {name}'s list"
    for kind, answer in during:
        if kind == "list":
            assert ids_of(answer) == ids_of(reference_list), "a list answered while the sync wrote"
        elif answer["complete"]:
            assert digest_of(answer) == digest_of(reference_digest), "a digest answered while the sync wrote"
