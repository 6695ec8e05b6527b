"""A second organization for the token benchmark: full payloads, in other proportions than the demo.

Written from Close's docs (the event format, and the objects as Close's API returns them) and
nothing of ``close_events_mcp``, its emulator or its renderer: mostly calls, emails (long HTML
bodies, tracked opens), opportunities moving through a pipeline and custom-field edits on leads and
opportunities; few notes; and a few updates that changed nothing but ``date_updated`` (a lead or a
task touched by a ``PUT`` on a task). Every event's ``data`` is the whole object and
``previous_data`` the old values of the fields it changed, as Close sends them.

``PipelineOrg(events=300, now=…, seed=3)`` builds the events (newest first), its users and its
custom fields; ``transport()`` serves them over ``httpx.MockTransport`` as Close's API does
(``/event/`` with ``_limit``, ``_cursor`` and the ``date_updated`` filters, ``/event/{id}/``,
``/me/``, ``/user/``, ``/custom_field/{kind}/``). Everything derives from the seed.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

JSONDict = dict[str, Any]
_ALPHABET = string.ascii_letters + string.digits

MIX = (
    ("call", 0.30),
    ("email", 0.28),
    ("opportunity", 0.20),
    ("lead_custom", 0.12),
    ("task", 0.05),
    ("contact", 0.03),
    ("note", 0.02),
)
FIRST = ("Priya", "Tomasz", "Aiko", "Mateo", "Sunniva", "Kwame", "Elif", "Rory", "Ngozi", "Bastian")
LAST = ("Raman", "Kowalski", "Mori", "Alvarez", "Berg", "Mensah", "Demir", "Doyle", "Eze", "Vogel")
COMPANIES = (
    "Harbor Cold Chain",
    "Pinecrest Dental Group",
    "Tidewater Analytics",
    "Quarry Lane Builders",
    "Foxglove Pharmacy",
    "Meridian Title Co",
    "Ashgrove Veterinary",
    "Redline Couriers",
    "Oakmont Staffing",
    "Saltmarsh Hotels",
)
PIPELINE = ("Discovery", "Solution fit", "Proposal sent", "Security review", "Contracting", "Won", "Lost")
LEAD_STATUSES = ("New", "Contacted", "Engaged", "Opportunity", "Customer", "Churned")
DISPOSITIONS = ("answered", "no-answer", "voicemail", "busy")
TOPICS = ("rollout plan", "pricing tiers", "SSO setup", "data migration", "quarterly review", "renewal terms")
LEAD_FIELDS = (
    (
        "cf_" + "Ind" * 14 + "x",
        "Industry",
        ("Logistics", "Healthcare", "Hospitality", "Construction", "Retail"),
    ),
    ("cf_" + "Emp" * 14 + "y", "Employees", None),
    ("cf_" + "Src" * 14 + "z", "Lead source", ("Webinar", "Referral", "Outbound", "G2", "Trade show")),
    ("cf_" + "Tier" * 10 + "abc", "Support tier", ("Standard", "Priority", "Enterprise")),
)
OPPORTUNITY_FIELDS = (
    ("cf_" + "Seat" * 10 + "def", "Licensed seats", None),
    ("cf_" + "Comp" * 10 + "ghi", "Main competitor", ("Pipedrive", "HubSpot", "Salesforce", "None")),
    ("cf_" + "Term" * 10 + "jkl", "Contract term", ("Monthly", "Annual", "Two-year")),
)


def close_id(prefix: str, rng: random.Random, length: int = 43) -> str:
    return f"{prefix}_" + "".join(rng.choices(_ALPHABET, k=length))


def _iso(moment: datetime, *, naive: bool = False) -> str:
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    return text if naive else text + "+00:00"


class PipelineOrg:
    def __init__(self, *, events: int, now: datetime, seed: int, days: float = 6) -> None:
        rng = random.Random(seed)
        self.rng, self.now = rng, now.astimezone(UTC)
        self.organization_id = close_id("orga", rng)
        self.users = [
            {
                "id": close_id("user", rng),
                "first_name": FIRST[i],
                "last_name": LAST[(i * 3) % len(LAST)],
                "email": f"{FIRST[i].lower()}@pipeline.example",
            }
            for i in range(8)
        ]
        self.custom_fields = {
            "lead": [{"id": fid, "name": name} for fid, name, _ in LEAD_FIELDS],
            "opportunity": [{"id": fid, "name": name} for fid, name, _ in OPPORTUNITY_FIELDS],
        }
        self.leads = [self._lead(i) for i in range(max(events // 10, 6))]
        self.events: list[JSONDict] = []
        moment = self.now - timedelta(minutes=3)
        start = self.now - timedelta(days=days)
        step = (self.now - start) / max(events, 1)
        while len(self.events) < events:
            lead = rng.choice(
                self.leads[: max(len(self.leads) // 3, 1)] if rng.random() < 0.6 else self.leads
            )
            for event in self._work(lead, moment):
                self.events.append(event)
                moment -= timedelta(seconds=rng.uniform(1, 40))
            moment -= step * rng.uniform(0.5, 2.5)
        self.events.sort(key=lambda event: (event["date_updated"], event["id"]), reverse=True)
        del self.events[events:]
        self.by_id = {event["id"]: event for event in self.events}

    # --- objects, whole, as the API returns them ----------------------------------------------

    def _lead(self, index: int) -> JSONDict:
        rng = self.rng
        lead_id = close_id("lead", rng)
        name = f"{COMPANIES[index % len(COMPANIES)]}" + (
            f" ({index // len(COMPANIES) + 1})" if index >= 10 else ""
        )
        contacts = []
        for _ in range(rng.randint(1, 3)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            contacts.append(
                {
                    "id": close_id("cont", rng),
                    "name": f"{first} {last}",
                    "title": rng.choice(("COO", "Head of Operations", "IT Director", "Owner")),
                    "emails": [{"type": "office", "email": f"{first.lower()}.{last.lower()}@example.org"}],
                    "phones": [{"type": "office", "phone": f"+1415555{rng.randint(1000, 9999)}"}],
                }
            )
        lead: JSONDict = {
            "id": lead_id,
            "display_name": name,
            "name": name,
            "status_id": close_id("stat", rng),
            "status_label": rng.choice(LEAD_STATUSES[:4]),
            "description": "",
            "url": f"https://{name.split(maxsplit=1)[0].lower()}.example.com",
            "html_url": f"https://app.close.com/lead/{lead_id}/",
            "organization_id": self.organization_id,
            "addresses": [
                {"address_1": f"{rng.randint(10, 999)} Market St", "city": "Oakland", "country": "US"}
            ],
            "contacts": contacts,
            "opportunities": [],
            "tasks": [],
            "integration_links": [],
        }
        for fid, _, choices in LEAD_FIELDS:
            lead[f"custom.{fid}"] = rng.choice(choices) if choices else rng.randint(10, 900)
        lead["_opps"] = [self._new_opportunity(lead) for _ in range(rng.randint(1, 2))]
        return lead

    def _new_opportunity(self, lead: JSONDict) -> JSONDict:
        rng, user = self.rng, self.rng.choice(self.users)
        value = rng.randint(6, 240) * 500
        opportunity: JSONDict = {
            "id": close_id("oppo", self.rng),
            "lead_id": lead["id"],
            "lead_name": lead["display_name"],
            "contact_id": lead["contacts"][0]["id"],
            "contact_name": lead["contacts"][0]["name"],
            "status_id": close_id("stat", rng),
            "status_label": PIPELINE[0],
            "status_type": "active",
            "status_display_name": PIPELINE[0],
            "pipeline_id": close_id("pipe", rng),
            "pipeline_name": "New business",
            "confidence": 10,
            "value": value * 100,
            "value_currency": "USD",
            "value_formatted": f"${value:,}",
            "value_period": "annual",
            "note": "",
            "user_id": user["id"],
            "user_name": _name(user),
            "date_won": None,
            "date_lost": None,
            "organization_id": self.organization_id,
            "integration_links": [],
        }
        for fid, _, choices in OPPORTUNITY_FIELDS:
            opportunity[f"custom.{fid}"] = rng.choice(choices) if choices else rng.randint(5, 400)
        return opportunity

    # --- a piece of work on a lead: one to a few events -------------------------------------

    def _work(self, lead: JSONDict, moment: datetime) -> list[JSONDict]:
        rng = self.rng
        kind = rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
        user = rng.choice(self.users)
        work: Callable[[JSONDict, JSONDict, datetime], list[JSONDict]] = getattr(self, f"_{kind}")
        return work(lead, user, moment)

    def _event(
        self,
        moment: datetime,
        user: JSONDict | None,
        object_type: str,
        action: str,
        data: JSONDict | None,
        previous: JSONDict,
        changed: list[str],
        *,
        lead: JSONDict,
        method: str,
        path: str,
        request_id: str | None = None,
    ) -> JSONDict:
        stamp = moment.replace(microsecond=self.rng.randrange(1_000_000))
        object_id = (data or previous).get("id")
        if data is not None:
            data = {
                **data,
                "date_updated": _iso(stamp),
                "date_created": data.get("date_created")
                or _iso(stamp - timedelta(days=self.rng.randint(1, 40))),
                "updated_by": user["id"] if user else None,
                "updated_by_name": _name(user) if user else None,
            }
            data = {key: value for key, value in data.items() if not key.startswith("_")}
        return {
            "id": close_id("ev", self.rng, 22),
            "date_created": _iso(stamp, naive=True),
            "date_updated": _iso(stamp, naive=True),
            "organization_id": self.organization_id,
            "user_id": user["id"] if user else None,
            "request_id": request_id or close_id("req", self.rng, 22),
            "api_key_id": None,
            "oauth_client_id": None,
            "object_type": object_type,
            "object_id": object_id,
            "lead_id": lead["id"],
            "action": action,
            "changed_fields": changed,
            "data": data,
            "previous_data": previous,
            "meta": {"request_method": method, "request_path": path},
        }

    def _call(self, lead: JSONDict, user: JSONDict, moment: datetime) -> list[JSONDict]:
        rng = self.rng
        contact = rng.choice(lead["contacts"])
        call: JSONDict = {
            "_type": "Call",
            "id": close_id("acti", rng),
            "lead_id": lead["id"],
            "contact_id": contact["id"],
            "organization_id": self.organization_id,
            "user_id": user["id"],
            "user_name": _name(user),
            "created_by": user["id"],
            "created_by_name": _name(user),
            "direction": rng.choice(("outbound", "outbound", "inbound")),
            "status": "completed",
            "disposition": rng.choice(DISPOSITIONS),
            "duration": rng.randint(0, 1500),
            "phone": contact["phones"][0]["phone"],
            "remote_phone": contact["phones"][0]["phone"],
            "remote_phone_formatted": _formatted(contact["phones"][0]["phone"]),
            "remote_country_iso": "US",
            "local_phone": "+14155550100",
            "local_phone_formatted": "+1 415-555-0100",
            "local_country_iso": "US",
            "source": "Close.io",
            "call_method": "regular",
            "cost": rng.randint(1, 30),
            "recording_url": None,
            "recording_duration": None,
            "voicemail_url": None,
            "voicemail_duration": 0,
            "is_forwarded": False,
            "is_joinable": False,
            "is_to_group_number": False,
            "note": "",
            "note_html": "",
            "outcome_id": None,
            "sequence_id": None,
            "sequence_name": None,
            "sequence_subscription_id": None,
            "dialer_id": None,
            "dialer_saved_search_id": None,
            "transferred_from": None,
            "transferred_to": None,
            "users": [],
            "activity_at": _iso(moment),
        }
        path = "/api/v1/activity/call/"
        events = [
            self._event(
                moment, user, "activity.call", "created", call, {}, [], lead=lead, method="POST", path=path
            )
        ]
        if call["disposition"] == "answered" and rng.random() < 0.8:
            first_name = contact["name"].split(maxsplit=1)[0]
            text = f"Talked {rng.choice(TOPICS)} with {first_name}; next step: {rng.choice(TOPICS)}."
            later = {**call, "note": text, "note_html": f"<p>{text}</p>"}
            events.insert(
                0,
                self._event(
                    moment + timedelta(seconds=rng.randint(30, 300)),
                    user,
                    "activity.call",
                    "updated",
                    later,
                    {"note": "", "note_html": ""},
                    ["date_updated", "note", "note_html"],
                    lead=lead,
                    method="PUT",
                    path=f"{path}{call['id']}/",
                ),
            )
        return events

    def _email(self, lead: JSONDict, user: JSONDict, moment: datetime) -> list[JSONDict]:
        rng = self.rng
        contact = rng.choice(lead["contacts"])
        topic = rng.choice(TOPICS)
        incoming = rng.random() < 0.3
        sender = f"{_name(user)} <{user['email']}>"
        recipient = f"{contact['name']} <{contact['emails'][0]['email']}>"
        paragraphs = [
            f"Hi {contact['name'].split()[0]},",
            f"Following up on our conversation about the {topic} for {lead['display_name']}. "
            "I have attached the summary we discussed, including the timeline, the owners on both sides "
            "and the open questions from your IT team.",
            "Could you confirm whether the week of the 14th still works for the kickoff? If not, send me "
            "two or three slots and I will rearrange the onboarding specialists accordingly.",
            "Best regards,",
            _name(user),
        ]
        text = "\n\n".join(paragraphs)
        quoted = "\n".join(f"> {line}" for line in paragraphs[1:3])
        html = (
            '<div dir="ltr"><div style="font-family:arial,sans-serif;font-size:small;color:#222222">'
            + "".join(f'<p style="margin:0 0 12px 0">{p}</p>' for p in paragraphs)
            + '</div><div class="gmail_quote"><blockquote class="gmail_quote" style="margin:0 0 0 .8ex;'
            'border-left:1px #ccc solid;padding-left:1ex">'
            + quoted.replace("\n", "<br>")
            + "</blockquote></div>"
            + f'<img src="https://app.close.com/email_opened/{close_id("trk", rng, 30)}/" '
            + 'width="1" height="1" alt="">'
            + "</div>"
        )
        email_id = close_id("acti", rng)
        email: JSONDict = {
            "_type": "Email",
            "id": email_id,
            "lead_id": lead["id"],
            "contact_id": contact["id"],
            "organization_id": self.organization_id,
            "user_id": user["id"],
            "user_name": _name(user),
            "created_by": user["id"],
            "created_by_name": _name(user),
            "direction": "incoming" if incoming else "outgoing",
            "status": "inbox" if incoming else "draft",
            "subject": f"{'Re: ' if incoming else ''}{topic.capitalize()} for {lead['display_name']}",
            "sender": recipient if incoming else sender,
            "to": [sender if incoming else recipient],
            "cc": [],
            "bcc": [],
            "body_text": text,
            "body_html": html,
            "body_preview": text[:120],
            "body_text_quoted": [{"text": text, "expand": True}],
            "attachments": [
                {
                    "filename": f"{topic.replace(' ', '-')}-summary.pdf",
                    "size": rng.randint(40_000, 900_000),
                    "content_type": "application/pdf",
                    "url": f"https://app.close.com/go/file/{close_id('file', rng, 30)}/",
                }
            ]
            if rng.random() < 0.4
            else [],
            "envelope": {
                "from": [{"name": _name(user), "email": user["email"]}],
                "to": [{"name": contact["name"], "email": contact["emails"][0]["email"]}],
                "cc": [],
                "bcc": [],
                "subject": topic,
                "message_id": f"<{close_id('msg', rng, 24)}@mail.gmail.com>",
                "in_reply_to": None,
                "is_autoreply": False,
            },
            "email_account_id": close_id("emailacct", rng),
            "thread_id": close_id("acti", rng),
            "template_id": None,
            "template_name": None,
            "sequence_id": None,
            "sequence_name": None,
            "has_reply": False,
            "opens": [],
            "opens_summary": None,
            "date_scheduled": None,
            "date_sent": None,
            "send_attempts": [],
            "message_ids": [],
            "references": [],
            "need_smtp_credentials": False,
            "users": [],
        }
        path = "/api/v1/activity/email/"
        if incoming:
            return [
                self._event(
                    moment,
                    None,
                    "activity.email",
                    "created",
                    email,
                    {},
                    [],
                    lead=lead,
                    method="POST",
                    path=path,
                )
            ]
        events = [
            self._event(
                moment, user, "activity.email", "created", email, {}, [], lead=lead, method="POST", path=path
            )
        ]
        later = moment + timedelta(seconds=rng.randint(20, 200))
        sent = {**email, "status": "sent", "date_sent": _iso(later), "send_attempts": [{"date": _iso(later)}]}
        events.insert(
            0,
            self._event(
                later,
                user,
                "activity.email",
                "sent",
                sent,
                {"status": "outbox", "date_sent": None},
                ["date_sent", "date_updated", "send_attempts", "status"],
                lead=lead,
                method="PUT",
                path=f"{path}{email_id}/",
            ),
        )
        if rng.random() < 0.5 and later + timedelta(minutes=600) < self.now:
            opened = later + timedelta(minutes=rng.randint(5, 600))
            opens = [
                {
                    "opened_at": _iso(opened),
                    "opened_by": contact["emails"][0]["email"],
                    "ip_address": "203.0.113.7",
                }
            ]
            events.insert(
                0,
                self._event(
                    opened,
                    None,
                    "activity.email",
                    "updated",
                    {**sent, "opens": opens, "opens_summary": f"Opened by {contact['name']} once"},
                    {"opens": [], "opens_summary": None},
                    ["date_updated", "opens", "opens_summary"],
                    lead=lead,
                    method="POST",
                    path="/api/v1/tracking/open/",
                ),
            )
        return events

    def _opportunity_update(self, lead: JSONDict, user: JSONDict, moment: datetime) -> list[JSONDict]:
        rng = self.rng
        opportunity = rng.choice(lead["_opps"])
        before = dict(opportunity)
        choice = rng.random()
        if choice < 0.5:
            at = (
                PIPELINE.index(opportunity["status_label"])
                if opportunity["status_label"] in PIPELINE[:5]
                else 0
            )
            label = PIPELINE[min(at + 1, 6) if rng.random() < 0.85 else 6]
            opportunity.update(status_label=label, status_display_name=label, status_id=close_id("stat", rng))
            opportunity["status_type"] = {"Won": "won", "Lost": "lost"}.get(label, "active")
            opportunity["confidence"] = {"Won": 100, "Lost": 0}.get(
                label, min(opportunity["confidence"] + 20, 90)
            )
            if label == "Won":
                opportunity["date_won"] = _iso(moment)[:10]
            keys = (
                "confidence",
                "date_won",
                "status_display_name",
                "status_id",
                "status_label",
                "status_type",
            )
            changed = ["date_updated", *(key for key in keys if before.get(key) != opportunity.get(key))]
        elif choice < 0.75:
            value = rng.randint(6, 240) * 500
            opportunity.update(value=value * 100, value_formatted=f"${value:,}")
            changed = ["date_updated", "value", "value_formatted"]
        else:
            fid, _, choices = rng.choice(OPPORTUNITY_FIELDS)
            opportunity[f"custom.{fid}"] = _other(rng, opportunity[f"custom.{fid}"], choices, 5, 400)
            changed = ["date_updated", f"custom.{fid}"]
        previous = {key: before.get(key) for key in changed}
        return [
            self._event(
                moment,
                user,
                "opportunity",
                "updated",
                opportunity,
                previous,
                changed,
                lead=lead,
                method="PUT",
                path=f"/api/v1/opportunity/{opportunity['id']}/",
            )
        ]

    def _opportunity(self, lead: JSONDict, user: JSONDict, moment: datetime) -> list[JSONDict]:
        if self.rng.random() < 0.15:
            opportunity = self._new_opportunity(lead)
            lead["_opps"].append(opportunity)
            return [
                self._event(
                    moment,
                    user,
                    "opportunity",
                    "created",
                    opportunity,
                    {},
                    [],
                    lead=lead,
                    method="POST",
                    path="/api/v1/opportunity/",
                )
            ]
        return self._opportunity_update(lead, user, moment)

    def _lead_custom(self, lead: JSONDict, user: JSONDict, moment: datetime) -> list[JSONDict]:
        rng = self.rng
        fields = rng.sample(LEAD_FIELDS, rng.choice((1, 1, 2)))
        changed = ["date_updated"]
        previous: JSONDict = {}
        for fid, _, choices in fields:
            key = f"custom.{fid}"
            previous[key] = lead[key]
            lead[key] = _other(rng, lead[key], choices, 10, 900)
            changed.append(key)
        if rng.random() < 0.3:
            previous["status_label"] = lead["status_label"]
            lead["status_label"] = _other(rng, lead["status_label"], LEAD_STATUSES, 0, 0)
            changed += ["status_id", "status_label"]
            previous["status_id"] = lead["status_id"]
            lead["status_id"] = close_id("stat", rng)
        return [
            self._event(
                moment,
                user,
                "lead",
                "updated",
                _lead_data(lead),
                previous,
                sorted(changed),
                lead=lead,
                method="PUT",
                path=f"/api/v1/lead/{lead['id']}/",
            )
        ]

    def _task(self, lead: JSONDict, user: JSONDict, moment: datetime) -> list[JSONDict]:
        """A task edited through ``PUT /task/…``: the task changes, and the lead is touched (its
        ``date_updated`` alone), in the same request."""
        rng = self.rng
        task = {
            "_type": "lead",
            "id": close_id("task", rng),
            "lead_id": lead["id"],
            "lead_name": lead["display_name"],
            "text": f"Send {rng.choice(TOPICS)} recap",
            "date": _iso(moment + timedelta(days=2))[:10],
            "is_complete": False,
            "assigned_to": user["id"],
            "assigned_to_name": _name(user),
            "organization_id": self.organization_id,
        }
        request = close_id("req", rng, 22)
        path = f"/api/v1/task/{task['id']}/"
        if rng.random() < 0.5:
            done = {**task, "is_complete": True}
            first = self._event(
                moment,
                user,
                "task.lead",
                "completed",
                done,
                {"is_complete": False},
                ["date_updated", "is_complete"],
                lead=lead,
                method="PUT",
                path=path,
                request_id=request,
            )
        else:
            first = self._event(
                moment,
                user,
                "task.lead",
                "updated",
                task,
                {"date_updated": None},
                ["date_updated"],
                lead=lead,
                method="PUT",
                path=path,
                request_id=request,
            )
        touched = self._event(
            moment,
            user,
            "lead",
            "updated",
            _lead_data(lead),
            {},
            ["date_updated"],
            lead=lead,
            method="PUT",
            path=path,
            request_id=request,
        )
        return [touched, first]

    def _contact(self, lead: JSONDict, user: JSONDict, moment: datetime) -> list[JSONDict]:
        contact = dict(self.rng.choice(lead["contacts"]))
        before = contact["title"]
        contact["title"] = self.rng.choice(("VP Operations", "CFO", "Procurement Lead"))
        data = {**contact, "lead_id": lead["id"], "organization_id": self.organization_id}
        return [
            self._event(
                moment,
                user,
                "contact",
                "updated",
                data,
                {"title": before},
                ["date_updated", "title"],
                lead=lead,
                method="PUT",
                path=f"/api/v1/contact/{contact['id']}/",
            )
        ]

    def _note(self, lead: JSONDict, user: JSONDict, moment: datetime) -> list[JSONDict]:
        text = f"{lead['display_name']} asked about {self.rng.choice(TOPICS)}; loop in solutions."
        note = {
            "_type": "Note",
            "id": close_id("acti", self.rng),
            "lead_id": lead["id"],
            "note": text,
            "note_html": f"<p>{text}</p>",
            "user_id": user["id"],
            "user_name": _name(user),
            "created_by": user["id"],
            "created_by_name": _name(user),
            "contact_id": None,
            "organization_id": self.organization_id,
            "users": [],
        }
        return [
            self._event(
                moment,
                user,
                "activity.note",
                "created",
                note,
                {},
                [],
                lead=lead,
                method="POST",
                path="/api/v1/activity/note/",
            )
        ]

    # --- served as Close's API -----------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")[2:]  # after api/v1
        params = dict(request.url.params)
        if parts == ["event"]:
            return self._page(params)
        if len(parts) == 2 and parts[0] == "event":
            event = self.by_id.get(parts[1])
            return _json({"error": "Not found."}, 404) if event is None else _json(event)
        if parts == ["me"]:
            user = self.users[0]
            membership = {
                "id": "memb_" + user["id"][5:],
                "organization_id": self.organization_id,
                "role_id": "admin",
            }
            return _json(
                {**user, "organizations": [{"id": self.organization_id}], "memberships": [membership]}
            )
        if parts == ["user"]:
            return _json({"data": self.users, "has_more": False})
        if len(parts) == 2 and parts[0] == "custom_field":
            return _json({"data": self.custom_fields.get(parts[1], []), "has_more": False})
        return _json({"error": "Not found."}, 404)

    def _page(self, params: dict[str, str]) -> httpx.Response:
        if set(params) - {
            "_limit",
            "_cursor",
            "date_updated__gte",
            "date_updated__gt",
            "date_updated__lte",
            "date_updated__lt",
        }:
            return _json({"errors": ["This stand-in serves unfiltered pages only."], "field-errors": {}}, 400)
        events = [e for e in self.events if _within(e["date_updated"], params)]
        start = int(params.get("_cursor") or 0)
        limit = min(int(params.get("_limit") or 100), 100)
        page = events[start : start + limit]
        following = start + len(page)
        body = {
            "data": page,
            "cursor_next": str(following) if following < len(events) else None,
            "cursor_previous": None,
        }
        return _json(body)


def _within(stamp: str, params: dict[str, str]) -> bool:
    moment = datetime.fromisoformat(stamp).replace(tzinfo=UTC)
    checks = {
        "date_updated__gte": lambda bound: moment >= bound,
        "date_updated__gt": lambda bound: moment > bound,
        "date_updated__lte": lambda bound: moment <= bound,
        "date_updated__lt": lambda bound: moment < bound,
    }
    for name, check in checks.items():
        if name in params:
            bound = datetime.fromisoformat(params[name].replace("Z", "+00:00"))
            if not check(bound if bound.tzinfo else bound.replace(tzinfo=UTC)):
                return False
    return True


def _json(body: object, status: int = 200) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        headers={"content-type": "application/json"},
    )


def _other(rng: random.Random, old: Any, choices: tuple[str, ...] | None, low: int, high: int) -> Any:
    """A new value for a field: a choice or a number other than ``old``."""
    while True:
        new = rng.choice(choices) if choices else rng.randint(low, high)
        if new != old:
            return new


def _name(user: JSONDict) -> str:
    return f"{user['first_name']} {user['last_name']}"


def _formatted(phone: str) -> str:
    return f"+1 {phone[2:5]}-{phone[5:8]}-{phone[8:]}"


def _lead_data(lead: JSONDict) -> JSONDict:
    return {
        **{key: value for key, value in lead.items() if not key.startswith("_")},
        "opportunities": [{k: v for k, v in o.items() if not k.startswith("custom.")} for o in lead["_opps"]],
    }
