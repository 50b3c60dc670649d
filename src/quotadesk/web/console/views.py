"""What every console page shares: the templates, who is signed in, forms' CSRF, error pages.

Pages are rendered on the server with Jinja2 (autoescaping on; the templates ship inside
the package under ``web/templates``), so the console works without script, offline, and
every figure on a page is the library's. Two kinds of people sign in: staff (the
``qd_session`` cookie of ``web.pages``) and customers (``qd_customer``, see
``store.customers``); a staff page never accepts a customer's cookie and a customer page
never accepts a staff one.

A form post must carry the ``qd_csrf`` cookie's value in its ``csrf`` field (the same
double-submit rule the API applies to ``X-CSRF-Token``), so another site cannot make a
signed-in browser act. A refusal of the library (a role that may not, a checklist step
still missing, a reply the guard cuts) is shown on the page with its 4xx status.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from datetime import datetime
from functools import lru_cache
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, Undefined, select_autoescape

from quotadesk import __version__
from quotadesk.desk.billing import team_label
from quotadesk.desk.service import Desk
from quotadesk.errors import QuotadeskError
from quotadesk.money import fmt
from quotadesk.store.access import PERMISSIONS, Role, allowed, who_may
from quotadesk.store.customers import Customer, customer_session
from quotadesk.store.staff import StaffMember, session_member
from quotadesk.web.auth import CSRF_COOKIE, CUSTOMER_COOKIE, SESSION_COOKIE


def desk_of(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def _ts(value: Any, pattern: str = "%Y-%m-%d %H:%M UTC") -> str:
    if not value:  # None, "" or a missing field (jinja's Undefined)
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    return str(value.strftime(pattern))


def _money(value: Any) -> str:
    return "" if value is None or isinstance(value, Undefined) else fmt(int(value))


def _words(value: Any) -> str:
    return str(value or "").replace("_", " ")


@lru_cache(maxsize=1)
def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("quotadesk.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=_money, ts=_ts, words=_words, team=team_label)
    env.globals.update(version=__version__, who_may=who_may, allowed=allowed)
    return env


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    desk = desk_of(request)
    context.setdefault("staff", None)
    context.setdefault("customer", None)
    context.setdefault("error", None)
    context["now"] = desk.now()
    context["csrf"] = request.cookies.get(CSRF_COOKIE, "")
    context["path"] = request.url.path
    html = templates().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status)


class Redirect(Exception):
    """Leave the page for ``to`` (a sign-in, a customer sent to their own pages)."""

    def __init__(self, to: str) -> None:
        self.to = to
        super().__init__(to)


class Refused(Exception):
    """A page this person may not open: rendered as an HTML error with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def signed_in_staff(request: Request) -> StaffMember | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    desk = desk_of(request)
    return session_member(desk.engine, cookie, desk.now())


def signed_in_customer(request: Request) -> Customer | None:
    cookie = request.cookies.get(CUSTOMER_COOKIE)
    if not cookie:
        return None
    desk = desk_of(request)
    return customer_session(desk.engine, cookie, desk.now())


def require_staff(request: Request) -> StaffMember:
    member = signed_in_staff(request)
    if member is not None:
        return member
    if signed_in_customer(request) is not None:
        raise Refused(403, "This page is for the platform's staff. Your own pages are under “Your account”.")
    raise Redirect("/login")


def require_customer(request: Request) -> Customer:
    customer = signed_in_customer(request)
    if customer is not None:
        return customer
    if signed_in_staff(request) is not None:
        raise Redirect("/")
    raise Redirect("/login")


def check_csrf(request: Request, sent: str) -> None:
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(sent or "", expected):
        raise Refused(403, "This form has expired or came from another site: reload the page and try again.")


def role_rules(role: Role) -> list[tuple[str, bool, str]]:
    """Every action of the one permission table: whether ``role`` may, and who may."""
    return [
        (action, role in roles, ", ".join(team_label(r) for r in who_may(action)))
        for action, roles in PERMISSIONS.items()
        if Role.SYSTEM not in roles or len(roles) > 1
    ]


def error_page(request: Request, status: int, message: str, field: str | None = None) -> HTMLResponse:
    who = signed_in_staff(request)
    return render(
        request,
        "error.html",
        status,
        staff=who,
        customer=None if who else signed_in_customer(request),
        code=status,
        message=message,
        field=field,
    )


class ConsoleRoute(APIRoute):
    """A console route: a library refusal or bad input becomes an HTML page, not the API's JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Redirect as exc:
                return RedirectResponse(exc.to, status_code=303)
            except Refused as exc:
                return error_page(request, exc.status, exc.message)
            except QuotadeskError as exc:
                return error_page(request, exc.http_status, exc.message, exc.field)
            except RequestValidationError as exc:
                first = (exc.errors() or [{}])[0]
                where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body", "path"))
                return error_page(request, 400, str(first.get("msg", "invalid input")), where or None)

        return route
