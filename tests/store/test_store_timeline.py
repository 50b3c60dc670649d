"""The account timeline's paging keeps derived events: a restoration whose cut-off is on an older page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from quotadesk.store.access import SYSTEM
from quotadesk.store.books import Books
from quotadesk.store.db import transaction
from quotadesk.store.metering import UsageEvent
from quotadesk.store.timeline import timeline
from quotadesk.store.values import add_notice

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _all_pages(books: Books, org: str, limit: int) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    before = None
    while True:
        page = timeline(books.engine, org, before=before, limit=limit)
        seen = [(e.kind, e.key) for e in page.events] + seen
        if page.before is None:
            return seen
        before = page.before


def test_access_restored_is_on_its_page_whatever_the_page_size(tmp_path: Path) -> None:
    books = Books.open(f"sqlite:///{tmp_path}/books.db")
    org = books.create_org(SYSTEM, T0, name="Acme")
    books.grant_credit(SYSTEM, T0, org, "10.00", kind="promotional")
    with transaction(books.engine) as conn:
        add_notice(conn, org, "credits_exhausted", T0 + timedelta(days=1))
        for i in range(4):  # notices between cut-off and restoration push the cut-off off the page
            add_notice(conn, org, "credits_expiring", T0 + timedelta(days=1, hours=6 + i))
    for i in range(5):  # events between the cut-off and the restoration
        books.create_key(SYSTEM, T0 + timedelta(days=2, hours=i), org, name=f"k{i}", environment="production")
    books.record_usage(
        T0 + timedelta(days=4), UsageEvent("r1", org, "gpt-4o-mini", T0 + timedelta(days=3), 1000, 10)
    )
    whole = _all_pages(books, org, 200)
    assert [k for k, _ in whole].count("access_restored") == 1
    for limit in (1, 2, 3, 4, 7):
        assert _all_pages(books, org, limit) == whole, limit
