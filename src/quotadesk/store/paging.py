"""Opaque page cursors: a time and a stable key, so a page boundary between equal times loses or
repeats nothing, and a client cannot build a cursor that reads anything it was not given."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from quotadesk.errors import InputError


def encode(at: datetime, key: str) -> str:
    raw = json.dumps([at.isoformat(), key]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, field: str) -> tuple[datetime, str]:
    """The (time, key) of a cursor ``encode`` gave out; anything else is an ``InputError`` on ``field``."""
    try:
        at, key = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not isinstance(key, str):
            raise ValueError(cursor)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InputError("not a cursor this list gave out", field) from exc
    return when, key
