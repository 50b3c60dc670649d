"""Persistence of the books: SQLAlchemy Core on SQLite (default) or PostgreSQL (by URL).

Modules: ``db`` (engines, ``atomic``), ``schema`` (tables), ``migrations`` (Alembic),
``ledger`` (append-only double entry), ``books`` (the Books API), ``processor`` (payments),
``admission`` (admit/settle with holds), ``close`` (``tick``), ``verify`` (drift checks).
"""
