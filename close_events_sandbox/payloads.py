"""Builders for the objects Close's API returns, as they appear in an event's ``data``.

Every builder returns a fresh top-level dict. Nested lists and dicts are never mutated once
built (changes replace them), so event snapshots may share them safely.
"""

from __future__ import annotations

import hashlib
import html
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from close_events_sandbox.ids import Person, payload_date, payload_time
from close_events_sandbox.org import JSONDict

APP_URL: Final = "https://app.close.com"


@dataclass(frozen=True, slots=True)
class Status:
    id: str
    label: str
    type: str = ""
    """``active``/``won``/``lost`` for opportunity statuses; empty for lead statuses."""


@dataclass(slots=True)
class Setup:
    """What the builders need to know about the organization's configuration."""

    org_id: str
    pipeline_id: str = ""
    pipeline_name: str = "Sales"
    lead_statuses: dict[str, Status] = field(default_factory=dict)
    opportunity_statuses: dict[str, Status] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    """``"lead:Seats"`` → ``cf_…``: custom field IDs by owner and name."""

    def custom(self, owner: str, values: Mapping[str, Any]) -> JSONDict:
        """Custom field values as Close returns them: top-level ``custom.cf_…`` keys."""
        return {f"custom.{self.fields[f'{owner}:{name}']}": value for name, value in values.items()}


def _who(person: Person | None) -> tuple[str | None, str | None]:
    return (person.id, person.name) if person else (None, None)


def audit(org_id: str, author: Person | None, at: datetime) -> JSONDict:
    """The bookkeeping fields most Close objects carry."""
    user_id, user_name = _who(author)
    stamp = payload_time(at)
    return {
        "organization_id": org_id,
        "created_by": user_id,
        "created_by_name": user_name,
        "updated_by": user_id,
        "updated_by_name": user_name,
        "date_created": stamp,
        "date_updated": stamp,
    }


def phone_entry(number: str, kind: str = "office") -> JSONDict:
    return {"phone": number, "phone_formatted": format_phone(number), "type": kind, "country": "US"}


def format_phone(number: str) -> str:
    """``+14155550123`` → ``+1 415-555-0123``."""
    digits = number.removeprefix("+1")
    return f"+1 {digits[:3]}-{digits[3:6]}-{digits[6:]}"


def money(cents: int, period: str) -> str:
    amount = f"${cents // 100:,}"
    return {"monthly": f"{amount} monthly", "annual": f"{amount} annually"}.get(period, amount)


def text_to_html(text: str) -> str:
    return "".join(f"<p>{html.escape(line)}</p>" for line in text.split("\n") if line)


# --- Records --------------------------------------------------------------------------------


def lead(
    lead_id: str,
    setup: Setup,
    *,
    name: str,
    status: str,
    author: Person | None,
    at: datetime,
    url: str | None = None,
    description: str = "",
    addresses: Sequence[JSONDict] = (),
    custom: Mapping[str, Any] | None = None,
) -> JSONDict:
    state = setup.lead_statuses[status]
    return {
        "id": lead_id,
        "display_name": name,
        "name": name,
        "description": description,
        "url": url,
        "status_id": state.id,
        "status_label": state.label,
        "contacts": [],
        "contact_ids": [],
        "addresses": list(addresses),
        **setup.custom("lead", custom or {}),
        **audit(setup.org_id, author, at),
        "html_url": f"{APP_URL}/lead/{lead_id}/",
        "opportunities": [],
        "tasks": [],
        "integration_links": [
            {"name": "Google Search", "url": f"https://www.google.com/search?q={name.replace(' ', '+')}"}
        ],
        "primary_email": None,
        "primary_phone": None,
    }


def address(city: str, state: str, zipcode: str, street: str, label: str = "business") -> JSONDict:
    return {
        "label": label,
        "address_1": street,
        "address_2": "",
        "city": city,
        "state": state,
        "zipcode": zipcode,
        "country": "US",
    }


def contact(
    contact_id: str,
    setup: Setup,
    *,
    lead_id: str,
    name: str,
    title: str,
    email: str,
    phone: str,
    author: Person | None,
    at: datetime,
    language: str = "English",
) -> JSONDict:
    return {
        "id": contact_id,
        "lead_id": lead_id,
        "name": name,
        "display_name": name,
        "title": title,
        "emails": [{"email": email, "type": "office"}],
        "phones": [phone_entry(phone)],
        "urls": [],
        **setup.custom("contact", {"Preferred Language": language}),
        **audit(setup.org_id, author, at),
    }


def opportunity(
    opportunity_id: str,
    setup: Setup,
    *,
    lead: JSONDict,
    contact: JSONDict | None,
    owner: Person,
    author: Person | None,
    at: datetime,
    value: int,
    period: str = "one_time",
    status: str = "Demo Scheduled",
    note: str = "",
    competitor: str = "None",
) -> JSONDict:
    return {
        "id": opportunity_id,
        "lead_id": lead["id"],
        "lead_name": lead["display_name"],
        "contact_id": contact["id"] if contact else None,
        "contact_name": contact["name"] if contact else None,
        **opportunity_status_fields(setup, status, at),
        "pipeline_id": setup.pipeline_id,
        "pipeline_name": setup.pipeline_name,
        **opportunity_value_fields(value, period),
        "confidence": 50,
        "note": note,
        "user_id": owner.id,
        "user_name": owner.name,
        **setup.custom("opportunity", {"Competitor": competitor}),
        **audit(setup.org_id, author, at),
    }


def opportunity_status_fields(setup: Setup, status: str, at: datetime) -> JSONDict:
    state = setup.opportunity_statuses[status]
    won = payload_date(at) if state.type == "won" else None
    return {"status_id": state.id, "status_label": state.label, "status_type": state.type, "date_won": won}


def opportunity_value_fields(value: int, period: str) -> JSONDict:
    return {
        "value": value,
        "value_formatted": money(value, period),
        "value_currency": "USD",
        "value_period": period,
    }


def task(
    task_id: str,
    setup: Setup,
    *,
    lead: JSONDict,
    contact_id: str | None,
    assignee: Person,
    author: Person | None,
    at: datetime,
    text: str,
    due: datetime,
    kind: str = "lead",
) -> JSONDict:
    return {
        "id": task_id,
        "_type": kind,
        "lead_id": lead["id"],
        "lead_name": lead["display_name"],
        "contact_id": contact_id,
        "assigned_to": assignee.id,
        "assigned_to_name": assignee.name,
        "text": text,
        "date": payload_date(due),
        "is_complete": False,
        "is_dateless": False,
        **audit(setup.org_id, author, at),
    }


# --- Activities -----------------------------------------------------------------------------


def activity(
    activity_id: str,
    setup: Setup,
    kind: str,
    *,
    lead_id: str,
    contact_id: str | None,
    user: Person | None,
    at: datetime,
    **fields: Any,
) -> JSONDict:
    """The fields every activity shares, then ``fields``."""
    user_id, user_name = _who(user)
    return {
        "_type": kind,
        "id": activity_id,
        "lead_id": lead_id,
        "contact_id": contact_id,
        "user_id": user_id,
        "user_name": user_name,
        **fields,
        **audit(setup.org_id, user, at),
    }


def note_text(text: str) -> JSONDict:
    return {"note": text, "note_html": text_to_html(text)}


def note_fields(text: str) -> JSONDict:
    return {**note_text(text), "attachments": [], "users": []}


def call_fields(*, direction: str, local: str, remote: str, status: str) -> JSONDict:
    return {
        "direction": direction,
        "status": status,
        "disposition": None,
        "duration": 0,
        "phone": remote,
        "local_phone": local,
        "local_phone_formatted": format_phone(local),
        "remote_phone": remote,
        "remote_phone_formatted": format_phone(remote),
        "note": "",
        "note_html": "",
        "recording_url": None,
        "voicemail_url": None,
        "source": "Close.io",
    }


def sms_fields(
    *, direction: str, local: str, remote: str, status: str, text: str, sent: datetime | None = None
) -> JSONDict:
    return {
        "direction": direction,
        "status": status,
        "text": text,
        "local_phone": local,
        "local_phone_formatted": format_phone(local),
        "remote_phone": remote,
        "remote_phone_formatted": format_phone(remote),
        "attachments": [],
        "template_id": None,
        "date_sent": payload_time(sent) if sent else None,
    }


def meeting_fields(*, title: str, starts: datetime, minutes: int, attendees: list[JSONDict]) -> JSONDict:
    return {
        "title": title,
        "location": "https://meet.google.com/blu-thco-mpny",
        "starts_at": payload_time(starts),
        "ends_at": payload_time(starts + timedelta(minutes=minutes)),
        "duration": minutes * 60,
        "status": "upcoming",
        "attendees": attendees,
        "note": "",
    }


def attendee(name: str, email: str, *, contact_id: str | None = None, user_id: str | None = None) -> JSONDict:
    return {
        "email": email,
        "name": name,
        "status": "yes" if user_id else "noreply",
        "is_organizer": False,
        "contact_id": contact_id,
        "user_id": user_id,
    }


def lead_status_change_fields(old: Status, new: Status) -> JSONDict:
    return {
        "old_status_id": old.id,
        "old_status_label": old.label,
        "new_status_id": new.id,
        "new_status_label": new.label,
    }


def opportunity_status_change_fields(opp: JSONDict, old: Status, new: Status) -> JSONDict:
    return {
        "opportunity_id": opp["id"],
        "old_status_id": old.id,
        "old_status_label": old.label,
        "old_status_type": old.type,
        "new_status_id": new.id,
        "new_status_label": new.label,
        "new_status_type": new.type,
        "opportunity_value": opp["value"],
        "opportunity_value_formatted": opp["value_formatted"],
        "opportunity_value_currency": opp["value_currency"],
        "opportunity_value_period": opp["value_period"],
        "opportunity_confidence": opp["confidence"],
    }


def task_completed_fields(done: JSONDict) -> JSONDict:
    return {
        "task_id": done["id"],
        "task_text": done["text"],
        "task_assigned_to": done["assigned_to"],
        "task_assigned_to_name": done["assigned_to_name"],
    }


# --- Email ----------------------------------------------------------------------------------

_DISCLAIMER: Final = (
    "This message and any attachments are confidential and intended only for the addressee. If you "
    "received it by mistake, please tell the sender and delete it."
)
_QUOTE_STYLE: Final = "margin:0 0 0 .8ex;border-left:1px solid #ccc;padding-left:1ex"
_P_STYLE: Final = (
    "margin:0 0 12px 0;font-family:Helvetica,Arial,sans-serif;font-size:14px;line-height:1.5;color:#222"
)


@dataclass(frozen=True, slots=True)
class Quote:
    """The earlier message an email replies to."""

    author: str
    sent: datetime
    text: str
    subject: str
    message_id: str


def email_html(
    greeting: str, paragraphs: Sequence[str], signer: Signer, quote: Quote | None, pixel: str
) -> str:
    """A long, realistic HTML body: styled paragraphs, a signature table, the quoted earlier
    message and an open-tracking pixel."""
    body = [f'<div dir="ltr" style="{_P_STYLE}">', f'<p style="{_P_STYLE}">{html.escape(greeting)}</p>']
    body += [f'<p style="{_P_STYLE}">{html.escape(text)}</p>' for text in paragraphs]
    body.append(_signature(signer))
    if quote is not None:
        body.append(_quoted(quote))
    body.append(
        f'<img src="{APP_URL}/email_opened/{pixel}/" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0" />'
    )
    body.append("</div>")
    return "\n".join(body)


@dataclass(frozen=True, slots=True)
class Signer:
    """Whoever signs an email: name, address, company and phone for the signature block."""

    name: str
    email: str
    company: str
    phone: str


def _signature(signer: Signer) -> str:
    cell = 'style="padding:2px 8px;font-family:Helvetica,Arial,sans-serif;font-size:12px;color:#555"'
    site = signer.email.partition("@")[2]
    slug = signer.email.partition("@")[0]
    return (
        '<table cellpadding="0" cellspacing="0" border="0" style="margin-top:16px;border-top:1px solid #ddd">'
        f'<tr><td {cell}><strong style="color:#111">{html.escape(signer.name)}</strong></td></tr>'
        f"<tr><td {cell}>{html.escape(signer.company)}</td></tr>"
        f'<tr><td {cell}><a href="mailto:{signer.email}" style="color:#1a73e8">{signer.email}</a>'
        f" · {format_phone(signer.phone)}</td></tr>"
        f'<tr><td {cell}><a href="https://{site}" style="color:#1a73e8">{site}</a></td></tr>'
        f'<tr><td {cell}><a href="https://{site}/meet/{slug}" style="color:#1a73e8;font-weight:bold">'
        "Book a 20-minute call with me</a></td></tr>"
        f'<tr><td {cell}><em style="font-size:10px;color:#999">{_DISCLAIMER}</em></td></tr></table>'
        f'<div style="margin-top:12px;font-family:Helvetica,Arial,sans-serif;font-size:10px;color:#aaa">'
        f"{html.escape(signer.company)} · 1 Ocean Blvd, Newport Beach, CA 92660 · "
        f'<a href="https://{site}/preferences?email={signer.email}" style="color:#aaa">Email preferences</a>'
        "</div>"
    )


def _quoted(quote: Quote) -> str:
    when = quote.sent.strftime("%a, %b %d, %Y at %H:%M")
    lines = "<br>\n".join(html.escape(line) for line in quote.text.split("\n"))
    author = html.escape(quote.author)
    return (
        f'<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On {when} {author} wrote:<br></div>'
        f'<blockquote class="gmail_quote" style="{_QUOTE_STYLE}">{lines}</blockquote></div>'
    )


def email_text(greeting: str, paragraphs: Sequence[str], signer: Signer, quote: Quote | None) -> str:
    parts = [greeting, *paragraphs, f"{signer.name}\n{signer.company}"]
    if quote is not None:
        quoted = "\n".join(f"> {line}" for line in quote.text.split("\n"))
        parts.append(f"On {quote.sent:%a, %b %d, %Y at %H:%M} {quote.author} wrote:\n{quoted}")
    return "\n\n".join(parts)


@dataclass(frozen=True, slots=True)
class Mail:
    """Who an email is from and to, and what it says."""

    sender: tuple[str, str]
    """(name, address)"""
    recipient: tuple[str, str]
    subject: str
    text: str
    html: str
    direction: str
    cc: tuple[tuple[str, str], ...] = ()


def email_fields(
    mail: Mail, *, status: str, thread_id: str, message_id: str, at: datetime, in_reply_to: str | None = None
) -> JSONDict:
    sender = f"{mail.sender[0]} <{mail.sender[1]}>"
    to = [f"{mail.recipient[0]} <{mail.recipient[1]}>"]
    cc = [f"{name} <{address}>" for name, address in mail.cc]
    return {
        "direction": mail.direction,
        "status": status,
        "subject": mail.subject,
        "sender": sender,
        "to": to,
        "cc": cc,
        "bcc": [],
        "body_text": mail.text,
        "body_html": mail.html,
        "body_preview": mail.text[:100],
        "attachments": [],
        "opens": [],
        "opens_summary": None,
        "template_id": None,
        "thread_id": thread_id,
        "date_sent": payload_time(at) if status in {"sent", "inbox"} else None,
        "envelope": {
            "from": [{"name": mail.sender[0], "email": mail.sender[1]}],
            "to": [{"name": mail.recipient[0], "email": mail.recipient[1]}],
            "cc": [{"name": name, "email": address} for name, address in mail.cc],
            "subject": mail.subject,
            "message_id": message_id,
            "in_reply_to": in_reply_to,
            "date": at.strftime("%a, %d %b %Y %H:%M:%S +0000"),
        },
        "message_ids": [message_id],
        "users": [],
    }


def thread_fields(emails: Sequence[JSONDict]) -> JSONDict:
    """An email thread's summary of its ``emails`` (full email payloads, oldest first)."""
    people: dict[str, JSONDict] = {}
    for mail in emails:
        envelope = mail["envelope"]
        for person in (*envelope["from"], *envelope["to"]):
            people.setdefault(person["email"], person)
    latest = emails[-1]
    return {
        "n_emails": len(emails),
        "latest_normalized_subject": latest["subject"].removeprefix("Re: "),
        "participants": list(people.values()),
        "emails": [
            {
                "id": mail["id"],
                "subject": mail["subject"],
                "direction": mail["direction"],
                "status": mail["status"],
                "sender": mail["sender"],
                "date_sent": mail["date_sent"],
            }
            for mail in emails
        ],
    }


def opens(at: datetime, count: int) -> JSONDict:
    stamps = [at + timedelta(minutes=17 * (i + 1)) for i in range(count)]
    return {
        "opens": [
            {
                "ip_address": "66.249.84.21",
                "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)",
                "opened_at": payload_time(stamp),
                "opened_by": None,
            }
            for stamp in stamps
        ],
        "opens_summary": f"Opened {count} time{'s' if count > 1 else ''}, last on {stamps[-1]:%b %d}",
    }


# --- Configuration and jobs -----------------------------------------------------------------


def config(object_id: str, org_id: str, author: Person | None, at: datetime, **fields: Any) -> JSONDict:
    """An organization-level object: its id, ``fields``, then the bookkeeping fields."""
    return {"id": object_id, **fields, **audit(org_id, author, at)}


def custom_field_fields(
    name: str, kind: str, choices: Iterable[str] = (), description: str = "", **extra: Any
) -> JSONDict:
    return {
        "name": name,
        "type": kind,
        "choices": list(choices),
        "accepts_multiple_values": False,
        "description": description,
        "editable_with_roles": [],
        **extra,
    }


def membership(
    membership_id: str, org_id: str, person: Person, *, active: bool, at: datetime, created: datetime
) -> JSONDict:
    """A membership with its embedded user, as the membership events carry it."""
    return {
        "id": membership_id,
        "organization_id": org_id,
        "user_id": person.id,
        "role_id": "admin" if person.is_admin else "member",
        "user_full_name": person.name,
        "user_email": person.email,
        "is_active": active,
        "user": user_object(person, created),
        "date_created": payload_time(created),
        "date_updated": payload_time(at),
    }


def user_object(person: Person, created: datetime) -> JSONDict:
    stamp = payload_time(created)
    return {
        "id": person.id,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "image": f"https://secure.gravatar.com/avatar/{hashlib.md5(person.email.encode()).hexdigest()}",
        "date_created": stamp,
        "date_updated": stamp,
    }


def phone_fields(number: str, label: str, participants: list[str]) -> JSONDict:
    return {
        "number": number,
        "number_formatted": format_phone(number),
        "label": label,
        "participants": participants,
        "is_group_number": bool(participants),
        "forward_to_enabled": False,
        "forward_to": None,
        "voicemail_greeting_url": None,
        "country": "US",
    }


def job_fields(status: str, n_docs: int, **extra: Any) -> JSONDict:
    """The progress fields of exports and bulk actions."""
    return {"status": status, "n_docs": n_docs, "n_docs_processed": 0, **extra}


def import_fields(file_name: str, rows: int) -> JSONDict:
    return {
        "file_name": file_name,
        "s3_url": f"https://close-imports.s3.amazonaws.com/uploads/{file_name}",
        "status": "created",
        "total_rows": rows,
        "total_imported": 0,
        "total_failed": 0,
        "total_leads": 0,
        "total_contacts": 0,
        "lead_status_id": None,
        "send_email": False,
    }


def sequence_steps(template_ids: Sequence[str], rng: random.Random) -> list[JSONDict]:
    return [
        {
            "id": f"seqstep_{i}_{rng.randrange(10**6):06d}",
            "step_type": "email",
            "delay": 0 if i == 0 else 86400 * (2 + i),
            "email_template_id": template_id,
            "threading": "new_thread" if i == 0 else "old_thread",
        }
        for i, template_id in enumerate(template_ids)
    ]


def subscription_fields(
    sequence: JSONDict, contact: JSONDict, sender: Person, status: str = "active"
) -> JSONDict:
    return {
        "sequence_id": sequence["id"],
        "sequence_name": sequence["name"],
        "contact_id": contact["id"],
        "contact_email": contact["emails"][0]["email"],
        "lead_id": contact["lead_id"],
        "status": status,
        "pause_reason": None,
        "sender_account_id": f"emailacct_{sender.id[5:27]}",
        "sender_name": sender.name,
        "sender_email": sender.email,
    }
