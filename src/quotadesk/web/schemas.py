"""Request bodies of the desk API, as pydantic models: the OpenAPI document is generated from them.

Models are strict (a number is not a string, a string is not a number) and bounded (lengths,
list sizes), so a malformed body is a 400 naming the field before any library call. Money is
a decimal string, as everywhere in quotadesk: the library turns it into nano-dollars and
refuses floats, exponents and sub-nano digits with the field's name. Unknown fields are
ignored, so older clients keep working when a field is added.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from quotadesk import parse


def _money_text(value: str) -> str:
    parse.money(value)  # the one money rule; its ParseError is a ValueError: a 400 naming the field
    return value


def _when(value: datetime) -> datetime:
    return parse.in_range(value)


Text = Annotated[str, Field(min_length=1, max_length=100_000)]
Short = Annotated[str, Field(min_length=1, max_length=200)]
MoneyText = Annotated[
    str, Field(min_length=1, max_length=40, examples=["25.00"]), AfterValidator(_money_text)
]
"""Dollars as a plain decimal string (``quotadesk.parse.money``; the field says if negative is allowed)."""
When = Annotated[AwareDatetime, AfterValidator(_when)]
"""An RFC 3339 time with an offset, within ``quotadesk.parse``'s range (2000-01-01..2100-01-01)."""
Team = Literal["support", "billing_team", "trust_and_safety", "finance", "security", "engineering"]


class Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class ErrorAttachment(Model):
    kind: Literal["error_response"]
    status: Annotated[int, Field(ge=100, le=599)] | None = None
    body: Annotated[str, Field(max_length=100_000)] | None = None
    seen_at: When | None = None


class LogAttachment(Model):
    kind: Literal["log_excerpt"]
    text: Annotated[str, Field(max_length=100_000)]


Attachment = Annotated[ErrorAttachment | LogAttachment, Field(discriminator="kind")]


class TicketIn(Model):
    """The case bundle's ticket: the customer's words and what they attached."""

    id: Short | None = None
    received_at: When | None = None
    subject: Annotated[str, Field(max_length=2_000)] = ""
    body: Text
    attachments: Annotated[list[Attachment], Field(max_length=50)] = []


class CaseIn(Model):
    ticket: TicketIn
    org_id: Short | None = None
    provider: Annotated[str, Field(min_length=1, max_length=32)] | None = None


class NoteIn(Model):
    text: Text


class MessageIn(Model):
    body: Text
    attachments: Annotated[list[Attachment], Field(max_length=50)] = []


class LinkIn(Model):
    org_id: Short


class EscalateIn(Model):
    team: Team
    note: Text | None = None


class ReplyIn(Model):
    text: Text | None = None
    send: bool = False


class ResolveIn(Model):
    note: Text | None = None
    incident: Short | None = None
    root_cause: Short | None = None
    fix: Text | None = None
    recommendation: Text | None = None


class SafetyIn(Model):
    text: Annotated[str, Field(max_length=100_000)]
    key_exposed: bool = False


class OrgIn(Model):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    billing_mode: Literal["prepaid", "invoiced"] = "prepaid"
    stripe_customer: Annotated[str, Field(pattern=r"^cus_[A-Za-z0-9]{1,60}$")] | None = None


class KeyIn(Model):
    name: Annotated[str, Field(max_length=200)] = ""
    scope: Literal["organization", "personal"] = "organization"
    owner: Short | None = None
    environment: Literal["production", "development", "ci"] | None = None


class GrantIn(Model):
    amount: MoneyText
    kind: Literal["goodwill", "promotional", "free_trial"] = "goodwill"
    expires_at: When | None = None
    reason: Annotated[str, Field(max_length=2_000)] = ""


class LimitsIn(Model):
    soft: MoneyText | None = None
    hard: MoneyText | None = None


class TierIn(Model):
    current: Annotated[str, Field(min_length=1, max_length=16, examples=["tier2", "auto"])]


class RateLimit(Model):
    rpm: Annotated[int, Field(ge=1, le=10**12)] | None = None
    tpm: Annotated[int, Field(ge=1, le=10**12)] | None = None


RateLimitsIn = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=200)], RateLimit], Field(max_length=500)
]


class FlagIn(Model):
    kind: Literal["policy_violation", "fraud", "outstanding_balance"]
    source: Literal["automated", "manual"] = "manual"
    reason: Annotated[str, Field(max_length=2_000)] = ""


class LiftIn(Model):
    reason: Annotated[str, Field(min_length=1, max_length=2_000)]


class AutoRechargeIn(Model):
    enabled: bool
    threshold: MoneyText | None = None
    amount: MoneyText | None = None


class InvoicePaymentIn(Model):
    reference: Short


class WaiveIn(Model):
    reason: Annotated[str, Field(min_length=1, max_length=2_000)]


class StripeLinkIn(Model):
    stripe_customer: Annotated[str, Field(pattern=r"^cus_[A-Za-z0-9]{1,60}$")] | None


class StaffIn(Model):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Literal["support", "billing_team", "trust_and_safety", "finance", "security", "admin"]


class NewKeyOut(BaseModel):
    id: str
    secret: str
    redacted: str


class NewStaffOut(BaseModel):
    id: str
    token: str
    name: str
    role: str
