"""A seeded, deterministic demo Close organization: "Bluth Company Sales".

``build_demo_org(now)`` tells a month of sales work as Close's Event Log records it: the
organization and its configuration changes (:mod:`.story`), the leads' month and the jobs that
change many at once (:mod:`.scenes`), a burst in the last hour, and a few events past the
30-day retention. ``filler_events`` adds bulk lead activity for benchmarks. Every ID and
timestamp derives from ``now`` and ``seed``: the same arguments give the same organization,
and another ``now`` shifts every date by the difference.

Modules: :mod:`.ids` (IDs, timestamps, the event log), :mod:`.payloads` (Close objects),
:mod:`.texts` (what people write), :mod:`.desk` (everyday lead work), :mod:`.story` and
:mod:`.scenes` (the month), this one (the public API and the benchmark filler).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from close_events_sandbox import payloads as pl
from close_events_sandbox import scenes
from close_events_sandbox import texts as tx
from close_events_sandbox.ids import Person, as_utc
from close_events_sandbox.org import DemoOrg, Principal
from close_events_sandbox.story import INDUSTRIES, LeadRow, Story

DEMO_API_KEY: Final[str] = "api_demo_admin_0000000000000000"
"""Authenticates Gob Bluth, an admin."""
DEMO_MEMBER_API_KEY: Final[str] = "api_demo_member_000000000000000"
"""Authenticates Maeby Fünke, a member (not an admin)."""
DEMO_OAUTH_TOKEN: Final[str] = "oauth_demo_lucille_000000000000"
"""An OAuth access token of Lucille Bluth, an admin."""

CUSTOM_FIELD_TYPES: Final = tuple(
    f"custom_fields.{kind}" for kind in ("lead", "contact", "opportunity", "activity", "shared")
)
CREDENTIALS: Final = ((DEMO_API_KEY, "Gob"), (DEMO_MEMBER_API_KEY, "Maeby"), (DEMO_OAUTH_TOKEN, "Lucille"))


def build_demo_org(
    now: datetime, *, filler_events: int = 0, filler_days: float = 7.0, seed: int = 20261123
) -> DemoOrg:
    """The demo organization as of ``now`` (timezone-aware), plus ``filler_events`` extra
    events spread over the last ``filler_days`` days."""
    now = as_utc(now)
    if filler_events < 0:
        raise ValueError("filler_events must be zero or more")
    if filler_events and filler_days * 24 * 60 < 1:
        raise ValueError("filler_days must span at least a minute")
    story = Story(now, random.Random(seed))
    tell(story)
    if filler_events:
        Filler(story).run(filler_events, filler_days)
    return assemble(story)


def tell(story: Story) -> None:
    """Every scene, in an order that keeps each object's history chronological."""
    story.found_org()
    story.ancient_history()
    story.configuration()
    for scene in scenes.SCENES:
        scene(story)
    last_hour(story)


def assemble(story: Story) -> DemoOrg:
    org_id = story.setup.org_id
    users = [pl.user_object(person, story.joined[first]) for first, person in story.people.items()]
    memberships = [
        {
            "id": story.memberships[first],
            "user_id": person.id,
            "organization_id": org_id,
            "role_id": "admin" if person.is_admin else "member",
        }
        for first, person in story.people.items()
    ]
    credentials = {
        secret: Principal(story.people[first].id, story.people[first].is_admin)
        for secret, first in CREDENTIALS
    }
    story.marks["api_key:Zapier"] = story.zapier_key
    story.marks["oauth_client"] = story.oauth_client
    custom_fields = {kind: story.log.current(kind) for kind in CUSTOM_FIELD_TYPES}
    return DemoOrg(
        dict(story.org), users, memberships, credentials, story.log.events, story.marks, custom_fields
    )


def last_hour(story: Story) -> None:
    """Cinco de Cuatro signs while the team is busy: 20-odd events in the last hour."""
    desk, people = story.desk, story.people
    now = story.now - timedelta(seconds=story.rng.uniform(5, 50))
    cinco, rita = story.leads["Cinco de Cuatro Events"], story.contact_of("Cinco de Cuatro Events")
    gob = people["Gob"]
    text = tx.NOTES[6].format(**desk.words(cinco, rita, gob))
    story.marks["note_autosave"] = desk.note(cinco, rita, gob, now - timedelta(minutes=52), text, 6)
    desk.email_out(cinco, rita, people["Maeby"], now - timedelta(minutes=40), tx.OUTGOING[1], autosaves=3)
    pop, ice = story.leads["Pop-Pop's Seafood"], story.contact_of("Pop-Pop's Seafood")
    note = tx.CALL_NOTES[3].format(**desk.words(pop, ice, people["Michael"]))
    desk.call(pop, ice, people["Michael"], now - timedelta(minutes=27), note=note, autosaves=2)
    first = len(story.log.events)
    desk.set_status(
        story.by("Gob", "PUT", f"/api/v1/lead/{cinco}/"), now - timedelta(minutes=9), cinco, "Customer"
    )
    story.marks["recent_event"] = story.log.events[first]["id"]
    desk.sms_in(cinco, rita, gob, now - timedelta(minutes=4), "Signed! Sending the PO today 🎉")
    desk.add_task(
        story.by("Gob", "POST", "/api/v1/task/"),
        now - timedelta(minutes=2),
        cinco,
        people["Maeby"],
        "Send Rita the onboarding checklist",
    )


# --- Filler -------------------------------------------------------------------------------------


class Filler:
    """Exactly ``count`` more events of everyday lead work on a pool of generated leads,
    spread evenly over the last ``days`` days."""

    def __init__(self, story: Story) -> None:
        self.story = story
        self.desk = story.desk
        self.log = story.log
        self.rng = story.rng
        self.users = list(story.people.values())
        self.opportunities: dict[str, str] = {}
        self.episodes: tuple[tuple[Callable[[str, str, Person, datetime], object], int], ...] = (
            (self.note, 24),
            (self.email_out, 14),
            (self.email_in, 12),
            (self.call, 15),
            (self.sms, 10),
            (self.lead_update, 10),
            (self.opportunity_move, 9),
            (self.task, 6),
        )

    def run(self, count: int, days: float) -> None:
        rng, log = self.rng, self.log
        base = len(log.events)
        log.capacity = base + count
        pool = [self.new_lead() for _ in range(max(1, count // 40))]
        start, span = self.story.now - timedelta(days=days), timedelta(days=days)
        actions = [episode for episode, _ in self.episodes]
        weights = [weight for _, weight in self.episodes]
        try:
            while not log.full:
                at = min(start + span * ((len(log.events) - base) / count), self.desk.deadline)
                lead_id = rng.choice(pool)
                contact_id = rng.choice(log[lead_id]["contact_ids"])
                rng.choices(actions, weights)[0](lead_id, contact_id, rng.choice(self.users), at)
        finally:
            log.capacity = None

    def new_lead(self) -> str:
        rng = self.rng
        name = " ".join(rng.choice(words) for words in tx.COMPANY_WORDS)
        people = "; ".join(
            f"{rng.choice(tx.FIRST_NAMES)} {rng.choice(tx.LAST_NAMES)}: {rng.choice(tx.TITLES)}"
            for _ in range(rng.randint(1, 3))
        )
        status, industry = rng.choice(("Potential", "Qualified")), rng.choice(INDUSTRIES)
        row = LeadRow(name, status, industry, rng.randint(2, 80), "Website", "", people)
        since = self.story.now - timedelta(days=60 + rng.uniform(0, 300))
        lead_id = self.story.add_lead(row, None, since, mark=False)
        owner = rng.choice(self.users)
        value = rng.randrange(5, 300) * 10_000
        self.opportunities[lead_id] = self.desk.new_opportunity(None, since, lead_id, owner, value)
        return lead_id

    def words(self, template: str, lead_id: str, contact_id: str, user: Person) -> str:
        return template.format(**self.desk.words(lead_id, contact_id, user))

    def note(self, lead_id: str, contact_id: str, user: Person, at: datetime) -> object:
        text = self.words(self.rng.choice(tx.NOTES), lead_id, contact_id, user)
        return self.desk.note(lead_id, contact_id, user, at, text, self.rng.randint(0, 5))

    def email_out(self, lead_id: str, contact_id: str, user: Person, at: datetime) -> object:
        letter = self.rng.choice(tx.OUTGOING)
        return self.desk.email_out(lead_id, contact_id, user, at, letter, autosaves=self.rng.randint(0, 2))

    def email_in(self, lead_id: str, contact_id: str, user: Person, at: datetime) -> object:
        return self.desk.email_in(lead_id, contact_id, user, at, self.rng.choice(tx.INCOMING))

    def call(self, lead_id: str, contact_id: str, user: Person, at: datetime) -> object:
        rng = self.rng
        note = self.words(rng.choice(tx.CALL_NOTES), lead_id, contact_id, user)
        return self.desk.call(
            lead_id,
            contact_id,
            user,
            at,
            inbound=rng.random() < 0.25,
            answered=rng.random() < 0.7,
            note=note,
            autosaves=rng.randint(0, 3),
        )

    def sms(self, lead_id: str, contact_id: str, user: Person, at: datetime) -> object:
        if self.rng.random() < 0.45:
            return self.desk.sms_in(lead_id, contact_id, user, at, self.rng.choice(tx.SMS_IN))
        text = self.words(self.rng.choice(tx.SMS_OUT), lead_id, contact_id, user)
        return self.desk.sms_out(lead_id, contact_id, user, at, text, self.rng.randint(0, 2))

    def lead_update(self, lead_id: str, contact_id: str, user: Person, at: datetime) -> object:
        rng, setup = self.rng, self.desk.setup
        change = rng.choice(
            (
                setup.custom("lead", {"Seats": rng.randint(2, 120)}),
                setup.custom("lead", {"Industry": rng.choice(INDUSTRIES)}),
                {"description": f"Reviewed by {user.first_name}: {rng.choice(tx.INCOMING)}"},
            )
        )
        return self.log.update(
            self.story.by(user.first_name, "PUT", f"/api/v1/lead/{lead_id}/"), at, lead_id, change
        )

    def opportunity_move(self, lead_id: str, contact_id: str, user: Person, at: datetime) -> object:
        """The deal moves one step down the pipeline; a closed deal gets a new value instead."""
        opp_id = self.opportunities[lead_id]
        req = self.story.by(user.first_name, "PUT", f"/api/v1/opportunity/{opp_id}/")
        steps = {"Demo Scheduled": "Demo Completed", "Demo Completed": "Proposal Sent"}
        current = self.log[opp_id]["status_label"]
        if current in steps or current == "Proposal Sent":
            target = steps.get(current) or self.rng.choice(("Won", "Lost"))
            return self.desk.set_status(req, at, opp_id, target)
        value = pl.opportunity_value_fields(self.rng.randrange(5, 300) * 10_000, "one_time")
        return self.log.update(req, at, opp_id, value)

    def task(self, lead_id: str, contact_id: str, user: Person, at: datetime) -> object:
        text = self.words(self.rng.choice(tx.TASKS), lead_id, contact_id, user)
        task_id = self.desk.add_task(
            self.story.by(user.first_name, "POST", "/api/v1/task/"), at, lead_id, user, text
        )
        return self.desk.complete_task(user, self.desk.later(at, 600, 3600), task_id)
