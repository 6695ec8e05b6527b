"""The catalog as the model reads it: a compact index, or one object type in detail."""

from __future__ import annotations

from itertools import groupby

from close_events_mcp import catalog
from close_events_mcp.results import ActionInfo, EventTypeCatalog, ObjectTypeInfo

_NOISE_MARK = {"autosave": "~", "progress": "≈"}


def _action_info(action: catalog.Action, *, detailed: bool) -> ActionInfo:
    return ActionInfo(
        name=action.name,
        trigger=action.trigger if detailed else None,
        noise=action.noise,
        quieter=list(action.quieter),
    )


def _type_info(entry: catalog.ObjectType, *, detailed: bool) -> ObjectTypeInfo:
    return ObjectTypeInfo(
        name=entry.name,
        label=entry.label,
        group=entry.group,
        actions=[_action_info(a, detailed=detailed) for a in entry.actions],
        note=entry.note or None if detailed else None,
    )


def _combos() -> list[str]:
    return [catalog.combo_label(c) for c in catalog.SUPPORTED_COMBINATIONS]


def describe_catalog(object_type: str | None) -> tuple[str, EventTypeCatalog]:
    entry = catalog.lookup(object_type) if object_type is not None else None
    entries = (entry,) if entry is not None else catalog.OBJECT_TYPES
    detailed = entry is not None
    result = EventTypeCatalog(
        object_types=[_type_info(e, detailed=detailed) for e in entries],
        supported_filter_combinations=_combos(),
        rules=list(catalog.RULES),
    )
    text = _detail_text(entries[0]) if detailed else _index_text()
    return text, result


def _action_word(action: catalog.Action) -> str:
    if not action.noise:
        return action.name
    return f"{action.name}{_NOISE_MARK[action.noise]}"


def _index_text() -> str:
    lines = [
        f"Close event types ({len(catalog.OBJECT_TYPES)}), as object_type: actions. "
        "~ autosave noise, ≈ progress noise: those fire many times; prefer the type's other actions.",
    ]
    for group, entries in groupby(catalog.OBJECT_TYPES, key=lambda e: e.group):
        lines.append(f"{group}:")
        for entry in entries:
            name = "task.SUBTYPE (e.g. task.lead)" if entry.name == "task.lead" else entry.name
            lines.append(f"  {name}: {' '.join(_action_word(a) for a in entry.actions)}")
    lines += _rules_lines()
    lines.append("For what triggers each action: describe_event_types object_type=TYPE.")
    return "\n".join(lines)


def _detail_text(entry: catalog.ObjectType) -> str:
    lines = [f"{entry.name} — {entry.label} ({entry.group})"]
    for action in entry.actions:
        mark = ""
        if action.noise:
            mark = f" [noisy: {action.noise}; prefer {' or '.join(action.quieter)}]"
        lines.append(f"  {action.name}{mark}: {action.trigger}")
    if entry.note:
        lines.append(f"Note: {entry.note}")
    quiet = next(
        (a.name for a in entry.actions if not a.noise and a.name != "deleted"), entry.actions[0].name
    )
    lines.append(f"Example: list_events object_type={entry.name} action={quiet} since=7d")
    lines += _rules_lines()
    return "\n".join(lines)


def _rules_lines() -> list[str]:
    return [
        "Filter combinations Close supports: " + " · ".join(_combos()) + ".",
        *(f"- {rule}" for rule in catalog.RULES),
    ]
