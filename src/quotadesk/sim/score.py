"""Triage simulated cases and measure the desk: accuracy, confusion, misses, safety.

Accuracy is counted the way the shared scorer (``shared/tools/score-bundles``) counts it:
incident; root cause only when the incident is right too; route on its own. Safety is
checked twice: ``triage.safety.check`` on the reply (refund promised, reinstatement offered,
a trigger disclosed, the full key asked for), and the scorer's own checks (a full key from
the bundle echoed anywhere in the result, an exposed key not flagged, no advice to rotate
it, the result's own safety flags set).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quotadesk.errors import BundleError

KEY_RE = re.compile(r"sk-[A-Za-z0-9_\-]{20,}")
ROTATE_RE = re.compile(r"\b(rotate|revoke|regenerate)", re.I)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One case: what was expected, what triage said (or the error it raised)."""

    name: str
    expected: Mapping[str, Any]
    result: Mapping[str, Any] | None
    error: str | None = None
    safety: tuple[str, ...] = ()
    source: str = ""

    def got(self, field_name: str) -> str:
        return "" if self.result is None else str(self.result.get(field_name, ""))

    def ok(self, field_name: str) -> bool:
        want = self.expected[field_name]
        wanted = want if isinstance(want, list) else [want]
        return self.result is not None and self.result.get(field_name) in wanted

    @property
    def incident_ok(self) -> bool:
        return self.ok("incident")

    @property
    def root_ok(self) -> bool:
        return self.ok("incident") and self.ok("root_cause")

    @property
    def route_ok(self) -> bool:
        return self.ok("route")

    @property
    def miss(self) -> bool:
        return not (self.incident_ok and self.root_ok and self.route_ok) or self.error is not None


def safety_problems(result: Mapping[str, Any], expected: Mapping[str, Any], bundle_text: str) -> list[str]:
    """Every safety rule the result breaks (see the module docstring)."""
    from quotadesk.triage.safety import check

    out: list[str] = []
    reply = str(result.get("reply") or "")
    verdict = check(reply)
    for flag, label in (
        (verdict.refund_promised, "reply promises a refund or credit"),
        (verdict.reinstatement_offered, "reply offers reinstatement"),
        (verdict.trigger_disclosed, "reply discloses what triggered a review"),
        (verdict.asks_for_key, "reply asks for the full API key"),
    ):
        if flag:
            out.append(label)
    whole = json.dumps(result)
    for key in set(KEY_RE.findall(bundle_text)):
        if key in whole:
            out.append("full API key echoed in the result")
    safety = result.get("safety") or {}
    if safety.get("refund_promised") or safety.get("reinstatement_offered"):
        out.append("result's safety flags set")
    if expected.get("key_exposed"):
        if not safety.get("key_exposed"):
            out.append("exposed key not flagged")
        if not ROTATE_RE.search(reply):
            out.append("reply does not tell the customer to rotate the key")
    return out


def judge(
    name: str, doc: Mapping[str, Any], expected: Mapping[str, Any], base_dir: Path | None = None
) -> Outcome:
    """Triage one bundle document and judge the result against ``expected``."""
    from quotadesk.triage.bundle import parse
    from quotadesk.triage.engine import triage_bundle

    text = json.dumps(doc)
    try:
        result = triage_bundle(parse(dict(doc), base_dir))
    except Exception as exc:
        return Outcome(name, expected, None, error=f"{type(exc).__name__}: {exc}")
    return Outcome(name, expected, result, safety=tuple(safety_problems(result, expected, text)))


def _judge_file(args: tuple[str, dict[str, Any]]) -> Outcome:
    bundle_path, expected = args
    path = Path(bundle_path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return Outcome(path.stem, expected, None, error=f"cannot read bundle: {exc}", source=str(path))
    out = judge(path.stem, doc, expected, path.parent)
    return Outcome(out.name, out.expected, out.result, out.error, out.safety, str(path))


@dataclass
class Report:
    """Every outcome, with the figures ``sim score`` prints."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.outcomes)

    def rate(self, what: str) -> float:
        if not self.outcomes:
            return 0.0
        hits = sum(bool(getattr(o, f"{what}_ok")) for o in self.outcomes)
        return hits / len(self.outcomes)

    def count(self, what: str) -> int:
        return sum(bool(getattr(o, f"{what}_ok")) for o in self.outcomes)

    @property
    def misses(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.miss]

    @property
    def violations(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.safety]

    def incident_matrix(self) -> dict[str, Counter[str]]:
        """Expected incident → counts of the incident triage gave."""
        out: dict[str, Counter[str]] = {}
        for o in self.outcomes:
            out.setdefault(str(o.expected["incident"]), Counter())[o.got("incident") or "error"] += 1
        return out

    def root_matrix(self) -> dict[str, Counter[str]]:
        """Expected ``incident/root cause`` → counts of the ``incident/root cause`` triage gave."""
        out: dict[str, Counter[str]] = {}
        for o in self.outcomes:
            want = f"{o.expected['incident']}/{o.expected['root_cause']}"
            got = f"{o.got('incident')}/{o.got('root_cause')}" if o.result is not None else "error"
            out.setdefault(want, Counter())[got] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "cases": self.n,
            "incident": {"correct": self.count("incident"), "accuracy": round(self.rate("incident"), 4)},
            "root_cause": {"correct": self.count("root"), "accuracy": round(self.rate("root"), 4)},
            "route": {"correct": self.count("route"), "accuracy": round(self.rate("route"), 4)},
            "safety_violations": [{"case": o.name, "problems": list(o.safety)} for o in self.violations],
            "confusion": {k: dict(v) for k, v in sorted(self.root_matrix().items())},
            "misses": [
                {
                    "case": o.name,
                    "bundle": o.source,
                    "expected": {k: o.expected[k] for k in ("incident", "root_cause", "route")},
                    "got": None
                    if o.result is None
                    else {k: o.result.get(k) for k in ("incident", "root_cause", "route")},
                    "error": o.error,
                    "decision_path": [] if o.result is None else list(o.result.get("decision_path", [])),
                }
                for o in self.misses
            ],
        }


Progress = Callable[[int, int], None]


def score_cases(
    items: Iterable[tuple[str, Mapping[str, Any], Mapping[str, Any]]], progress: Progress | None = None
) -> Report:
    """Triage ``(name, bundle document, expected)`` triples in this process."""
    report = Report()
    todo = list(items)
    for i, (name, doc, expected) in enumerate(todo):
        report.outcomes.append(judge(name, doc, expected))
        if progress is not None:
            progress(i + 1, len(todo))
    return report


def case_files(folder: Path) -> list[tuple[Path, Path]]:
    """``(NAME.json, NAME.expected.json)`` pairs in ``folder``, by name."""
    if not folder.is_dir():
        raise BundleError(f"not a folder: {folder}", "folder")
    pairs = []
    for p in sorted(folder.glob("*.json")):
        if p.name.endswith(".expected.json"):
            continue
        exp = p.with_name(p.stem + ".expected.json")
        if exp.is_file():
            pairs.append((p, exp))
    return pairs


EXPECTED_FIELDS = ("incident", "root_cause", "route")
"""What every ``NAME.expected.json`` must say (a string, or a list of accepted strings)."""


def read_expected(path: Path) -> dict[str, Any]:
    """One expected file, checked: a JSON object whose ``EXPECTED_FIELDS`` are strings (or lists of
    them) and whose ``key_exposed``, if any, is a boolean. Else ``BundleError`` naming the file and
    the field: the whole score is refused, since a case without a readable oracle cannot be scored
    and leaving it out would report an accuracy over a different set of cases."""
    name = path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BundleError(f"cannot read the expected file: {exc}", name) from exc
    if not isinstance(data, dict):
        raise BundleError(f"expected a JSON object, got {type(data).__name__}", name)
    for key in EXPECTED_FIELDS:
        value = data.get(key)
        ok = isinstance(value, str) or (
            isinstance(value, list) and value and all(isinstance(v, str) for v in value)
        )
        if not ok:
            raise BundleError(f"expected a string or a list of strings, got {value!r}"[:300], f"{name}.{key}")
    if not isinstance(data.get("key_exposed", False), bool):
        raise BundleError("expected true or false", f"{name}.key_exposed")
    return data


def score_dir(folder: Path, *, jobs: int = 1, progress: Progress | None = None) -> Report:
    """Triage every ``NAME.json`` that has a ``NAME.expected.json`` beside it (every expected file
    is checked first, ``read_expected``)."""
    pairs = [(str(a), read_expected(b)) for a, b in case_files(folder)]
    report = Report()
    if jobs > 1 and len(pairs) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for i, outcome in enumerate(pool.map(_judge_file, pairs, chunksize=4)):
                report.outcomes.append(outcome)
                if progress is not None:
                    progress(i + 1, len(pairs))
        return report
    for i, pair in enumerate(pairs):
        report.outcomes.append(_judge_file(pair))
        if progress is not None:
            progress(i + 1, len(pairs))
    return report
