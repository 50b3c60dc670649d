"""The back office from a shell: ``quotadesk org|key|grant|limit|flag|staff …``.

The same library calls the desk's HTTP API makes (``store.books``, ``store.accounts``,
``store.staff``), so a platform can script its books without running the service. A command
acts as the platform's administrator, named ``cli:<login>`` in the audit log (whoever can run
it can open the database anyway); every change is audited like one made through the API.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import typer

from quotadesk.cli.common import DbOption, JsonOption, guard, print_json, sub_app
from quotadesk.errors import InputError

org_app = sub_app(
    "org", "Organizations: create, show, list, timeline, tier, rate limits, Stripe link, access."
)
key_app = sub_app("key", "API keys: create (the secret is shown once), list, revoke.")
grant_app = sub_app("grant", "Credit grants: goodwill, promotional or free-trial credit.")
limit_app = sub_app("limit", "Monthly soft and hard spend limits.")
flag_app = sub_app("flag", "Flags: raise (suspends the account), list, lift.")
staff_app = sub_app("staff", "Desk staff: add (the token is shown once), list, disable.")


def register(app: typer.Typer) -> None:
    for group in (org_app, key_app, grant_app, limit_app, flag_app, staff_app):
        app.add_typer(group, name=group.info.name, help=group.info.help)


def _books(db: str | None) -> Any:
    from quotadesk import settings
    from quotadesk.store.books import Books

    return Books.open(settings.get("db", db))


def _actor() -> Any:
    from quotadesk.store.access import Actor, Role

    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "operator"
    return Actor(f"cli:{login}", Role.ADMIN)


def _now() -> datetime:
    return datetime.now(UTC)


def _run(db: str | None, fn: Callable[[Any], Any]) -> Any:
    def run() -> Any:
        books = _books(db)
        try:
            return fn(books)
        finally:
            books.close()

    return guard(run)


def _out(result: Any, json_out: bool, text: str | Callable[[Any], str]) -> None:
    if json_out:
        print_json(result)
    else:
        typer.echo(text(result) if callable(text) else text)


def _refuse(exc: InputError) -> NoReturn:
    def fail() -> NoReturn:
        raise exc

    guard(fail)
    raise AssertionError("guard exits")  # pragma: no cover


def _time(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    from quotadesk.cli.books import parse_now

    try:
        return parse_now(value)
    except InputError as exc:
        raise InputError(exc.message, field) from exc


# ------------------------------------------------------------------------------------- org


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Argument(help="The organization's name.")],
    billing_mode: Annotated[str, typer.Option("--billing-mode", help="prepaid or invoiced.")] = "prepaid",
    stripe_customer: Annotated[str | None, typer.Option("--stripe-customer", help="cus_… to link.")] = None,
    org_id: Annotated[str | None, typer.Option("--id", help="Choose the id (default: generated).")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create an organization (free tier, no card)."""

    def fn(books: Any) -> dict[str, Any]:
        oid = books.create_org(
            _actor(),
            _now(),
            name=name,
            billing_mode=billing_mode,
            stripe_customer=stripe_customer,
            org_id=org_id,
        )
        return {"id": oid, "name": name, "billing_mode": billing_mode, "stripe_customer": stripe_customer}

    _out(_run(db, fn), json_out, lambda r: r["id"])


@org_app.command("show")
def org_show(org: str, db: DbOption = None, json_out: JsonOption = False) -> None:
    """The account in the case bundle's account shape."""
    from quotadesk.store.db import transaction
    from quotadesk.store.export import account_section
    from quotadesk.store.snapshot import load_organization

    def fn(books: Any) -> Any:
        with transaction(books.engine) as conn:
            return account_section(conn, load_organization(conn, org), _now(), books.tiers)

    result = _run(db, fn)
    _out(
        result,
        json_out,
        lambda r: "\n".join(f"{k}: {v}" for k, v in r.items() if not isinstance(v, list | dict)),
    )


@org_app.command("list")
def org_list(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Every organization: id, name, billing mode, status, tier."""
    from sqlalchemy import select

    from quotadesk.store.db import transaction
    from quotadesk.store.schema import organizations as o

    def fn(books: Any) -> list[dict[str, Any]]:
        with transaction(books.engine) as conn:
            rows = conn.execute(
                select(o.c.id, o.c.name, o.c.billing_mode, o.c.status, o.c.tier_current).order_by(o.c.id)
            ).all()
        return [
            {
                "id": r.id,
                "name": r.name,
                "billing_mode": r.billing_mode,
                "status": r.status,
                "tier": r.tier_current,
            }
            for r in rows
        ]

    _out(
        _run(db, fn),
        json_out,
        lambda rows: "\n".join(f"{r['id']}\t{r['status']}\t{r['tier']}\t{r['name']}" for r in rows),
    )


@org_app.command("timeline")
def org_timeline(
    org: str,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Events per page.")] = 200,
    before: Annotated[str | None, typer.Option("--before", help="Cursor of the next page back.")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Every event of the account in time order (payments, grants, notices, flags, keys, changes)."""
    from quotadesk.store.timeline import timeline

    page = _run(db, lambda books: timeline(books.engine, org, before=before, limit=limit))
    data = {"events": [e.to_json() for e in page.events], "before": page.before}

    def text(d: dict[str, Any]) -> str:
        lines = [f"{e['at']}  {e['summary']}" for e in d["events"]]
        if d["before"]:
            lines.append(f"(older: --before {d['before']})")
        return "\n".join(lines) or "no events"

    _out(data, json_out, text)


@org_app.command("tier")
def org_tier(
    org: str,
    current: Annotated[str, typer.Argument(help="A tier name (free, tier1…tier5) or 'auto'.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Set a manual tier (kept by the month close until set back to 'auto')."""
    _run(db, lambda books: books.set_tier(_actor(), _now(), org, current))
    _out({"org": org, "tier": current}, json_out, f"{org}: tier {current}")


def _rate(text: str) -> tuple[str, dict[str, int | None]]:
    model, sep, rest = text.partition("=")
    rpm_text, _, tpm_text = rest.partition(":")
    try:
        rpm = int(rpm_text) if rpm_text.strip() else None
        tpm = int(tpm_text) if tpm_text.strip() else None
    except ValueError as exc:
        raise InputError(f"expected MODEL=RPM:TPM with whole numbers, got {text!r}", "--set") from exc
    if not sep or not model.strip():
        raise InputError(f"expected MODEL=RPM:TPM, got {text!r}", "--set")
    return model.strip(), {"rpm": rpm, "tpm": tpm}


@org_app.command("rate-limits")
def org_rate_limits(
    org: str,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="MODEL=RPM:TPM (either may be empty).")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Back to the tier's limits.")] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Negotiated per-model rate limits that replace the tier's."""
    if not clear and not set_:
        _refuse(InputError("give --set MODEL=RPM:TPM or --clear", "--set"))
    limits = dict(guard(lambda: [_rate(t) for t in set_ or []]))
    _run(db, lambda books: books.set_rate_limits(_actor(), _now(), org, {} if clear else limits))
    _out({"org": org, "rate_limits": {} if clear else limits}, json_out, f"{org}: rate limits set")


@org_app.command("stripe")
def org_stripe(
    org: str,
    customer: Annotated[str | None, typer.Argument(help="cus_… (omit with --unlink).")] = None,
    unlink: Annotated[bool, typer.Option("--unlink", help="Remove the link.")] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Link the organization to the Stripe customer it pays as."""
    if customer is None and not unlink:
        _refuse(InputError("give a cus_… id or --unlink", "customer"))
    _run(db, lambda books: books.link_stripe(_actor(), _now(), org, None if unlink else customer))
    _out({"org": org, "stripe_customer": None if unlink else customer}, json_out, f"{org}: linked")


@org_app.command("access")
def org_access(
    org: str,
    key: Annotated[str | None, typer.Option("--key", help="Key id (default: the usual key).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model (default: the usual model).")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Would a request be admitted now? The gateway's decision, replayed (exit 1 when refused)."""
    from quotadesk.store.probe import access_now

    probe = _run(
        db,
        lambda books: access_now(
            books.engine, org, _now(), key_id=key, model=model, prices=books.prices, tiers=books.tiers
        ),
    )
    d = probe.decision
    result = {
        "allowed": probe.allowed,
        "key_id": probe.key_id,
        "model": probe.model,
        "rule": str(getattr(d, "rule", "")) or None,
        "message": getattr(d, "message", None),
    }
    _out(result, json_out, lambda r: "allowed" if r["allowed"] else f"refused ({r['rule']}): {r['message']}")
    if not probe.allowed:
        raise typer.Exit(1)


# ------------------------------------------------------------------------------------- keys


@key_app.command("create")
def key_create(
    org: str,
    name: Annotated[str, typer.Option("--name", help="A label for the key.")] = "",
    scope: Annotated[str, typer.Option("--scope", help="organization or personal.")] = "organization",
    owner: Annotated[
        str | None, typer.Option("--owner", help="The member a personal key belongs to.")
    ] = None,
    environment: Annotated[
        str | None, typer.Option("--environment", help="production, development or ci.")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create an API key; its secret is printed this once and only its hash is kept."""
    key = _run(
        db,
        lambda books: books.create_key(
            _actor(), _now(), org, name=name, scope=scope, owner=owner, environment=environment
        ),
    )
    _out(
        {"id": key.id, "secret": key.secret, "redacted": key.redacted},
        json_out,
        lambda r: f"{r['id']}\n{r['secret']}\n(the secret is shown once)",
    )


@key_app.command("revoke")
def key_revoke(key: str, db: DbOption = None, json_out: JsonOption = False) -> None:
    """Revoke a key: requests with it get 401 invalid_api_key from the next one on."""
    _run(db, lambda books: books.revoke_key(_actor(), _now(), key))
    _out({"id": key, "status": "revoked"}, json_out, f"{key}: revoked")


@key_app.command("list")
def key_list(org: str, db: DbOption = None, json_out: JsonOption = False) -> None:
    """The organization's keys (redacted), with scope, owner, environment and status."""
    keys = _run(db, lambda books: books.organization(org).api_keys)
    rows = [
        {
            "id": k.id,
            "redacted": k.redacted,
            "name": k.name,
            "scope": str(k.scope),
            "owner": k.owner,
            "environment": None if k.environment is None else str(k.environment),
            "status": str(k.status),
        }
        for k in keys
    ]
    _out(
        rows,
        json_out,
        lambda rs: "\n".join(f"{r['id']}\t{r['redacted']}\t{r['status']}\t{r['name']}" for r in rs),
    )


# ------------------------------------------------------------------------------------ grants


@grant_app.command("add")
def grant_add(
    org: str,
    amount: Annotated[str, typer.Argument(help="Dollars, a decimal string such as 25.00.")],
    kind: Annotated[str, typer.Option("--kind", help="goodwill, promotional or free_trial.")] = "goodwill",
    expires_at: Annotated[str | None, typer.Option("--expires-at", help="RFC 3339 time it expires.")] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")] = "",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Grant credit (a goodwill grant is how a credit is approved)."""
    expires = guard(lambda: _time(expires_at, "--expires-at"))
    gid = _run(
        db,
        lambda books: books.grant_credit(
            _actor(), _now(), org, amount, kind=kind, expires_at=expires, reason=reason
        ),
    )
    _out({"id": gid, "org": org, "amount": amount, "kind": kind}, json_out, gid)


# ------------------------------------------------------------------------------------ limits


@limit_app.command("set")
def limit_set(
    org: str,
    soft: Annotated[str | None, typer.Option("--soft", help="Soft limit in dollars (omit: none).")] = None,
    hard: Annotated[str | None, typer.Option("--hard", help="Hard limit in dollars (omit: none).")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Set the monthly soft and hard limits (an omitted one is removed)."""
    _run(db, lambda books: books.set_limits(_actor(), _now(), org, soft=soft, hard=hard))
    _out(
        {"org": org, "soft": soft, "hard": hard},
        json_out,
        f"{org}: soft {soft or 'none'}, hard {hard or 'none'}",
    )


# ------------------------------------------------------------------------------------- flags


@flag_app.command("raise")
def flag_raise(
    org: str,
    kind: Annotated[str, typer.Argument(help="policy_violation, fraud or outstanding_balance.")],
    source: Annotated[str, typer.Option("--source", help="automated or manual.")] = "manual",
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the books).")] = "",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Raise a flag: the account is suspended while it is active."""
    fid = _run(db, lambda books: books.raise_flag(_actor(), _now(), org, kind, source=source, reason=reason))
    _out({"id": fid, "org": org, "kind": kind, "active": True}, json_out, str(fid))


@flag_app.command("lift")
def flag_lift(
    org: str,
    flag: Annotated[int, typer.Argument(help="The flag's id.", min=1)],
    reason: Annotated[str, typer.Option("--reason", help="Why it is lifted (required).")] = "",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Lift a flag (the account is reinstated once no flag is active)."""
    row = _run(db, lambda books: books.lift_flag_id(_actor(), _now(), org, flag, reason=reason))
    _out(
        {"id": row["id"], "kind": row["kind"], "active": bool(row["active"])},
        json_out,
        f"flag {flag}: lifted",
    )


@flag_app.command("list")
def flag_list(org: str, db: DbOption = None, json_out: JsonOption = False) -> None:
    """The organization's flags, active or lifted."""
    from sqlalchemy import select

    from quotadesk.store.db import transaction
    from quotadesk.store.schema import flags

    def fn(books: Any) -> list[dict[str, Any]]:
        with transaction(books.engine) as conn:
            rows = conn.execute(select(flags).where(flags.c.org_id == org).order_by(flags.c.id)).all()
        return [
            {
                "id": r.id,
                "kind": r.kind,
                "source": r.source,
                "active": bool(r.active),
                "at": r.at.isoformat(),
                "lifted_by": r.lifted_by,
            }
            for r in rows
        ]

    _out(
        _run(db, fn),
        json_out,
        lambda rs: "\n".join(f"{r['id']}\t{r['kind']}\t{'active' if r['active'] else 'lifted'}" for r in rs),
    )


# ------------------------------------------------------------------------------------- staff


@staff_app.command("add")
def staff_add(
    name: Annotated[str, typer.Argument(help="The member's name (unique; shown in the audit log).")],
    role: Annotated[
        str,
        typer.Option("--role", help="support, billing_team, trust_and_safety, finance, security or admin."),
    ],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add a staff member; prints their token once (only its hash is kept)."""
    from quotadesk.store.access import SYSTEM
    from quotadesk.store.staff import add_staff

    new = _run(db, lambda books: add_staff(books.engine, SYSTEM, _now(), name, role))
    _out(
        {"id": new.member.id, "token": new.token, "name": new.member.name, "role": new.member.role.value},
        json_out,
        lambda r: f"{r['id']}\n{r['token']}\n(the token is shown once)",
    )


@staff_app.command("list")
def staff_list(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Staff members and their roles."""
    from quotadesk.store.staff import list_staff

    members = _run(db, lambda books: list_staff(books.engine))
    rows = [{"id": m.id, "name": m.name, "role": m.role.value, "active": m.active} for m in members]
    _out(rows, json_out, lambda rs: "\n".join(f"{r['id']}\t{r['role']}\t{r['name']}" for r in rs))


@staff_app.command("disable")
def staff_disable(staff_id: str, db: DbOption = None, json_out: JsonOption = False) -> None:
    """Disable a member: their token and sessions stop working at once."""
    from quotadesk.store.access import SYSTEM
    from quotadesk.store.staff import disable_staff

    _run(db, lambda books: disable_staff(books.engine, SYSTEM, _now(), staff_id))
    _out({"id": staff_id, "active": False}, json_out, f"{staff_id}: disabled")
