"""server.json follows the MCP registry schema and the package version; the README carries its name."""

import json
from pathlib import Path

import jsonschema

from close_events_mcp import __version__
from close_events_mcp.config import settings_from_env
from close_events_mcp.store.location import store_place

ROOT = Path(__file__).resolve().parent.parent


def _server_json():
    return json.loads((ROOT / "server.json").read_text())


def test_server_json_validates_against_the_registry_schema():
    schema = json.loads((ROOT / "tests" / "data" / "server.schema.json").read_text())
    jsonschema.validate(_server_json(), schema)


def test_versions_follow_the_package():
    server = _server_json()
    assert server["version"] == __version__
    assert all(package["version"] == __version__ for package in server["packages"])


def test_package_and_environment():
    (package,) = _server_json()["packages"]
    assert package["registryType"] == "pypi" and package["identifier"] == "close-events-mcp"
    assert package["runtimeHint"] == "uvx" and package["transport"] == {"type": "stdio"}
    env = {v["name"]: v for v in package["environmentVariables"]}
    assert env["CLOSE_API_KEY"]["isSecret"] is True
    assert {"CLOSE_ACCESS_TOKEN", "CLOSE_API_BASE_URL"} <= set(env)


def test_readme_carries_the_registry_name():
    assert f"mcp-name: {_server_json()['name']}" in (ROOT / "README.md").read_text()


STORE_VARIABLES = ("CLOSE_EVENTS_STORE", "CLOSE_EVENTS_STORE_RETENTION")


def test_server_json_declares_the_event_store_variables():
    (package,) = _server_json()["packages"]
    env = {v["name"]: v for v in package["environmentVariables"]}
    assert set(STORE_VARIABLES) <= set(env)
    store, retention = env["CLOSE_EVENTS_STORE"], env["CLOSE_EVENTS_STORE_RETENTION"]
    assert store["isSecret"] is True, "a postgresql:// address may carry a password"
    assert "postgresql://" in store["description"] and "off" in store["description"]
    assert retention["format"] == "number" and "0" in retention["description"]
    defaults = settings_from_env({})
    assert retention["default"] == str(defaults.store_retention_days)
    assert settings_from_env({"CLOSE_EVENTS_STORE_RETENTION": retention["default"]}) == defaults


def _manifest():
    return json.loads((ROOT / "mcpb" / "manifest.json").read_text())


def test_the_bundle_passes_the_event_store_variables_from_its_user_config():
    manifest = _manifest()
    env, config = manifest["server"]["mcp_config"]["env"], manifest["user_config"]
    for variable, value in env.items():
        name = value.removeprefix("${user_config.").removesuffix("}")
        assert value == f"${{user_config.{name}}}" and name in config, (
            f"{variable} comes from a declared option"
        )
        assert variable in config[name]["description"], f"{name} says which variable it sets"
    assert set(STORE_VARIABLES) <= set(env)
    store = config[env["CLOSE_EVENTS_STORE"].removeprefix("${user_config.").removesuffix("}")]
    retention = config[env["CLOSE_EVENTS_STORE_RETENTION"].removeprefix("${user_config.").removesuffix("}")]
    assert store["sensitive"] is True and store["required"] is False
    assert retention["type"] == "number" and retention["required"] is False and retention["min"] == 0
    # What the bundle passes when the options are left as they are is what the server does by default.
    passed = settings_from_env({"CLOSE_EVENTS_STORE": store["default"], "CLOSE_EVENTS_STORE_RETENTION": ""})
    assert passed.store == "" and store_place(passed.store) is not None, "an empty store option is SQLite"
    assert retention["default"] == passed.store_retention_days == settings_from_env({}).store_retention_days
    assert settings_from_env({"CLOSE_EVENTS_STORE_RETENTION": str(retention["max"])})
