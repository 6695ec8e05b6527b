"""The MCP App view in headless Chromium, hosted by ``view_host.html`` (the Apps protocol's host side)
with answers of the demo organization: every event of an answer is shown, one opens its diff through
a ``get_event`` call the host relays, filters work without another call, the host's theme is followed,
400 px is enough, and nothing goes to the console. Screenshots land in ``artifacts/view/``.

Needs Debian's ``chromium`` (``.ci/run`` installs it): without it these tests fail and say so. They are
``slow`` (a browser each), so ``pytest -m "not slow"`` runs without one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from close_events_mcp import catalog
from close_events_mcp.server.app import EventLogServer
from tests.view_host import Host, chromium, chromium_path, distinct_colours, hosting

pytestmark = pytest.mark.anyio

SHOWN = "[...document.querySelectorAll('.ev')].filter((e) => !e.closest('[hidden]')).length"
"""How many events the filters leave shown (those in a collapsed run of noise count: one click away)."""


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    try:
        chromium_path()
    except RuntimeError as missing:
        pytest.fail(str(missing))
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def host(browser: Any, server: EventLogServer) -> AsyncIterator[Host]:
    async with hosting(browser, server) as hosted:
        yield hosted
        assert hosted.errors == [], "the console had errors"


def noisy(event: dict[str, Any]) -> bool:
    kind = catalog.lookup(event["object_type"])
    action = kind.action(event["action"]) if kind else None
    return bool(event.get("touch_only")) or bool(action and action.noise)


async def test_the_timeline_shows_every_event_by_lead_and_opens_one_through_get_event(host):
    shown = await host.show("list_events", {"limit": 50})
    events = shown.result["structuredContent"]["events"]
    frame = shown.frame
    by_lead: dict[str | None, list[str]] = {}
    for event in events:
        by_lead.setdefault(event.get("lead_id"), []).append(event["id"])
    sections = await frame.eval_on_selector_all(
        "section.lead",
        "(all) => all.map((s) => [...s.querySelectorAll('.ev')].map((e) => e.dataset.eventId))",
    )
    assert sections == list(by_lead.values())  # every event, grouped by lead, newest first in each
    assert any(noisy(e) for e in events)
    assert await frame.eval_on_selector_all("details.noise .ev", "(all) => all.length") == sum(
        map(noisy, events)
    )

    changed = next(e for e in events if e.get("changes") and not noisy(e))
    await frame.click(f'.ev[data-event-id="{changed["id"]}"]')
    await frame.wait_for_selector("#detail table")
    assert host.calls == [("get_event", {"event_id": changed["id"]})]
    detail = (await host.client.call_tool("get_event", {"event_id": changed["id"]})).structured_content
    rows = await frame.eval_on_selector_all(
        "#detail tbody tr",
        "(rows) => rows.map((r) => [r.querySelector('th').textContent,"
        " [...r.querySelectorAll('del')].map((d) => d.textContent),"
        " [...r.querySelectorAll('ins')].map((i) => i.textContent)])",
    )
    for (field, removed, added), change in zip(rows, detail["changes"], strict=True):
        assert field == change["field"]
        assert removed == ([change["before"]] if "before" in change else change.get("removed", []))
        assert added == ([change["after"]] if "after" in change else change.get("added", []))
    assert await frame.text_content("#detail h2") == detail["description"]
    png = await host.screenshot("timeline.png")
    assert distinct_colours(png) > 100, "the timeline's screenshot is blank"

    await frame.press("#detail", "Escape")  # closes, and gives the focus back to the event
    assert await frame.evaluate("document.activeElement.dataset.eventId") == changed["id"]
    other = next(e for e in events if e["id"] != changed["id"] and not noisy(e))
    await frame.focus(f'.ev[data-event-id="{other["id"]}"]')
    await frame.press(f'.ev[data-event-id="{other["id"]}"]', "Enter")  # the keyboard opens it too
    await frame.wait_for_selector("#detail dl")
    assert host.calls[-1] == ("get_event", {"event_id": other["id"]})


async def test_filters_change_what_is_shown_without_another_call(host):
    shown = await host.show("list_events", {"limit": 50})
    events, frame = shown.result["structuredContent"]["events"], shown.frame
    assert await frame.evaluate(SHOWN) == len(events)
    (kind, count), *_ = Counter(e["object_type"] for e in events).most_common()
    await frame.select_option("#f-type", kind)
    assert await frame.evaluate(SHOWN) == count
    await frame.select_option("#f-type", "")
    (user, by_user), *_ = Counter(e["user_id"] for e in events if e.get("user_id")).most_common()
    await frame.select_option("#f-user", user)
    assert await frame.evaluate(SHOWN) == by_user
    await frame.select_option("#f-user", "*")
    await frame.check("#f-noise")
    assert await frame.evaluate(SHOWN) == sum(not noisy(e) for e in events)
    assert (
        await frame.eval_on_selector_all(
            "details.noise", "(all) => all.filter((d) => !d.closest('[hidden]')).length"
        )
        == 0
    )
    await frame.uncheck("#f-noise")
    assert await frame.evaluate(SHOWN) == len(events)
    assert host.calls == []


async def test_the_digest_shows_bars_highlights_and_notable_events(host):
    shown = await host.show("summarize_events", {"since": "30d"})
    digest, frame = shown.result["structuredContent"], shown.frame
    types = await frame.eval_on_selector_all(
        "section:has(> h3:text-is('By object type')) .bars li .lbl", "(all) => all.map((e) => e.textContent)"
    )
    assert sorted(types) == sorted(digest["by_type"])
    users = await frame.eval_on_selector_all(
        "ul[aria-label='By user'] .n", "(all) => all.map((e) => e.textContent)"
    )
    assert users == [f"{a['count']:,}" for a in digest["by_actor"]]
    highlights = await frame.text_content("ul[aria-label='Highlights']")
    assert all(group["kind"] in highlights for group in digest["notable"])
    pointers = [
        *digest.get("outcomes", []),
        *digest.get("deleted_leads", []),
        *digest.get("merges", []),
        *digest.get("jobs", []),
        *digest.get("worth_opening", []),
    ]
    ids = await frame.eval_on_selector_all(".ev", "(all) => all.map((e) => e.dataset.eventId)")
    assert sorted(ids) == sorted({p["event_id"] for p in pointers})
    png = await host.screenshot("digest.png")
    assert distinct_colours(png) > 100, "the digest's screenshot is blank"
    await frame.click(f'.ev[data-event-id="{ids[0]}"]')
    await frame.wait_for_selector("#detail dl")
    assert host.calls == [("get_event", {"event_id": ids[0]})]


async def test_the_view_follows_the_hosts_theme_and_fits_in_400_px(browser, server):
    async with hosting(browser, server, width=400) as host:
        background = "getComputedStyle(document.body).backgroundColor"
        shown = await host.show("list_events", {"limit": 50}, context={"theme": "dark"})
        dark = await shown.frame.evaluate(background)
        await host.page.evaluate("host.changeContext({theme: 'light'})")
        await shown.frame.wait_for_function("document.documentElement.dataset.theme === 'light'")
        light = await shown.frame.evaluate(background)
        assert luminance(dark) < 0.2 < 0.8 < luminance(light)
        fits = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        assert await shown.frame.evaluate(fits)
        await host.screenshot("timeline-400px.png")
        shown = await host.show("summarize_events", {"since": "30d"})
        assert await shown.frame.evaluate(fits)
        assert host.errors == []


def luminance(css: str) -> float:
    red, green, blue = (int(part) / 255 for part in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue
