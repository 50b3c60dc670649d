"""The team's text-only ticket set (tests/data/text_only_tickets.json), run through the engine.

Each ticket becomes a bundle with the ticket alone (no account, usage or status page), as the
desk receives a forwarded email. ``measure()`` returns the scores the floor test holds and
``python tests/triage/text_only_set.py`` prints them with every miss.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quotadesk.triage import bundle as bundle_mod
from quotadesk.triage.engine import triage_bundle
from quotadesk.triage.honesty import Given, audit

DATA = Path(__file__).resolve().parents[1] / "data" / "text_only_tickets.json"
HELDOUT = DATA.with_name("text_only_tickets_heldout.json")
AS_OF = "2026-11-27T15:00:00Z"


def tickets(path: Path = DATA) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return rows


def bundle_doc(t: dict[str, Any]) -> dict[str, Any]:
    return {
        "bundle_version": 1,
        "as_of": AS_OF,
        "provider": t["provider"],
        "ticket": {
            "id": t["id"],
            "received_at": AS_OF,
            "subject": t["subject"],
            "body": t["body"],
            "attachments": t["attachments"],
        },
    }


@dataclass(frozen=True)
class Outcome:
    ticket: dict[str, Any]
    result: dict[str, Any]
    problems: tuple[str, ...]

    @property
    def incident_ok(self) -> bool:
        return bool(self.result["incident"] == self.ticket["incident"])

    @property
    def route_ok(self) -> bool:
        return bool(self.result["route"] == self.ticket["route"])

    @property
    def root_ok(self) -> bool:
        want = self.ticket["root_cause"]
        return want is None or (self.incident_ok and self.result["root_cause"] == want)

    @property
    def honest(self) -> bool:
        return not [p for p in self.problems if not p.startswith("asks again")]

    @property
    def no_reask(self) -> bool:
        return not [p for p in self.problems if p.startswith("asks again")]


def run(t: dict[str, Any]) -> Outcome:
    doc = bundle_doc(t)
    result = triage_bundle(bundle_mod.parse(doc))
    return Outcome(t, result, audit(doc, result, Given.of(t["gives"])))


def measure(path: Path = DATA) -> dict[str, Any]:
    outs = [run(t) for t in tickets(path)]
    routed = [o for o in outs if {"compromise", "suspension_email"} & set(o.ticket["tags"])]
    rooted = [o for o in outs if o.ticket["root_cause"] is not None]
    return {
        "outcomes": outs,
        "n": len(outs),
        "incident": sum(o.incident_ok for o in outs),
        "route": sum(o.route_ok for o in outs),
        "root": sum(o.root_ok for o in rooted),
        "rooted": len(rooted),
        "routed": len(routed),
        "routed_ok": sum(o.route_ok for o in routed),
        "honest": sum(o.honest for o in outs),
        "no_reask": sum(o.no_reask for o in outs),
    }


def main() -> None:
    m = measure(HELDOUT if "--heldout" in sys.argv else DATA)
    for o in m["outcomes"]:
        t, r = o.ticket, o.result
        flags = []
        if not o.incident_ok:
            flags.append(f"incident {r['incident']} (want {t['incident']})")
        if not o.route_ok:
            flags.append(f"route {r['route']} (want {t['route']})")
        if not o.root_ok:
            flags.append(f"root {r['root_cause']} (want {t['root_cause']})")
        flags.extend(o.problems)
        if flags or "-v" in sys.argv:
            print(f"{t['id']}: " + "; ".join(flags))
            if "-r" in sys.argv:
                print("   " + r["reply"].replace("\n", "\n   "))
                print("   Q: " + " | ".join(r["questions"]))
    n = m["n"]
    print(
        f"text-only: n={n} incident={m['incident']}/{n} route={m['route']}/{n} root={m['root']}/{m['rooted']} "
        f"compromise+suspension-email routes={m['routed_ok']}/{m['routed']} honest={m['honest']}/{n} "
        f"no_reask={m['no_reask']}/{n}"
    )


if __name__ == "__main__":
    main()
