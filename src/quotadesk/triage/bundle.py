"""Case bundles (contract v1): validate, then map onto the rulebook's values.

Validation runs in two passes so every error names its field: the contract's JSON Schema
(shipped in ``quotadesk/data/contracts``) catches shapes, enums and money patterns; then
parsing catches what a schema cannot (naive timestamps, money finer than a nano-dollar,
a records file that is not there). Inline usage rows are left to the usage loader, which
checks them row by row without paying for JSON Schema on a million rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from quotadesk.billing import model as m
from quotadesk.errors import BundleError
from quotadesk.money import MoneyError, nanos
from quotadesk.parse import ParseError, clean_text, json_doc, read_bytes
from quotadesk.parse import timestamp as parse_ts
from quotadesk.triage.statuspage import StatusIncident, parse_page

__all__ = ["Attachment", "Bundle", "StatusIncident", "Ticket", "load", "parse", "validate"]

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Attachment:
    """An error response (status, body, seen_at) or a log excerpt (text) the customer attached."""

    kind: str
    status: int | None = None
    body: str | None = None
    seen_at: datetime | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    body: str
    received_at: datetime
    subject: str = ""
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Bundle:
    """A parsed case bundle. ``raw`` keeps the document for JSON-pointer evidence."""

    as_of: datetime
    ticket: Ticket
    provider: str = "generic"
    incidents: tuple[StatusIncident, ...] | None = None
    account: m.Organization | None = None
    prices: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    usage_records: Sequence[Mapping[str, Any]] | None = None
    usage_file: Path | None = None
    raw: JSON = field(default_factory=dict)


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    text = resources.files("quotadesk.data").joinpath("contracts/case-bundle.schema.json").read_text()
    schema = json.loads(text)
    return jsonschema.Draft202012Validator(schema)


def _pointer(path: Sequence[Any]) -> str:
    parts = []
    for p in path:
        parts.append(f"[{p}]" if isinstance(p, int) else f".{p}")
    return "$" + "".join(parts)


def validate(doc: Any) -> None:
    """Raise BundleError naming the first offending field (JSON path) of a bundle."""
    if not isinstance(doc, dict):
        raise BundleError("a case bundle must be a JSON object", "$")
    usage = doc.get("usage")
    light = doc
    if isinstance(usage, dict) and isinstance(usage.get("records"), list):
        light = dict(doc)
        light["usage"] = {k: v for k, v in usage.items() if k != "records"}
    errors = sorted(
        _validator().iter_errors(light), key=lambda e: (len(e.absolute_path), list(map(str, e.path)))
    )
    if errors:
        err = errors[0]
        # oneOf failures on attachments say little; point at the attachment itself.
        message = err.message if len(err.message) < 200 else err.message[:200] + "…"
        raise BundleError(message, _pointer(list(err.absolute_path)))


def _dt(value: Any, where: str, *, required: bool = True) -> datetime | None:
    if value is None:
        if required:
            raise BundleError("a timestamp is required", where)
        return None
    try:
        return parse_ts(value, where)
    except ParseError as exc:
        raise BundleError(exc.message, where) from exc


def _req_dt(value: Any, where: str) -> datetime:
    parsed = _dt(value, where)
    assert parsed is not None
    return parsed


def _money(value: Any, where: str, *, optional: bool = False, negative: bool = False) -> int | None:
    if value is None and optional:
        return None
    try:
        return nanos(value, where, allow_negative=negative)
    except MoneyError as exc:
        raise BundleError(exc.message, where) from exc


def _req_money(value: Any, where: str, *, negative: bool = False) -> int:
    v = _money(value, where, negative=negative)
    assert v is not None
    return v


def _enum(cls: type[Any], value: Any, where: str) -> Any:
    try:
        return cls(value)
    except ValueError as exc:
        allowed = ", ".join(e.value for e in cls)
        raise BundleError(f"unknown value {value!r} (expected one of: {allowed})", where) from exc


def _tier(value: Any, where: str) -> str:
    """A tier the rulebook knows (``billing.tiers.DEFAULT_TIERS``); found by the fuzzer (tests/fuzz/corpus)."""
    from quotadesk.billing.tiers import DEFAULT_TIERS

    if value not in DEFAULT_TIERS.names:
        raise BundleError(f"unknown tier {clean_text(str(value))[:40]!r} (expected one of: {', '.join(DEFAULT_TIERS.names)})", where)
    return str(value)


def _account(a: JSON) -> m.Organization:
    p = "$.account"
    tier_raw = a.get("tier") or {}
    pending_raw = tier_raw.get("pending")
    pending = (
        m.PendingUpgrade(
            target=pending_raw["target"],
            requested_at=_dt(
                pending_raw.get("requested_at"), f"{p}.tier.pending.requested_at", required=False
            ),
        )
        if pending_raw
        else None
    )
    ar = a.get("auto_recharge") or {}
    limits = a.get("spend_limits") or {}
    rate_limits = a.get("rate_limits")
    access = a.get("model_access")
    return m.Organization(
        id=a.get("id", ""),
        name=a.get("name", ""),
        created_at=_dt(a.get("created_at"), f"{p}.created_at", required=False),
        billing_mode=_enum(m.BillingMode, a.get("billing_mode", "prepaid"), f"{p}.billing_mode"),
        status=_enum(m.OrgStatus, a.get("status", "active"), f"{p}.status"),
        console_access=_enum(m.ConsoleAccess, a.get("console_access", "unknown"), f"{p}.console_access"),
        flags=tuple(
            m.Flag(
                kind=_enum(m.FlagKind, f["kind"], f"{p}.flags[{i}].kind"),
                at=_req_dt(f.get("at"), f"{p}.flags[{i}].at"),
                source=_enum(m.FlagSource, f.get("source", "automated"), f"{p}.flags[{i}].source"),
                active=bool(f.get("active", True)),
            )
            for i, f in enumerate(a.get("flags") or [])
        ),
        notices=tuple(
            m.Notice(kind=n["kind"], at=_req_dt(n.get("at"), f"{p}.notices[{i}].at"))
            for i, n in enumerate(a.get("notices") or [])
        ),
        tier=m.TierState(
            current=_tier(tier_raw.get("current", "free"), f"{p}.tier.current"),
            since=_dt(tier_raw.get("since"), f"{p}.tier.since", required=False),
            pending=pending,
        ),
        payment_methods=tuple(
            m.PaymentMethod(
                id=pm.get("id", f"pm_{i}"),
                status=_enum(m.PaymentMethodStatus, pm["status"], f"{p}.payment_methods[{i}].status"),
                brand=pm.get("brand", "") or "",
                last4=pm.get("last4", "") or "",
                exp_month=pm.get("exp_month"),
                exp_year=pm.get("exp_year"),
                default=bool(pm.get("default", False)),
            )
            for i, pm in enumerate(a.get("payment_methods") or [])
        ),
        payments=tuple(
            m.Payment(
                id=py.get("id", f"py_{i}"),
                at=_req_dt(py.get("at"), f"{p}.payments[{i}].at"),
                amount=_req_money(py.get("amount"), f"{p}.payments[{i}].amount", negative=True),
                status=_enum(m.PaymentStatus, py["status"], f"{p}.payments[{i}].status"),
                purpose=_enum(m.PaymentPurpose, py.get("purpose", "top_up"), f"{p}.payments[{i}].purpose"),
                failure_code=py.get("failure_code"),
            )
            for i, py in enumerate(a.get("payments") or [])
        ),
        credit_grants=tuple(
            m.CreditGrant(
                id=g.get("id", f"cg_{i}"),
                kind=_enum(m.GrantKind, g["kind"], f"{p}.credit_grants[{i}].kind"),
                amount=_req_money(g.get("amount"), f"{p}.credit_grants[{i}].amount"),
                remaining=_req_money(g.get("remaining"), f"{p}.credit_grants[{i}].remaining"),
                granted_at=_req_dt(g.get("granted_at"), f"{p}.credit_grants[{i}].granted_at"),
                expires_at=_dt(g.get("expires_at"), f"{p}.credit_grants[{i}].expires_at", required=False),
            )
            for i, g in enumerate(a.get("credit_grants") or [])
        ),
        auto_recharge=m.AutoRecharge(
            enabled=bool(ar.get("enabled", False)),
            threshold=_money(ar.get("threshold"), f"{p}.auto_recharge.threshold", optional=True),
            amount=_money(ar.get("amount"), f"{p}.auto_recharge.amount", optional=True),
        ),
        spend_limits=m.SpendLimits(
            soft=_money(limits.get("soft"), f"{p}.spend_limits.soft", optional=True),
            hard=_money(limits.get("hard"), f"{p}.spend_limits.hard", optional=True),
        ),
        invoices=tuple(
            m.Invoice(
                id=inv.get("id", f"in_{i}"),
                period_start=_req_dt(inv.get("period_start"), f"{p}.invoices[{i}].period_start"),
                period_end=_req_dt(inv.get("period_end"), f"{p}.invoices[{i}].period_end"),
                amount=_req_money(inv.get("amount"), f"{p}.invoices[{i}].amount"),
                status=_enum(m.InvoiceStatus, inv["status"], f"{p}.invoices[{i}].status"),
                due_at=_dt(inv.get("due_at"), f"{p}.invoices[{i}].due_at", required=False),
            )
            for i, inv in enumerate(a.get("invoices") or [])
        ),
        api_keys=tuple(
            m.ApiKey(
                id=k["id"],
                status=_enum(m.KeyStatus, k["status"], f"{p}.api_keys[{i}].status"),
                name=k.get("name", "") or "",
                redacted=k.get("redacted", "") or "",
                scope=_enum(m.KeyScope, k.get("scope", "organization"), f"{p}.api_keys[{i}].scope"),
                owner=k.get("owner"),
                owner_active=bool(k.get("owner_active", True)),
                environment=(
                    _enum(m.Environment, k["environment"], f"{p}.api_keys[{i}].environment")
                    if k.get("environment")
                    else None
                ),
                created_at=_dt(k.get("created_at"), f"{p}.api_keys[{i}].created_at", required=False),
                last_used_at=_dt(k.get("last_used_at"), f"{p}.api_keys[{i}].last_used_at", required=False),
            )
            for i, k in enumerate(a.get("api_keys") or [])
        ),
        rate_limits=(
            {name: m.RateLimit(rpm=v.get("rpm"), tpm=v.get("tpm")) for name, v in rate_limits.items()}
            if isinstance(rate_limits, dict)
            else None
        ),
        model_access=tuple(access) if isinstance(access, list) else None,
    )


def parse(doc: JSON, base_dir: Path | None = None) -> Bundle:
    """Validate and parse a bundle document; ``base_dir`` resolves ``usage.records_file``."""
    validate(doc)
    t = doc["ticket"]
    as_of = _req_dt(doc.get("as_of"), "$.as_of")
    received = _dt(t.get("received_at"), "$.ticket.received_at", required=False) or as_of
    attachments = []
    for i, att in enumerate(t.get("attachments") or []):
        attachments.append(
            Attachment(
                kind=att["kind"],
                status=att.get("status"),
                body=att.get("body"),
                seen_at=_dt(att.get("seen_at"), f"$.ticket.attachments[{i}].seen_at", required=False),
                text=att.get("text"),
            )
        )
    ticket = Ticket(
        id=str(t["id"]),
        body=t.get("body") or "",
        received_at=received,
        subject=t.get("subject") or "",
        attachments=tuple(attachments),
    )
    incidents = None
    sp = doc.get("status_page")
    if isinstance(sp, dict):  # read as served (statuspage.parse_page): never refused for a missing time
        incidents = parse_page(sp).incidents
    account = _account(doc["account"]) if isinstance(doc.get("account"), dict) else None
    prices = doc.get("prices") or {}
    for model_name, price in prices.items():
        for k in ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok"):
            if price.get(k) is not None:
                _money(price[k], f"$.prices.{model_name}.{k}")
    usage = doc.get("usage") if isinstance(doc.get("usage"), dict) else None
    records = None
    usage_file = None
    if usage is not None:
        if isinstance(usage.get("records"), list):
            records = usage["records"]
        if usage.get("records_file"):
            usage_file = confined(usage["records_file"], base_dir)
    return Bundle(
        as_of=as_of,
        ticket=ticket,
        provider=str(doc.get("provider") or "generic").lower(),
        incidents=incidents,
        account=account,
        prices=prices,
        usage_records=records,
        usage_file=usage_file,
        raw=doc,
    )


def confined(name: Any, base_dir: Path | None) -> Path:
    """``usage.records_file`` resolved inside the bundle's folder (or the setting ``bundle_extra_root``).

    The contract says the path is relative to the bundle: an absolute path, a ``../`` that
    climbs out, or a symlink pointing out of the folder would let a bundle read any file the
    desk can. The check is on the resolved path, so every way out is refused the same way.
    """
    from quotadesk import settings

    where = "$.usage.records_file"
    if not isinstance(name, str):
        raise BundleError("expected a path relative to the bundle", where)
    root = (base_dir or Path.cwd()).resolve()
    extra_name = settings.get("bundle_extra_root").strip()
    try:
        rel = Path(name)
        real = (rel if rel.is_absolute() else root / rel).resolve()
        roots = [root] + ([Path(extra_name).resolve()] if extra_name else [])
        if not any(real == r or real.is_relative_to(r) for r in roots):
            raise BundleError(
                "the records file must be inside the bundle's folder (no absolute path, no '../',"
                " no symlink out; setting bundle_extra_root allows one more folder)",
                where,
            )
        if not real.is_file():
            raise BundleError(f"records file not found: {clean_text(name)[:300]}", where)
    except (OSError, ValueError, RuntimeError) as exc:  # a name too long, a NUL byte, a symlink loop
        raise BundleError(f"cannot open the records file: {getattr(exc, 'strerror', None) or exc}", where) from exc
    return real


def load(path: Path) -> Bundle:
    """Read, validate and parse a bundle file."""
    try:
        raw = read_bytes(path, "bundle")
    except ParseError as exc:
        raise BundleError(exc.message, "bundle") from exc
    try:
        doc = json_doc(raw, "$")
    except ParseError as exc:
        raise BundleError(exc.message, "$") from exc
    return parse(doc, path.parent)
