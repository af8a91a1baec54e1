"""The package's layout: the client at the top, two wings that depend on it and never the other way.

Read from the source with `ast`, so an import anywhere in a module counts, even inside
a function.
"""

import ast
from pathlib import Path

import pytest

import client_app

ROOT = Path(client_app.__file__).parent
WINGS = {"inspector": "client_app.inspector", "lab": "client_app.lab"}
# gunicorn.conf.py is read by gunicorn, not imported: a dot in its name says so.
TOP_LEVEL = sorted(path for path in ROOT.glob("*.py") if path.stem.isidentifier())
CORE = [path for path in TOP_LEVEL if path.name != "__init__.py"]


def imports(path, package):
    """Every module a file imports, as absolute names; `from x import y` names x and x.y."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def wings_imported(path, package):
    """The wings (inspector, lab) a file imports, by their short names."""
    return {short for short, wing in WINGS.items() for name in imports(path, package)
            if name == wing or name.startswith(wing + ".")}


def test_at_most_ten_modules_at_the_top():
    """The client's own modules, and nothing else, sit at the top of client_app/."""
    names = [path.stem for path in TOP_LEVEL]
    assert len(names) <= 10, names
    assert {"__init__", "config", "models", "oauth_client", "notes_client", "routes", "errors"} <= set(names)


def test_the_factory_registers_both_wings():
    """create_app(), the composition root, imports both wings to register them (and the check sees it)."""
    assert wings_imported(ROOT / "__init__.py", "client_app") == set(WINGS)


@pytest.mark.parametrize("path", CORE, ids=lambda path: path.name)
def test_the_core_imports_no_wing(path):
    """Each wing depends on the client, never the other way round."""
    assert wings_imported(path, "client_app") == set()


@pytest.mark.parametrize(("path", "other"), [
    *[(path, "lab") for path in sorted((ROOT / "inspector").glob("*.py"))],
    *[(path, "inspector") for path in sorted((ROOT / "lab").glob("*.py"))],
], ids=lambda value: value if isinstance(value, str) else f"{value.parent.name}/{value.name}")
def test_the_wings_do_not_import_each_other(path, other):
    """The inspector does not import the lab, nor the lab the inspector."""
    assert other not in wings_imported(path, f"client_app.{path.parent.name}")


@pytest.mark.parametrize(("source", "package", "wing"), [
    ("from . import lab", "client_app", "lab"),
    ("from .inspector.walkthrough import Piece", "client_app", "inspector"),
    ("import client_app.lab.kit", "client_app", "lab"),
    ("from client_app import inspector", "client_app", "inspector"),
    ("def f():\n    from ..lab import attacks", "client_app.inspector", "lab"),
])
def test_every_way_of_importing_a_wing_is_seen(tmp_path, source, package, wing):
    """The check is not blind: relative, absolute and nested imports all count."""
    path = tmp_path / "module.py"
    path.write_text(source + "\n")
    assert wings_imported(path, package) == {wing}
