"""A test-only hook: stop a process at a named point so a test can kill it there with SIGKILL.

``QUOTADESK_TEST_PAUSE_AFTER=<point>`` makes ``pause_after(<point>)`` write
``quotadesk: paused after <point>`` to stderr and then sleep until the process is killed. The
crash tests (``tests/store/test_store_recovery.py``) run ``python -m quotadesk.cli books tick``
with it, wait for that line (no sleeps in the test: the line is the clock) and kill -9 the
child, which is how a real crash between two steps of the books looks. Unset (always, outside
those tests) it does nothing but read one environment variable.

Points: ``charge_pending`` (the pending payment is committed, the processor not yet called)
and ``charge_made`` (the processor charged, the result not yet written).
"""

from __future__ import annotations

import os
import sys
import time

ENV = "QUOTADESK_TEST_PAUSE_AFTER"
POINTS = ("charge_pending", "charge_made")


def pause_after(point: str) -> None:
    """Block for ever at ``point`` when ``QUOTADESK_TEST_PAUSE_AFTER`` names it; else return."""
    if os.environ.get(ENV) != point:
        return
    sys.stderr.write(f"quotadesk: paused after {point}\n")
    sys.stderr.flush()
    while True:  # pragma: no cover - ended by the test's SIGKILL
        time.sleep(60)
