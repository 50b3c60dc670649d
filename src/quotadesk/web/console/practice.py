"""Practice mode in the browser: ``quotadesk practice`` for people learning support work.

A deal is ``sim.desk.deal`` (a simulated account played through its own books, with its ticket
and the ground truth), shown as ``sim.desk.account_view`` shows it: the ticket and the
account, never the answer. The trainee picks the incident, the root cause and the route and
drafts a reply; the answer page grades it (``sim.desk.grade``), shows the runbook's answer
(the triage engine on the same bundle) and the safety guard's verdict on the draft
(``desk.replies.verdict``). A deal is fixed by its seed, so the address of a round is
enough to come back to it; dealt rounds are kept in memory (a few) to answer quickly.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from quotadesk.errors import InputError
from quotadesk.web.console.views import ConsoleRoute, check_csrf, render, require_staff

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
KEPT = 8
MAX_SEED = 10**9


@dataclass(frozen=True, slots=True)
class Round:
    seed: int
    case: Any  # sim.world.Case
    view: dict[str, Any]
    answer: dict[str, Any]  # the triage result on the same bundle


_rounds: OrderedDict[int, Round] = OrderedDict()
_lock = threading.Lock()


def dealt(seed: int) -> Round:
    """The practice round of ``seed`` (dealt once, then kept while it is among the last few)."""
    if not 0 < seed < MAX_SEED:
        raise InputError(f"expected a seed from 1 to {MAX_SEED - 1}", "seed")
    with _lock:
        if seed in _rounds:
            _rounds.move_to_end(seed)
            return _rounds[seed]
    from quotadesk.sim.desk import account_view, deal
    from quotadesk.store.books import Books
    from quotadesk.triage.bundle import parse
    from quotadesk.triage.engine import triage_bundle

    with tempfile.TemporaryDirectory(prefix="quotadesk-practice-") as tmp:
        books = Books.open(f"sqlite:///{Path(tmp) / 'books.db'}")
        try:
            case = deal(seed, 1, books)[0]
        finally:
            books.close()
    assert case.bundle is not None
    made = Round(seed, case, account_view(case.bundle), triage_bundle(parse(case.bundle)))
    with _lock:
        _rounds[seed] = made
        while len(_rounds) > KEPT:
            _rounds.popitem(last=False)
    return made


def _choices() -> dict[str, Any]:
    from quotadesk.sim.desk import INCIDENT_ROOTS, ROUTES

    return {"incident_roots": INCIDENT_ROOTS, "routes": ROUTES}


@router.get("/practice")
def practice(request: Request, seed: Annotated[int | None, Query(ge=1, lt=MAX_SEED)] = None) -> Response:
    member = require_staff(request)
    if seed is None:
        return RedirectResponse(f"/practice?seed={secrets.randbelow(MAX_SEED - 1) + 1}", status_code=303)
    rnd = dealt(seed)
    return render(request, "practice.html", staff=member, rnd=rnd, graded=None, **_choices())


@router.post("/practice")
def answer(
    request: Request,
    seed: Annotated[int, Form(ge=1, lt=MAX_SEED)],
    incident: Annotated[str, Form(max_length=64)],
    root_cause: Annotated[str, Form(max_length=64)],
    route: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form(max_length=200)],
    reply: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    from quotadesk.desk.replies import verdict
    from quotadesk.sim.desk import grade

    member = require_staff(request)
    check_csrf(request, csrf)
    rnd = dealt(seed)
    points = grade((incident, root_cause, route), rnd.case)
    truth = rnd.case.truth
    graded = {
        "incident": incident,
        "root_cause": root_cause,
        "route": route,
        "points": points,
        "truth": {"incident": truth.incident, "root_cause": truth.root_cause, "route": truth.route},
        "reply": reply,
        "verdict": verdict(reply, key_exposed=bool(truth.key_exposed)) if reply.strip() else None,
    }
    return render(request, "practice.html", staff=member, rnd=rnd, graded=graded, **_choices())
