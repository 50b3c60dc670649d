"""Issue #6's floors on a CI-sized simulated run: the desk against the simulator's ground truth.

Sixty cases from a fixed seed (every root cause at least once, most twice, in both variants),
triaged in-process. The floors: incident >= 97%, root cause >= 93%, route >= 97%, and no
safety violation at all (the last one is never allowed to slip).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from quotadesk.sim.run import generate
from quotadesk.sim.scenarios import REGISTRY
from quotadesk.sim.score import Report, score_cases

SEED = 2026
COUNT = 60


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    # The rules alone, as CI runs them: the optional embedding model must not change the floors.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUOTADESK_INTENT_MODEL", "rules")
        g = generate(SEED, COUNT, db_dir=tmp_path_factory.mktemp("books"))
        assert not g.missing, g.missing
        return score_cases((c.name, c.bundle or {}, c.truth.expected()) for c in g.cases)


def _misses(report: Report) -> str:
    lines = []
    for o in report.misses:
        got = o.error or "/".join(o.got(k) for k in ("incident", "root_cause", "route"))
        want = "/".join(str(o.expected[k]) for k in ("incident", "root_cause", "route"))
        lines.append(f"{o.name}: want {want}, got {got}")
    return "\n".join(lines)


def test_every_root_cause_is_in_the_run(report: Report) -> None:
    assert {str(o.expected["root_cause"]) for o in report.outcomes} == set(REGISTRY)
    assert report.n == COUNT
    assert all(o.error is None for o in report.outcomes), _misses(report)


def test_no_safety_violations(report: Report) -> None:
    assert not report.violations, [(o.name, o.safety) for o in report.violations]


def test_accuracy_floors(report: Report) -> None:
    rates = (report.rate("incident"), report.rate("root"), report.rate("route"))
    assert rates[0] >= 0.97 and rates[1] >= 0.93 and rates[2] >= 0.97, f"{rates}\n{_misses(report)}"


def test_scores_count_root_causes_only_with_the_right_incident(tmp_path: Path) -> None:
    from quotadesk.sim.score import Outcome

    expected = {"incident": "free_tier", "root_cause": "undetermined", "route": "none", "key_exposed": False}
    wrong_incident = Outcome(
        "x", expected, {"incident": "needs_info", "root_cause": "undetermined", "route": "none"}
    )
    assert not wrong_incident.root_ok and wrong_incident.route_ok and wrong_incident.miss
