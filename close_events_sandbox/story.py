"""The organization of the story and the people in it, and its configuration changes.

:class:`Story` holds the state every scene shares (the event log, the users, the leads by
name, the landmarks) and the helpers scenes use to make requests. It also tells the parts that
are not about leads: the organization as it stood before the story (no events), the lead
created 36 days ago (past the 30-day retention), and a month of configuration changes by the
admins: custom fields, statuses, groups, Smart Views, phone numbers, templates, sequences,
memberships, exports, custom activity and object types.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

from close_events_sandbox import payloads as pl
from close_events_sandbox import texts as tx
from close_events_sandbox.desk import Desk
from close_events_sandbox.ids import EventLog, IdMaker, Person, Request

ORG_NAME: Final = "Bluth Company Sales"
USERS: Final = (
    ("Gob", "Bluth", True),
    ("Lucille", "Bluth", True),
    ("Michael", "Bluth", True),
    ("Maeby", "Fünke", False),
    ("Tobias", "Fünke", False),
    ("George Michael", "Bluth", False),
)
LEAD_STATUSES: Final = ("Potential", "Qualified", "Bad Fit", "Customer")
OPPORTUNITY_STATUSES: Final = (
    ("Demo Scheduled", "active"),
    ("Demo Completed", "active"),
    ("Proposal Sent", "active"),
    ("Won", "won"),
    ("Lost", "lost"),
)
INDUSTRIES: Final = (
    "Real Estate",
    "Legal",
    "Hospitality",
    "Education",
    "Entertainment",
    "Consumer Goods",
    "Food & Beverage",
    "Non-profit",
)
FIELDS: Final = (
    ("lead", "Seats", "number", ()),
    ("lead", "Industry", "choices", INDUSTRIES),
    ("lead", "Lead Source", "text", ()),
    ("contact", "Preferred Language", "choices", ("English", "Spanish", "Korean")),
    ("opportunity", "Competitor", "choices", ("None", "Sitwell In-House", "Pipeline Pro")),
)


class LeadRow(NamedTuple):
    name: str
    status: str
    industry: str
    seats: int
    source: str
    origin: str
    """Who created it and when: ``"Maeby@27"``, ``"zapier@26"``, ``"oauth@25"``; empty when the
    lead is older than the story."""
    people: str
    """Its contacts: ``"Name: Title; Name: Title"``."""

    def contacts(self) -> tuple[tuple[str, str], ...]:
        pairs = (person.partition(": ") for person in self.people.split("; "))
        return tuple((name, title) for name, _, title in pairs)


LEADS: Final = (
    LeadRow("Bluth Company", "Customer", "Real Estate", 120, "Referral", "",
        "George Bluth Sr.: Founder; Oscar Bluth: Consultant"),
    LeadRow("Sitwell Enterprises", "Potential", "Real Estate", 40, "Trade Show", "",
        "Stan Sitwell: CEO; Sally Sitwell: VP Marketing"),
    LeadRow("Bob Loblaw Law Blog", "Potential", "Legal", 8, "Website", "", "Bob Loblaw: Attorney at Law"),
    LeadRow("Austero Bluth", "Qualified", "Consumer Goods", 25, "Referral", "", "Lucille Austero: Owner"),
    LeadRow("Balboa Towers", "Qualified", "Real Estate", 30, "Cold Call", "",
        "Wayne Jarvis: Property Manager"),
    LeadRow("Sudden Valley HOA", "Potential", "Real Estate", 15, "Website", "",
        "Cindi Lightballoon: Board Member; Larry Middleman: Treasurer"),
    LeadRow("Dr. Fünke's 100% Natural Good-Time Family-Band Solution", "Potential", "Consumer Goods", 4,
        "Trade Show", "", "Lindsay Fünke: Co-founder"),
    LeadRow("Pop-Pop's Seafood", "Qualified", "Food & Beverage", 18, "Referral", "", "Ice Ramirez: Owner"),
    LeadRow("Gene Parmesan Investigations", "Potential", "Legal", 3, "Website", "",
        "Gene Parmesan: Investigator"),
    LeadRow("Ann Veal Youth Ministry", "Potential", "Non-profit", 6, "Website", "", "Ann Veal: Coordinator"),
    LeadRow("Annyong Imports", "Qualified", "Consumer Goods", 22, "Cold Call", "",
        "Hel-loh Annyong: Director"),
    LeadRow("Mrs. Featherbottom Nannies", "Potential", "Hospitality", 9, "Referral", "",
        "Emma Featherbottom: Owner"),
    LeadRow("Bluth's Original Frozen Banana", "Customer", "Food & Beverage", 12, "Referral", "",
        "Marta Estrella: Store Manager"),
    LeadRow("Caged Wisdom", "Potential", "Entertainment", 5, "Website", "", "Sally Mae: Producer"),
    LeadRow("Cinco de Cuatro Events", "Qualified", "Hospitality", 35, "Trade Show", "",
        "Rita Leeds: Event Director; Steve Holt: Volunteer Lead"),
    LeadRow("Boyfights", "Bad Fit", "Entertainment", 2, "Website", "", "Tony Wonder: Promoter"),
    LeadRow("Army Surplus Outlet", "Bad Fit", "Consumer Goods", 3, "Cold Call", "", "Sgt. Gentles: Owner"),
    LeadRow("Gothic Asylum", "Bad Fit", "Entertainment", 4, "Website", "", "Lupe Ortiz: Manager"),
    LeadRow("Mr. Banana Grabber", "Bad Fit", "Food & Beverage", 1, "Referral", "", "Franklin Delano: Mascot"),
    LeadRow("Homeless Dad Records", "Bad Fit", "Entertainment", 2, "Website", "", "Warden Gentles: A&R"),
    LeadRow("Fakeblock", "Bad Fit", "Consumer Goods", 6, "Trade Show", "", "Rebel Alley: Co-founder"),
    LeadRow("Milford School", "Potential", "Education", 60, "Website", "Lucille@36",
        "Dr. Fensterwald: Principal; Lottie Dottie: IT Lead"),
    LeadRow("Wee Britain", "Potential", "Consumer Goods", 12, "Website", "Maeby@27", "Mort Meyers: Owner"),
    LeadRow("Queen Mary Tours", "Potential", "Hospitality", 20, "Zapier", "zapier@26",
        "Larry Sellers: Captain"),
    LeadRow("Tantamount Studios", "Qualified", "Entertainment", 45, "Referral", "oauth@25",
        "Maggie Lizer: Producer; Kitty Sanchez: Assistant"),
    LeadRow("Franklin Delano Bluth Puppets", "Potential", "Entertainment", 3, "Trade Show", "Tobias@24",
        "Starla Fields: Manager"),
    LeadRow("Cornballer Inc", "Potential", "Consumer Goods", 5, "Zapier", "zapier@23",
        "Carl Weathers: Spokesman"),
    LeadRow("Carl Weathers Acting School", "Potential", "Education", 14, "Zapier", "zapier@20",
        "Carl Weathers: Founder; Ron Howard: Guest Lecturer"),
)  # fmt: skip
BAD_FIT: Final = (*(row.name for row in LEADS if row.status == "Bad Fit"), "Cornballer Inc")
DEALS_BEFORE: Final = (
    ("Pop-Pop's Seafood", "Demo Completed", 900_000),
    ("Balboa Towers", "Proposal Sent", 2_400_000),
    ("Fakeblock", "Demo Scheduled", 300_000),
)
IMPORTED: Final = (
    "Seaside Condo Association", "Shoreline Realty", "Newport Yacht Club", "Orange County Dental",
    "Laguna Surf Shop", "Irvine Tech Park", "Costa Mesa Bakery", "Huntington Beach Bikes",
)  # fmt: skip


HOT_LEADS: Final = 'lead_status:"Qualified" custom.Seats >= 20'
ACTIVITY_FIELDS: Final[dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]]] = {
    "Demo Feedback": (("Rating", "number", ()), ("Outcome", "choices", ("Great", "Okay"))),
    "Site Visit": (("Visit Notes", "text", ()),),
}
"""The fields of each custom activity type: name, type, choices."""
CONFIG_ENDPOINTS: Final = {
    "custom_fields.lead": ("cf_", "custom_field/lead"),
    "custom_fields.contact": ("cf_", "custom_field/contact"),
    "custom_fields.opportunity": ("cf_", "custom_field/opportunity"),
    "custom_fields.shared": ("cf_", "custom_field/shared"),
    "status.lead": ("stat_", "status/lead"),
    "status.opportunity": ("stat_", "status/opportunity"),
    "group": ("group_", "group"),
    "saved_search": ("save_", "saved_search"),
    "phone_number": ("phon_", "phone_number"),
    "email_template": ("tmpl_", "email_template"),
    "sequence": ("seq_", "sequence"),
    "custom_object_type": ("cotype_", "custom_object_type"),
}
"""Configuration object type → (ID prefix, API endpoint)."""


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """A configuration object created, updated and deleted on the given days ago (None: skip;
    a None creation means the object predates the story)."""

    object_type: str
    who: str
    days: tuple[float | None, float | None, float | None]
    fields: Mapping[str, Any]
    changes: Mapping[str, Any]


class Story:
    """Builds the organization scene by scene into ``log``."""

    def __init__(self, now: datetime, rng: random.Random) -> None:
        self.now = now
        self.rng = rng
        self.ids = IdMaker(rng)
        self.org = {"id": self.ids.new("orga_"), "name": ORG_NAME}
        self.log = EventLog(self.ids, self.org["id"])
        self.setup = pl.Setup(self.org["id"], pipeline_id=self.ids.new("pipe_"))
        self.desk = Desk(self.log, self.setup, rng, deadline=now - timedelta(seconds=1))
        self.people: dict[str, Person] = {}
        self.joined: dict[str, datetime] = {}
        self.memberships: dict[str, str] = {}
        self.leads: dict[str, str] = {}
        self.marks: dict[str, str] = {}
        self.zapier_key = self.ids.new("api_")
        self.oauth_client = self.ids.new("oa2client_")

    # --- helpers ---------------------------------------------------------------------------

    def day(self, days: float) -> datetime:
        """A moment on the day ``days`` ago, up to two hours earlier."""
        return self.now - timedelta(days=days, minutes=self.rng.uniform(0, 120))

    def by(self, first: str, method: str, path: str, **meta: str) -> Request:
        return self.log.request(self.people[first], method, path, **meta)

    def zapier(self, method: str, path: str) -> Request:
        return self.log.request(self.people["Michael"], method, path, api_key_id=self.zapier_key)

    def oauth(self, method: str, path: str) -> Request:
        return self.log.request(self.people["Lucille"], method, path, oauth_client_id=self.oauth_client)

    def job(self, method: str, path: str, **meta: str) -> Request:
        """A step of a background job: no user caused it."""
        return self.log.request(None, method, path, **meta)

    def contact_of(self, lead: str, index: int = 0) -> str:
        return str(self.log[self.leads[lead]]["contact_ids"][index])

    def configure(
        self, req: Request | None, at: datetime, object_type: str, prefix: str, **fields: Any
    ) -> str:
        """A configuration object, created by ``req`` (or predating the story when None)."""
        obj = pl.config(self.ids.new(prefix), self.setup.org_id, req.user if req else None, at, **fields)
        if req is None:
            self.log.put(object_type, obj)
        else:
            self.log.create(req, at, object_type, obj)
        return str(obj["id"])

    def run_job(
        self, req: Request, at: datetime, object_type: str, prefix: str, steps: int, **fields: Any
    ) -> str:
        """An export: created, progress updates, completed with a download link."""
        job_id = self.configure(req, at, object_type, prefix, **fields)
        total = int(fields["n_docs"])
        for step in range(1, steps + 1):
            at = self.desk.later(at, 20, 90)
            progress = {"status": "in_progress", "n_docs_processed": total * step // (steps + 1)}
            self.job_step(self.job(req.method, req.path), at, job_id, progress)
        link = f"https://exports.close.com/{job_id}.{fields['format']}"
        done = {"status": "done", "n_docs_processed": total, "download_url": link}
        self.job_step(self.job(req.method, req.path), self.desk.later(at, 20, 90), job_id, done, "completed")
        return job_id

    def job_step(
        self, req: Request, at: datetime, job_id: str, changes: Mapping[str, Any], signal: str = ""
    ) -> None:
        """A job's fields change (progress, status); ``signal`` names the action it reached."""
        self.log.update(req, at, job_id, changes, signal=signal)

    # --- the organization before the story -------------------------------------------------

    def found_org(self) -> None:
        founded = self.now - timedelta(days=400)
        for index, (first, last, admin) in enumerate(USERS):
            email = f"{tx.fold(first)}@bluthcompany.example.com"
            person = Person(self.ids.new("user_"), first, last, email, admin)
            self.people[first] = person
            self.joined[first] = founded + timedelta(days=30 * index)
            self.marks[f"user:{first}"] = person.id
            self.desk.lines[person.id] = f"+1949555{142 + index:04d}"
        self.joined["George Michael"] = self.day(26)
        for first, person in self.people.items():
            self.memberships[first] = self.ids.new("memb_")
            member = pl.membership(
                self.memberships[first],
                self.setup.org_id,
                person,
                active=True,
                at=self.joined[first],
                created=self.joined[first],
            )
            if first != "George Michael":
                self.log.put("membership", member)
        for label in LEAD_STATUSES:
            status_id = self.configure(None, founded, "status.lead", "stat_", label=label)
            self.setup.lead_statuses[label] = pl.Status(status_id, label)
        for label, kind in OPPORTUNITY_STATUSES:
            status_id = self.configure(
                None,
                founded,
                "status.opportunity",
                "stat_",
                label=label,
                type=kind,
                pipeline_id=self.setup.pipeline_id,
            )
            self.setup.opportunity_statuses[label] = pl.Status(status_id, label, kind)
        for owner, name, kind, choices in FIELDS:
            field_id = self.configure(
                None, founded, f"custom_fields.{owner}", "cf_", **pl.custom_field_fields(name, kind, choices)
            )
            self.setup.fields[f"{owner}:{name}"] = field_id
            self.marks[f"custom_field:{name}"] = field_id
        for row in LEADS:
            if not row.origin:
                self.add_lead(row, None, self.now - timedelta(days=self.rng.uniform(45, 300)))
        for name, status, value in DEALS_BEFORE:
            lead_id = self.leads[name]
            when = self.now - timedelta(days=40)
            self.desk.new_opportunity(None, when, lead_id, self.people["Tobias"], value, status=status)

    def add_lead(self, row: LeadRow, req: Request | None, at: datetime, *, mark: bool = True) -> str:
        city, zipcode = self.rng.choice(tx.CITIES)
        lead_id = self.desk.new_lead(
            req,
            at,
            row.name,
            row.contacts(),
            status=row.status,
            url=f"https://{tx.domain_of(row.name)}",
            description=f"{row.industry} prospect in {city}.",
            addresses=[pl.address(city, "CA", zipcode, self.rng.choice(tx.STREETS))],
            custom={"Seats": row.seats, "Industry": row.industry, "Lead Source": row.source},
        )
        if mark:
            self.leads[row.name] = lead_id
            self.marks[f"lead:{row.name}"] = lead_id
        return lead_id

    # --- before the window, and configuration across the month -----------------------------

    def ancient_history(self) -> None:
        """A lead created 36 days ago and a note from 33 days ago: past Close's retention."""
        row = next(row for row in LEADS if row.name == "Milford School")
        first_event = len(self.log.events)
        lead_id = self.add_lead(row, self.by("Lucille", "POST", "/api/v1/lead/"), self.day(36))
        self.marks["old_event"] = self.log.events[first_event]["id"]
        text = "Dr. Fensterwald wants a quote for 60 seats before the school board meets in three weeks."
        self.desk.note(lead_id, self.contact_of("Milford School"), self.people["Lucille"], self.day(33), text)

    def configuration(self) -> None:
        templates = [self.live(plan) for plan in self.template_plans()]
        for plan in self.config_plans(templates[0]):
            self.live(plan)
        self.membership_changes()
        self.custom_activity_types()
        self.custom_objects()
        export = pl.job_fields(
            "created", 412, type="leads", format="csv", query='lead_status:"Qualified"', download_url=None
        )
        self.run_job(
            self.oauth("POST", "/api/v1/export/lead/"), self.day(25), "export.lead", "expt_", 3, **export
        )
        export = pl.job_fields(
            "created", 96, type="opportunities", format="json", query="", download_url=None
        )
        self.run_job(
            self.by("Michael", "POST", "/api/v1/export/opportunity/"),
            self.day(7),
            "export.opportunity",
            "expt_",
            2,
            **export,
        )

    def live(self, plan: Lifecycle) -> str:
        """Create, update and delete a configuration object on the plan's days."""
        created, updated, deleted = plan.days
        prefix, endpoint = CONFIG_ENDPOINTS[plan.object_type]
        path = f"/api/v1/{endpoint}/"
        req = self.by(plan.who, "POST", path) if created is not None else None
        at = self.day(created) if created is not None else self.now - timedelta(days=120)
        object_id = self.configure(req, at, plan.object_type, prefix, **plan.fields)
        name = plan.fields.get("name") or plan.fields.get("label")
        self.marks[f"{plan.object_type}:{name}"] = object_id
        if updated is not None:
            self.log.update(
                self.by(plan.who, "PUT", f"{path}{object_id}/"), self.day(updated), object_id, plan.changes
            )
        if deleted is not None:
            self.log.delete(self.by(plan.who, "DELETE", f"{path}{object_id}/"), self.day(deleted), object_id)
        return object_id

    def template_plans(self) -> list[Lifecycle]:
        def template(name: str, subject: str) -> dict[str, Any]:
            body = "<p>Hi {{ contact.first_name }},</p><p>Thanks for your time today. Here is a recap.</p>"
            return {"name": name, "subject": subject, "body": body, "is_shared": True, "attachments": []}

        return [
            Lifecycle("email_template", "Michael", (28, 15, None),
                template("Demo follow-up", "Great to meet you"), {"subject": "Next steps after our demo"}),
            Lifecycle("email_template", "Gob", (None, None, 2), template("Old intro", "Magic and sales"), {}),
        ]  # fmt: skip

    def config_plans(self, template_id: str) -> list[Lifecycle]:
        people = self.people
        cf = pl.custom_field_fields
        step = pl.sequence_steps([template_id], self.rng)
        closers = [people["Gob"].id, people["Michael"].id]
        tiers = ("CEO", "CFO")
        return [
            Lifecycle("custom_fields.lead", "Gob", (29, 22, 7), cf("Renewal Date", "date"),
                {"name": "Renewal Month"}),
            Lifecycle("custom_fields.contact", "Michael", (28, 21, 7), cf("Twitter Handle", "text"),
                {"description": "Without the @"}),
            Lifecycle("custom_fields.opportunity", "Lucille", (27, 20, 6),
                cf("Decision Maker", "choices", tiers), {"choices": [*tiers, "Board"]}),
            Lifecycle("custom_fields.shared", "Gob", (26, 15, 3),
                cf("Account Tier", "choices", ("Gold", "Silver"), associations=[{"object_type": "lead"}]),
                {"choices": ["Gold", "Silver", "Bronze"]}),
            Lifecycle("status.lead", "Lucille", (25, 18, 2), {"label": "Nurture"}, {"label": "Nurturing"}),
            Lifecycle("status.opportunity", "Michael", (20, 10, 2),
                {"label": "Contract Sent", "type": "active", "pipeline_id": self.setup.pipeline_id},
                {"label": "Contract Out"}),
            Lifecycle("group", "Gob", (28, 2, None), {"name": "Closers", "members": closers},
                {"members": [*closers, people["Maeby"].id]}),
            Lifecycle("group", "Gob", (20, None, 2),
                {"name": "Interns", "members": [people["George Michael"].id]}, {}),
            Lifecycle("saved_search", "Maeby", (27, 15, None),
                {"name": "Hot leads in Orange County", "query": HOT_LEADS, "is_shared": False,
                 "shared_with": []},
                {"is_shared": True, "shared_with": closers}),
            Lifecycle("phone_number", "Gob", (20, 2, None),
                pl.phone_fields("+19495550199", "Support line", [people["Tobias"].id]),
                {"forward_to_enabled": True, "forward_to": "+19495550142"}),
            Lifecycle("phone_number", "Gob", (None, None, 2),
                pl.phone_fields("+17145550111", "Old main line", []), {}),
            Lifecycle("sequence", "Michael", (28, 15, None),
                {"name": "Post-demo nurture", "status": "active", "steps": step},
                {"steps": [*step, *pl.sequence_steps([template_id, template_id], self.rng)[1:]]}),
            Lifecycle("sequence", "Gob", (14, None, 2),
                {"name": "Test sequence", "status": "draft", "steps": []}, {}),
            Lifecycle("custom_object_type", "Gob", (15.5, 3, None),
                {"name": "Contract", "name_plural": "Contracts", "description": "Signed contracts"},
                {"description": "Signed and pending contracts"}),
            Lifecycle("custom_object_type", "Gob", (15, None, 3),
                {"name": "Legacy Asset", "name_plural": "Legacy Assets", "description": ""}, {}),
        ]  # fmt: skip

    def membership_changes(self) -> None:
        """George Michael accepts his invitation; Kitty Sanchez is removed."""
        joined = self.joined["George Michael"]
        member = self.memberships["George Michael"]
        self.log.put(
            "membership",
            pl.membership(
                member,
                self.setup.org_id,
                self.people["George Michael"],
                active=True,
                at=joined,
                created=joined,
            ),
        )
        self.log.signal(
            self.by("George Michael", "POST", "/api/v1/invitation/accept/"), joined, member, "activated"
        )
        kitty = Person(self.ids.new("user_"), "Kitty", "Sanchez", "kitty@bluthcompany.example.com", False)
        member, at = self.ids.new("memb_"), self.day(20)
        gone = pl.membership(
            member, self.setup.org_id, kitty, active=False, at=at, created=self.now - timedelta(days=300)
        )
        self.log.put("membership", gone)
        self.log.signal(self.by("Gob", "DELETE", f"/api/v1/membership/{member}/"), at, member, "deactivated")
        self.marks["user:Kitty (removed)"] = kitty.id

    def custom_activity_types(self) -> None:
        """ "Demo Feedback" with two fields; "Site Visit", deleted later with its field."""
        path, fields_path = "/api/v1/custom_activity/", "/api/v1/custom_field/activity/"
        for name, days in (("Demo Feedback", 29.0), ("Site Visit", 20.0)):
            at = self.day(days)
            type_id = self.configure(
                self.by("Gob", "POST", path),
                at,
                "custom_activity_type",
                "actitype_",
                name=name,
                description="",
                api_create_only=False,
                field_order=[],
            )
            self.marks[f"custom_activity_type:{name}"] = type_id
            specs = ACTIVITY_FIELDS[name]
            order = []
            for field_name, kind, choices in specs:
                at = self.desk.later(at, 20, 60)
                fields = pl.custom_field_fields(field_name, kind, choices, custom_activity_type_id=type_id)
                order.append(
                    self.configure(
                        self.by("Gob", "POST", fields_path), at, "custom_fields.activity", "cf_", **fields
                    )
                )
                self.setup.fields[f"activity:{field_name}"] = order[-1]
            self.log.update(
                self.by("Gob", "PUT", f"{path}{type_id}/"),
                self.desk.later(at, 5, 20),
                type_id,
                {"field_order": order},
            )
        outcome = self.setup.fields["activity:Outcome"]
        req = self.by("Gob", "PUT", f"{fields_path}{outcome}/")
        self.log.update(req, self.day(22), outcome, {"choices": ["Great", "Okay", "Rough"]})
        site_visit = self.marks["custom_activity_type:Site Visit"]
        req, at = self.by("Gob", "DELETE", f"{path}{site_visit}/"), self.day(3)
        self.log.delete(req, at, site_visit)
        self.log.delete(req, at, self.setup.fields["activity:Visit Notes"])

    def custom_objects(self) -> None:
        contract_type = self.marks["custom_object_type:Contract"]
        plans = (
            ("Contract #1042", "Sitwell Enterprises", 15, 3, None),
            ("Contract #0999", "Balboa Towers", 14, None, 13),
        )
        for name, lead, created, updated, deleted in plans:
            req = self.by("Michael", "POST", "/api/v1/custom_object/")
            object_id = self.configure(
                req,
                self.day(created),
                "custom_object",
                "custobj_",
                custom_object_type_id=contract_type,
                name=name,
                lead_id=self.leads[lead],
                status="pending",
            )
            path = f"/api/v1/custom_object/{object_id}/"
            if updated is not None:
                self.log.update(
                    self.by("Michael", "PUT", path), self.day(updated), object_id, {"status": "signed"}
                )
            if deleted is not None:
                self.log.delete(self.by("Michael", "DELETE", path), self.day(deleted), object_id)
