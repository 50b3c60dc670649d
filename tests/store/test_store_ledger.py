"""The ledger, transactions and the test processor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, text

from quotadesk.errors import InputError
from quotadesk.store import ledger
from quotadesk.store.db import atomic, make_engine, normalize_url, transaction
from quotadesk.store.errors import PaymentError, StoreError
from quotadesk.store.processor import TestProcessor
from quotadesk.store.schema import ledger_postings, ledger_transactions

NOW = datetime(2026, 11, 14, 9, 0, tzinfo=UTC)


def test_post_balanced_updates_cached_balances(engine: Engine) -> None:
    with transaction(engine) as conn:
        txn = ledger.post(
            conn,
            kind="test",
            at=NOW,
            postings=[ledger.Posting("grant:g1", 700), ledger.Posting(ledger.EXTERNAL_PROCESSOR, -700)],
        )
        ledger.post(
            conn,
            kind="test",
            at=NOW,
            postings=[ledger.Posting("grant:g1", -200), ledger.Posting("spend:o:2026-11", 200)],
        )
    with engine.connect() as conn:
        assert txn > 0
        assert ledger.balance(conn, "grant:g1") == 500 == ledger.derived_balance(conn, "grant:g1")
        assert ledger.balances(conn, ["grant:g1", "spend:o:2026-11", "nothing"]) == {
            "grant:g1": 500,
            "spend:o:2026-11": 200,
            "nothing": 0,
        }


@pytest.mark.parametrize(
    ("postings", "field"),
    [
        ([], "postings"),
        ([ledger.Posting("a", 5)], "postings"),
        ([ledger.Posting("a", 5), ledger.Posting("b", -4)], "postings"),
        ([ledger.Posting("a", 0), ledger.Posting("b", 0)], "postings[0].amount"),
        ([ledger.Posting("", 5), ledger.Posting("b", -5)], "postings[0].account"),
        ([ledger.Posting("a", True), ledger.Posting("b", -1)], "postings[0]"),  # type: ignore[arg-type]
    ],
)
def test_unbalanced_transactions_are_refused(
    sqlite_engine: Engine, postings: list[ledger.Posting], field: str
) -> None:
    with pytest.raises(InputError) as err, transaction(sqlite_engine) as conn:
        ledger.post(conn, kind="test", at=NOW, postings=postings)
    assert err.value.field == field
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ledger_transactions)).scalar() == 0


def test_ledger_is_append_only(engine: Engine) -> None:
    with transaction(engine) as conn:
        ledger.post(conn, kind="t", at=NOW, postings=[ledger.Posting("a", 1), ledger.Posting("b", -1)])
    for statement in ("UPDATE ledger_postings SET amount = 2", "DELETE FROM ledger_postings"):
        with pytest.raises(StoreError, match="append-only"), transaction(engine) as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(select(func.sum(ledger_postings.c.amount))).scalar() == 0


def test_atomic_nests_with_savepoints(engine: Engine) -> None:
    with engine.connect() as conn, atomic(conn):
        ledger.post(conn, kind="outer", at=NOW, postings=[ledger.Posting("a", 1), ledger.Posting("b", -1)])
        with pytest.raises(InputError), atomic(conn):
            ledger.post(
                conn, kind="inner", at=NOW, postings=[ledger.Posting("a", 1), ledger.Posting("b", -1)]
            )
            raise InputError("boom")
    with engine.connect() as conn:
        kinds = conn.execute(select(ledger_transactions.c.kind)).scalars().all()
    assert kinds == ["outer"]


def test_bad_urls_name_the_setting() -> None:
    with pytest.raises(InputError) as err:
        normalize_url("mysql://x@y/z")
    assert err.value.field == "db"
    assert normalize_url("postgresql://u@h/d").drivername == "postgresql+psycopg"


def test_unreachable_database_is_a_store_error(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/missing/dir/x.db")
    with pytest.raises(StoreError), transaction(engine) as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(-(10**12), 10**12).filter(bool), min_size=1, max_size=5), min_size=1, max_size=6
    )
)
def test_balanced_postings_keep_every_total_at_zero(
    tmp_path_factory: pytest.TempPathFactory, legs: list[list[int]]
) -> None:
    engine = make_engine("sqlite://")
    from quotadesk.store import migrations

    migrations.upgrade(engine)
    try:
        with transaction(engine) as conn:
            for i, amounts in enumerate(legs):
                postings = [ledger.Posting(f"acct:{j % 3}", a) for j, a in enumerate(amounts)]
                postings.append(
                    ledger.Posting("external:processor", -sum(amounts))
                    if sum(amounts)
                    else ledger.Posting("x", 1)
                )
                if not sum(amounts):
                    postings.append(ledger.Posting("y", -1))
                ledger.post(conn, kind=f"t{i}", at=NOW, postings=postings)
        with engine.connect() as conn:
            assert conn.execute(select(func.coalesce(func.sum(ledger_postings.c.amount), 0))).scalar() == 0
            for n in ("acct:0", "acct:1", "acct:2", "external:processor"):
                assert ledger.balance(conn, n) == ledger.derived_balance(conn, n)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("number", "attach_code", "charge_code"),
    [
        ("4242 4242 4242 4242", None, None),
        ("5555555555554444", None, None),
        ("4000000000000002", "card_declined", None),
        ("4000000000009995", "insufficient_funds", None),
        ("4000000000000069", "expired_card", None),
        ("4000000000000119", "processing_error", None),
        ("4000000000000341", None, "card_declined"),
        ("4242424242424241", "incorrect_number", None),
        ("4111111111111111", "card_declined", None),  # a real-looking number: not a test card
    ],
)
def test_stripe_test_cards(number: str, attach_code: str | None, charge_code: str | None) -> None:
    proc = TestProcessor()
    if attach_code is not None:
        with pytest.raises(PaymentError) as err:
            proc.attach(number, 12, 2030, NOW)
        assert err.value.code == attach_code
        assert err.value.field == "card_number"
        return
    card = proc.attach(number, 12, 2030, NOW)
    assert card.last4 == number.replace(" ", "")[-4:]
    result = proc.charge(card.token, 10**9, idempotency_key="pay_1", now=NOW)
    assert result.failure_code == charge_code
    assert result.succeeded is (charge_code is None)
    assert proc.charge(card.token, 10**9, idempotency_key="pay_1", now=NOW) == result


def test_a_card_past_its_expiry_month_fails_expired() -> None:
    proc = TestProcessor()
    card = proc.attach("4242424242424242", 11, 2026, NOW)
    assert proc.charge(card.token, 1, idempotency_key="k", now=NOW).succeeded
    later = datetime(2026, 12, 1, tzinfo=UTC)
    assert proc.charge(card.token, 1, idempotency_key="k2", now=later).failure_code == "expired_card"
    with pytest.raises(PaymentError):
        proc.attach("4242424242424242", 10, 2026, NOW)
