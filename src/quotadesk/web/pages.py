"""Sign-in and sign-out of the console (its pages are ``web.console``).

``/login?token=…`` (the sign-in links ``serve --demo`` prints) or a form post of a token opens
a console session: an HttpOnly, SameSite=Lax cookie whose value only the books' hash matches,
and a CSRF cookie the console echoes in ``X-CSRF-Token`` and in its forms. A staff token opens
a staff session (``qd_session``); a customer's token (``qdc_…``, ``store.customers``) opens a
customer session under its own cookie (``qd_customer``), which no staff page or API call takes.
"""

from __future__ import annotations

import html
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from quotadesk.desk.service import Desk
from quotadesk.store.customers import TOKEN_PREFIX as CUSTOMER_PREFIX
from quotadesk.store.customers import authenticate_customer, end_customer_session, start_customer_session
from quotadesk.store.staff import authenticate, end_session, start_session
from quotadesk.web.auth import CSRF_COOKIE, CUSTOMER_COOKIE, SESSION_COOKIE

router = APIRouter(include_in_schema=False)


def _desk(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    doc = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)} · quotadesk</title><link rel='stylesheet' href='/static/console.css'>"
        "<link rel='icon' href='/static/favicon.svg' type='image/svg+xml'></head><body>"
        "<header class='top'><a class='brand' href='/'>quotadesk</a></header>"
        f"<main id='main' class='narrow'>{body}</main></body></html>"
    )
    return HTMLResponse(doc, status_code=status)


def _sign_in(request: Request, token: str) -> Response:
    desk = _desk(request)
    if token.startswith(CUSTOMER_PREFIX):
        return _customer_sign_in(request, token)
    member = authenticate(desk.engine, token)
    if member is None:
        return _not_valid()
    value = start_session(desk.engine, member, desk.now())
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(CUSTOMER_COOKIE, path="/")
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, value, httponly=True, samesite="lax", secure=secure, path="/")
    response.set_cookie(
        CSRF_COOKIE, secrets.token_urlsafe(24), httponly=False, samesite="strict", secure=secure, path="/"
    )
    return response


def _not_valid() -> HTMLResponse:
    return _page(
        "Sign in",
        "<h1>Sign in</h1><p role='alert'>That sign-in link or token is not valid.</p>" + _FORM,
        status=401,
    )


def _customer_sign_in(request: Request, token: str) -> Response:
    desk = _desk(request)
    customer = authenticate_customer(desk.engine, token)
    if customer is None:
        return _not_valid()
    value = start_customer_session(desk.engine, customer, desk.now())
    response = RedirectResponse("/my", status_code=303)
    secure = request.url.scheme == "https"
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.set_cookie(CUSTOMER_COOKIE, value, httponly=True, samesite="lax", secure=secure, path="/")
    return response


_FORM = (
    "<form method='post' action='/login'><label for='token'>Staff token or customer sign-in token</label> "
    "<input id='token' name='token' type='password' autocomplete='off' required> "
    "<button type='submit'>Sign in</button></form>"
)


@router.get("/login")
def login_get(request: Request, token: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    if token:
        return _sign_in(request, token)
    return _page("Sign in", "<h1>Sign in</h1>" + _FORM)


@router.post("/login")
def login_post(request: Request, token: Annotated[str, Form(max_length=200)]) -> Response:
    return _sign_in(request, token)


@router.post("/logout")
@router.get("/logout")
def logout(request: Request) -> Response:
    desk = _desk(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        end_session(desk.engine, cookie, desk.now())
    customer = request.cookies.get(CUSTOMER_COOKIE)
    if customer:
        end_customer_session(desk.engine, customer, desk.now())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CUSTOMER_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response
