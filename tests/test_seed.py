"""The seeded demo organization: deterministic, complete, and shaped like Close's Event Log."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from close_events_mcp import catalog
from close_events_sandbox.org import DemoOrg
from close_events_sandbox.seed import (
    DEMO_API_KEY,
    DEMO_MEMBER_API_KEY,
    DEMO_OAUTH_TOKEN,
    build_demo_org,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]
ENVELOPE_KEYS = {
    "id",
    "date_created",
    "date_updated",
    "organization_id",
    "user_id",
    "request_id",
    "api_key_id",
    "oauth_client_id",
    "object_type",
    "object_id",
    "lead_id",
    "action",
    "changed_fields",
    "data",
    "previous_data",
    "meta",
}
NAIVE_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}")
PAYLOAD_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00")
BASE62 = "[0-9A-Za-z]"
ORG_LEVEL = ("custom_fields.", "status.", "membership", "group", "saved_search", "phone_number",
             "email_template", "sequence", "custom_activity_type", "custom_object_type", "import",
             "export.", "bulk_action.")  # fmt: skip
ID_PREFIXES = {
    "lead": "lead_",
    "contact": "cont_",
    "opportunity": "oppo_",
    "task.": "task_",
    "activity.": "acti_",
    "custom_fields.": "cf_",
    "status.": "stat_",
    "import": "imp_",
    "export.": "expt_",
    "bulk_action.": "bulk",
    "membership": "memb_",
    "group": "group_",
    "saved_search": "save_",
    "phone_number": "phon_",
    "email_template": "tmpl_",
    "sequence_subscription": "sub_",
    "sequence": "seq_",
    "custom_activity_type": "actitype_",
    "custom_object_type": "cotype_",
    "custom_object": "custobj_",
}
PAYLOAD_KEYS = {
    "lead": {"id", "display_name", "name", "description", "url", "status_id", "status_label", "contacts",
             "addresses", "organization_id", "created_by", "created_by_name", "updated_by", "updated_by_name",
             "date_created", "date_updated", "html_url", "opportunities", "tasks", "integration_links",
             "primary_email", "primary_phone"},
    "contact": {"id", "lead_id", "name", "display_name", "title", "emails", "phones", "urls", "date_created"},
    "opportunity": {"id", "lead_id", "lead_name", "contact_id", "status_id", "status_label", "status_type",
                    "pipeline_id", "value", "value_formatted", "value_currency", "value_period", "confidence",
                    "date_won", "user_id", "user_name"},
    "task.lead": {"id", "_type", "lead_id", "assigned_to", "assigned_to_name", "text", "date", "is_complete"},
    "activity.email": {"_type", "id", "lead_id", "contact_id", "user_id", "direction", "status", "subject",
                       "sender", "to", "cc", "bcc", "body_text", "body_html", "body_preview", "attachments",
                       "opens", "template_id", "thread_id", "date_sent", "envelope", "users"},
    "activity.email_thread": {"_type", "id", "lead_id", "n_emails", "latest_normalized_subject",
                              "participants", "emails"},
    "activity.call": {"_type", "id", "direction", "status", "duration", "local_phone", "remote_phone",
                      "note", "recording_url", "voicemail_url"},
    "activity.sms": {"_type", "id", "direction", "status", "text", "local_phone", "remote_phone"},
    "activity.note": {"_type", "id", "note", "note_html", "attachments", "users"},
    "activity.meeting": {"_type", "id", "title", "starts_at", "ends_at", "duration", "status", "attendees"},
    "activity.lead_status_change": {"_type", "old_status_id", "old_status_label", "new_status_id",
                                    "new_status_label"},
    "activity.opportunity_status_change": {"_type", "opportunity_id", "old_status_type", "new_status_type",
                                           "opportunity_value", "opportunity_value_formatted"},
    "activity.task_completed": {"_type", "task_id", "task_text", "task_assigned_to"},
    "activity.custom_activity": {"_type", "custom_activity_type_id", "status"},
    "membership": {"id", "user_id", "role_id", "user_full_name", "user_email", "user"},
    "import": {"status", "file_name", "total_imported"},
    "export.lead": {"status", "n_docs", "n_docs_processed", "download_url"},
    "bulk_action.delete": {"status", "n_docs", "n_docs_processed", "query"},
    "sequence_subscription": {"sequence_id", "contact_id", "lead_id", "status", "pause_reason"},
}  # fmt: skip


@cache
def org() -> DemoOrg:
    return build_demo_org(NOW)


def events() -> list[dict[str, Any]]:
    return org().events


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def by_request(request_id: str) -> list[dict[str, Any]]:
    return [e for e in events() if e["request_id"] == request_id]


def as_json(demo: DemoOrg) -> str:
    return json.dumps(asdict(demo), ensure_ascii=False)


# --- Determinism ---------------------------------------------------------------------------------


def test_same_arguments_give_byte_identical_output() -> None:
    assert as_json(build_demo_org(NOW)) == as_json(build_demo_org(NOW))
    assert as_json(build_demo_org(NOW, filler_events=300)) == as_json(build_demo_org(NOW, filler_events=300))


def test_another_now_shifts_every_date_and_keeps_every_id() -> None:
    shift = timedelta(days=3, hours=5, seconds=7, microseconds=123)
    later = build_demo_org(NOW + shift)
    assert len(later.events) == len(events())
    for before, after in zip(events(), later.events, strict=True):
        assert (before["id"], before["object_id"], before["request_id"]) == (
            after["id"],
            after["object_id"],
            after["request_id"],
        )
        assert stamp(after["date_updated"]) - stamp(before["date_updated"]) == shift
        payload = after["data"] or after["previous_data"]
        old_payload = before["data"] or before["previous_data"]
        if "date_updated" in payload:
            moved = datetime.fromisoformat(payload["date_updated"]) - datetime.fromisoformat(
                old_payload["date_updated"]
            )
            assert moved == shift


def test_the_same_moment_in_another_zone_gives_the_same_org() -> None:
    assert as_json(build_demo_org(NOW.astimezone(timezone(timedelta(hours=-7))))) == as_json(org())


def test_output_does_not_depend_on_hash_randomisation() -> None:
    script = (
        "import hashlib, json, sys; from dataclasses import asdict; from datetime import datetime, UTC; "
        "from close_events_sandbox.seed import build_demo_org; "
        "org = build_demo_org(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), filler_events=500); "
        "print(hashlib.sha256(json.dumps(asdict(org), ensure_ascii=False).encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for hash_seed in ("1", "2")
    }
    assert digests == {hashlib.sha256(as_json(build_demo_org(NOW, filler_events=500)).encode()).hexdigest()}


def test_another_seed_gives_other_ids() -> None:
    other = build_demo_org(NOW, seed=7)
    assert {e["id"] for e in other.events}.isdisjoint(e["id"] for e in events())
    assert other.landmarks["lead:Sitwell Enterprises"] != org().landmarks["lead:Sitwell Enterprises"]


def test_refuses_a_naive_now_and_negative_filler() -> None:
    with pytest.raises(ValueError, match="timezone"):
        build_demo_org(NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="filler_events"):
        build_demo_org(NOW, filler_events=-1)
    with pytest.raises(ValueError, match="filler_days"):
        build_demo_org(NOW, filler_events=10, filler_days=0)


# --- Coverage of the catalog -------------------------------------------------------------------


def test_every_catalog_object_type_and_action_occurs() -> None:
    seen = Counter((e["object_type"], e["action"]) for e in events())
    missing = [(t.name, a) for t in catalog.OBJECT_TYPES for a in t.action_names if (t.name, a) not in seen]
    assert missing == []


def test_every_event_is_in_the_catalog() -> None:
    for event in events():
        entry = catalog.lookup(event["object_type"])
        assert entry is not None, event["object_type"]
        assert event["action"] in entry.action_names, (event["object_type"], event["action"])


def test_the_story_is_a_realistic_size_with_incoming_email_tasks() -> None:
    assert 300 <= len(events()) <= 1500
    assert any(e["object_type"] == "task.incoming_email" for e in events())


# --- The envelope ------------------------------------------------------------------------------


def test_every_event_has_exactly_the_envelope_keys() -> None:
    for event in events():
        assert set(event) == ENVELOPE_KEYS


def test_envelope_timestamps_are_naive_utc_with_microseconds() -> None:
    for event in events():
        assert NAIVE_STAMP.fullmatch(event["date_created"]), event["date_created"]
        assert NAIVE_STAMP.fullmatch(event["date_updated"]), event["date_updated"]
        assert event["date_created"] <= event["date_updated"]


def test_payload_timestamps_carry_an_offset_and_match_the_envelope() -> None:
    for event in events():
        payload = event["data"] or event["previous_data"]
        for key in ("date_created", "date_updated"):
            if key in payload:
                assert PAYLOAD_STAMP.fullmatch(payload[key]), (event["object_type"], payload[key])
        if event["data"] is not None and "date_updated" in payload:
            lag = stamp(event["date_updated"]) - datetime.fromisoformat(payload["date_updated"])
            assert timedelta(0) < lag < timedelta(seconds=1)


def test_ids_have_close_prefixes_and_base62_bodies() -> None:
    org_id = org().organization["id"]
    assert re.fullmatch(f"orga_{BASE62}{{43}}", org_id)
    for event in events():
        assert re.fullmatch(f"ev_{BASE62}{{22}}", event["id"])
        assert re.fullmatch(f"req_{BASE62}{{22}}", event["request_id"])
        assert event["organization_id"] == org_id
        prefix = next(p for kind, p in ID_PREFIXES.items() if event["object_type"].startswith(kind))
        assert event["object_id"].startswith(prefix), (event["object_type"], event["object_id"])
        if event["object_type"] == "lead":
            assert re.fullmatch(f"lead_{BASE62}{{43}}", event["object_id"])
        for key, start in (("user_id", "user_"), ("api_key_id", "api_"), ("oauth_client_id", "oa2client_")):
            assert event[key] is None or event[key].startswith(start)


def test_event_ids_are_unique_and_each_object_is_created_once() -> None:
    assert len({e["id"] for e in events()}) == len(events())
    created = Counter(e["object_id"] for e in events() if e["action"] == "created")
    assert [object_id for object_id, n in created.items() if n > 1] == []


def test_lead_id_is_the_object_for_leads_and_null_for_org_level_objects() -> None:
    for event in events():
        if event["object_type"] == "lead":
            assert event["lead_id"] == event["object_id"]
        elif event["object_type"].startswith(ORG_LEVEL) and event["object_type"] != "sequence_subscription":
            assert event["lead_id"] is None, event["object_type"]
        else:
            assert event["lead_id"].startswith("lead_"), event["object_type"]


def test_meta_always_names_the_request() -> None:
    for event in events():
        assert event["meta"]["request_method"] in {"GET", "POST", "PUT", "DELETE"}
        assert event["meta"]["request_path"].startswith("/")


def test_events_do_not_share_top_level_dicts() -> None:
    assert len({id(e) for e in events()}) == len(events())
    datas = [id(e["data"]) for e in events() if e["data"] is not None]
    assert len(set(datas)) == len(datas)
    assert len({id(e["meta"]) for e in events()}) == len(events())


# --- data and previous_data ----------------------------------------------------------------------


def test_non_update_actions_carry_the_full_object_and_no_previous_data() -> None:
    for event in events():
        if event["action"] in ("updated", "deleted"):
            continue
        assert event["previous_data"] == {}
        assert event["changed_fields"] == []
        assert event["data"]["id"] == event["object_id"]


def test_updates_carry_only_the_old_values_of_what_changed() -> None:
    for event in (e for e in events() if e["action"] == "updated"):
        changed, data, previous = event["changed_fields"], event["data"], event["previous_data"]
        assert changed == sorted(changed)
        assert set(changed) == set(previous)
        assert "date_updated" in changed
        assert previous["date_updated"] < data["date_updated"]
        for key in changed:
            assert previous[key] != data[key], (event["object_type"], key)


def test_deletes_carry_the_object_as_it_was() -> None:
    for event in (e for e in events() if e["action"] == "deleted"):
        assert event["data"] is None
        assert event["changed_fields"] == []
        assert event["previous_data"]["id"] == event["object_id"]


def test_deleted_leads_keep_their_name() -> None:
    names = {
        e["previous_data"]["display_name"]
        for e in events()
        if (e["object_type"], e["action"]) == ("lead", "deleted")
    }
    assert {"Boyfights", "Fakeblock", "Shoreline Realty", "Bluth Company (duplicate)"} <= names


@pytest.mark.parametrize("object_type", sorted(PAYLOAD_KEYS))
def test_payloads_have_the_fields_close_returns(object_type: str) -> None:
    payloads = [e["data"] for e in events() if e["object_type"] == object_type and e["data"]]
    assert payloads
    for payload in payloads:
        assert PAYLOAD_KEYS[object_type] <= set(payload), PAYLOAD_KEYS[object_type] - set(payload)


def test_custom_field_values_are_top_level_custom_keys() -> None:
    seats = org().landmarks["custom_field:Seats"]
    assert seats.startswith("cf_")
    lead = next(e["data"] for e in events() if e["object_type"] == "lead" and e["data"])
    assert f"custom.{seats}" in lead


# --- The story -----------------------------------------------------------------------------------


def test_seats_go_from_40_to_55_with_the_field_in_changed_fields() -> None:
    key = f"custom.{org().landmarks['custom_field:Seats']}"
    lead_id = org().landmarks["lead:Sitwell Enterprises"]
    change = next(e for e in events() if e["object_id"] == lead_id and key in e["changed_fields"])
    assert (change["previous_data"][key], change["data"][key]) == (40, 55)


def test_a_status_change_updates_the_lead_and_adds_an_activity_in_one_request() -> None:
    lead_id = org().landmarks["status_change_lead"]
    changes = [
        e for e in events() if e["object_type"] == "activity.lead_status_change" and e["action"] == "created"
    ]
    assert any(e["lead_id"] == lead_id for e in changes)
    for change in changes:
        siblings = by_request(change["request_id"])
        update = next(e for e in siblings if e["object_type"] == "lead" and e["action"] == "updated")
        assert {"status_id", "status_label"} <= set(update["changed_fields"])
        assert update["data"]["status_label"] == change["data"]["new_status_label"]


def test_note_autosaves_grow_within_a_minute() -> None:
    note_id = org().landmarks["note_autosave"]
    trail = sorted((e for e in events() if e["object_id"] == note_id), key=lambda e: e["date_updated"])
    assert trail[0]["action"] == "created"
    updates = [e for e in trail if e["action"] == "updated"]
    assert 4 <= len(updates) <= 8
    assert stamp(trail[-1]["date_updated"]) - stamp(trail[0]["date_updated"]) < timedelta(minutes=1.5)
    lengths = [len(e["data"]["note"]) for e in trail]
    assert lengths == sorted(lengths) and lengths[0] < lengths[-1]


def test_emails_are_sent_with_long_html_bodies() -> None:
    email_id = org().landmarks["email_sent"]
    assert any(e["object_id"] == email_id and e["action"] == "sent" for e in events())
    bodies = [e["data"]["body_html"] for e in events() if e["object_type"] == "activity.email" and e["data"]]
    assert all("<table" in body and "/email_opened/" in body and "<img" in body for body in bodies)
    assert any("<blockquote" in body for body in bodies)
    assert max(len(body) for body in bodies) > 3000


def test_messy_user_text_is_there_for_sanitisation() -> None:
    notes = [e["data"]["note"] for e in events() if e["object_type"] == "activity.note" and e["data"]]
    assert any("Ignore previous instructions" in note for note in notes)
    assert any("<script>" in note and "\u200b" in note for note in notes)
    assert any("https://" in note for note in notes)
    senders = [e["data"]["sender"] for e in events() if e["object_type"] == "activity.email" and e["data"]]
    assert any("Fünke" in sender for sender in senders)


def test_a_share_of_changes_come_through_zapier_and_oauth() -> None:
    zapier = org().landmarks["api_key:Zapier"]
    assert sum(e["api_key_id"] == zapier for e in events()) >= 5
    assert sum(e["oauth_client_id"] is not None for e in events()) >= 2
    assert any(e["user_id"] is None for e in events())


def test_the_merge_is_one_request_with_merge_meta_on_every_event() -> None:
    marks = org().landmarks
    source, destination = marks["merge_source"], marks["merge_destination"]
    merge = by_request(marks["merge_request"])
    for event in merge:
        assert event["meta"]["merge_source_lead_id"] == source
        assert event["meta"]["merge_destination_lead_id"] == destination
    kinds = {(e["object_type"], e["action"], e["lead_id"]) for e in merge}
    assert ("lead", "merged", destination) in kinds
    assert ("lead", "updated", destination) in kinds
    assert ("lead", "deleted", source) in kinds
    assert ("contact", "deleted", source) in kinds
    assert ("opportunity", "deleted", source) in kinds
    moved = [e for e in merge if e["object_type"].startswith("activity.") and e["action"] == "updated"]
    assert moved and all(
        e["previous_data"]["lead_id"] == source and e["lead_id"] == destination for e in moved
    )
    merged = [e for e in events() if e["meta"].get("merge_source_lead_id")]
    assert merged == merge


def test_the_bulk_delete_removes_the_bad_fits_with_their_children() -> None:
    bulk = org().landmarks["bulk_delete"]
    own = [e["action"] for e in events() if e["object_id"] == bulk]
    assert own[0] == "created" and own[-1] == "completed" and own.count("updated") >= 2
    tagged = [e for e in events() if e["meta"].get("bulk_action_id") == bulk]
    leads = [e for e in tagged if e["object_type"] == "lead"]
    assert 5 <= len(leads) <= 10 and all(e["action"] == "deleted" for e in tagged)
    assert {"contact", "opportunity", "sequence_subscription"} <= {e["object_type"] for e in tagged}


def test_each_bulk_action_kind_is_paused_once() -> None:
    paused = Counter(e["object_type"] for e in events() if e["action"] == "paused")
    assert paused == Counter(
        {f"bulk_action.{kind}": 1 for kind in ("delete", "edit", "email", "sequence_subscription")}
    )
    edits = [e for e in events() if e["meta"].get("bulk_action_id") == org().landmarks["bulk_edit"]]
    assert any(e["object_type"] == "lead" and e["action"] == "updated" for e in edits)


def test_the_import_creates_leads_that_its_revert_deletes() -> None:
    imp = org().landmarks["import"]
    actions = [e["action"] for e in events() if e["object_id"] == imp]
    assert actions[0] == "created" and actions[-1] == "reverted"
    assert {"updated", "completed", "reverting"} <= set(actions)
    imported = {e["object_id"] for e in events() if e["object_type"] == "lead" and e["action"] == "created"
                and e["meta"]["request_path"] == "/api/v1/import/"}  # fmt: skip
    reverted = [e for e in events() if e["meta"].get("revert_import_id") == imp]
    assert 6 <= len(imported) <= 10
    assert {e["object_id"] for e in reverted if e["object_type"] == "lead"} == imported
    assert all(e["action"] == "deleted" for e in reverted)


def test_recent_events_and_events_past_retention() -> None:
    ages = [NOW - stamp(e["date_updated"]) for e in events()]
    assert min(ages) > timedelta(0)
    assert sum(age < timedelta(hours=1) for age in ages) >= 20
    assert sum(age < timedelta(minutes=10) for age in ages) >= 2
    old = [age for age in ages if age > timedelta(days=30)]
    assert 3 <= len(old) <= 6 and all(age < timedelta(days=40) for age in old)
    assert sum(age > timedelta(days=29.5) for age in ages) == len(old)
    found = {e["id"]: NOW - stamp(e["date_updated"]) for e in events()}
    assert found[org().landmarks["recent_event"]] < timedelta(hours=1)
    assert found[org().landmarks["old_event"]] > timedelta(days=30)


def test_landmarks_point_at_story_objects() -> None:
    marks = org().landmarks
    required = {
        *(
            "merge_source",
            "merge_destination",
            "merge_request",
            "bulk_delete",
            "import",
            "status_change_lead",
        ),
        *("custom_field:Seats", "note_autosave", "email_sent", "recent_event", "old_event"),
        *("lead:Sitwell Enterprises", "lead:Bob Loblaw Law Blog", "lead:Wee Britain", "user:Gob"),
    }
    assert required <= set(marks)
    lead_ids = {e["lead_id"] for e in events()}
    for key, value in marks.items():
        if key.startswith("lead:"):
            assert value in lead_ids, key
    users = {u["id"]: u["first_name"] for u in org().users}
    assert {marks[f"user:{first}"] for first in users.values()} == set(users)


def test_users_memberships_and_credentials() -> None:
    demo = org()
    names = {u["id"]: f"{u['first_name']} {u['last_name']}" for u in demo.users}
    assert sorted(names.values()) == sorted(["Gob Bluth", "Lucille Bluth", "Michael Bluth", "Maeby Fünke",
                                             "Tobias Fünke", "George Michael Bluth"])  # fmt: skip
    roles = {m["user_id"]: m["role_id"] for m in demo.memberships}
    assert set(roles) == set(names)
    for secret, who, admin in ((DEMO_API_KEY, "Gob Bluth", True), (DEMO_MEMBER_API_KEY, "Maeby Fünke", False),
                               (DEMO_OAUTH_TOKEN, "Lucille Bluth", True)):  # fmt: skip
        principal = demo.credentials[secret]
        assert names[principal.user_id] == who and principal.is_admin is admin
        assert roles[principal.user_id] == ("admin" if admin else "member")
    assert demo.organization["name"] == "Bluth Company Sales"


def test_object_histories_are_chronological() -> None:
    trails: dict[str, list[str]] = defaultdict(list)
    for event in events():
        payload = event["data"] if event["data"] is not None else event["previous_data"]
        if "date_updated" in payload:
            trails[event["object_id"]].append(payload["date_updated"])
    for object_id, stamps in trails.items():
        assert stamps == sorted(stamps), object_id


# --- Filler and speed ------------------------------------------------------------------------


def test_filler_adds_exactly_n_events_inside_the_window() -> None:
    filled = build_demo_org(NOW, filler_events=2500, filler_days=2.0)
    base = events()
    assert len(filled.events) == len(base) + 2500
    assert as_json(DemoOrg(**{**asdict(org()), "events": filled.events[: len(base)]})) == as_json(org())
    extra = filled.events[len(base) :]
    start = NOW - timedelta(days=2)
    assert all(start <= stamp(e["date_updated"]) <= NOW for e in extra)
    assert len({e["id"] for e in filled.events}) == len(filled.events)
    kinds = Counter(e["object_type"] for e in extra)
    assert {"activity.note", "activity.email", "activity.call", "activity.sms", "lead", "opportunity"} <= set(
        kinds
    )
    assert len({e["user_id"] for e in extra}) >= 5
    assert len({e["lead_id"] for e in extra}) >= 40


def test_base_org_builds_in_well_under_a_second() -> None:
    started = time.perf_counter()
    build_demo_org(NOW + timedelta(minutes=1))
    assert time.perf_counter() - started < 1.0
