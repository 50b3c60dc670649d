"""Rate windows: requests and tokens per organization and model over a sliding minute, in memory.

``decide`` takes the counts (``requests_in_last_minute``, ``tokens_in_last_minute``); this
module only counts. Each admitted request adds an entry with its estimated tokens; when it
settles the entry is corrected to the tokens the upstream reported, so TPM reflects real usage.

Across processes (several workers, several hosts) the counts are shared through Redis when
``gateway_redis_url`` is set: every process adds its own per-second totals to Redis
(``INCRBY`` on a key per org, model and second, expiring after two minutes) every
``SYNC_S`` and reads back the others' totals for the minute. The hot path never waits on
Redis: it reads the last synced totals of the other processes plus its own exact window.
A burst across processes can therefore overshoot by what the others admitted in the last
``SYNC_S`` (documented in docs/gateway.md); without Redis each process counts alone.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict, deque
from typing import Any

from quotadesk.billing.policy import RATE_WINDOW_S

SYNC_S = 0.1


class Window:
    """One org and model: entries ``[t, tokens]`` of the last minute, with running sums."""

    __slots__ = ("entries", "requests", "tokens")

    def __init__(self) -> None:
        self.entries: deque[list[float]] = deque()
        self.requests = 0
        self.tokens = 0

    def prune(self, now: float) -> None:
        edge = now - RATE_WINDOW_S
        entries = self.entries
        while entries and entries[0][0] <= edge:
            _, toks = entries.popleft()
            self.requests -= 1
            self.tokens -= int(toks)


class RateWindows:
    """Every window of this process, plus the other processes' shared counts (if Redis)."""

    def __init__(self, redis_url: str = "", holder: str = "") -> None:
        self._windows: dict[tuple[str, str], Window] = defaultdict(Window)
        self._shared: dict[tuple[str, str], tuple[int, int]] = {}
        self._pending: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0])
        self._lock = threading.Lock()
        self._holder = holder
        self._redis: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url, socket_timeout=1.0)
            self._redis.ping()
            self._thread = threading.Thread(target=self._sync_loop, name="quotadesk-rates", daemon=True)
            self._thread.start()

    @property
    def shared(self) -> bool:
        return self._redis is not None

    def counts(self, org_id: str, model: str, now: float) -> tuple[int, int]:
        """Requests and tokens in the minute before ``now`` (this process's, plus the others')."""
        key = (org_id, model)
        w = self._windows[key]
        w.prune(now)
        other = self._shared.get(key)
        if other is None and self._redis is not None:
            other = self._fetch(key, now)  # first request of this org and model here: one read
        if other is None:
            return w.requests, w.tokens
        return w.requests + other[0], w.tokens + other[1]

    def add(self, org_id: str, model: str, now: float, tokens: int) -> list[float]:
        """Count an admitted request; returns its entry (to correct with ``adjust``)."""
        w = self._windows[(org_id, model)]
        entry = [now, float(tokens)]
        w.entries.append(entry)
        w.requests += 1
        w.tokens += tokens
        if self._redis is not None:
            with self._lock:
                p = self._pending[(org_id, model, int(now))]
                p[0] += 1
                p[1] += tokens
        return entry

    def adjust(self, org_id: str, model: str, entry: list[float], tokens: int) -> None:
        """The request settled with ``tokens``: correct its entry (if still in the window)."""
        w = self._windows.get((org_id, model))
        if w is None or not w.entries or entry[0] < w.entries[0][0]:
            return
        delta = tokens - int(entry[1])
        entry[1] = float(tokens)
        w.tokens += delta
        if self._redis is not None and delta:
            with self._lock:
                self._pending[(org_id, model, int(entry[0]))][1] += delta

    # ------------------------------------------------------------------ Redis

    def _sync_loop(self) -> None:
        while not self._stop.wait(SYNC_S):
            with contextlib.suppress(Exception):
                self.sync()

    def sync(self) -> None:
        """Push this process's new counts, pull everyone's minute totals (minus ours)."""
        with self._lock:
            pending, self._pending = self._pending, defaultdict(lambda: [0, 0])
        r = self._redis
        pipe = r.pipeline(transaction=False)
        for (org, model, sec), (reqs, toks) in pending.items():
            key = f"qd:rate:{org}:{model}:{sec}"
            pipe.hincrby(key, "r", reqs)
            pipe.hincrby(key, "t", toks)
            pipe.expire(key, RATE_WINDOW_S * 2)
        if pending:
            pipe.execute()
        now = int(time.time())
        keys = list(self._windows)
        if not keys:
            return
        pipe = r.pipeline(transaction=False)
        for org, model in keys:
            for sec in range(now - RATE_WINDOW_S + 1, now + 1):
                pipe.hmget(f"qd:rate:{org}:{model}:{sec}", "r", "t")
        values = pipe.execute()
        shared: dict[tuple[str, str], tuple[int, int]] = {}
        for i, (org, model) in enumerate(keys):
            rows = values[i * RATE_WINDOW_S : (i + 1) * RATE_WINDOW_S]
            reqs = sum(int(a or 0) for a, _ in rows)
            toks = sum(int(b or 0) for _, b in rows)
            w = self._windows[(org, model)]
            # Redis totals include this process's synced entries; the rest is the others'.
            shared[(org, model)] = (max(0, reqs - w.requests), max(0, toks - w.tokens))
        self._shared = shared

    def _fetch(self, key: tuple[str, str], now: float) -> tuple[int, int] | None:
        org, model = key
        pipe = self._redis.pipeline(transaction=False)
        sec = int(now)
        for s in range(sec - RATE_WINDOW_S + 1, sec + 1):
            pipe.hmget(f"qd:rate:{org}:{model}:{s}", "r", "t")
        try:
            rows = pipe.execute()
        except Exception:
            return None
        other = (sum(int(a or 0) for a, _ in rows), sum(int(b or 0) for _, b in rows))
        self._shared[key] = other
        return other

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        if self._redis is not None:
            with contextlib.suppress(Exception):
                self.sync()
                self._redis.close()
