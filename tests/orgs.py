"""Variants of the demo organization and its emulator for tests: the same events with some payload
keys taken out, and the emulator with some paths forbidden."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from close_events_sandbox.org import DemoOrg

ASGI = Callable[[Any, Any, Any], Awaitable[None]]


def without_payload_keys(org: DemoOrg, keys: Collection[str]) -> DemoOrg:
    """The org with ``keys`` taken out of every event's ``data`` and ``previous_data``."""

    def strip(payload: Any) -> Any:
        if not isinstance(payload, dict):
            return payload
        return {key: value for key, value in payload.items() if key not in keys}

    events = [
        {**event, "data": strip(event.get("data")), "previous_data": strip(event.get("previous_data"))}
        for event in org.events
    ]
    return dataclasses.replace(org, events=events)


def forbidding(app: ASGI, forbidden: Callable[[str], bool], refused: list[str] | None = None) -> ASGI:
    """The emulator, except that the paths ``forbidden`` accepts answer 403 (as for a key without that
    permission); each refused path is noted in ``refused``."""

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and forbidden(scope["path"]):
            if refused is not None:
                refused.append(scope["path"])
            await send({"type": "http.response.start", "status": 403, "headers": []})
            await send({"type": "http.response.body", "body": b'{"error": "Forbidden"}'})
            return
        await app(scope, receive, send)

    return guarded
