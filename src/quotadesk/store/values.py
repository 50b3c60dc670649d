"""Values at the store's edge: new ids, money and times given by callers, notices written.

Callers hand the Books API dollars (``Decimal`` or decimal strings) and aware datetimes;
here they become integer nano-dollars and UTC, or an ``InputError`` naming the field.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from quotadesk.billing.limits import in_clock_range
from quotadesk.errors import InputError
from quotadesk.money import MoneyError, nanos
from quotadesk.store.schema import notices


def new_id(prefix: str) -> str:
    """``prefix_`` + 20 hex digits: unique across processes without a round trip."""
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def amount_nanos(value: object, field: str, *, allow_zero: bool = False) -> int:
    """Dollars (Decimal, decimal string or int) to nano-dollars; negative, zero (unless
    ``allow_zero``), floats and junk are refused naming ``field``."""
    try:
        result = nanos(value, field, allow_negative=False)
    except MoneyError as exc:
        raise InputError(str(exc).removeprefix(f"{field}: "), field) from exc
    if result == 0 and not allow_zero:
        raise InputError("must be more than zero", field)
    return result


def optional_amount(value: object, field: str) -> int | None:
    return None if value is None else amount_nanos(value, field, allow_zero=True)


def aware(value: object, field: str = "now") -> datetime:
    """A timezone-aware datetime, in UTC, within the books' clock (``billing.limits.LATEST``);
    anything else is refused naming ``field``."""
    if not isinstance(value, datetime):
        raise InputError(f"expected a datetime, got {type(value).__name__}", field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"naive datetime {value.isoformat()}: give a timezone (UTC)", field)
    try:
        return in_clock_range(value.astimezone(UTC), field)
    except OverflowError as exc:  # year 1 or 9999 moved out of the calendar by its offset
        raise InputError(f"{value.isoformat()} is outside the supported range", field) from exc
    except ValueError as exc:
        raise InputError(str(exc).removeprefix(f"{field}: "), field) from exc


def add_notice(
    conn: Connection,
    org_id: str,
    kind: str,
    at: datetime,
    *,
    dedupe_key: str | None = None,
    **detail: Any,
) -> bool:
    """Record a notice sent to the customer; with ``dedupe_key`` at most once ever per key
    (e.g. one soft-limit notice per org and month). Returns whether a notice was written."""
    row = {
        "org_id": org_id,
        "kind": str(kind),
        "at": at,
        "detail": json.dumps(detail, sort_keys=True, default=str),
        "dedupe_key": dedupe_key,
    }
    if dedupe_key is None:
        conn.execute(insert(notices).values(**row))
        return True
    if conn.execute(select(notices.c.id).where(notices.c.dedupe_key == dedupe_key)).first() is not None:
        return False
    stmt = (
        postgresql.insert(notices).on_conflict_do_nothing(index_elements=["dedupe_key"])
        if conn.dialect.name == "postgresql"
        else sqlite.insert(notices).on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    return bool(conn.execute(stmt.values(**row)).rowcount)
