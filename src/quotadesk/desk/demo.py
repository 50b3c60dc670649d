"""The demo desk: fresh books with the simulated month, its tickets as open cases, one member per role.

The month is ``quotadesk demo``'s (``sim.desk.stage_demo`` and ``play``). Each ticket becomes a
case triaged on the bundle the world captured when the ticket arrived, the way a live desk
would have seen it then; the status page the desk reads afterwards is the world's page at the
end of the month. The desk's clock starts at the end of the month and runs at the real pace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from quotadesk.desk.clock import OffsetClock
from quotadesk.desk.service import Desk
from quotadesk.desk.statuspage import StatusSource
from quotadesk.store.access import STAFF_ROLES, SYSTEM, Actor, Role
from quotadesk.store.customers import add_customer
from quotadesk.store.staff import add_staff

DEMO_STAFF = {
    Role.SUPPORT: "Sam Support",
    Role.BILLING_TEAM: "Bea Billing",
    Role.TRUST_AND_SAFETY: "Tess Trust",
    Role.FINANCE: "Fran Finance",
    Role.SECURITY: "Sid Security",
    Role.ADMIN: "Ada Admin",
}
INTAKE = Actor("help desk intake", Role.SYSTEM)


@dataclass(frozen=True, slots=True)
class DemoDesk:
    """The desk, a staff token per role (demo books only), and what was loaded."""

    desk: Desk
    tokens: dict[str, str]
    cases: int
    organizations: int
    start: str
    end: str
    customer_tokens: dict[str, str] = field(default_factory=dict)
    """A customer sign-in per organization with a ticket (org id → token), for the customer's view."""


def load_demo(folder: Path, seed: int = 1) -> DemoDesk:
    from quotadesk.sim.desk import empty_books, play, stage_demo

    books = empty_books(f"sqlite:///{folder / 'books.db'}")
    world = stage_demo(books, seed)
    play(world)
    status_file = folder / "status.json"
    status_file.write_text(json.dumps(world.status_page(world.end)), encoding="utf-8")
    desk = Desk(books, clock=OffsetClock(world.end), status=StatusSource(str(status_file)))
    opened = 0
    for case in sorted((c for c in world.cases if c.bundle is not None), key=lambda c: c.received_at):
        assert case.bundle is not None
        desk.open_case(
            INTAKE,
            case.bundle["ticket"],
            org_id=case.org_id,
            provider=case.provider,
            now=case.as_of,
            bundle=case.bundle,
        )
        opened += 1
    tokens = {}
    for role in STAFF_ROLES:
        tokens[role.value] = add_staff(books.engine, SYSTEM, world.end, DEMO_STAFF[role], role).token
    customers = {}
    for org_id in sorted({c.org_id for c in world.cases if c.bundle is not None and c.org_id}):
        customers[org_id] = add_customer(books.engine, SYSTEM, world.end, org_id, f"owner of {org_id}").token
    return DemoDesk(
        desk=desk,
        tokens=tokens,
        cases=opened,
        organizations=len(world.orgs),
        start=f"{world.daily_from:%Y-%m-%d}",
        end=f"{world.end:%Y-%m-%d %H:%M} UTC",
        customer_tokens=customers,
    )
