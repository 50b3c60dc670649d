"""The store's refusals, as branches of the one tree in ``quotadesk.errors``.

    QuotadeskError
    ├── InputError
    │   ├── ConflictError      the input contradicts what the books already hold (a request id
    │   │                      seen before with different content, a duplicate key): HTTP 409
    │   └── PaymentError       the processor refused a card or a charge: HTTP 402
    ├── NotFoundError          (quotadesk.errors) an org, key, grant or invoice that does not exist
    ├── ForbiddenError         the actor's role may not do this; the attempt is audited: HTTP 403
    └── StoreError             the database itself failed (unreachable, locked, corrupt): HTTP 503

They live here rather than in ``quotadesk.errors`` only because that module belongs to the
foundation; they subclass its classes, so a caller catching ``QuotadeskError`` catches them all.
"""

from __future__ import annotations

from quotadesk.errors import InputError, QuotadeskError


class ConflictError(InputError):
    http_status = 409


class PaymentError(InputError):
    """A card or charge the processor refused; ``code`` is the processor's failure code."""

    http_status = 402

    def __init__(self, message: str, field: str | None = None, code: str = "card_declined") -> None:
        self.code = code
        super().__init__(message, field)


class ForbiddenError(QuotadeskError):
    """Refused by role; ``allowed`` names the roles that may (the HTTP error says so)."""

    http_status = 403

    def __init__(self, message: str, field: str | None = None, allowed: list[str] | None = None) -> None:
        self.allowed = allowed or []
        super().__init__(message, field)


class StoreError(QuotadeskError):
    http_status = 503
