"""server.json follows the MCP registry schema and the package version; the README carries its name."""

import json
from pathlib import Path

import jsonschema

from close_events_mcp import __version__

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
