"""The scenes of the month: what happens to the leads, and the jobs that change many at once.

Each scene takes the :class:`Story` and runs its part of the month in date order, so that
every object's history stays chronological: leads created and edited, a deal through the
pipeline, conversations, tasks and notes (with the messy texts), then a CSV import and its
revert, bulk actions and a lead merge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from close_events_sandbox import payloads as pl
from close_events_sandbox import texts as tx
from close_events_sandbox.ids import Person, Request, payload_time
from close_events_sandbox.story import BAD_FIT, IMPORTED, INDUSTRIES, LEADS, LeadRow, Story

BULK_PREFIXES: Final = {
    "delete": "bulkdel_",
    "edit": "bulkedit_",
    "email": "bulkemail_",
    "sequence_subscription": "bulkseq_",
}
Work = Callable[[Request, datetime, str], object]


# --- Leads --------------------------------------------------------------------------------------


def new_leads(story: Story) -> None:
    """Leads created in the window: in the UI, by the Zapier API key and over OAuth."""
    for row in LEADS:
        who, _, days = row.origin.partition("@")
        if row.name in story.leads:
            continue
        opener = {"zapier": story.zapier, "oauth": story.oauth}.get(who)
        req = opener("POST", "/api/v1/lead/") if opener else story.by(who, "POST", "/api/v1/lead/")
        story.add_lead(row, req, story.day(float(days)))
    cornballer = story.leads["Cornballer Inc"]
    story.desk.set_status(
        story.by("Gob", "PUT", f"/api/v1/lead/{cornballer}/"), story.day(22), cornballer, "Bad Fit"
    )


def sitwell_deal(story: Story) -> None:
    """Demo, proposal, Seats 40 → 55, the task done, won: Sitwell's month in order."""
    desk, michael, name = story.desk, story.people["Michael"], "Sitwell Enterprises"
    lead, stan = story.leads[name], story.contact_of(name)
    at = story.day(26)
    opp = desk.new_opportunity(
        story.by("Michael", "POST", "/api/v1/opportunity/"),
        at,
        lead,
        michael,
        1_200_000,
        note="Demo for the leasing team",
        competitor="Sitwell In-House",
    )
    demo = story.now - timedelta(days=24, hours=3)
    meeting = desk.meeting(lead, stan, michael, desk.later(at, 60, 120), "Product demo with Sitwell", demo)
    task = desk.add_task(
        story.by("Michael", "POST", "/api/v1/task/"),
        desk.later(at, 200, 400),
        lead,
        michael,
        "Send proposal to Stan",
    )
    desk.meeting_status(None, demo, meeting, "in-progress")
    at = demo + timedelta(minutes=34)
    desk.meeting_status(None, at, meeting, "completed")
    desk.set_status(
        story.by("Michael", "PUT", f"/api/v1/opportunity/{opp}/"),
        desk.later(at, 60, 200),
        opp,
        "Demo Completed",
    )
    at = desk.later(at, 300, 400)
    story.marks["lead_status_change"] = desk.set_status(
        story.by("Michael", "PUT", f"/api/v1/lead/{lead}/"), at, lead, "Qualified"
    )
    story.marks["status_change_lead"] = lead
    words = desk.words(lead, stan, michael)
    story.marks["note:sitwell"] = desk.note(
        lead, stan, michael, desk.later(at, 60, 90), tx.NOTES[3].format(**words), 4
    )
    feedback(story, lead, stan, michael, desk.later(at, 400, 600))
    at = story.day(22)
    changes = {**story.setup.custom("lead", {"Seats": 55}), "url": "https://sitwell.example.com"}
    story.log.update(story.by("Michael", "PUT", f"/api/v1/lead/{lead}/"), at, lead, changes)
    at = story.day(17)
    desk.set_status(story.by("Michael", "PUT", f"/api/v1/opportunity/{opp}/"), at, opp, "Proposal Sent")
    value = pl.opportunity_value_fields(1_500_000, "annual")
    story.log.update(
        story.by("Michael", "PUT", f"/api/v1/opportunity/{opp}/"), desk.later(at, 30, 60), opp, value
    )
    desk.email_out(lead, stan, michael, desk.later(at, 120, 300), tx.OUTGOING[1], autosaves=2)
    desk.complete_task(michael, story.day(14), task)
    at = story.day(5)
    desk.set_status(story.by("Michael", "PUT", f"/api/v1/opportunity/{opp}/"), at, opp, "Won")
    desk.set_status(
        story.by("Michael", "PUT", f"/api/v1/lead/{lead}/"), desk.later(at, 20, 60), lead, "Customer"
    )
    story.marks["opportunity:Sitwell"] = opp


def feedback(story: Story, lead: str, contact: str, user: Person, at: datetime) -> str:
    """A "Demo Feedback" custom activity: saved as a draft, then published with its values."""
    fields = {
        "custom_activity_type_id": story.marks["custom_activity_type:Demo Feedback"],
        "status": "draft",
        **story.setup.custom("activity", {"Rating": None, "Outcome": None}),
    }
    item = story.desk.activity("Custom", lead, contact, user, at, fields)
    story.log.create(
        story.by(user.first_name, "POST", "/api/v1/activity/custom/"), at, "activity.custom_activity", item
    )
    published = {
        "status": "published",
        **story.setup.custom("activity", {"Rating": 4, "Outcome": "Great"}),
    }
    req = story.by(user.first_name, "PUT", f"/api/v1/activity/custom/{item['id']}/")
    story.log.update(req, story.desk.later(at, 40, 90), item["id"], published)
    return str(item["id"])


def lead_edits(story: Story) -> None:
    """Plain lead and contact edits, and status changes undone or redone at once."""
    desk, leads = story.desk, story.leads
    balboa, austero, bob = leads["Balboa Towers"], leads["Austero Bluth"], leads["Bob Loblaw Law Blog"]
    second = pl.address("Newport Beach", "CA", "92663", "2 Balboa Pier", label="mailing")
    story.log.update(
        story.by("Maeby", "PUT", f"/api/v1/lead/{balboa}/"),
        story.day(22),
        balboa,
        {"addresses": [*story.log[balboa]["addresses"], second]},
    )
    req = story.by("Gob", "PUT", f"/api/v1/lead/{bob}/")
    at = story.day(21)
    change = desk.set_status(req, at, bob, "Bad Fit")
    desk.amend_status(req, desk.later(at, 30, 50), change, "Qualified")
    desk.add_contact(
        story.by("Lucille", "POST", "/api/v1/contact/"),
        story.day(20.5),
        austero,
        "Buster Bluth",
        "Operations",
    )
    at = story.day(19)
    change = desk.set_status(story.by("Michael", "PUT", f"/api/v1/lead/{austero}/"), at, austero, "Bad Fit")
    desk.revert_status(story.by("Michael", "PUT", f"/api/v1/lead/{austero}/"), desk.later(at, 15, 25), change)
    valley = leads["Sudden Valley HOA"]
    larry = story.contact_of("Sudden Valley HOA", 1)
    req, at = story.by("Tobias", "DELETE", f"/api/v1/contact/{larry}/"), story.day(18.5)
    story.log.delete(req, at, larry)
    story.log.update(
        req, at, valley, {"contact_ids": [c for c in story.log[valley]["contact_ids"] if c != larry]}
    )
    stan = story.log[story.contact_of("Sitwell Enterprises")]
    changes = {
        "title": "CEO & Chairman",
        "phones": [*stan["phones"], pl.phone_entry("+19495550177", "mobile")],
    }
    story.log.update(
        story.by("Michael", "PUT", f"/api/v1/contact/{stan['id']}/"), story.day(18), stan["id"], changes
    )
    tours = leads["Queen Mary Tours"]
    renamed = {"name": "Queen Mary Boat Tours", "display_name": "Queen Mary Boat Tours"}
    story.log.update(story.by("Maeby", "PUT", f"/api/v1/lead/{tours}/"), story.day(15), tours, renamed)
    story.marks["lead:Queen Mary Boat Tours"] = tours
    school = leads["Carl Weathers Acting School"]
    source = story.setup.custom("lead", {"Lead Source": "Zapier / Typeform"})
    story.log.update(story.zapier("PUT", f"/api/v1/lead/{school}/"), story.day(14), school, source)
    changes = {
        "url": "https://bobloblawlawblog.example.com",
        "description": "Law blog; wants call recording.",
    }
    story.log.update(story.by("Gob", "PUT", f"/api/v1/lead/{bob}/"), story.day(11), bob, changes)


def pipeline(story: Story) -> None:
    """Opportunities won, lost, amended, reverted, re-valued and deleted."""
    desk = story.desk
    banana = open_deal(
        story,
        "Lucille",
        21,
        "Bluth's Original Frozen Banana",
        60_000,
        period="monthly",
        status="Demo Completed",
    )
    desk.set_status(
        story.by("Lucille", "PUT", f"/api/v1/opportunity/{banana}/"), story.day(20), banana, "Won"
    )
    for name, who, first, then, days in (
        ("Pop-Pop's Seafood", "Tobias", "Proposal Sent", "Won", 17),
        ("Balboa Towers", "Maeby", "Lost", "", 16),
    ):
        opp = opportunity_of(story, name)
        req, at = story.by(who, "PUT", f"/api/v1/opportunity/{opp}/"), story.day(days)
        change = desk.set_status(req, at, opp, first)
        if then:
            desk.amend_status(req, desk.later(at, 20, 40), change, then)
        else:
            desk.revert_status(req, desk.later(at, 10, 20), change)
    austero = open_deal(story, "Lucille", 12, "Austero Bluth", 750_000)
    annyong = open_deal(story, "Michael", 9, "Annyong Imports", 40_000, period="monthly")
    path = f"/api/v1/opportunity/{annyong}/"
    story.log.update(
        story.by("Michael", "PUT", path),
        story.day(8),
        annyong,
        {**pl.opportunity_value_fields(480_000, "annual"), "confidence": 70},
    )
    story.log.delete(story.by("Michael", "DELETE", path), story.day(6), annyong)
    desk.set_status(
        story.by("Lucille", "PUT", f"/api/v1/opportunity/{austero}/"), story.day(5), austero, "Lost"
    )


def open_deal(story: Story, who: str, days: float, lead: str, value: int, **fields: Any) -> str:
    """An opportunity ``who`` opens on ``lead`` ``days`` ago, owned by ``who``."""
    req = story.by(who, "POST", "/api/v1/opportunity/")
    return story.desk.new_opportunity(
        req, story.day(days), story.leads[lead], story.people[who], value, **fields
    )


def opportunity_of(story: Story, lead: str) -> str:
    return next(i for i, kind in story.log.children(story.leads[lead]) if kind == "opportunity")


def conversations(story: Story) -> None:
    """Email back and forth with opens, calls, SMS, meetings through every status."""
    desk, people, leads = story.desk, story.people, story.leads
    gob, bob_lead = people["Gob"], leads["Bob Loblaw Law Blog"]
    bob = story.contact_of("Bob Loblaw Law Blog")
    first = desk.email_out(bob_lead, bob, gob, story.day(23), tx.OUTGOING[0], autosaves=3)
    story.marks["email_sent"] = first
    at = story.day(22.4)
    reply = desk.email_in(bob_lead, bob, gob, at, tx.INCOMING[1])
    task = desk.add_task(
        story.job("POST", "/api/v1/activity/email/"),
        at,
        bob_lead,
        gob,
        f"Reply to {story.log[bob]['name']}",
        kind="incoming_email",
    )
    pixel = story.log[first]["body_html"].rpartition("/email_opened/")[2].partition("/")[0]
    story.log.update(
        story.job("GET", f"/email_opened/{pixel}/"), desk.later(at, 60, 300), first, pl.opens(at, 2)
    )
    at = story.day(22.2)
    story.marks["email_reply"] = desk.email_out(bob_lead, bob, gob, at, tx.OUTGOING[2], autosaves=1)
    desk.complete_task(gob, desk.later(at, 60, 120), task)
    story.marks["email_incoming"] = reply
    words = desk.words(bob_lead, bob, gob)
    desk.call(bob_lead, bob, gob, story.day(13), note=tx.CALL_NOTES[1].format(**words), autosaves=3)
    text_messages(story)
    meetings(story)
    tantamount = leads["Tantamount Studios"]
    desk.call(
        tantamount,
        story.contact_of("Tantamount Studios"),
        people["Lucille"],
        story.day(13.5),
        inbound=True,
        answered=False,
    )
    logged_call_by_mistake(story)
    carl = leads["Carl Weathers Acting School"]
    spam = desk.email_in(
        carl,
        story.contact_of("Carl Weathers Acting School"),
        people["Michael"],
        story.day(1.2),
        tx.INCOMING[2],
    )
    desk.delete_email(people["Michael"], story.day(1), spam)
    balboa, wayne = leads["Balboa Towers"], story.contact_of("Balboa Towers")
    visit = feedback(story, balboa, wayne, people["Maeby"], story.day(13))
    story.log.delete(story.by("Maeby", "DELETE", f"/api/v1/activity/custom/{visit}/"), story.day(12), visit)


def text_messages(story: Story) -> None:
    desk, tobias, name = story.desk, story.people["Tobias"], "Sudden Valley HOA"
    lead, cindi = story.leads[name], story.contact_of(name)
    words = desk.words(lead, cindi, tobias)
    at = story.day(19)
    desk.sms_out(lead, cindi, tobias, at, tx.SMS_OUT[0].format(**words), autosaves=2)
    desk.sms_in(lead, cindi, tobias, desk.later(at, 300, 900), tx.SMS_IN[0])
    at = story.day(18)
    draft = desk.sms_draft(tobias, at, lead, cindi, "Hi Cindi, sorry wrong numb")
    story.log.delete(
        story.by("Tobias", "DELETE", f"/api/v1/activity/sms/{draft}/"), desk.later(at, 20, 40), draft
    )


def meetings(story: Story) -> None:
    """Rescheduled then held and annotated; canceled; deleted."""
    desk, people = story.desk, story.people
    balboa, wayne = story.leads["Balboa Towers"], story.contact_of("Balboa Towers")
    held = story.now - timedelta(days=13, hours=2)
    meeting = desk.meeting(
        balboa, wayne, people["Maeby"], story.day(16), "Pricing review", held - timedelta(days=1)
    )
    desk.meeting_status(
        people["Maeby"],
        story.day(15),
        meeting,
        "upcoming",
        starts_at=payload_time(held),
        ends_at=payload_time(held + timedelta(minutes=30)),
    )
    desk.meeting_status(None, held, meeting, "in-progress")
    desk.meeting_status(None, held + timedelta(minutes=41), meeting, "completed", duration=41 * 60)
    note = {"note": "Wayne wants the towers' front desk on the plan too. Quote 6 more seats."}
    story.log.update(
        story.by("Maeby", "PUT", f"/api/v1/activity/meeting/{meeting}/"),
        held + timedelta(minutes=55),
        meeting,
        note,
    )
    cinco, rita = story.leads["Cinco de Cuatro Events"], story.contact_of("Cinco de Cuatro Events")
    party = desk.meeting(
        cinco, rita, people["Gob"], story.day(10), "Event planning call", story.now - timedelta(days=8)
    )
    desk.meeting_status(people["Gob"], story.day(9), party, "canceled")
    puppets, starla = (
        story.leads["Franklin Delano Bluth Puppets"],
        story.contact_of("Franklin Delano Bluth Puppets"),
    )
    dud = desk.meeting(
        puppets, starla, people["Tobias"], story.day(11), "Puppet show demo", story.now + timedelta(days=2)
    )
    story.log.delete(story.by("Tobias", "DELETE", f"/api/v1/activity/meeting/{dud}/"), story.day(10.5), dud)


def logged_call_by_mistake(story: Story) -> None:
    """Tobias logs a call by hand on the wrong lead and deletes it."""
    tobias, name = story.people["Tobias"], "Franklin Delano Bluth Puppets"
    lead, starla = story.leads[name], story.contact_of(name)
    fields = {
        **pl.call_fields(
            direction="outbound",
            local=story.desk.lines[tobias.id],
            remote=story.log[starla]["phones"][0]["phone"],
            status="completed",
        ),
        "duration": 240,
        "source": "Manual",
        **pl.note_text("Talked about the tour. (Logged by hand.)"),
    }
    at = story.day(12)
    call = story.log.create(
        story.by("Tobias", "POST", "/api/v1/activity/call/"),
        at,
        "activity.call",
        story.desk.activity("Call", lead, starla, tobias, at, fields),
    )
    story.log.delete(
        story.by("Tobias", "DELETE", f"/api/v1/activity/call/{call['id']}/"),
        story.desk.later(at, 60, 90),
        call["id"],
    )


def tasks_and_notes(story: Story) -> None:
    """A task done and undone, one deleted; notes with a URL, markup and a prompt injection."""
    desk, people, leads = story.desk, story.people, story.leads
    maeby, wee = people["Maeby"], leads["Wee Britain"]
    task = desk.add_task(
        story.by("Maeby", "POST", "/api/v1/task/"),
        story.day(20),
        wee,
        maeby,
        "Call Mort back about pricing",
    )
    moved = {"date": (story.now - timedelta(days=16)).date().isoformat()}
    story.log.update(story.by("Maeby", "PUT", f"/api/v1/task/{task}/"), story.day(19), task, moved)
    at = story.day(18)
    done = desk.complete_task(maeby, at, task)
    assert done is not None
    desk.reopen_task(maeby, desk.later(at, 60, 120), task, done)
    caged = leads["Caged Wisdom"]
    task = desk.add_task(
        story.by("Tobias", "POST", "/api/v1/task/"),
        story.day(15),
        caged,
        people["Tobias"],
        "Find Sally's email",
    )
    story.log.delete(story.by("Tobias", "DELETE", f"/api/v1/task/{task}/"), story.day(14), task)
    for key, lead, who, days, text, saves in (
        ("note:url", "Tantamount Studios", "Lucille", 11.5, tx.URL_NOTE, 1),
        ("note:injection", "Gene Parmesan Investigations", "Tobias", 11, tx.INJECTION_NOTE, 2),
        (
            "note:markup",
            "Dr. Fünke's 100% Natural Good-Time Family-Band Solution",
            "Tobias",
            10,
            tx.MARKUP_NOTE,
            0,
        ),
        (
            "note:boyfights",
            "Boyfights",
            "Gob",
            20,
            "Not a fit: they want a 2-seat plan for a fight club.",
            0,
        ),
        ("note:austero", "Austero Bluth", "Lucille", 20, tx.NOTES[1], 2),
        ("note:annyong", "Annyong Imports", "George Michael", 9, tx.NOTES[2], 1),
    ):
        contact = story.contact_of(lead)
        body = text.format(**desk.words(leads[lead], contact, people[who]))
        story.marks[key] = desk.note(leads[lead], contact, people[who], story.day(days), body, saves)
    oops = desk.note(
        wee,
        story.contact_of("Wee Britain"),
        maeby,
        story.day(9),
        "Mort wants the Union Jack on the invoice",
    )
    story.log.delete(story.by("Maeby", "DELETE", f"/api/v1/activity/note/{oops}/"), story.day(8.9), oops)
    desk.call(
        leads["Army Surplus Outlet"],
        story.contact_of("Army Surplus Outlet"),
        people["Gob"],
        story.day(15),
        answered=False,
    )


# --- Jobs ---------------------------------------------------------------------------------------


def csv_import(story: Story) -> None:
    """Eight leads imported from a CSV on day 18, all reverted on day 16."""
    desk, rng, path = story.desk, story.rng, "/api/v1/import/"
    at = story.day(18)
    fields = pl.import_fields("orange-county-leads.csv", len(IMPORTED))
    imp = story.configure(story.by("Gob", "POST", path), at, "import", "imp_", **fields)
    story.marks["import"] = imp
    story.job_step(story.job("POST", path), desk.later(at, 5, 15), imp, {"status": "processing"})
    worker = story.by("Gob", "POST", path)
    for count, name in enumerate(IMPORTED, start=1):
        at = desk.later(at, 20, 40)
        person = f"{rng.choice(tx.FIRST_NAMES)} {rng.choice(tx.LAST_NAMES)}: {rng.choice(tx.TITLES)}"
        industry, seats = rng.choice(INDUSTRIES), rng.randint(3, 40)
        story.add_lead(
            LeadRow(name, "Potential", industry, seats, "CSV import", "import@18", person), worker, at
        )
        if count % 3 == 0:
            story.job_step(story.job("POST", path), at, imp, import_totals(count))
    done = {**import_totals(len(IMPORTED)), "status": "completed"}
    story.job_step(story.job("POST", path), desk.later(at, 2, 5), imp, done, "completed")
    at, revert = story.day(16), f"{path}{imp}/revert/"
    story.job_step(story.by("Gob", "POST", revert), at, imp, {"status": "reverting"}, "reverting")
    worker = story.by("Gob", "POST", revert, revert_import_id=imp)
    for name in IMPORTED:
        at = desk.later(at, 1, 3)
        desk.delete_lead(worker, at, story.leads[name])
    story.job_step(story.job("POST", revert), desk.later(at, 2, 5), imp, {"status": "reverted"}, "reverted")


def import_totals(count: int) -> dict[str, int]:
    return {"total_imported": count, "total_leads": count, "total_contacts": count}


def run_bulk(
    story: Story,
    kind: str,
    who: str,
    at: datetime,
    targets: Sequence[str],
    work: Work,
    pause_after: int,
    **fields: Any,
) -> str:
    """A bulk action: created, processing with progress updates, paused once and resumed by its
    owner, completed. ``work`` does one target; its changes carry meta.bulk_action_id."""
    desk, path = story.desk, f"/api/v1/bulk_action/{kind}/"
    bulk_id = story.configure(
        story.by(who, "POST", path),
        at,
        f"bulk_action.{kind}",
        BULK_PREFIXES[kind],
        **pl.job_fields("created", len(targets), **fields),
    )
    story.marks[f"bulk_{kind}"] = bulk_id
    worker = story.by(who, "POST", path, bulk_action_id=bulk_id)
    at = desk.later(at, 3, 10)
    story.job_step(story.job("POST", path), at, bulk_id, {"status": "processing"})
    for done, target in enumerate(targets, start=1):
        at = desk.later(at, 1, 5)
        work(worker, at, target)
        if done == pause_after:
            at = desk.later(at, 35, 50)
            story.job_step(
                story.job("POST", path), at, bulk_id, {"status": "paused", "n_docs_processed": done}, "paused"
            )
            at = desk.later(at, 300, 900)
            story.job_step(story.by(who, "PUT", f"{path}{bulk_id}/"), at, bulk_id, {"status": "processing"})
        elif done % 3 == 0:
            story.job_step(story.job("POST", path), at, bulk_id, {"n_docs_processed": done})
    finished = {"status": "completed", "n_docs_processed": len(targets)}
    story.job_step(story.job("POST", path), desk.later(at, 35, 50), bulk_id, finished, "completed")
    return bulk_id


def bulk_edit(story: Story) -> None:
    """Lucille qualifies four small leads at once."""
    targets = (
        "Ann Veal Youth Ministry",
        "Caged Wisdom",
        "Gene Parmesan Investigations",
        "Mrs. Featherbottom Nannies",
    )
    qualified = story.setup.lead_statuses["Qualified"]

    def qualify(req: Request, at: datetime, name: str) -> str:
        return story.desk.set_status(req, at, story.leads[name], "Qualified")

    run_bulk(
        story,
        "edit",
        "Lucille",
        story.day(12),
        targets,
        qualify,
        2,
        type="set_lead_status",
        lead_status_id=qualified.id,
        query='lead_status:"Potential" custom.Seats < 10',
    )


def bulk_sequence_subscription(story: Story) -> None:
    """Michael subscribes four contacts to the nurture sequence; Mort replies and is paused."""
    sequence = story.log[story.marks["sequence:Post-demo nurture"]]
    michael = story.people["Michael"]
    leads = ("Wee Britain", "Queen Mary Tours", "Gothic Asylum", "Tantamount Studios")
    subscriptions: dict[str, str] = {}

    def subscribe(req: Request, at: datetime, name: str) -> str:
        contact = story.log[story.contact_of(name)]
        fields = pl.subscription_fields(sequence, contact, michael)
        subscriptions[name] = story.configure(req, at, "sequence_subscription", "sub_", **fields)
        return subscriptions[name]

    run_bulk(
        story,
        "sequence_subscription",
        "Michael",
        story.day(9),
        leads,
        subscribe,
        2,
        sequence_id=sequence["id"],
        action_type="subscribe",
        query='lead_status:"Potential"',
    )
    mort = subscriptions["Wee Britain"]
    req = story.job("POST", "/api/v1/sequence_subscription/")
    story.log.update(req, story.day(7), mort, {"status": "paused", "pause_reason": "replied"})
    story.marks["sequence_subscription"] = mort


def bulk_email(story: Story) -> None:
    """Gob emails the freshly qualified leads from the demo template; his mailbox needs
    reconnecting halfway."""
    gob = story.people["Gob"]
    template = story.marks["email_template:Demo follow-up"]
    targets = ("Ann Veal Youth Ministry", "Caged Wisdom", "Gene Parmesan Investigations")

    def send(req: Request, at: datetime, name: str) -> str:
        contact = story.contact_of(name)
        return story.desk.email_out(
            story.leads[name], contact, gob, at, tx.OUTGOING[2], via=req, template_id=template
        )

    run_bulk(
        story,
        "email",
        "Gob",
        story.day(8),
        targets,
        send,
        1,
        template_id=template,
        sender_name=gob.name,
        sender_email=gob.email,
        contact_preference="lead",
        query='lead_status:"Qualified"',
    )


def bulk_delete(story: Story) -> None:
    """Gob deletes every Bad Fit lead (and, with them, their contacts and activity)."""

    def delete(req: Request, at: datetime, name: str) -> None:
        story.desk.delete_lead(req, at, story.leads[name])

    run_bulk(story, "delete", "Gob", story.day(4), BAD_FIT, delete, 5, query='lead_status:"Bad Fit"')


def merge(story: Story) -> None:
    """A duplicate "Bluth Company" arrives from Zapier on day 10 and gathers some activity;
    Michael merges it into the original on day 6, all in one request."""
    desk, michael, gob = story.desk, story.people["Michael"], story.people["Gob"]
    people = "George Bluth Sr.: Founder; Kitty Sanchez: Executive Assistant"
    row = LeadRow("Bluth Company (duplicate)", "Potential", "Real Estate", 100, "Zapier", "zapier@10", people)
    at = story.day(10)
    source = story.add_lead(row, story.zapier("POST", "/api/v1/lead/"), at)
    desk.new_opportunity(
        story.by("Michael", "POST", "/api/v1/opportunity/"),
        desk.later(at, 600, 1200),
        source,
        michael,
        5_000_000,
        note="Company-wide rollout",
    )
    george = story.contact_of("Bluth Company (duplicate)")
    desk.note(
        source,
        george,
        gob,
        story.day(9),
        "George Sr. called from prison: wants the whole company on Close.",
        1,
    )
    desk.call(
        source,
        george,
        michael,
        story.day(8),
        note=tx.CALL_NOTES[0].format(first="George"),
        autosaves=1,
    )
    destination = story.leads["Bluth Company"]
    req = story.by(
        "Michael",
        "POST",
        "/api/v1/lead/merge/",
        merge_source_lead_id=source,
        merge_destination_lead_id=destination,
    )
    story.marks.update(merge_source=source, merge_destination=destination, merge_request=req.id)
    move_into(story, req, story.day(6), source, destination)


def move_into(story: Story, req: Request, at: datetime, source: str, destination: str) -> None:
    """The merge itself: contacts and opportunities re-created on the destination, activities
    moved, the destination updated, the source deleted, then ``merged``."""
    log = story.log
    renamed: dict[str, str] = {}
    children = log.children(source)
    for object_id, object_type in children:
        if object_type in ("contact", "opportunity"):
            renamed[object_id] = copy_to(story, req, at, object_id, destination, renamed)
    for object_id, object_type in children:
        if object_type.startswith("activity."):
            old = log[object_id]
            moved = {"lead_id": destination, "contact_id": renamed.get(old["contact_id"], old["contact_id"])}
            log.update(req, at, object_id, moved)
    added = [renamed[c] for c in log[source]["contact_ids"]]
    log.update(req, at, destination, {"contact_ids": [*log[destination]["contact_ids"], *added]})
    log.delete(req, at, source)
    log.signal(req, at, destination, "merged")


def copy_to(
    story: Story, req: Request, at: datetime, object_id: str, destination: str, renamed: dict[str, str]
) -> str:
    """A source contact or opportunity deleted and re-created on the destination lead."""
    object_type = "contact" if object_id.startswith("cont_") else "opportunity"
    old = story.log.delete(req, at, object_id)
    copy = {
        **old,
        "id": story.ids.new(object_id[:5]),
        "lead_id": destination,
        "date_updated": payload_time(at),
    }
    if object_type == "opportunity":
        copy.update(
            lead_name=story.log[destination]["display_name"], contact_id=renamed.get(old["contact_id"])
        )
    story.log.create(req, at, object_type, copy)
    return str(copy["id"])


SCENES: Final[tuple[Callable[[Story], None], ...]] = (
    new_leads,
    sitwell_deal,
    lead_edits,
    pipeline,
    conversations,
    tasks_and_notes,
    csv_import,
    bulk_edit,
    merge,
    bulk_sequence_subscription,
    bulk_email,
    bulk_delete,
)
"""In the order they run: each object's history stays chronological."""
