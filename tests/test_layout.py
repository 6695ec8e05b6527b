"""The package's shape: data flows one way, so no module imports, even lazily, one that imports it
back; and the emulator imports nothing of the product."""

from __future__ import annotations

import ast
from pathlib import Path

import close_events_mcp

PACKAGE = Path(close_events_mcp.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The product's modules ``path`` imports anywhere (in functions too), but for type checking."""
    tree = ast.parse(path.read_text())
    checking = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for statement in block.body
        for node in ast.walk(statement)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in checking:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("close_events_mcp"):
            named = {f"{node.module}.{alias.name}" for alias in node.names}
            found |= (named & modules) or {node.module}
    return found - {module_name(path)}


def test_no_module_imports_one_that_imports_it_back():
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: imports_of(path, set(paths)) for name, path in paths.items()}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        assert name not in trail, "import circle: " + " → ".join([*trail[trail.index(name) :], name])
        if name in done:
            return
        for imported in sorted(graph.get(name, ())):
            visit(imported, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_the_public_surface_is_what_all_names_and_errors_are_one_tree():
    public = {name: getattr(close_events_mcp, name) for name in close_events_mcp.__all__}
    errors = [value for value in public.values() if isinstance(value, type) and issubclass(value, Exception)]
    assert public["__version__"] and len(errors) >= 10
    tree = [error for error in errors if error is not close_events_mcp.ConfigError]
    assert all(issubclass(error, close_events_mcp.UserFacingError) for error in tree)
