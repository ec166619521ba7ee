"""Dependencies point one way: api/web/cli -> services -> engine/models. This test fails on any import against it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "registry"
STDLIB = set(sys.stdlib_module_names)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules(sub: str) -> list[Path]:
    target = PACKAGE / sub
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


def _top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("path", _modules("recognition"), ids=lambda p: p.name)
def test_recognition_engine_is_pure(path):
    for name in _imports(path):
        assert _top(name) in STDLIB or name.startswith("registry.recognition"), f"{path.name} imports {name}"


@pytest.mark.parametrize("path", _modules("services"), ids=lambda p: p.name)
def test_services_know_no_http(path):
    for name in _imports(path):
        assert _top(name) not in {"flask", "werkzeug", "flask_smorest"}, f"{path.name} imports {name}"
        assert not name.startswith(("registry.api", "registry.web", "registry.cli")), f"{path.name} imports {name}"


@pytest.mark.parametrize("sub", ["api", "web"])
def test_http_layers_go_through_services(sub):
    for path in _modules(sub):
        for name in _imports(path):
            assert _top(name) != "sqlalchemy", f"{sub}/{path.name} queries the database itself ({name})"
            assert name != "registry.models", f"{sub}/{path.name} reaches into the models"


@pytest.mark.parametrize("module", ["models.py", "db.py", "contracts.py", "errors.py", "config.py"])
def test_lower_layers_do_not_import_upper(module):
    for name in _imports(PACKAGE / module):
        assert not name.startswith(("registry.api", "registry.web", "registry.cli", "registry.services")), name
