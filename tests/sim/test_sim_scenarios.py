"""The simulator: a scenario for every root cause, deterministic per seed, every refusal the
rulebook's, and books that stay consistent while the worlds run."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quotadesk.billing.dialects import render
from quotadesk.errors import InputError
from quotadesk.sim import tickets
from quotadesk.sim.desk import INCIDENT_ROOTS
from quotadesk.sim.run import build_world, generate, pick_root_causes, write_cases
from quotadesk.sim.scenarios import REGISTRY
from quotadesk.sim.traffic import Bucket, Stream, day_buckets
from quotadesk.sim.world import World
from quotadesk.store import ledger
from quotadesk.store.books import Books
from quotadesk.store.db import transaction

ROOT = Path(__file__).resolve().parents[2]
RESULT_SCHEMA = json.loads((ROOT / "src/quotadesk/data/contracts/triage-result.schema.json").read_text())


def test_every_root_cause_of_the_contract_has_a_scenario() -> None:
    contract = set(RESULT_SCHEMA["properties"]["root_cause"]["enum"])
    assert set(REGISTRY) == contract
    for root, sc in REGISTRY.items():
        assert root in INCIDENT_ROOTS[sc.incident], (root, sc.incident)
    assert set(INCIDENT_ROOTS) == set(RESULT_SCHEMA["properties"]["incident"]["enum"])


def test_picks_cover_every_root_cause_in_each_round() -> None:
    picks = pick_root_causes(5, 2 * len(REGISTRY))
    first, second = picks[: len(REGISTRY)], picks[len(REGISTRY) :]
    assert {r for r, _ in first} == {r for r, _ in second} == set(REGISTRY)
    assert {v for _, v in first} == {0} and {v for _, v in second} == {1}
    assert pick_root_causes(5, 40) == pick_root_causes(5, 40) != pick_root_causes(6, 40)
    with pytest.raises(InputError):
        pick_root_causes(5, 3, only=["no_such_cause"])


_MINTED = re.compile(
    r"\b(?:org|key|pm|pay|cg|inv|hold)_[0-9a-f]{20}\b|sk-qd-[A-Za-z0-9_\-]{20,}|sk-\.\.\.[A-Za-z0-9_\-]{4}"
)


def _normalized(cases: list[Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """The cases with the ids and secrets the books mint at random replaced by placeholders."""
    out = []
    for c in cases:
        text = _MINTED.sub("<minted>", json.dumps(c.bundle, sort_keys=True))
        out.append((c.name, c.truth.root_cause, json.loads(text)))
    return out


DETERMINISM_ROOTS = ("card_expired_or_declined", "retry_storm", "account_compromise", "hard_limit_reached")


def test_same_seed_same_cases_other_seed_other_cases(tmp_path: Path) -> None:
    a = generate(11, 4, only=DETERMINISM_ROOTS, per_world=2, db_dir=tmp_path / "a")
    b = generate(11, 4, only=DETERMINISM_ROOTS, per_world=2, db_dir=tmp_path / "b", jobs=2)  # other processes
    c = generate(12, 4, only=DETERMINISM_ROOTS, per_world=2, db_dir=tmp_path / "c")
    assert not a.missing and len(a.cases) == 4
    assert _normalized(a.cases) == _normalized(b.cases)
    assert [x[2]["ticket"] for x in _normalized(a.cases)] != [x[2]["ticket"] for x in _normalized(c.cases)]
    written = write_cases(a.cases, tmp_path / "out")
    expected = json.loads(written[0].with_name(written[0].stem + ".expected.json").read_text())
    assert set(expected) == {"incident", "root_cause", "route", "mention", "key_exposed"}


REFUSING = (
    "card_expired_or_declined",
    "auto_recharge_failed",
    "hard_limit_reached",
    "free_tier_rate_limit",
    "model_not_in_tier",
    "departed_member_key",
    "invalid_or_revoked_key",
    "policy_violation",
    "rate_limit",
    "invoice_overdue",
    "trial_credits_expired",
    "tier_upgrade_pending",
)


@pytest.fixture(scope="module")
def refusing_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Books]]:
    path = tmp_path_factory.mktemp("world") / "w.db"
    books = Books.open(f"sqlite:///{path}")
    picks = [(i + 1, root, i % 2) for i, root in enumerate(REFUSING)]
    w = build_world(3, 0, picks, books, background=1)
    w.run()
    yield w, books
    books.close()


def test_every_refusal_pasted_in_a_ticket_is_one_the_rulebook_gave(
    refusing_world: tuple[World, Books],
) -> None:
    w, _ = refusing_world
    assert {c.scenario for c in w.cases} == set(REFUSING)
    pasted = 0
    for case in w.cases:
        assert case.bundle is not None
        given_bodies = {render(r.deny, case.provider).text() for r in w.driver.denies.get(case.org_id, ())}
        for att in case.bundle["ticket"]["attachments"]:
            if att["kind"] == "error_response":  # in the provider's dialect: a 402 may be a 400 or a 429
                assert att["body"] in given_bodies, (case.scenario, att)
                pasted += 1
        pasted += any(text in case.bundle["ticket"]["body"] for text in given_bodies)  # pasted inline
    assert pasted >= 3


def test_the_books_stay_consistent_and_nobody_overspends(refusing_world: tuple[World, Books]) -> None:
    w, books = refusing_world
    report = books.verify()
    assert report.ok, [f.message for f in report.findings]
    with transaction(books.engine) as conn:
        arrears = {o: ledger.balance(conn, ledger.arrears_account(o)) for o in w.orgs}
    assert all(v == 0 for v in arrears.values()), arrears  # admission held the estimate: no shortfall


def test_refusals_are_logged_in_the_usage_with_their_status(refusing_world: tuple[World, Books]) -> None:
    w, _ = refusing_world
    suspended = next(c for c in w.cases if c.scenario == "policy_violation")
    assert suspended.bundle is not None
    statuses = {r["status"] for r in suspended.bundle["usage"]["records"]}
    assert {200, 401} <= statuses
    refused = [r for r in suspended.bundle["usage"]["records"] if r["status"] >= 400]
    assert all(r["cost"] == "0" and r["input_tokens"] == 0 for r in refused)


def test_the_clock_only_moves_forward(refusing_world: tuple[World, Books]) -> None:
    w, _ = refusing_world
    with pytest.raises(InputError):
        w.at(w.end - timedelta(days=30), lambda: None)


# ------------------------------------------------------------------------------ traffic


STREAM = Stream(
    "prod", "gpt-4o-mini", datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC), 2400.0
)


def test_day_buckets_are_seeded_and_stay_in_the_stream() -> None:
    day = datetime(2026, 3, 2, tzinfo=UTC)
    a = day_buckets("org_x", STREAM, day, random.Random(4))
    assert a == day_buckets("org_x", STREAM, day, random.Random(4))
    assert {b.ts.hour for b in a} <= set(STREAM.hours)
    assert 2000 < sum(b.requests for b in a) < 2800
    assert day_buckets("org_x", STREAM, datetime(2026, 3, 9, tzinfo=UTC), random.Random(4)) == []


@given(
    requests=st.integers(1, 10_000),
    inp=st.integers(0, 10**7),
    out=st.integers(0, 10**6),
    share=st.integers(0, 10_000),
)
def test_a_part_of_a_bucket_never_has_more_than_its_share(
    requests: int, inp: int, out: int, share: int
) -> None:
    b = Bucket("org_x", STREAM, STREAM.start, requests, inp, out, 0)
    k = share % (requests + 1)
    part = b.part(k)
    assert part.requests == k
    assert part.input_tokens <= inp and part.output_tokens <= out
    assert part.input_tokens * requests <= inp * k
    refused = b.part(k, 402)
    assert (refused.input_tokens, refused.output_tokens, refused.status) == (0, 0, 402)


# ------------------------------------------------------------------------------ tickets


FACTS = {
    "model": "gpt-4o",
    "amount": "40.00",
    "date": "2026-03-04",
    "month": "March",
    "usual": "300.00",
    "when": "since this morning",
    "time": "09:14",
    "minutes": "25",
    "day": "Tuesday",
    "invoice": "1240.00",
    "usage": "1305.10",
    "difference": "65.10",
    "left": "4",
    "service": "ingest",
    "person": "Alice",
    "bug": "a recursion bug",
    "days": "4",
    "tier": "tier 1",
}


@pytest.mark.parametrize("symptom", sorted(tickets.PHRASES))
def test_every_symptom_writes_a_ticket_in_several_ways(symptom: str) -> None:
    bodies = set()
    for seed in range(12):
        t = tickets.write(random.Random(seed), symptom, FACTS, ticket_id="T-9")
        assert t["id"] == "T-9" and t["body"].strip() and isinstance(t["subject"], str)
        assert "{" not in t["body"], t["body"]
        bodies.add(t["body"])
    assert len(bodies) >= 6
    assert len(tickets.PHRASES[symptom]["open"]) >= 4


@pytest.mark.parametrize("mode", ["attachment", "inline", "message", "none"])
def test_an_error_is_pasted_the_way_customers_paste_it(mode: str) -> None:
    from quotadesk.billing.decision import Rule
    from quotadesk.billing.dialects import generic_deny

    err = tickets.Pasted.of(
        generic_deny(Rule.CREDITS_EXHAUSTED), "anthropic", datetime(2026, 3, 4, 9, tzinfo=UTC)
    )
    t = tickets.write(random.Random(1), "cutoff", FACTS, ticket_id="T", pasted=err, paste_mode=mode)
    if mode == "attachment":
        assert (
            t["attachments"][0]["status"] == 400
            and "credit balance is too low" in t["attachments"][0]["body"]
        )
    else:
        assert not t["attachments"]
        assert ("credit balance is too low" in t["body"]) == (mode != "none")


WORDS = st.sampled_from(
    ["sk-qd-abcdefghijklmnopqrstuvwxyz01", "$40.00", "org_acme_001", "402", "gpt-4o", "2026-03-04", "please",
     "requests", "failing"]
)  # fmt: skip


@settings(max_examples=60)
@given(st.lists(WORDS, min_size=1, max_size=12), st.integers(0, 1000))
def test_typos_never_touch_keys_figures_or_ids(words: list[str], seed: int) -> None:
    text = " ".join(words)
    out = tickets.typos(text, 1.0, random.Random(seed))
    kept = [w for w in words if not w.isalpha()]
    for w in kept:
        assert w in out.split()
