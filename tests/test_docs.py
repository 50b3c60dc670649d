"""The docs stay true: every CLI command and every setting is documented, and CI runs README's command."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from quotadesk.cli import app
from quotadesk.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]


def _commands(group: Any, prefix: str = "") -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        if getattr(cmd, "commands", None):
            out.extend(_commands(cmd, full + " "))
        else:
            out.append(full)
    return out


def _docs() -> str:
    return (ROOT / "README.md").read_text() + "".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))


def test_every_command_is_documented() -> None:
    group = typer.main.get_command(app)
    commands = _commands(group)
    assert "triage" in commands
    text = _docs()
    missing = [c for c in commands if f"quotadesk {c}" not in text]
    assert not missing, f"undocumented commands: {missing}"


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "settings.md").read_text()
    missing = [s.env for s in SETTINGS.values() if s.env not in text or f"`{s.name}`" not in text]
    assert not missing, f"undocumented settings: {missing}"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.+?)\n```", readme, re.S)
    test_cmd = next(b for b in blocks if "pytest" in b)
    main_cmd = next(b for b in blocks if "quotadesk" in b and "pytest" not in b)
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_cmd.strip() in ci.splitlines()
    assert "ruff check" in test_cmd and "mypy" in test_cmd
    # The main job is the demo desk a person opens in a browser; every sample the README names ships.
    assert main_cmd.rstrip().endswith("quotadesk serve --demo")
    shipped = re.findall(r"(examples/\S+\.json)", readme)
    assert shipped and all((ROOT / s).is_file() for s in shipped)


def test_every_endpoint_is_documented(tmp_path: Path) -> None:
    from quotadesk.desk.service import Desk
    from quotadesk.store.books import Books
    from quotadesk.web.app import create_app

    books = Books.open(f"sqlite:///{tmp_path}/books.db")
    try:
        doc = create_app(Desk(books)).openapi()
    finally:
        books.close()
    text = _docs()
    endpoints = [f"{m.upper()} {p}" for p, item in doc["paths"].items() for m in item if m in ("get", "post", "put")]
    assert len(endpoints) > 30
    missing = [e for e in endpoints if f"`{e}`" not in text]
    assert not missing, f"undocumented endpoints: {missing}"
