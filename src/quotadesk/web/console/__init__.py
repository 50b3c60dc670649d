"""The web console: the support desk, the account's billing and usage pages, the customer's
own view and practice mode, rendered on the server (``views``) over the desk's library.

``install(app)`` adds the pages and the static files (one stylesheet, one small script for
the reply guard, an icon; all shipped in the package, nothing fetched from elsewhere).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from quotadesk.web.console import account_pages, customer_pages, desk_pages, practice


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(packages=[("quotadesk.web", "static")]), name="static")
    for module in (desk_pages, account_pages, customer_pages, practice):
        app.include_router(module.router)
