"""One exception tree for everything quotadesk refuses.

    QuotadeskError                 base; carries ``field`` (a JSON path or option name) when known
    ├── InputError                 bad input from a user or file: exit 2 / HTTP 400
    │   ├── BundleError            a case bundle that breaks contract v1
    │   └── UsageFileError         a usage records file that is missing or corrupt
    └── NotFoundError              an org, key or case that does not exist: exit 2 / HTTP 404

Money parsing raises ``quotadesk.money.MoneyError`` (a ValueError) inside the pure core;
the edges wrap it into ``InputError`` with the field's path. Third-party errors (duckdb,
json, sqlite) are translated at the boundary with ``raise ... from``.
"""

from __future__ import annotations


class QuotadeskError(Exception):
    exit_code = 2
    http_status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


class InputError(QuotadeskError):
    pass


class BundleError(InputError):
    pass


class UsageFileError(InputError):
    pass


class NotFoundError(QuotadeskError):
    http_status = 404
