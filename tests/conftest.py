"""Shared fixtures: the demo organization at a fixed moment, the emulator, the server, a client."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from mcp import Client

from close_events_mcp.config import Credential, Secret, Settings
from close_events_mcp.server.app import EventLogServer, build_server
from close_events_sandbox.app import Faults, SandboxApp
from close_events_sandbox.org import DemoOrg
from close_events_sandbox.seed import DEMO_API_KEY, build_demo_org
from tests.postgres import fresh_database, postgres_server

os.environ.setdefault("CLOSE_EVENTS_STORE", "off")  # no test keeps events in the user data directory
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BASE_URL = "http://sandbox.test/api/v1"


def clock() -> datetime:
    return NOW


def make_settings(key: str = DEMO_API_KEY, kind: str = "api_key", **overrides: object) -> Settings:
    settings = Settings(
        credential=Credential(kind, Secret(key)),  # type: ignore[arg-type]
        base_url=BASE_URL,
        backoff_base=0.01,
        call_timeout=10.0,
    )
    return settings.with_overrides(**overrides)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def demo_org() -> DemoOrg:
    return build_demo_org(NOW)


@pytest.fixture
def sandbox(demo_org: DemoOrg) -> SandboxApp:
    return SandboxApp(demo_org, clock=clock, faults=Faults())


@pytest.fixture
def server(sandbox: SandboxApp) -> EventLogServer:
    return build_server(make_settings(), transport=httpx.ASGITransport(app=sandbox), clock=clock)


@pytest.fixture
async def client(server: EventLogServer) -> AsyncIterator[Client]:
    async with Client(server) as connected:
        yield connected


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server for the session (``tests/postgres.py``), started on first use."""
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_setting(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """``CLOSE_EVENTS_STORE`` for a store of the test's own: a SQLite directory, then a fresh database on
    the session's PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "store")
    return fresh_database(request.getfixturevalue("postgres_url"))


def text_of(result: object) -> str:
    content = result.content  # type: ignore[attr-defined]
    return "\n".join(block.text for block in content if block.type == "text")


# --- Test kinds and the fast subset ---------------------------------------------------------------
# Every test is marked with its kind: ``unit`` (in process; Close is the emulator over an ASGI
# transport), ``e2e`` (spawns the server's command or serves over loopback HTTP) or ``faults`` (the
# fault suite: real servers meeting injected faults in real time). KINDS gives each test module's,
# KIND_OF_TEST the tests of another kind than their module's; a test module with no kind stops the
# run. ``slow`` marks what the fast subset, ``pytest -m "not slow"``, leaves out: the tests in SLOW
# (by module, then test or test[case], "*" for the whole module), each with why it is slow, and
# every case but the first of the tests in SLOW_AFTER_THE_FIRST_CASE. A name in these tables that
# no longer names a test stops the run too.

KINDS: dict[str, str] = {
    "test_answer_frame.py": "unit",
    "test_calendar_words.py": "unit",
    "test_capping.py": "unit",
    "test_catalog.py": "unit",
    "test_cli.py": "unit",
    "test_close_api.py": "unit",
    "test_credentials.py": "unit",
    "test_cursor_rejected.py": "unit",
    "test_demo_day.py": "unit",
    "test_digest.py": "unit",
    "test_digest_window.py": "unit",
    "test_digest_glance.py": "unit",
    "test_digest_reach.py": "unit",
    "test_e2e_stdio.py": "e2e",
    "test_emulator_rules.py": "unit",
    "test_faults.py": "faults",
    "test_hostile_input.py": "unit",
    "test_hostile_text.py": "unit",
    "test_layout.py": "unit",
    "test_http_hardening.py": "e2e",
    "test_http_transport.py": "e2e",
    "test_lead_names.py": "unit",
    "test_local_filters.py": "unit",
    "test_log_privacy.py": "unit",
    "test_markers.py": "unit",
    "test_names.py": "unit",
    "test_nothing_lost.py": "unit",
    "test_object_type_entry.py": "unit",
    "test_paging.py": "unit",
    "test_poll.py": "unit",
    "test_poll_backlog.py": "unit",
    "test_query.py": "unit",
    "test_rate_limited_scan.py": "unit",
    "test_ratelimit.py": "unit",
    "test_readme.py": "unit",
    "test_recorded_payloads.py": "unit",
    "test_render.py": "unit",
    "test_resources_prompts.py": "unit",
    "test_sandbox.py": "unit",
    "test_scan.py": "unit",
    "test_secrets.py": "unit",
    "test_seed.py": "unit",
    "test_server_json.py": "unit",
    "test_startup.py": "unit",
    "test_store.py": "unit",
    "test_store_failures.py": "unit",
    "test_store_reads.py": "unit",
    "test_store_restart.py": "unit",
    "test_store_settings.py": "unit",
    "test_store_shared.py": "e2e",
    "test_store_sync.py": "e2e",
    "test_text.py": "unit",
    "test_token_budget.py": "unit",
    "test_tokens.py": "unit",
    "test_tool_definitions.py": "unit",
    "test_tools.py": "unit",
    "test_typed_boundary.py": "unit",
    "test_touch_only.py": "unit",
    "test_view.py": "unit",
    "test_view_browser.py": "e2e",
}

KIND_OF_TEST: dict[str, dict[str, str]] = {
    "test_view.py": {"test_over_stateless_http_the_view_is_offered_where_each_request_says_who_asks": "e2e"},
    "test_cli.py": {"test_a_reader_that_stops_early_is_not_an_error": "e2e"},
    "test_log_privacy.py": {"test_a_tool_call_over_http_at_debug_logs_no_crm_data": "e2e"},
    "test_secrets.py": {
        "test_the_cli_never_shows_the_canary": "e2e",
        "test_a_real_process_never_shows_the_canary": "e2e",
    },
}

DEADLINE = "waits out the server's 0.5 s deadline"
HYPOTHESIS = "hypothesis: 150 examples, each a tool call"
BIG_DIGEST = "a digest of 20,000 events"
CONSOLE_SCRIPT = "a process of the console script"
BUSY_WALK = "reads days of a busy organization page by page first"

STORE_ON_POSTGRES = "the store on a real PostgreSQL (its SQLite case is fast)"
STORE_TESTS_ON_BOTH = (
    "test_an_answer_asked_again_comes_from_the_store_but_for_the_latest_hour",
    "test_history_older_than_close_keeps_is_answered_from_the_store",
    "test_a_key_that_is_not_an_admins_never_gets_old_values_from_the_store",
    "test_an_event_consolidated_after_it_was_stored_is_counted_once",
    "test_a_list_asked_again_comes_from_the_store_for_what_it_holds",
    "test_what_a_non_admin_key_read_never_answers_an_admins",
)

SLOW: dict[str, dict[str, str]] = {  # "*": the whole module
    "test_answer_frame.py": {
        "test_rendering_past_the_deadline_ends_the_call_on_time": "waits out a deadline"
    },
    "test_cli.py": {"test_a_reader_that_stops_early_is_not_an_error": "a process of the CLI"},
    "test_close_api.py": {
        "test_steady_rate_limit_is_paced_not_failed": "paced by a rate limit",
    },
    "test_digest.py": {
        "test_cancelling_a_call_stops_its_requests": "watches for requests for a second",
        "test_a_budget_cut_is_stated_with_the_window_to_continue": "digests a busy week in parts",
        "test_counts_match_the_events_in_the_window": "digests a busy week",
    },
    "test_digest_glance.py": {
        "test_a_big_generated_org_fits_the_budget": BIG_DIGEST,
        "test_every_deleted_lead_is_one_call_away": BIG_DIGEST,
        "test_the_independent_corpus_fits_the_budget[20000-30]": BIG_DIGEST,
        "test_structured_content_stays_bounded_too": BIG_DIGEST,
        "test_a_filtered_digests_follow_up_calls_carry_its_filters": "digests, then pages through leads",
        "test_the_worst_case_fits_the_budget": "a digest of the worst case",
    },
    "test_e2e_stdio.py": {
        "test_stdio_server_against_the_emulator_over_loopback_http": CONSOLE_SCRIPT,
        "test_nothing_but_protocol_on_stdout": CONSOLE_SCRIPT,
    },
    "test_faults.py": {"*": "the fault suite: a process of emulators, call deadlines of seconds (35 s)"},
    "test_hostile_input.py": {
        "test_list_events_survives_hostile_arguments": HYPOTHESIS,
        "test_summarize_events_survives_hostile_arguments": HYPOTHESIS,
        "test_poll_events_survives_hostile_arguments": HYPOTHESIS,
        "test_describe_event_types_survives_hostile_arguments": HYPOTHESIS,
        "test_get_event_survives_hostile_arguments": HYPOTHESIS,
        "test_a_tampered_cursor_alone_is_refused_or_continues_safely": HYPOTHESIS,
        "test_a_tampered_checkpoint_is_refused_or_continues_safely": HYPOTHESIS,
    },
    "test_http_hardening.py": {
        "test_out_of_descriptors_logs_a_line_not_a_flood_and_recovers": "300 connections, 2 s of watching",
        "test_a_client_that_sends_half_a_request_line_is_cut_off": DEADLINE,
        "test_a_client_that_connects_and_says_nothing_is_disconnected": DEADLINE,
        "test_headers_sent_a_byte_at_a_time_are_cut_off_however_steadily_they_come": DEADLINE,
        "test_the_deadline_applies_again_to_the_next_request_on_a_kept_alive_connection": DEADLINE,
        "test_a_body_that_does_not_arrive_is_answered_408_and_the_connection_closed": DEADLINE,
    },
    "test_http_transport.py": {
        "test_the_console_script_will_not_expose_http_without_a_strong_token": CONSOLE_SCRIPT,
        "test_the_token_never_appears_in_logs": CONSOLE_SCRIPT,
        "test_stateless_replicas_continue_each_others_cursors": "two servers",
    },
    "test_local_filters.py": {
        "test_local_filters_page_through_every_match_exactly_once": "pages through the demo organization",
    },
    "test_log_privacy.py": {"test_a_tool_call_over_http_at_debug_logs_no_crm_data": CONSOLE_SCRIPT},
    "test_nothing_lost.py": {
        "test_a_capped_page_continues_with_the_events_it_left_out": "hypothesis: 12 examples, each paging",
        "test_checkpoints_deliver_every_event_once_under_any_cap": "hypothesis: 12 examples, each paging",
        "test_cursors_deliver_every_event_once_under_any_cap": "hypothesis: 12 examples, each paging",
    },
    "test_paging.py": {"test_every_event_exactly_once": "pages through the demo organization"},
    "test_poll_backlog.py": {"*": "builds and polls a 150,000-event backlog (30 s)"},
    "test_rate_limited_scan.py": {
        "test_a_rate_limited_digest_counts_what_a_sequential_walk_reads": "100 requests a second, 1 s waits",
        "test_idle_workers_split_the_busiest_slice": "10 ms a request, 1,200 events",
        "test_concurrent_scans_take_turns_at_the_rate_limit_and_none_fails": "five digests at once",
    },
    "test_scan.py": {
        "test_slices_match_a_sequential_walk_event_for_event": "walks the demo organization a case",
        "test_the_budget_cuts_at_a_clean_instant": BUSY_WALK,
        "test_oldest_first_prefix": BUSY_WALK,
        "test_a_scan_the_rate_limit_stops_returns_what_it_read_and_why": BUSY_WALK,
    },
    "test_secrets.py": {
        "test_the_canary_is_absent_from_every_answer_error_log_and_exception[api_key]": (
            "waits out 1 s deadlines against a Close that hangs"
        ),
        "test_the_canary_is_absent_from_every_answer_error_log_and_exception[access_token]": (
            "every tool against four of Close's errors"
        ),
        "test_the_cli_never_shows_the_canary": "the CLI in every error mode, over HTTP",
        "test_a_real_process_never_shows_the_canary": "a process of the server a mode",
    },
    "test_seed.py": {"test_output_does_not_depend_on_hash_randomisation": "a Python process a hash seed"},
    "test_startup.py": {"test_startup_imports_nothing_the_first_requests_do_not_need": "a Python process"},
    "test_token_budget.py": {
        "test_the_list_text_is_at_most_0_09_of_the_raw_json_with_every_fact": "every page of an organization",
    },
    "test_store.py": {
        "test_a_budgeted_digest_finishes_when_asked_again_reading_only_what_is_missing": (
            "digests a busy week in parts, on each backend"
        ),
        **{f"{name}[postgresql]": STORE_ON_POSTGRES for name in STORE_TESTS_ON_BOTH},
    },
    "test_store_failures.py": {
        "test_purge_on_a_locked_store_says_nothing_was_purged": "waits out SQLite's busy timeout",
    },
    "test_store_reads.py": {
        **{
            f"test_pages_through_the_store_are_closes_pages[{case}]": "pages a query several ways, each twice"
            for case in ("sqlite-exclude_noisy", "sqlite-changed_field", "sqlite-object_type,action")
        },
        **{
            f"test_pages_through_the_store_are_closes_pages[postgresql-{case}]": STORE_ON_POSTGRES
            for case in ("no filter", "exclude_noisy", "object_type", "changed_field", "object_type,action")
        },
        "test_a_legacy_object_type_is_answered_as_close_answers_it[postgresql]": STORE_ON_POSTGRES,
        "test_a_page_loads_from_the_store_about_what_it_shows[postgresql]": STORE_ON_POSTGRES,
        "test_a_busy_scan_through_the_store_counts_every_event_once": "a busy week, digested three times",
    },
    "test_store_restart.py": {
        "test_poll_delivers_every_event_once_across_a_restart_of_the_server[postgresql]": STORE_ON_POSTGRES,
    },
    "test_store_settings.py": {
        "test_a_store_opened_later_keeps_only_its_retention[postgresql-7]": STORE_ON_POSTGRES,
        "test_a_store_opened_later_keeps_only_its_retention[postgresql-0]": STORE_ON_POSTGRES,
        "test_the_store_password_never_shows_in_answers_or_logs[reachable]": STORE_ON_POSTGRES,
        "test_the_store_password_never_shows_in_the_commands[reachable]": STORE_ON_POSTGRES,
        "test_the_store_password_never_shows_in_the_commands[down]": "a process of the console script",
    },
    "test_store_shared.py": {"*": "two servers and two syncs on one PostgreSQL, against a slowed sandbox"},
    "test_store_sync.py": {"*": "processes of sync against a sandbox slowed to 20 requests/s"},
    "test_tools.py": {
        "test_exhausted_rate_limit_and_outage_are_actionable": "50 rate-limit waits and 50 retries",
        "test_deadline_stops_a_hanging_call_and_the_next_call_works": "waits out a deadline",
    },
    "test_view_browser.py": {"*": "headless Chromium, a browser a test (needs Debian's chromium)"},
    "test_typed_boundary.py": {
        "test_mypy_rejects_a_misspelled_argument_between_a_tool_and_its_work": "runs mypy",
    },
}

SLOW_AFTER_THE_FIRST_CASE: dict[str, dict[str, str]] = {
    "test_http_transport.py": {
        "test_a_foreign_host_is_refused_before_anything_else": "a server a case",
        "test_only_post_is_allowed": "a server a case",
        "test_requests_without_the_token_are_refused": "a server a case",
        "test_a_clients_authorization_is_never_a_close_credential": "a server a case",
    },
}


def kind_problems(modules: list[str]) -> list[str]:
    """Test modules with no kind, and kinds that are not one of the three."""
    problems = [
        f"{module} has no kind: add it to KINDS in tests/conftest.py"
        for module in modules
        if module not in KINDS
    ]
    kinds = [
        *KINDS.items(),
        *((f"{m}::{name}", kind) for m, tests in KIND_OF_TEST.items() for name, kind in tests.items()),
    ]
    problems += [
        f"{name}: {kind!r} is not unit, e2e or faults"
        for name, kind in kinds
        if kind not in ("unit", "e2e", "faults")
    ]
    return problems


@pytest.hookimpl(tryfirst=True)  # before -m and -k choose by the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problems = kind_problems(sorted({item.path.name for item in items}))
    seen: dict[str, set[str]] = {}  # each module's tests and cases, as the tables name them
    for item in items:
        module, case = item.path.name, item.name
        function = getattr(item, "originalname", case)
        if module not in KINDS:
            continue
        item.add_marker(KIND_OF_TEST.get(module, {}).get(function, KINDS[module]))
        slow = SLOW.get(module, {})
        reason = slow.get(case) or slow.get(function) or slow.get("*")
        names = seen.setdefault(module, set())
        if function in names:
            reason = reason or SLOW_AFTER_THE_FIRST_CASE.get(module, {}).get(function)
        if reason:
            item.add_marker(pytest.mark.slow(reason=reason))
        names |= {function, case}
    # Every name in a module is there to check, unless tests were named or --lf kept only the failed.
    if not config.getoption("lf", False) and not any("::" in arg for arg in config.args):
        problems += [
            f"{module}::{name} in tests/conftest.py names no test"
            for table in (KIND_OF_TEST, SLOW, SLOW_AFTER_THE_FIRST_CASE)
            for module, names in table.items()
            for name in names
            if module in seen and name != "*" and name not in seen[module]
        ]
    if problems:
        raise pytest.UsageError("\n".join(problems))
