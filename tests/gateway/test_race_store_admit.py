"""Beside the gateway's races: the books' own per-request admission (``Books.admit``, used by the
simulator and any caller outside the gateway) never lets holds in flight carry spend past the hard
limit. Found by this suite (the rulebook's hard-limit rule once asked only whether month-to-date spend
had reached the limit, ignoring open holds and the request's cost), fixed in the rulebook (6ff6cb7).
"""

from __future__ import annotations

from pathlib import Path

from gateway.harness import now, org_facts, seed_org
from gateway.racing import request_cost
from quotadesk.store.admission import Admitted
from quotadesk.store.books import Books


def test_open_holds_never_carry_spend_past_the_hard_limit(tmp_path: Path) -> None:
    books = Books.open(f"sqlite:///{tmp_path / 'books.db'}")
    try:
        org, secret = seed_org(books, credit="1", hard="0.0001")  # credit for 51,000 requests, hard for 5
        t = now()
        admitted = [
            a
            for a in (
                books.admit(t, secret=secret, model="gpt-4o-mini", input_tokens=50, output_tokens=20)
                for _ in range(10)
            )
            if isinstance(a, Admitted)
        ]
        for a in admitted:
            books.settle(t, a.hold.id, input_tokens=50, output_tokens=20)
        facts = org_facts(books.engine, org)
    finally:
        books.close()
    assert request_cost(50, 20) * len(admitted) == facts.spend
    assert facts.spend <= 100_000, (
        f"{len(admitted)} requests admitted in flight spent {facts.spend} of a 100000 hard limit"
    )
