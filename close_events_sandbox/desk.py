"""Everyday lead work as Close records it, shared by the story and the filler.

Each method runs one small episode through the :class:`EventLog` (a note typed with
autosaves, an email drafted and sent, a call and its note, a status change, ...) from a start
time, and returns the id of what it created.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from close_events_sandbox import payloads as pl
from close_events_sandbox import texts as tx
from close_events_sandbox.ids import EventLog, Person, Request, payload_time
from close_events_sandbox.org import JSONDict

STATUS_ACTIVITIES: Final = {
    "lead": ("LeadStatusChange", "activity.lead_status_change"),
    "opportunity": ("OpportunityStatusChange", "activity.opportunity_status_change"),
}
MEETING_ACTIONS: Final = {
    "upcoming": "scheduled",
    "in-progress": "started",
    "completed": "completed",
    "canceled": "canceled",
}
AREA_CODES: Final = ("949", "714", "562", "657")
COMPANY_LINE: Final = "Sales · The Bluth Company"


class Desk:
    """Lead work: contacts, opportunities, status changes, tasks, notes, calls, SMS, meetings
    and email, each as the events Close would record for it."""

    def __init__(self, log: EventLog, setup: pl.Setup, rng: random.Random, deadline: datetime) -> None:
        self.log = log
        self.setup = setup
        self.rng = rng
        self.ids = log.ids
        self.deadline = deadline
        """No event is dated later than this."""
        self.lines: dict[str, str] = {}
        """User id → the user's Close phone number."""
        self.threads: dict[str, list[str]] = {}
        """Email thread id → its email ids, oldest first."""

    def later(self, at: datetime, low: float, high: float) -> datetime:
        return min(at + timedelta(seconds=self.rng.uniform(low, high)), self.deadline)

    def phone(self) -> str:
        return f"+1{self.rng.choice(AREA_CODES)}555{self.rng.randrange(100, 200):04d}"

    def words(self, lead_id: str, contact_id: str, user: Person) -> dict[str, Any]:
        """Values for the placeholders of the text templates."""
        lead = self.log[lead_id]
        seats = lead.get(f"custom.{self.setup.fields['lead:Seats']}") or 10
        first = self.log[contact_id]["name"].split()[0]
        return {"first": first, "lead": lead["display_name"], "seats": seats, "me": user.first_name}

    def activity(
        self,
        kind: str,
        lead_id: str,
        contact_id: str | None,
        user: Person | None,
        at: datetime,
        fields: Mapping[str, Any],
        activity_id: str = "",
    ) -> JSONDict:
        return pl.activity(
            activity_id or self.ids.new("acti_"),
            self.setup,
            kind,
            lead_id=lead_id,
            contact_id=contact_id,
            user=user,
            at=at,
            **fields,
        )

    # --- records ---------------------------------------------------------------------------

    def new_lead(
        self, req: Request | None, at: datetime, name: str, people: Sequence[tuple[str, str]], **fields: Any
    ) -> str:
        """A lead with its contacts; with ``req`` None it predates the story and has no events."""
        lead_id = self.ids.new("lead_")
        author = req.user if req else None
        contacts = [self._contact(lead_id, name, person, title, author, at) for person, title in people]
        lead = pl.lead(lead_id, self.setup, name=name, author=author, at=at, **fields)
        lead["contact_ids"] = [item["id"] for item in contacts]
        for item in contacts:
            self.log.put("contact", item)
        self.log.put("lead", lead)
        if req is not None:
            for object_id in (lead_id, *lead["contact_ids"]):
                self.log.signal(req, at, object_id, "created")
        return lead_id

    def _contact(
        self, lead_id: str, company: str, name: str, title: str, author: Person | None, at: datetime
    ) -> JSONDict:
        email = tx.email_address(name, tx.domain_of(company))
        return pl.contact(
            self.ids.new("cont_"),
            self.setup,
            lead_id=lead_id,
            name=name,
            title=title,
            email=email,
            phone=self.phone(),
            author=author,
            at=at,
        )

    def add_contact(self, req: Request, at: datetime, lead_id: str, name: str, title: str) -> str:
        """A contact added to a lead: the contact's ``created`` and the lead's ``updated``."""
        lead = self.log[lead_id]
        item = self.log.create(
            req, at, "contact", self._contact(lead_id, lead["name"], name, title, req.user, at)
        )
        self.log.update(req, at, lead_id, {"contact_ids": [*lead["contact_ids"], item["id"]]})
        return str(item["id"])

    def delete_lead(self, req: Request, at: datetime, lead_id: str) -> None:
        """The lead, then everything that belonged to it, newest first."""
        children = self.log.children(lead_id)
        self.log.delete(req, at, lead_id)
        for object_id, _ in reversed(children):
            self.log.delete(req, at, object_id)

    def new_opportunity(
        self, req: Request | None, at: datetime, lead_id: str, owner: Person, value: int, **fields: Any
    ) -> str:
        lead = self.log[lead_id]
        first = self.log[lead["contact_ids"][0]] if lead["contact_ids"] else None
        opp = pl.opportunity(
            self.ids.new("oppo_"),
            self.setup,
            lead=lead,
            contact=first,
            owner=owner,
            author=req.user if req else owner,
            at=at,
            value=value,
            **fields,
        )
        if req is None:
            self.log.put("opportunity", opp)
        else:
            self.log.create(req, at, "opportunity", opp)
        return str(opp["id"])

    # --- status changes --------------------------------------------------------------------

    def set_status(self, req: Request, at: datetime, record_id: str, label: str) -> str:
        """A lead's or opportunity's status changes: the record's ``updated`` event and a new
        status change activity, in one request. Returns the activity's id."""
        kind = _record_kind(record_id)
        old, new = self._status(kind, self.log[record_id]["status_label"]), self._status(kind, label)
        record = self.log.update(req, at, record_id, self._status_values(kind, label, at))
        if kind == "lead":
            fields = pl.lead_status_change_fields(old, new)
        else:
            fields = pl.opportunity_status_change_fields(record, old, new)
        type_name, object_type = STATUS_ACTIVITIES[kind]
        lead_id = record_id if kind == "lead" else record["lead_id"]
        change = self.log.create(
            req, at, object_type, self.activity(type_name, lead_id, None, req.user, at, fields)
        )
        return str(change["id"])

    def amend_status(self, req: Request, at: datetime, change_id: str, label: str) -> None:
        """The same user changes the status again shortly after: Close updates the existing
        status change instead of adding one."""
        record_id, kind = self._changed_record(change_id)
        self.log.update(req, at, record_id, self._status_values(kind, label, at))
        new = self._status(kind, label)
        fields = {"new_status_id": new.id, "new_status_label": new.label}
        if kind == "opportunity":
            fields["new_status_type"] = new.type
        self.log.update(req, at, change_id, fields)

    def revert_status(self, req: Request, at: datetime, change_id: str) -> None:
        """A status change made by mistake is undone at once: the change is deleted."""
        record_id, kind = self._changed_record(change_id)
        self.log.update(
            req, at, record_id, self._status_values(kind, self.log[change_id]["old_status_label"], at)
        )
        self.log.delete(req, at, change_id)

    def _changed_record(self, change_id: str) -> tuple[str, str]:
        change = self.log[change_id]
        record_id = change.get("opportunity_id") or change["lead_id"]
        return record_id, _record_kind(record_id)

    def _status(self, kind: str, label: str) -> pl.Status:
        table = self.setup.lead_statuses if kind == "lead" else self.setup.opportunity_statuses
        return table[label]

    def _status_values(self, kind: str, label: str, at: datetime) -> JSONDict:
        if kind == "opportunity":
            return pl.opportunity_status_fields(self.setup, label, at)
        status = self.setup.lead_statuses[label]
        return {"status_id": status.id, "status_label": status.label}

    # --- tasks -----------------------------------------------------------------------------

    def add_task(
        self, req: Request, at: datetime, lead_id: str, assignee: Person, text: str, kind: str = "lead"
    ) -> str:
        lead = self.log[lead_id]
        item = pl.task(
            self.ids.new("task_"),
            self.setup,
            lead=lead,
            contact_id=(lead["contact_ids"] or [None])[0],
            assignee=assignee,
            author=req.user,
            at=at,
            text=text,
            due=at + timedelta(days=self.rng.randint(1, 5)),
            kind=kind,
        )
        self.log.create(req, at, f"task.{kind}", item)
        return str(item["id"])

    def complete_task(self, user: Person, at: datetime, task_id: str) -> str | None:
        """The task is marked done; a lead task also gets a TaskCompleted activity and its lead
        an ``updated`` event. Returns the TaskCompleted id."""
        req = self.log.request(user, "PUT", f"/api/v1/task/{task_id}/")
        done = self.log.update(req, at, task_id, {"is_complete": True}, signal="completed")
        if done["_type"] != "lead":
            return None
        fields = pl.task_completed_fields(done)
        change = self.activity("TaskCompleted", done["lead_id"], done["contact_id"], user, at, fields)
        self.log.create(req, at, "activity.task_completed", change)
        self.log.update(req, at, done["lead_id"], {})
        return str(change["id"])

    def reopen_task(self, user: Person, at: datetime, task_id: str, completion_id: str) -> None:
        req = self.log.request(user, "PUT", f"/api/v1/task/{task_id}/")
        reopened = self.log.update(req, at, task_id, {"is_complete": False})
        self.log.delete(req, at, completion_id)
        self.log.update(req, at, reopened["lead_id"], {})

    # --- notes, calls, SMS, meetings -------------------------------------------------------

    def note(
        self, lead_id: str, contact_id: str | None, user: Person, at: datetime, text: str, autosaves: int = 0
    ) -> str:
        """A note typed in the UI: created with its first words, then autosaved as it grows."""
        stages = tx.growing(text, autosaves + 1)
        note = self.activity("Note", lead_id, contact_id, user, at, pl.note_fields(stages[0]))
        self.log.create(self.log.request(user, "POST", "/api/v1/activity/note/"), at, "activity.note", note)
        self.autosave(user, at, note["id"], "note", [pl.note_text(stage) for stage in stages[1:]])
        return str(note["id"])

    def autosave(
        self, user: Person, at: datetime, object_id: str, kind: str, stages: Sequence[Mapping[str, Any]]
    ) -> datetime:
        """One ``updated`` event per periodic save while the user types."""
        for changes in stages:
            at = self.later(at, 4, 11)
            req = self.log.request(user, "PUT", f"/api/v1/activity/{kind}/{object_id}/")
            self.log.update(req, at, object_id, changes)
        return at

    def call(
        self,
        lead_id: str,
        contact_id: str,
        user: Person,
        at: datetime,
        *,
        inbound: bool = False,
        answered: bool = True,
        note: str = "",
        autosaves: int = 0,
    ) -> str:
        """A call placed or received in Close: created, answered, completed, then its note."""
        fields = pl.call_fields(
            direction="inbound" if inbound else "outbound",
            local=self.lines[user.id],
            remote=self.log[contact_id]["phones"][0]["phone"],
            status="created",
        )
        call = self.activity("Call", lead_id, contact_id, user, at, fields)
        call_id = str(call["id"])
        self.log.create(
            self.log.request(None if inbound else user, "POST", "/api/v1/activity/call/"),
            at,
            "activity.call",
            call,
        )
        path = f"/api/v1/activity/call/{call_id}/"
        at = self.later(at, 6, 25)
        if answered:
            self.log.update(
                self.log.request(user, "PUT", path), at, call_id, {"status": "in-progress"}, signal="answered"
            )
        duration = self.rng.randint(90, 900) if answered else self.rng.randint(15, 40)
        at = self.later(at, duration, duration)
        outcome = _call_outcome(call_id, answered=answered, inbound=inbound, duration=duration)
        finisher = user if answered or not inbound else None
        self.log.update(self.log.request(finisher, "PUT", path), at, call_id, outcome, signal="completed")
        stages = tx.growing(note, autosaves + 1) if note else []
        self.autosave(user, at, call_id, "call", [pl.note_text(stage) for stage in stages])
        return call_id

    def sms_out(
        self, lead_id: str, contact_id: str, user: Person, at: datetime, text: str, autosaves: int = 0
    ) -> str:
        """An SMS drafted (with autosaves), queued in the outbox, then actually sent."""
        stages = tx.growing(text, autosaves + 1)
        sms_id = self.sms_draft(user, at, lead_id, contact_id, stages[0])
        at = self.autosave(user, at, sms_id, "sms", [{"text": stage} for stage in stages[1:]])
        req = self.log.request(user, "PUT", f"/api/v1/activity/sms/{sms_id}/")
        at = self.later(at, 2, 6)
        self.log.update(req, at, sms_id, {"status": "outbox"})
        at = self.later(at, 1, 4)
        self.log.update(req, at, sms_id, {"status": "sent", "date_sent": payload_time(at)}, signal="sent")
        return sms_id

    def sms_draft(self, user: Person, at: datetime, lead_id: str, contact_id: str, text: str) -> str:
        return self._sms(user, user, at, lead_id, contact_id, "draft", text)

    def sms_in(self, lead_id: str, contact_id: str, owner: Person, at: datetime, text: str) -> str:
        """An SMS from the contact to the owner's Close number."""
        return self._sms(None, owner, at, lead_id, contact_id, "inbox", text)

    def _sms(
        self,
        author: Person | None,
        owner: Person,
        at: datetime,
        lead_id: str,
        contact_id: str,
        status: str,
        text: str,
    ) -> str:
        fields = pl.sms_fields(
            direction="inbound" if status == "inbox" else "outbound",
            local=self.lines[owner.id],
            remote=self.log[contact_id]["phones"][0]["phone"],
            status=status,
            text=text,
            sent=at if status == "inbox" else None,
        )
        sms = self.activity("SMS", lead_id, contact_id, owner, at, fields)
        self.log.create(self.log.request(author, "POST", "/api/v1/activity/sms/"), at, "activity.sms", sms)
        return str(sms["id"])

    def meeting(
        self, lead_id: str, contact_id: str, user: Person, at: datetime, title: str, starts: datetime
    ) -> str:
        """A meeting booked for later: created and scheduled in one request."""
        guest = self.log[contact_id]
        host = {**pl.attendee(user.name, user.email, user_id=user.id), "is_organizer": True}
        people = [host, pl.attendee(guest["name"], guest["emails"][0]["email"], contact_id=contact_id)]
        fields = pl.meeting_fields(title=title, starts=starts, minutes=30, attendees=people)
        meeting = self.activity("Meeting", lead_id, contact_id, user, at, fields)
        req = self.log.request(user, "POST", "/api/v1/activity/meeting/")
        self.log.create(req, at, "activity.meeting", meeting)
        self.log.signal(req, at, meeting["id"], "scheduled")
        return str(meeting["id"])

    def meeting_status(
        self, user: Person | None, at: datetime, meeting_id: str, status: str, **changes: Any
    ) -> None:
        """The meeting moves to ``status``: ``updated`` and the matching action."""
        req = self.log.request(user, "PUT", f"/api/v1/activity/meeting/{meeting_id}/")
        self.log.update(req, at, meeting_id, {"status": status, **changes}, signal=MEETING_ACTIONS[status])

    # --- email -----------------------------------------------------------------------------

    def email_out(
        self,
        lead_id: str,
        contact_id: str,
        user: Person,
        at: datetime,
        letter: tx.Letter,
        *,
        autosaves: int = 0,
        via: Request | None = None,
        template_id: str | None = None,
    ) -> str:
        """An email written in Close: drafted with autosaves, queued, sent. With ``via`` (a
        bulk email) it is created in the outbox and sent by that request."""
        words = self.words(lead_id, contact_id, user)
        paragraphs = [text.format(**words) for text in letter.paragraphs]
        thread_id, quote = thread = self._thread_of(lead_id)
        sizes = [len(stage.split()) for stage in tx.growing(" ".join("x" * len(paragraphs)), autosaves + 1)]
        pixel = self.ids.token(40)
        drafts = [
            self._body(user, contact_id, paragraphs[:size], quote, pixel, outgoing=True) for size in sizes
        ]
        status = "outbox" if via else "draft"
        subject = letter.subject.format(**words)
        fields = self._email_fields(user, contact_id, drafts[0], status, at, thread, subject, outgoing=True)
        email = self.activity("Email", lead_id, contact_id, user, at, {**fields, "template_id": template_id})
        email_id = str(email["id"])
        self.log.create(
            via or self.log.request(user, "POST", "/api/v1/activity/email/"), at, "activity.email", email
        )
        if via is None:
            at = self.autosave(user, at, email_id, "email", drafts[1:])
            via = self.log.request(user, "PUT", f"/api/v1/activity/email/{email_id}/")
            at = self.later(at, 3, 8)
            self.log.update(via, at, email_id, {"status": "outbox"})
        at = self.later(at, 5, 30)
        self.log.update(via, at, email_id, {"status": "sent", "date_sent": payload_time(at)}, signal="sent")
        self._file_in_thread(via, at, thread_id, email_id, user)
        return email_id

    def email_in(self, lead_id: str, contact_id: str, owner: Person, at: datetime, text: str) -> str:
        """An email from the contact, synced from the owner's mailbox (no user caused it)."""
        thread_id, quote = thread = self._thread_of(lead_id)
        body = self._body(owner, contact_id, [text], quote, self.ids.token(40), outgoing=False)
        subject = "Question about your plans"
        fields = self._email_fields(owner, contact_id, body, "inbox", at, thread, subject, outgoing=False)
        req = self.log.request(None, "POST", "/api/v1/activity/email/")
        email = self.log.create(
            req, at, "activity.email", self.activity("Email", lead_id, contact_id, owner, at, fields)
        )
        self._file_in_thread(req, at, thread_id, email["id"], owner)
        return str(email["id"])

    def delete_email(self, user: Person, at: datetime, email_id: str) -> None:
        """The email goes; its thread is updated, or deleted with its last email."""
        req = self.log.request(user, "DELETE", f"/api/v1/activity/email/{email_id}/")
        thread_id = self.log[email_id]["thread_id"]
        self.log.delete(req, at, email_id)
        emails = self.threads[thread_id]
        emails.remove(email_id)
        if emails:
            self.log.update(req, at, thread_id, pl.thread_fields([self.log[e] for e in emails]))
        else:
            self.log.delete(req, at, thread_id)

    def _thread_of(self, lead_id: str) -> tuple[str, pl.Quote | None]:
        """The lead's latest email thread and its last email to quote, or a new thread's id."""
        found = [oid for oid, kind in self.log.children(lead_id) if kind == "activity.email_thread"]
        thread_id = found[-1] if found else self.ids.new("acti_")
        return thread_id, self._quote(thread_id)

    def _quote(self, thread_id: str) -> pl.Quote | None:
        emails = self.threads.get(thread_id)
        if not emails:
            return None
        last = self.log[emails[-1]]
        author = last["sender"].partition(" <")[0]
        sent = datetime.fromisoformat(last["date_sent"] or last["date_created"])
        subject = last["subject"].removeprefix("Re: ")
        return pl.Quote(author, sent, last["body_text"], subject, last["envelope"]["message_id"])

    def _body(
        self,
        user: Person,
        contact_id: str,
        paragraphs: Sequence[str],
        quote: pl.Quote | None,
        pixel: str,
        *,
        outgoing: bool,
    ) -> JSONDict:
        guest = self.log[contact_id]
        company = self.log[guest["lead_id"]]["display_name"]
        me = pl.Signer(user.name, user.email, COMPANY_LINE, self.lines[user.id])
        them = pl.Signer(guest["name"], guest["emails"][0]["email"], company, guest["phones"][0]["phone"])
        signer, reader = (me, them) if outgoing else (them, me)
        greeting = f"Hi {reader.name.split()[0]},"
        text = pl.email_text(greeting, paragraphs, signer, quote)
        body = pl.email_html(greeting, paragraphs, signer, quote, pixel)
        return {"body_text": text, "body_html": body, "body_preview": text[:100]}

    def _email_fields(
        self,
        user: Person,
        contact_id: str,
        body: JSONDict,
        status: str,
        at: datetime,
        thread: tuple[str, pl.Quote | None],
        subject: str,
        *,
        outgoing: bool,
    ) -> JSONDict:
        """An email's own fields; in an existing thread it replies to the thread's last email."""
        thread_id, quote = thread
        if quote is not None:
            subject = f"Re: {quote.subject}"
        guest = self.log[contact_id]
        me, them = (user.name, user.email), (guest["name"], guest["emails"][0]["email"])
        mail = pl.Mail(
            sender=me if outgoing else them,
            recipient=them if outgoing else me,
            subject=subject,
            text=body["body_text"],
            html=body["body_html"],
            direction="outgoing" if outgoing else "incoming",
        )
        message_id = f"<{self.ids.token(26)}@mail.gmail.com>"
        return pl.email_fields(
            mail,
            status=status,
            thread_id=thread_id,
            message_id=message_id,
            at=at,
            in_reply_to=quote.message_id if quote else None,
        )

    def _file_in_thread(
        self, req: Request, at: datetime, thread_id: str, email_id: str, owner: Person
    ) -> None:
        """A sent or synced email joins its thread: the thread is created or updated."""
        emails = self.threads.setdefault(thread_id, [])
        emails.append(email_id)
        summary = pl.thread_fields([self.log[e] for e in emails])
        if len(emails) > 1:
            self.log.update(req, at, thread_id, summary)
            return
        first = self.log[email_id]
        thread = self.activity(
            "EmailThread", first["lead_id"], first["contact_id"], owner, at, summary, thread_id
        )
        self.log.create(req, at, "activity.email_thread", thread)


def _record_kind(record_id: str) -> str:
    return "lead" if record_id.startswith("lead_") else "opportunity"


def _call_outcome(call_id: str, *, answered: bool, inbound: bool, duration: int) -> JSONDict:
    base = f"{pl.APP_URL}/call/{call_id}"
    outcome: JSONDict = {"status": "completed", "duration": duration, "disposition": "answered"}
    if answered:
        return {**outcome, "recording_url": f"{base}/recording.mp3"}
    if inbound:
        return {**outcome, "disposition": "vm-answer", "voicemail_url": f"{base}/voicemail.mp3"}
    return {**outcome, "disposition": "no-answer"}
