"""schemathesis over the whole desk API (its own OpenAPI document): no 5xx, and every answer is one
the document declares, with the declared shape. Runs as an administrator so the calls reach the
books rather than stopping at 401, on books that hold an org with a key, flags and a case.

CI runs a small budget; ``QUOTADESK_FUZZ_EXAMPLES`` raises it (docs/desk.md).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from datetime import timedelta
from typing import Any

import schemathesis
from deskenv import NOW, Env, make_env
from hypothesis import HealthCheck, settings
from schemathesis import checks

from quotadesk.store.access import SYSTEM

EXAMPLES = int(os.environ.get("QUOTADESK_FUZZ_EXAMPLES", "12"))


def _books_with_data() -> Env:
    """Module-level books (schemathesis builds its tests when the module is collected)."""
    folder = tempfile.mkdtemp(prefix="quotadesk-fuzz-")
    atexit.register(shutil.rmtree, folder, True)
    ctx = make_env(f"sqlite:///{folder}/books.db")
    e = ctx.__enter__()
    atexit.register(ctx.__exit__, None, None, None)
    org = e.books.create_org(SYSTEM, NOW - timedelta(days=30), name="Fuzz", org_id="org_fuzz")
    e.books.create_key(SYSTEM, NOW, org, name="prod")
    e.books.raise_flag(SYSTEM, NOW, org, "fraud", reason="fuzz")
    e.desk.open_case(SYSTEM, {"body": "My API calls fail with 402"}, org_id=org)
    return e


ENV = _books_with_data()
schema = schemathesis.openapi.from_asgi("/openapi.json", ENV.client.app)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_5xx_and_answers_match_the_document(case: Any) -> None:
    case.call_and_validate(
        headers=ENV.h("admin"),
        checks=[
            checks.not_a_server_error,
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_schema_conformance,
        ],
    )
