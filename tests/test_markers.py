"""Every test module has a kind (unit, e2e or faults), so that ``-m`` by kind and the fast subset
(``pytest -m "not slow"``) leave nothing out by accident; tests/conftest.py marks them."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import kind_problems

TESTS = Path(__file__).resolve().parent


def test_every_test_module_has_a_kind():
    modules = sorted(path.name for path in TESTS.glob("test_*.py"))
    assert kind_problems(modules) == []


def test_a_module_with_no_kind_is_named():
    assert kind_problems(["test_new_thing.py"]) == [
        "test_new_thing.py has no kind: add it to KINDS in tests/conftest.py"
    ]
