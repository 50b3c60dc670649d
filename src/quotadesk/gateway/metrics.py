"""Prometheus text for ``GET /metrics``: plain counters in memory, one process's view.

Counters are dict increments on the hot path (no client library, no locks: the loop thread is
the only writer). With several workers each answers for itself (label ``pid``); scrape each,
or sum in the query.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.refusals: dict[str, int] = defaultdict(int)
        self.latency: dict[str, list[int]] = {}
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.latency_count: dict[str, int] = defaultdict(int)
        self.gauges: dict[str, Callable[[], float]] = {}

    def request(self, endpoint: str, status: int) -> None:
        self.requests[(endpoint, status)] += 1

    def refusal(self, rule: str) -> None:
        self.refusals[rule] += 1

    def upstream(self, endpoint: str, seconds: float) -> None:
        counts = self.latency.get(endpoint)
        if counts is None:
            counts = self.latency[endpoint] = [0] * len(BUCKETS)
        for i, edge in enumerate(BUCKETS):
            if seconds <= edge:
                counts[i] += 1
                break
        self.latency_sum[endpoint] += seconds
        self.latency_count[endpoint] += 1

    def render(self) -> bytes:
        pid = os.getpid()
        out = [
            "# HELP quotadesk_gateway_requests_total Requests answered, by endpoint and status.",
            "# TYPE quotadesk_gateway_requests_total counter",
        ]
        for (endpoint, status), n in sorted(self.requests.items()):
            out.append(f'quotadesk_gateway_requests_total{{pid="{pid}",endpoint="{endpoint}",status="{status}"}} {n}')
        out += [
            "# HELP quotadesk_gateway_refusals_total Requests refused by the rulebook, by rule.",
            "# TYPE quotadesk_gateway_refusals_total counter",
        ]
        for rule, n in sorted(self.refusals.items()):
            out.append(f'quotadesk_gateway_refusals_total{{pid="{pid}",rule="{rule}"}} {n}')
        out += [
            "# HELP quotadesk_gateway_upstream_seconds Time from sending upstream to the end of its answer.",
            "# TYPE quotadesk_gateway_upstream_seconds histogram",
        ]
        for endpoint, counts in sorted(self.latency.items()):
            running = 0
            for edge, n in zip(BUCKETS, counts, strict=True):
                running += n
                out.append(
                    f'quotadesk_gateway_upstream_seconds_bucket{{pid="{pid}",endpoint="{endpoint}",le="{edge}"}} {running}'
                )
            total = self.latency_count[endpoint]
            out.append(f'quotadesk_gateway_upstream_seconds_bucket{{pid="{pid}",endpoint="{endpoint}",le="+Inf"}} {total}')
            out.append(f'quotadesk_gateway_upstream_seconds_sum{{pid="{pid}",endpoint="{endpoint}"}} {self.latency_sum[endpoint]:.6f}')
            out.append(f'quotadesk_gateway_upstream_seconds_count{{pid="{pid}",endpoint="{endpoint}"}} {total}')
        for name, fn in sorted(self.gauges.items()):
            out += [f"# TYPE quotadesk_gateway_{name} gauge", f'quotadesk_gateway_{name}{{pid="{pid}"}} {fn():g}']
        return ("\n".join(out) + "\n").encode()
