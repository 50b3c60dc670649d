"""``quotadesk serve`` as a real server on a free port: SQLite, PostgreSQL with two workers, the demo.

Each server is a subprocess started by the CLI a person would type, waited for on ``/healthz``,
driven over HTTP and stopped with SIGTERM (it must exit cleanly).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from pgdb import fresh_schema

QD = [sys.executable, "-m", "quotadesk.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(
    args: list[str], env: dict[str, str] | None = None, ready_s: float = 90
) -> Iterator[tuple[str, Any]]:
    port = _free_port()
    proc = subprocess.Popen(
        [*QD, "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_s
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).json() == {"status": "ok"}:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("server not ready in time")
            time.sleep(0.2)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.output = proc.stdout.read()  # type: ignore[attr-defined]
            proc.stdout.close()


def stopped_cleanly(proc: Any) -> bool:
    """Exited on SIGTERM by itself (uvicorn re-raises the signal once it has shut down), no traceback."""
    return proc.returncode in (0, -signal.SIGTERM) and "Traceback" not in getattr(proc, "output", "")


def _staff(url: str, role: str) -> str:
    out = subprocess.run(
        [*QD, "staff", "add", f"{role} one", "--role", role, "--db", url, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout)
    assert set(data) >= {"id", "token"}
    return str(data["token"])


def _drive(base: str, admin: str, support: str) -> None:
    a = {"Authorization": f"Bearer {admin}"}
    s = {"Authorization": f"Bearer {support}"}
    org = httpx.post(f"{base}/api/v1/orgs", json={"name": "Acme", "billing_mode": "prepaid"}, headers=a)
    assert org.status_code == 201, org.text
    oid = org.json()["id"]
    key = httpx.post(f"{base}/api/v1/orgs/{oid}/keys", json={"name": "prod"}, headers=a)
    assert key.status_code == 201 and key.json()["secret"].startswith("sk-")
    assert (
        httpx.post(f"{base}/api/v1/orgs/{oid}/grants", json={"amount": "25.00"}, headers=s).status_code == 403
    )
    assert (
        httpx.post(f"{base}/api/v1/orgs/{oid}/grants", json={"amount": "25.00"}, headers=a).status_code == 201
    )
    case = httpx.post(
        f"{base}/api/v1/cases",
        json={"ticket": {"body": "402 errors since 9am"}, "org_id": oid},
        headers=s,
        timeout=30,
    )
    assert case.status_code == 201, case.text
    got = httpx.get(f"{base}/api/v1/cases/{case.json()['id']}", headers=s).json()
    assert got["org_id"] == oid and got["triage"]["incident"]
    assert httpx.get(f"{base}/openapi.json").json()["info"]["title"] == "quotadesk desk"
    timeline = httpx.get(f"{base}/api/v1/orgs/{oid}/timeline", headers=s).json()
    assert [e["kind"] for e in timeline][:3] == ["account_created", "key_created", "grant_added"]


def test_serve_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/books.db"
    subprocess.run([*QD, "init", "--db", url], check=True, capture_output=True)
    admin, support = _staff(url, "admin"), _staff(url, "support")
    with server(["--db", url, "--usage-dir", str(tmp_path / "usage")]) as (base, proc):
        _drive(base, admin, support)
    assert stopped_cleanly(proc)


def test_serve_on_postgresql_with_two_workers() -> None:
    with fresh_schema() as url:
        subprocess.run([*QD, "init", "--db", url], check=True, capture_output=True)
        admin, support = _staff(url, "admin"), _staff(url, "support")
        with server(["--db", url, "--workers", "2"]) as (base, proc):
            _drive(base, admin, support)
            # both workers answer from the same books
            orgs = {
                tuple(
                    o["id"]
                    for o in httpx.get(
                        f"{base}/api/v1/orgs", headers={"Authorization": f"Bearer {admin}"}
                    ).json()
                )
                for _ in range(8)
            }
            assert len(orgs) == 1
        assert stopped_cleanly(proc)


@pytest.mark.slow
def test_serve_demo_prints_a_sign_in_link_per_role_that_works() -> None:
    with server(["--demo"], ready_s=150) as (base, proc):
        assert proc.stdout is not None
        links: dict[str, str] = {}
        while len(links) < 6:
            line = proc.stdout.readline()
            m = re.search(r"sign in as (\w+)\s+(http://\S+/login\?token=(\S+))", line)
            if m:
                links[m.group(1)] = m.group(2)
        assert set(links) == {"support", "billing_team", "trust_and_safety", "finance", "security", "admin"}
        with httpx.Client(base_url=base) as browser:
            r = browser.get(links["support"].removeprefix(base), follow_redirects=True)
            assert r.status_code == 200 and "Signed in as Sam Support" in r.text
            assert browser.cookies.get("qd_session")
            cases = browser.get("/api/v1/cases").json()
            assert len(cases) == 9
            assert {c["incident"] for c in cases} >= {
                "payment_failure",
                "spending_limit",
                "account_suspension",
            }
            # a cookie session cannot change anything without the CSRF header
            r = browser.post(f"/api/v1/cases/{cases[0]['id']}/notes", json={"text": "hi"})
            assert r.status_code == 403
            r = browser.post(
                f"/api/v1/cases/{cases[0]['id']}/notes",
                json={"text": "hi"},
                headers={"X-CSRF-Token": browser.cookies["qd_csrf"]},
            )
            assert r.status_code == 201
