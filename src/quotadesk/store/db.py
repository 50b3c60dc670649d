"""Where the books live: engines, transactions that nest, and driver errors made ours.

SQLite is the default (one file, no server); PostgreSQL is chosen by URL. Two differences
matter and are handled here, once:

* **Write locks.** On SQLite every transaction starts with ``BEGIN IMMEDIATE``, so the writer
  lock is taken before the first read and two admissions can never both read the same
  balance and both spend it. On PostgreSQL the same guarantee comes from ``SELECT … FOR
  UPDATE`` on the organization row (``lock_org`` in the callers), and transactions stay READ
  COMMITTED so other organizations are not serialized.
* **Savepoints.** pysqlite's own transaction handling is switched off (``isolation_level =
  None``) so that SQLAlchemy's ``SAVEPOINT`` statements reach SQLite; ``atomic`` then nests.

Every driver error that leaves this package is a ``quotadesk.errors`` error raised ``from``
the original, so callers (CLI, API) handle one tree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.engine.url import URL

from quotadesk.errors import InputError, QuotadeskError
from quotadesk.store.errors import ConflictError, StoreError

DEFAULT_URL = "sqlite:///./quotadesk.db"
SQLITE_BUSY_TIMEOUT_S = 30.0


def normalize_url(url: str) -> URL:
    """Parse a database URL; ``postgresql://`` means psycopg 3, the driver we ship."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError as e:
        raise InputError(f"not a database URL: {url!r}", "db") from e
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        backend = parsed.get_backend_name()
        raise InputError(f"unsupported database {backend!r}: use sqlite or postgresql", "db")
    return parsed


def make_engine(url: str = DEFAULT_URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the locking and pragmas the books rely on."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
        engine = create_engine(parsed, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine, in_memory=parsed.database in (None, "", ":memory:"))
        return engine
    return create_engine(parsed, pool_pre_ping=False, **kwargs)


def _configure_sqlite(engine: Engine, *, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy emit BEGIN / SAVEPOINT itself
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        if not in_memory:
            cur.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL survives a killed process (not a power cut) and is much faster than FULL.
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


@contextmanager
def atomic(conn: Connection) -> Iterator[Connection]:
    """One unit of work: a transaction, or a savepoint when one is already open.

    Everything inside either happens or does not; an error rolls back only this level, so a
    caller may catch it and carry on with the outer transaction.
    """
    with translate_errors():
        if conn.in_transaction():
            with conn.begin_nested():
                yield conn
        else:
            with conn.begin():
                yield conn


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A fresh connection in a transaction, committed on success."""
    with translate_errors(), engine.connect() as conn, atomic(conn):
        yield conn


_UNIQUE = re.compile(r"UNIQUE constraint failed: ([\w.]+)|Key \((\w+)\)=", re.IGNORECASE)


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn SQLAlchemy / driver errors into ``quotadesk.errors`` (``raise … from``)."""
    try:
        yield
    except QuotadeskError:
        raise
    except exc.IntegrityError as e:
        text = str(e.orig)
        if "append-only" in text:
            raise StoreError(f"refused: {_first_line(text)}") from e
        m = _UNIQUE.search(text)
        field = (m.group(1) or m.group(2)) if m else None
        if field and "." in field:
            field = field.split(".", 1)[1]
        raise ConflictError(f"conflicts with the books: {_first_line(text)}", field) from e
    except exc.OperationalError as e:
        text = _first_line(str(e.orig))
        if "locked" in text or "busy" in text:
            raise StoreError(f"database is busy: {text}") from e
        if "append-only" in text:
            raise StoreError(f"refused: {text}") from e
        raise StoreError(f"database error: {text}", "db") from e
    except exc.DBAPIError as e:
        text = _first_line(str(e.orig))
        if "append-only" in text:
            raise StoreError(f"refused: {text}") from e
        raise StoreError(f"database error: {text}", "db") from e
    except exc.SQLAlchemyError as e:
        raise StoreError(f"database error: {_first_line(str(e))}", "db") from e


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return normalize_url(url).render_as_string(hide_password=True)
    except InputError:
        return "<invalid URL>"
