"""The text of a digest: every line a manager reads, within ``TEXT_BUDGET`` tokens whatever the names.

The digest's facts are counted in ``engine.digest``; this module only words them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from close_events_mcp import catalog
from close_events_mcp.engine.digest import (
    API_KEY_ACTOR,
    DELETED_LEADS_SHOWN,
    DELETION_GROUPS_SHOWN,
    HOWS,
    JOBS,
    JOBS_SHOWN,
    LEADS_DELETED,
    MERGES,
    NAME_CHARS,
    NO_USER,
    OTHER_ACTORS,
    OTHERS_DELETED,
    OUTCOMES,
    OUTCOMES_SHOWN,
    TOP_ACTIONS,
    TOP_ACTORS,
    TOP_FIELDS,
    TOP_LEADS,
    TOP_TRANSITIONS,
    TOP_TYPES,
    WORTH_OPENING,
)
from close_events_mcp.results import (
    ActorCount,
    DeletionGroup,
    EventDigest,
    EventPointer,
    FieldCount,
    LeftOut,
    NotableGroup,
)
from close_events_mcp.text import id_text, key_text, quote

TEXT_BUDGET: Final = 2_000
"""Most tokens the text may take, by ``estimate_tokens`` (which counts high): fewer entries are shown,
and names cut shorter, until it fits."""

_PIECE = re.compile(r"[A-Za-z]+|[0-9]+|[^\x00-\x7f]|\s+|.", re.DOTALL)
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+")


def estimate_tokens(text: str) -> int:
    """An estimate of the text's cl100k tokens that errs high, whatever the alphabet: a character
    outside ASCII counts one per UTF-8 byte (no token is shorter than a byte), a word one per five
    letters, a run of mixed letters (an ID, a random name) three per four, digits one per three,
    anything else one each."""
    total = 0
    for match in _PIECE.finditer(text):
        piece = match.group()
        first = piece[0]
        if not first.isascii():
            total += len(piece.encode())
        elif first.isalpha():
            size = len(piece)
            wordy = size <= 12 and _WORD.fullmatch(piece)
            total += 1 + (size - 1) // 5 if wordy else -(-size * 3 // 4)
        elif first.isdigit():
            total += -(-len(piece) // 3)
        elif first.isspace():
            total += piece != " "
        else:
            total += 1
    return total


def fitted(value: str, chars: int, tokens: int) -> str:
    """User text quoted, cut to ``chars`` characters and, shorter still, to about ``tokens`` tokens."""
    text = quote(value, chars)
    while chars > 1 and estimate_tokens(text) > tokens + 2:  # the quotes
        chars = max(1, min(chars - 1, chars * tokens // max(estimate_tokens(text), 1)))
        text = quote(value, chars)
    return text


@dataclass(frozen=True)
class Shape:
    """How much of the digest the text shows: names' length and how many entries each list shows."""

    name_tokens: int = 12
    leads: int = TOP_LEADS
    outcomes: int = OUTCOMES_SHOWN
    deleted: int = DELETED_LEADS_SHOWN
    groups: int = DELETION_GROUPS_SHOWN
    actors: int = TOP_ACTORS
    types: int = TOP_TYPES
    transitions: int = TOP_TRANSITIONS
    fields: int = TOP_FIELDS
    jobs: int = JOBS_SHOWN
    worth: int = WORTH_OPENING

    def name(self, value: str) -> str:
        return fitted(value, NAME_CHARS, self.name_tokens)

    def status(self, value: str) -> str:
        """A status: as it is when it is one word, else quoted (it is user text)."""
        if _TOKEN.fullmatch(value) and estimate_tokens(value) <= self.name_tokens:
            return value
        return fitted(value, 20, self.name_tokens)


SHAPES: Final = (
    Shape(),
    Shape(name_tokens=8, leads=3, outcomes=3, deleted=3, groups=4, actors=4, transitions=2, fields=3),
    Shape(6, 2, 2, 2, 3, 3, 3, 2, 2, 1, 1),
    Shape(3, 0, 1, 1, 2, 2, 2, 1, 1, 1, 0),
    Shape(1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0),
)
"""Tried in turn until the text fits ``TEXT_BUDGET``."""

_TOKEN = re.compile(r"[A-Za-z0-9_.+-]{1,20}")


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


_NOISE_WORDS = {"autosave": "autosaves", "progress": "progress"}


def _type_text(kind: str, actions: Mapping[str, int]) -> str:
    entry = catalog.lookup(kind)
    noise = {a.name: a.noise for a in entry.actions if a.noise} if entry else {}
    listed = list(actions.items())
    parts = [
        f"{key_text(action)}{f' ({_NOISE_WORDS[noise[action]]})' if action in noise else ''} {count}"
        for action, count in listed[:TOP_ACTIONS]
    ]
    if rest := listed[TOP_ACTIONS:]:
        parts.append(f"+{_plural(len(rest), 'more action')} ({_plural(sum(n for _, n in rest), 'event')})")
    return f"{key_text(kind)} {sum(actions.values())} ({', '.join(parts)})"


def _more(left_out: LeftOut | None, noun: str, unit: str = "event", extra: tuple[int, int] = (0, 0)) -> str:
    items = (left_out.items if left_out else 0) + extra[0]
    events = (left_out.events if left_out else 0) + extra[1]
    if not items:
        return ""
    return f" (+{_plural(items, 'more ' + noun)}, {_plural(events, unit)})"


def _value_text(value: str, shape: Shape) -> str:
    return fitted(value, 24, shape.name_tokens)


def _lead_text(lead_id: str | None, name: str | None, shape: Shape) -> str:
    if not lead_id:
        return "no lead"
    return (f"{shape.name(name)} " if name else "") + id_text(lead_id)


def _lead_name(lead_id: str | None, name: str | None, shape: Shape) -> str:
    """A lead by its name alone when it has one (its ID is a get_event away)."""
    return shape.name(name) if name else _lead_text(lead_id, None, shape)


def _who(user_name: str | None, user_id: str | None, shape: Shape) -> str:
    if user_name:
        return f" by {shape.name(user_name)}"
    return f" by {id_text(user_id)}" if user_id else ""


def _outcome_lines(digest: EventDigest, groups: Mapping[str, NotableGroup], shape: Shape) -> list[str]:
    group = groups.get(OUTCOMES)
    lines = []
    if group is not None:
        outcomes = digest.outcomes[: shape.outcomes]
        lines.append(
            f"Opportunities: {digest.opportunities_won} won, {digest.opportunities_lost} lost"
            + (":" if outcomes else "")
        )
        for item in outcomes:
            value = f" {_value_text(item.value, shape)}" if item.value else ""
            lines.append(
                f"  {item.outcome}{value} on {_lead_name(item.lead_id, item.lead_name, shape)}"
                f"{_who(item.user_name, item.user_id, shape)} {item.at[:10]} · {id_text(item.event_id)}"
            )
        if group.count > len(outcomes):
            among = ""
            if group.listed:
                by_type = "changed_field=status_type" in (group.follow_up or "")
                change = "status-type change" if by_type else "status change"
                among = f", among {_plural(group.listed, change)} this call lists"
            lines.append(f"  +{group.count - len(outcomes)} more{among}: {group.follow_up}")
    if digest.withheld_outcomes:
        lead = "  " if group is not None else ""
        lines.append(
            f"{lead}{'Opportunities: ' if group is None else ''}"
            f"{_plural(digest.withheld_outcomes, 'status-type change')} with values withheld "
            "(won, lost or reopened: not counted)"
        )
    return lines


def _transition_lines(digest: EventDigest, shape: Shape) -> list[str]:
    lines = []
    for kind, label in (("lead", "Lead status"), ("opportunity", "Opportunity status")):
        moves = [t for t in digest.transitions if t.object_type == kind]
        withheld = digest.withheld_status.get(kind, 0)
        if not moves and not withheld:
            continue
        shown, hidden = moves[: shape.transitions], moves[shape.transitions :]
        parts = [f"{shape.status(t.before)} → {shape.status(t.after)} ×{t.count}" for t in shown]
        more = _more(
            digest.transitions_left_out.get(kind),
            "transition",
            extra=(len(hidden), sum(t.count for t in hidden)),
        )
        if withheld:
            parts.append(f"{_plural(withheld, 'change')} with values withheld")
        lines.append(f"{label}: " + " · ".join(parts) + more)
    if other := digest.transitions_left_out.get("other"):
        lines.append(f"Other status changes (too many distinct statuses): {_plural(other.events, 'event')}")
    return lines


def _deletion_lines(digest: EventDigest, groups: Mapping[str, NotableGroup], shape: Shape) -> list[str]:
    leads = groups.get(LEADS_DELETED)
    others = groups.get(OTHERS_DELETED)
    if leads is None and others is None:
        return []
    parts = []
    if leads:
        parts.append(_plural(leads.count, "lead"))
    if others:
        kinds = list(digest.deleted_other.items())
        listed = ", ".join(f"{key_text(k)} {n}" for k, n in kinds[:3])
        more = f", +{len(kinds) - 3} more types" if len(kinds) > 3 else ""
        parts.append(f"{_plural(others.count, 'other record')} ({listed}{more})")
    lines = [f"Deleted: {' and '.join(parts)}:"]
    shown_groups = digest.deletions[: shape.groups]
    for how in HOWS:
        parts = [_deletion_text(g, shape) for g in shown_groups if g.how == how]
        if parts:
            lines.append(f"  {how}: " + " · ".join(parts))
    rest = digest.deletions[shape.groups :]
    hidden, count = len(rest), sum(g.leads + g.others for g in rest)
    if digest.deletions_left_out:
        hidden, count = hidden + digest.deletions_left_out.items, count + digest.deletions_left_out.events
    if hidden:
        lines.append(f"  +{_plural(hidden, 'more group')} ({_plural(count, 'deletion')})")
    if leads:
        deleted = digest.deleted_leads[: shape.deleted]
        if len(deleted) < leads.count:
            lines.append(
                f"  Leads deleted, newest {len(deleted)} of {leads.count} (all: {leads.follow_up})"
                + (":" if deleted else "")
            )
        else:
            lines.append("  Leads deleted:")
        if deleted:
            lines.append("    " + " · ".join(_lead_text(d.lead_id, d.name, shape) for d in deleted))
    return lines


_VIA_NOUN = {"by bulk action": "bulk actions", "by import revert": "imports"}


def actor_text(actor: ActorCount | DeletionGroup, shape: Shape = SHAPES[0]) -> str:
    """Who, as the text shows it: a name quoted; else the user or API key ID, marked when it is not one."""
    if actor.name:
        return shape.name(actor.name)
    if actor.actor in (NO_USER, OTHER_ACTORS):
        return actor.actor
    if actor.actor.startswith(API_KEY_ACTOR):
        return API_KEY_ACTOR + id_text(actor.actor.removeprefix(API_KEY_ACTOR))
    return id_text(actor.actor)


def _deletion_text(group: DeletionGroup, shape: Shape) -> str:
    counts = [_plural(group.leads, "lead")] if group.leads else []
    counts += [_plural(group.others, "other record")] if group.others else []
    via = ""
    if len(group.via) == 1 and group.how in _VIA_NOUN:
        via = f" ({id_text(group.via[0])})"
    elif group.via and group.how in _VIA_NOUN:
        via = f" ({len(group.via)}{'+' if len(group.via) >= 3 else ''} {_VIA_NOUN[group.how]})"
    return f"{actor_text(group, shape)} {' and '.join(counts)}{via}"


def _merge_lines(digest: EventDigest, groups: Mapping[str, NotableGroup], shape: Shape) -> list[str]:
    group = groups.get(MERGES)
    if group is None:
        return []
    merges = digest.merges[: max(shape.outcomes, 1) if shape.name_tokens > 1 else 0]
    lines = [f"Merges: {group.count}" + (f" (all: {group.follow_up})" if group.count > len(merges) else "")]
    lines += [
        f"  {_lead_text(m.source, m.source_name, shape)} into "
        f"{_lead_text(m.destination, m.destination_name, shape)}"
        f"{_who(m.user_name, m.user_id, shape)} {m.at[:10]} · {id_text(m.event_id)}"
        for m in merges
    ]
    return lines


def _job_lines(digest: EventDigest, groups: Mapping[str, NotableGroup], shape: Shape) -> list[str]:
    if JOBS not in groups:
        return []
    started = Counter[str]()
    for kind, actions in digest.by_type.items():
        if catalog.digest_rule(kind) == "job":
            for action in ("created", "completed", "reverted"):
                if actions.get(action):
                    started[action] += actions[action]
    counts = ", ".join(f"{n} {a}" for a, n in started.items()) or "none started"
    jobs = digest.jobs[: shape.jobs]
    lines = [
        f"Bulk actions and imports: {counts}" + (f"; newest {_plural(len(jobs), 'job')}:" if jobs else "")
    ]
    for job in jobs:
        summary = f": {job.summary}" if job.summary else ""
        state = f"last seen with these filters: {job.state}" if job.filtered else job.state
        lines.append(
            f"  {key_text(job.object_type)} {id_text(job.job_id)}{_who(job.user_name, job.user_id, shape)} "
            f"{state}{summary}"
        )
    return lines


def _withheld_note(digest: EventDigest) -> str | None:
    if not digest.withheld:
        return None
    return (
        f"For this key Close withholds the values of events older than {catalog.DATA_VISIBILITY_HOURS} hour "
        f"(it is not an admin's): {_plural(digest.withheld, 'event')} here came without them, so won/lost, "
        "status transitions and custom-field values could not be counted for them (their numbers by type, "
        "person and lead are counted). An admin's key sees everything."
    )


def digest_text(digest: EventDigest) -> str:
    """The digest as the model reads it: in the first shape whose text fits ``TEXT_BUDGET``."""
    for shape in SHAPES:
        text = render_digest(digest, shape)
        if estimate_tokens(text) <= TEXT_BUDGET:
            break
    return text


def render_digest(digest: EventDigest, shape: Shape) -> str:
    leads = f" on {_plural(digest.lead_count, 'lead')}" if digest.lead_count else ""
    lines = [
        f"Digest {digest.since} → {digest.until}, times UTC: {_plural(digest.total, 'event')} by "
        f"{_plural(digest.user_count, 'user')}{leads}."
    ]
    groups = {group.kind: group for group in digest.notable}
    highlights = [
        *_outcome_lines(digest, groups, shape),
        *_transition_lines(digest, shape),
        *_deletion_lines(digest, groups, shape),
        *_merge_lines(digest, groups, shape),
        *_job_lines(digest, groups, shape),
    ]
    if digest.custom_fields:
        shown, hidden = digest.custom_fields[: shape.fields], digest.custom_fields[shape.fields :]
        fields = " · ".join(f"{_field_text(f, shape)} {f.count}" for f in shown)
        more = _more(
            digest.custom_fields_left_out, "field", "change", (len(hidden), sum(f.count for f in hidden))
        )
        highlights.append(f"Custom fields changed: {fields or 'changes'}{more}")
    if highlights:
        lines.append("Highlights:")
        lines += [f"  {line}" for line in highlights]
    if digest.total:
        types = list(digest.by_type.items())
        shown_types = " · ".join(_type_text(k, v) for k, v in types[: shape.types])
        rest = [sum(v.values()) for _, v in types[shape.types :]]
        more = f" · +{_plural(len(rest), 'more type')} ({_plural(sum(rest), 'event')})" if rest else ""
        lines.append(f"What: {shown_types}{more}")
        actors = digest.by_actor[: shape.actors]
        left = digest.by_actor[shape.actors :]
        extra_items = len(left) + (digest.actors_left_out.items if digest.actors_left_out else 0)
        extra_events = sum(a.count for a in left) + (
            digest.actors_left_out.events if digest.actors_left_out else 0
        )
        who = " · ".join(f"{actor_text(a, shape)} {a.count}" for a in actors)
        if extra_items:
            who += f" · +{_plural(extra_items, 'more actor')} ({_plural(extra_events, 'event')})"
        lines.append(f"Who: {who}")
        top_leads = digest.top_leads[: shape.leads]
        if top_leads:
            lines.append(
                "Busiest leads: "
                + " · ".join(
                    f"{_lead_text(lead.lead_id, lead.name, shape)} {lead.count}" for lead in top_leads
                )
            )
    worth = digest.worth_opening[: shape.worth]
    if worth:
        lines.append("Worth opening (get_event):")
        lines += [f"  {_pointer_text(p, shape)}" for p in worth]
    notes = [note for note in (_withheld_note(digest),) if note]
    lines += [f"Note: {note}" for note in [*notes, *digest.notes]]
    return "\n".join(lines)


def _pointer_text(pointer: EventPointer, shape: Shape) -> str:
    target = f" {id_text(pointer.object_id)}" if pointer.object_id and not pointer.lead_id else ""
    lead = f" {_lead_name(pointer.lead_id, pointer.lead_name, shape)}" if pointer.lead_id else ""
    who = _who(pointer.user_name, pointer.user_id, shape)
    return f"{id_text(pointer.event_id)} {pointer.at[:10]} {pointer.why}{target}{lead}{who}"


def _field_text(field_count: FieldCount, shape: Shape) -> str:
    if field_count.field != field_count.key:
        return shape.name(field_count.field)
    return key_text(field_count.key)
