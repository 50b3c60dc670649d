"""Dependencies point inward: ``quotadesk.billing`` is a pure core.

Every module under ``src/quotadesk/billing`` may import only the standard library,
``quotadesk.money`` and ``quotadesk.billing`` itself: no store, HTTP, CLI, triage or
third-party package. Imports are read with ``ast`` (absolute, relative, inside functions,
and ``importlib.import_module``/``__import__`` calls with a literal name).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

BILLING = Path(__file__).resolve().parents[1] / "src" / "quotadesk" / "billing"
ALLOWED_PROJECT = ("quotadesk.money", "quotadesk.billing")


def _module_name(path: Path) -> str:
    rel = path.relative_to(BILLING.parent.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _allowed(name: str) -> bool:
    if any(name == p or name.startswith(p + ".") for p in ALLOWED_PROJECT):
        return True
    top = name.split(".")[0]
    return top != "quotadesk" and top in sys.stdlib_module_names


def imported_names(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """Every (line, fully qualified module) that ``source`` imports, as module ``module``."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base_parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(base_parts)
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if node.module is None or target in ("quotadesk",):
                # ``from . import x`` / ``from quotadesk import money``: each name is a module.
                found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
            else:
                found.append((node.lineno, target))
        elif isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if name in ("import_module", "__import__") and node.args:
                arg = node.args[0]
                found.append((node.lineno, arg.value if isinstance(arg, ast.Constant) else "<dynamic>"))
    return found


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    return [
        f"line {line}: {name}"
        for line, name in imported_names(source, module, is_package)
        if not _allowed(name)
    ]


BILLING_FILES = sorted(BILLING.rglob("*.py"))


def test_the_billing_package_exists_and_has_modules() -> None:
    names = {p.stem for p in BILLING_FILES}
    assert {"__init__", "model", "decision", "policy", "pricing", "grants"} <= names


@pytest.mark.parametrize("path", BILLING_FILES, ids=lambda p: p.name)
def test_billing_imports_only_stdlib_money_and_itself(path: Path) -> None:
    bad = violations(path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py")
    assert not bad, f"{path.name} imports outside the pure core: {bad}"


@pytest.mark.parametrize(
    "source",
    [
        "import duckdb",
        "import pydantic.main",
        "from sqlalchemy import select",
        "from quotadesk.store import ledger",
        "from quotadesk import errors",
        "from quotadesk import money, cli",
        "import quotadesk",
        "import quotadesk.triage.engine",
        "from .. import errors",
        "from ..store.ledger import post",
        "from ...elsewhere import x",
        "def f():\n    import httpx",
        "import importlib\nimportlib.import_module('quotadesk.cli')",
        "__import__(name)",
    ],
)
def test_the_checker_catches_forbidden_imports(source: str) -> None:
    assert violations(source, "quotadesk.billing.policy"), source


@pytest.mark.parametrize(
    "source",
    [
        "from __future__ import annotations",
        "import hashlib, re\nfrom datetime import UTC, datetime",
        "from collections.abc import Mapping",
        "from quotadesk.money import nanos",
        "from quotadesk import money",
        "import quotadesk.money",
        "from quotadesk.billing.model import Organization",
        "from . import model",
        "from .decision import Rule",
        "from .. import money",
        "from ..money import fmt",
        "from ..billing import grants",
    ],
)
def test_the_checker_allows_the_pure_core(source: str) -> None:
    assert not violations(source, "quotadesk.billing.policy"), source


def test_relative_imports_in_the_package_init_resolve_from_the_package() -> None:
    assert not violations("from .model import Flag", "quotadesk.billing", is_package=True)
    assert violations("from ..store import x", "quotadesk.billing", is_package=True)


SRC = BILLING.parent


def _package_files(pkg: str) -> list[Path]:
    return sorted((SRC / pkg).rglob("*.py"))


def _imports(path: Path) -> list[str]:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    is_pkg = parts[-1] == "__init__"
    if is_pkg:
        parts.pop()
    return [name for _, name in imported_names(path.read_text(encoding="utf-8"), ".".join(parts), is_pkg)]


@pytest.mark.parametrize("path", _package_files("gateway"), ids=lambda p: p.name)
def test_the_gateway_is_a_top_layer_beside_web(path: Path) -> None:
    """The gateway may use the books and the rulebook, never the desk service or the CLI."""
    bad = [n for n in _imports(path) if n.startswith(("quotadesk.web", "quotadesk.cli", "quotadesk.desk"))]
    assert not bad, f"{path.name} imports a layer beside or above it: {bad}"


def test_only_the_cli_imports_the_gateway() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).parts[0]
        if rel in ("gateway", "cli"):
            continue
        if any(n.startswith("quotadesk.gateway") for n in _imports(path)):
            offenders.append(str(path.relative_to(SRC)))
    assert not offenders, f"lower layers import the gateway: {offenders}"
