"""The few pages the service has before the console: sign-in, sign-out and a start page.

``/login?token=…`` (the sign-in links ``serve --demo`` prints) or a form post of a staff token
opens a console session: an HttpOnly, SameSite=Lax cookie whose value only the books' hash
matches, and a CSRF cookie the console echoes in ``X-CSRF-Token``.
"""

from __future__ import annotations

import html
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from quotadesk.desk.service import Desk
from quotadesk.store.staff import authenticate, end_session, session_member, start_session
from quotadesk.web.auth import CSRF_COOKIE, SESSION_COOKIE

router = APIRouter(include_in_schema=False)


def _desk(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    doc = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)} · quotadesk</title></head><body><main>{body}</main></body></html>"
    )
    return HTMLResponse(doc, status_code=status)


def _sign_in(request: Request, token: str) -> Response:
    desk = _desk(request)
    member = authenticate(desk.engine, token)
    if member is None:
        return _page(
            "Sign in",
            "<h1>Sign in</h1><p role='alert'>That sign-in link or token is not valid.</p>" + _FORM,
            status=401,
        )
    value = start_session(desk.engine, member, desk.now())
    response = RedirectResponse("/", status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, value, httponly=True, samesite="lax", secure=secure, path="/")
    response.set_cookie(
        CSRF_COOKIE, secrets.token_urlsafe(24), httponly=False, samesite="strict", secure=secure, path="/"
    )
    return response


_FORM = (
    "<form method='post' action='/login'><label for='token'>Staff token</label> "
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
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/")
def home(request: Request) -> Response:
    desk = _desk(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    member = session_member(desk.engine, cookie, desk.now()) if cookie else None
    if member is None:
        return _page(
            "quotadesk",
            "<h1>quotadesk</h1><p>The support desk of this platform.</p>"
            "<p><a href='/login'>Sign in</a> · <a href='/docs'>API reference</a></p>",
        )
    rows, _ = desk.queue(member.actor, limit=100, newest_first=True)
    items = "".join(
        f"<tr><td>{html.escape(r['id'])}</td><td>{html.escape(r['status'])}</td><td>{html.escape(r['team'])}</td>"
        f"<td>{html.escape(str(r['incident']))}</td><td>{html.escape(str(r['root_cause']))}</td>"
        f"<td>{html.escape(r['subject'])}</td></tr>"
        for r in rows
    )
    body = (
        f"<h1>quotadesk</h1><p>Signed in as {html.escape(member.name)} ({member.role.value}) · "
        "<a href='/logout'>Sign out</a> · <a href='/docs'>API reference</a></p>"
        "<table><caption>Cases, newest first</caption><thead><tr><th scope='col'>Case</th>"
        "<th scope='col'>Status</th><th scope='col'>Team</th><th scope='col'>Incident</th>"
        "<th scope='col'>Root cause</th><th scope='col'>Subject</th></tr></thead>"
        f"<tbody>{items}</tbody></table>"
    )
    return _page("Desk", body)
