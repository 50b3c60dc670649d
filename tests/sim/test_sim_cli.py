"""The simulator's commands, driven as a user would: sim run/score, demo, practice."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from quotadesk.cli.sim import demo_command, practice_command, sim_app

app = typer.Typer()
app.add_typer(sim_app, name="sim")
app.command("demo")(demo_command)
app.command("practice")(practice_command)
runner = CliRunner()

ONLY = "credits_exhausted,policy_violation,hard_limit_reached"


def test_sim_run_writes_cases_and_sim_score_reads_them(tmp_path: Path) -> None:
    out = tmp_path / "cases"
    res = runner.invoke(app, ["sim", "run", "--seed", "4", "--count", "3", "--only", ONLY, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "wrote 3 cases" in res.output
    bundles = sorted(p.name for p in out.glob("*.json") if not p.name.endswith(".expected.json"))
    assert bundles == ["case0001.json", "case0002.json", "case0003.json"]
    truth = json.loads((out / "case0001.expected.json").read_text())
    assert truth["root_cause"] in ONLY.split(",") and truth["mention"] == []
    res = runner.invoke(app, ["sim", "score", str(out)])
    assert res.exit_code == 0, res.output
    assert "3 cases" in res.output and "incident" in res.output and "Root causes" in res.output
    assert "Safety violations: none" in res.output
    res = runner.invoke(app, ["sim", "score", str(out), "--json"])
    data = json.loads(res.output)
    assert data["cases"] == 3 and set(data) >= {"incident", "root_cause", "route", "confusion", "misses"}


def test_sim_refuses_bad_input(tmp_path: Path) -> None:
    res = runner.invoke(app, ["sim", "run", "--count", "0", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "count" in res.output
    res = runner.invoke(app, ["sim", "run", "--only", "no_such_cause", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "no_such_cause" in res.output
    res = runner.invoke(app, ["sim", "score", str(tmp_path / "nope")])
    assert res.exit_code == 2
    (tmp_path / "empty").mkdir()
    res = runner.invoke(app, ["sim", "score", str(tmp_path / "empty")])
    assert res.exit_code == 2 and "no NAME.json" in res.output


def test_demo_prints_the_desk_and_writes_the_cases(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    args = ["demo", "--seed", "5", "--tickets", "3", "--background", "1", "--out", str(out), "--db", db]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "The desk: 3 tickets" in res.output and "quotadesk triage" in res.output
    assert "4 organizations" in res.output
    cases = sorted(p for p in out.glob("*.json") if not p.name.endswith(".expected.json"))
    assert len(cases) == 3 and cases[0].name.startswith("01-")
    res = runner.invoke(app, args)  # the same database again: not empty any more
    assert res.exit_code == 2 and "empty database" in res.output


def test_practice_plays_a_full_round(tmp_path: Path) -> None:
    # a wrong answer first (re-asked), then answers by number and by name
    answers = "bogus\n2\n1\nnone\n"
    res = runner.invoke(app, ["practice", "--rounds", "1", "--seed", "7"], input=answers)
    assert res.exit_code == 0, res.output
    assert "Round 1/1" in res.output and "Account" in res.output
    assert "'bogus' is not one of the choices." in res.output
    assert "You: payment_failure / card_expired_or_declined / none" in res.output
    assert "Simulated truth:" in res.output and "Engine:" in res.output and "Decision path:" in res.output
    assert "Final score:" in res.output and "/3" in res.output
