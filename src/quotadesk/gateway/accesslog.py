"""Access log: one JSON line per request, written in batches, never a secret.

A line holds the request id, method, path, status, duration, the organization, the key's
redacted form (``sk-...a1b2``, as the books show it; never the secret, never a prompt), the
model, cost and tokens. Lines are buffered and written by the periodic task (every 200 ms)
so the request path does not make a system call for its log line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any


class AccessLog:
    def __init__(self, target: str) -> None:
        self._fd = sys.stderr.fileno() if target == "-" else os.open(
            target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640
        )
        self._own = target != "-"
        self._lines: list[str] = []

    def write(self, rid: str, method: str, path: str, status: int, seconds: float, fields: dict[str, Any]) -> None:
        row = {"ts": round(time.time(), 3), "request_id": rid, "method": method, "path": path,
               "status": status, "ms": round(seconds * 1000, 3)}
        row.update({k: v for k, v in fields.items() if v is not None})
        self._lines.append(json.dumps(row, separators=(",", ":")))

    def flush(self) -> None:
        if self._lines:
            lines, self._lines = self._lines, []
            os.write(self._fd, ("\n".join(lines) + "\n").encode())

    def close(self) -> None:
        self.flush()
        if self._own:
            os.close(self._fd)
