"""One demo desk for the whole console suite: ``serve --demo``'s books, served on a free port.

``load_demo`` is what ``quotadesk serve --demo`` serves (the simulated month, its tickets as
open cases, one staff member per role, a customer sign-in per organization with a ticket);
the app runs on uvicorn in a thread for the browser tests and is driven in process for the
page tests. Tests find the accounts by the root cause of their case (the demo's names change
with its seed). Tests that change the books do it on organizations they create themselves,
so the demo's accounts read the same in every test.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from console.consoleenv import Demo
from quotadesk.desk.demo import load_demo
from quotadesk.store.access import SYSTEM
from quotadesk.web.app import create_app


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    loaded = load_demo(Path(tmp_path_factory.mktemp("console-demo")), seed=1)
    rows, _ = loaded.desk.queue(SYSTEM, limit=100)
    return Demo(loaded, create_app(loaded.desk), {r["root_cause"]: r for r in rows})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def server(demo: Demo) -> Iterator[str]:
    """The demo app on a real server (uvicorn in a thread, a free loopback port)."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(demo.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the console's server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=15)
