"""``quotadesk customer …``: an organization's own sign-ins to the console (read-only pages).

A customer user sees their organization's billing page, usage dashboard and "why am I
blocked" page, nothing else. ``add`` prints the token once (only its hash is kept) and the
console's sign-in address takes it as ``/login?token=…``. Like the back office's commands,
these act as the platform's administrator and are audited.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from quotadesk.cli.backoffice import _actor, _now, _out, _run
from quotadesk.cli.common import DbOption, JsonOption, sub_app

customer_app = sub_app(
    "customer", "Customers' console sign-ins: add (the token is shown once), list, disable."
)


def _row(c: Any) -> dict[str, Any]:
    return {"id": c.id, "org_id": c.org_id, "name": c.name, "active": c.active}


@customer_app.command("add")
def customer_add(
    org: Annotated[str, typer.Argument(help="The organization the customer belongs to.")],
    name: Annotated[str, typer.Option("--name", help="The person's name or e-mail (shown on their pages).")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Give a person of ORG a sign-in to their own billing and usage pages; prints the token once."""
    from quotadesk.store.customers import add_customer

    new = _run(db, lambda books: add_customer(books.engine, _actor(), _now(), org, name))
    _out(
        {**_row(new.customer), "token": new.token},
        json_out,
        lambda r: f"{r['id']}\n{r['token']}\n(the token is shown once; sign in at /login?token=<token>)",
    )


@customer_app.command("list")
def customer_list(
    org: Annotated[str | None, typer.Argument(help="Only this organization's customers.")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Customer sign-ins, oldest first."""
    from quotadesk.store.customers import list_customers

    rows = [_row(c) for c in _run(db, lambda books: list_customers(books.engine, org))]
    _out(
        rows,
        json_out,
        lambda rs: "\n".join(
            f"{r['id']}\t{r['org_id']}\t{'active' if r['active'] else 'disabled'}\t{r['name']}" for r in rs
        ),
    )


@customer_app.command("disable")
def customer_disable(customer_id: str, db: DbOption = None, json_out: JsonOption = False) -> None:
    """Disable a customer sign-in: the token and its sessions stop working at once."""
    from quotadesk.store.customers import disable_customer

    found = _run(db, lambda books: disable_customer(books.engine, _actor(), _now(), customer_id))
    _out(_row(found), json_out, f"{customer_id}: disabled")
