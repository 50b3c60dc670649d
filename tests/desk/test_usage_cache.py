"""The desk's usage-analysis cache never answers from stale data: a triage from the cache equals a
fresh one, and any new usage, a change of keys or the age limit makes it analyse again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from quotadesk.desk.clock import FixedClock
from quotadesk.desk.service import Desk
from quotadesk.store.access import SYSTEM, Actor, Role
from quotadesk.store.books import Books
from quotadesk.store.metering import UsageEvent

NOW = datetime(2026, 11, 20, 10, 0, 30, tzinfo=UTC)
SUPPORT = Actor("sam", Role.SUPPORT)
TICKET = {"subject": "Bill", "body": "Why is my bill so much higher this month? Nothing changed on our side."}


def _org_with_usage(books: Books) -> tuple[str, str]:
    org = books.create_org(SYSTEM, NOW - timedelta(days=120))
    books.grant_credit(SYSTEM, NOW - timedelta(days=119), org, "5000.00", kind="promotional")
    key = books.create_key(SYSTEM, NOW - timedelta(days=119), org, name="prod", environment="production")
    events = []
    for day in range(50):
        ts = NOW - timedelta(days=50 - day)
        model = "gpt-4o" if day > 40 else "gpt-4o-mini"  # a swap to a pricier model late in the window
        events += [
            UsageEvent(f"d{day}r{i}", org, model, ts + timedelta(minutes=i), 2000, 400, key_id=key.id)
            for i in range(20)
        ]
    books.record_usage_batch(NOW, events, recharge=False)
    return org, key.id


def test_cached_analysis_equals_fresh_and_is_dropped_when_anything_changes(tmp_path: Path) -> None:
    books = Books.open(f"sqlite:///{tmp_path}/b.db")
    clock = FixedClock(NOW)
    desk = Desk(books, clock=clock)
    org, key = _org_with_usage(books)
    first = desk.open_case(SUPPORT, TICKET, org_id=org)
    second = desk.open_case(SUPPORT, TICKET, org_id=org)
    assert first["sources"]["usage_analysis"] == "fresh" and second["sources"]["usage_analysis"] == "cached"
    same = {k: v for k, v in first["triage"].items() if k != "ticket_id"}
    assert {k: v for k, v in second["triage"].items() if k != "ticket_id"} == same
    assert first["triage"]["root_cause"] == "model_swap"

    # new usage: analysed again
    books.record_usage(
        NOW, UsageEvent("late1", org, "gpt-4o", NOW - timedelta(seconds=5), 10, 10, key_id=key)
    )
    assert desk.open_case(SUPPORT, TICKET, org_id=org)["sources"]["usage_analysis"] == "fresh"
    assert desk.open_case(SUPPORT, TICKET, org_id=org)["sources"]["usage_analysis"] == "cached"
    # a key changes (environment is read by the detectors): analysed again
    books.create_key(SYSTEM, NOW, org, name="ci", environment="ci")
    assert desk.open_case(SUPPORT, TICKET, org_id=org)["sources"]["usage_analysis"] == "fresh"
    # a few minutes later with nothing new: still served; past the age limit: analysed again
    clock.advance(minutes=4)
    assert desk.open_case(SUPPORT, TICKET, org_id=org)["sources"]["usage_analysis"] == "cached"
    clock.advance(minutes=2)
    assert desk.open_case(SUPPORT, TICKET, org_id=org)["sources"]["usage_analysis"] == "fresh"
    books.close()
