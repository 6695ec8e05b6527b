"""The catalog matches Close's "List of Events" page, and the filter rules match the API digest."""

from close_events_mcp import catalog

# Every object type and action on Close's docs page (tests/data/close_docs/list-of-events.md),
# written out independently of the catalog module.
DOCS: dict[str, set[str]] = {
    "lead": {"created", "updated", "deleted", "merged"},
    "contact": {"created", "updated", "deleted"},
    "opportunity": {"created", "updated", "deleted"},
    "task.lead": {"created", "updated", "deleted", "completed"},
    "activity.email": {"created", "updated", "deleted", "sent"},
    "activity.email_thread": {"created", "updated", "deleted"},
    "activity.call": {"created", "updated", "deleted", "answered", "completed"},
    "activity.sms": {"created", "updated", "deleted", "sent"},
    "activity.note": {"created", "updated", "deleted"},
    "activity.meeting": {"created", "updated", "deleted", "scheduled", "started", "completed", "canceled"},
    "activity.lead_status_change": {"created", "updated", "deleted"},
    "activity.opportunity_status_change": {"created", "updated", "deleted"},
    "activity.task_completed": {"created", "deleted"},
    "import": {"created", "updated", "completed", "reverting", "reverted"},
    "export.lead": {"created", "updated", "completed"},
    "export.opportunity": {"created", "updated", "completed"},
    **{
        f"bulk_action.{k}": {"created", "updated", "completed", "paused"}
        for k in ("delete", "edit", "email", "sequence_subscription")
    },
    **{
        f"custom_fields.{k}": {"created", "updated", "deleted"}
        for k in ("lead", "contact", "opportunity", "activity", "shared")
    },
    "custom_activity_type": {"created", "updated", "deleted"},
    "activity.custom_activity": {"created", "updated", "deleted"},
    "custom_object": {"created", "updated", "deleted"},
    "custom_object_type": {"created", "updated", "deleted"},
    "status.lead": {"created", "updated", "deleted"},
    "status.opportunity": {"created", "updated", "deleted"},
    "membership": {"activated", "deactivated"},
    "group": {"created", "updated", "deleted"},
    "saved_search": {"created", "updated"},
    "phone_number": {"created", "updated", "deleted"},
    "email_template": {"created", "updated", "deleted"},
    "sequence": {"created", "updated", "deleted"},
    "sequence_subscription": {"created", "updated", "deleted"},
}


def test_catalog_has_exactly_the_documented_types_and_actions():
    ours = {t.name: set(t.action_names) for t in catalog.OBJECT_TYPES}
    assert ours == DOCS


def test_every_action_has_a_trigger_and_noisy_ones_name_a_quieter_action():
    for entry in catalog.OBJECT_TYPES:
        for action in entry.actions:
            assert action.trigger.strip(), (entry.name, action.name)
            if action.noise:
                assert action.quieter and set(action.quieter) <= set(entry.action_names)


def test_autosave_noise_is_the_updated_action_of_email_call_sms_and_note():
    autosaves = {(t.name, a.name) for t in catalog.OBJECT_TYPES for a in t.actions if a.noise == "autosave"}
    assert autosaves == {
        ("activity.email", "updated"),
        ("activity.call", "updated"),
        ("activity.sms", "updated"),
        ("activity.note", "updated"),
    }


def test_lookup_accepts_task_subtypes_and_legacy_names():
    assert catalog.lookup("task.incoming_email") is catalog.BY_NAME["task.lead"]
    assert catalog.lookup("note") is catalog.BY_NAME["activity.note"]
    assert (
        catalog.lookup("status_change.opportunity") is catalog.BY_NAME["activity.opportunity_status_change"]
    )
    assert catalog.lookup("task.") is None
    assert catalog.lookup("leads") is None


def test_supported_combinations_are_the_documented_fifteen_plus_scripts_usage():
    labels = {catalog.combo_label(c) for c in catalog.SUPPORTED_COMBINATIONS}
    assert len(labels) == 17
    assert "object_type+action" in labels and "request_id" in labels and "(no filter)" in labels
    assert not catalog.is_supported(frozenset({"action"}))
    assert not catalog.is_supported(frozenset({"action", "request_id"}))
    assert catalog.is_supported(frozenset({"lead_id", "user_id", "object_type", "action"}))
