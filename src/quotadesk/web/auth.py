"""Who is calling: a staff token (``Authorization: Bearer``) or a console session cookie.

No credential, or one the books do not know: 401. A cookie session may change state only with
the double-submit header ``X-CSRF-Token`` equal to its ``qd_csrf`` cookie, so another site
cannot make a signed-in browser act; a bearer token is not sent by browsers on their own and
needs no such check. What a caller may then do is the role check of ``store.access``.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from quotadesk.store.staff import StaffMember, authenticate, session_member

SESSION_COOKIE = "qd_session"
CUSTOMER_COOKIE = "qd_customer"  # a customer's console session (store.customers): never accepted here
CSRF_COOKIE = "qd_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer realm="quotadesk"'})


def current_member(request: Request) -> StaffMember:
    """The signed-in staff member, or 401."""
    desk = request.app.state.desk
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("expected 'Authorization: Bearer <staff token>'")
        member = authenticate(desk.engine, token.strip())
        if member is None:
            raise _unauthorized("unknown or disabled staff token")
        return member
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        member = session_member(desk.engine, cookie, desk.now())
        if member is None:
            raise _unauthorized("the console session has ended: sign in again")
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            expected = request.cookies.get(CSRF_COOKIE, "")
            if not expected or not hmac.compare_digest(sent, expected):
                raise HTTPException(403, "a console session needs the X-CSRF-Token header to change anything")
        return member
    raise _unauthorized("sign in: send 'Authorization: Bearer <staff token>'")


Member = Annotated[StaffMember, Depends(current_member)]
