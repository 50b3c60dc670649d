"""Real components for the gateway tests: a fake upstream and the gateway as subprocesses, the
books on a SQLite file or a fresh PostgreSQL schema, and the openai/anthropic SDKs as clients.

One gateway per database kind serves a test module; each test makes its own organization in
the state it needs before its first request, so the gateway's short caches never matter.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from pgdb import fresh_schema
from quotadesk.store.access import Actor, Role
from quotadesk.store.books import Books
from quotadesk.store.schema import usage_events

HERE = Path(__file__).resolve().parent
ADMIN = Actor("gateway-tests", Role.ADMIN)
FAST = {"gpt-4o-mini": {"rpm": 100_000, "tpm": 100_000_000}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes] | None = None, tries: int = 300) -> None:
    for _ in range(tries):
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} never answered")


@dataclass
class Upstream:
    url: str

    def hits(self) -> int:
        return int(httpx.get(self.url + "/hits", timeout=5).json()["count"])


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "fake_upstream.py"), str(port)], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    yield Upstream(f"http://127.0.0.1:{port}")
    proc.kill()
    proc.wait()
    proc.stdout.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('gw') / 'books.db'}"
    else:
        with fresh_schema() as url:
            yield url


@dataclass
class Gateway:
    url: str
    proc: subprocess.Popen[bytes]
    books: Books
    folder: Path
    clients: list[Any] = field(default_factory=list)

    def openai(self, secret: str, **kw: Any) -> Any:
        import openai

        client = openai.OpenAI(base_url=self.url + "/v1", api_key=secret, max_retries=0, **kw)
        self.clients.append(client)
        return client

    def anthropic(self, secret: str, **kw: Any) -> Any:
        import anthropic

        client = anthropic.Anthropic(base_url=self.url, api_key=secret, max_retries=0, **kw)
        self.clients.append(client)
        return client

    def close(self) -> None:
        for c in self.clients:
            c.close()
        self.books.close()

    def org(self, *, credit: str | None = "10.00", **kw: Any) -> str:
        kw.setdefault("rate_limits", FAST)
        org = self.books.create_org(ADMIN, datetime.now(UTC), **kw)
        if credit:
            self.books.grant_credit(ADMIN, datetime.now(UTC), org, credit, kind="goodwill")
        return org

    def key(self, org: str, **kw: Any) -> str:
        return self.books.create_key(ADMIN, datetime.now(UTC), org, **kw).secret

    def event(self, request_id: str, tries: int = 400) -> Any:
        """The usage event of a request, once the group commit has written it."""
        for _ in range(tries):
            with self.books.engine.connect() as conn:
                row = conn.execute(select(usage_events).where(usage_events.c.request_id == request_id)).first()
            if row is not None:
                return row
            time.sleep(0.025)
        raise AssertionError(f"no usage event for {request_id}")


def start_gateway(db: str, upstream: Upstream, folder: Path, *extra: str, workers: int = 1) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = {
        **os.environ,
        "QUOTADESK_GATEWAY_JOURNAL_DIR": str(folder / "journal"),
        "QUOTADESK_GATEWAY_ACCESS_LOG": str(folder / "access.log"),
        "QUOTADESK_GATEWAY_SHUTDOWN_GRACE_SECONDS": "10",
    }
    cmd = [
        sys.executable, "-m", "quotadesk.cli", "gateway", "--db", db,
        "--upstream", f"openai={upstream.url}", "--upstream", f"anthropic={upstream.url}/v1",
        "--port", str(port), "--workers", str(workers), *extra,
    ]
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"gateway-{port}.err", "wb") as err:  # a file, never a pipe nobody reads
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz", proc)
    return url, proc


def stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        children = workers_of(proc)  # before the parent dies and they are re-parented
        proc.kill()  # never leave a gateway behind, even one that hangs
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
        raise


def workers_of(proc: subprocess.Popen[bytes]) -> list[int]:
    """Forked workers of a gateway (children of its process), read from /proc."""
    out = []
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            text = status.read_text()
            if f"\nPPid:\t{proc.pid}\n" in text:
                out.append(int(status.parent.name))
    return out


@pytest.fixture(scope="module")
def gateway(db_url: str, upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    books = Books.open(db_url)
    folder = tmp_path_factory.mktemp("gwrun")
    url, proc = start_gateway(db_url, upstream, folder)
    gw = Gateway(url, proc, books, folder)
    yield gw
    stop(proc)
    gw.close()
