"""Benchmark: load and analyse a 1,000,000-row Parquet usage file end to end.

Usage: python bench/usage_load.py [--rows N] [--file PATH] [--repeat R]

Writes a seeded, realistic records file (61 days, four keys, five models, office-hours
and round-the-clock traffic, a runaway loop and a model swap injected, 10% of rows
without a cost so the price table is exercised), then measures in this one run:

- floor: DuckDB alone, ``SUM(cost) GROUP BY key_id, model, day`` over the same file
  (what any analysis must at least pay: one scan of the columns); also ``COUNT(*)``;
- load: ``load_usage`` (validate every row, cost the rows without one, keep it in DuckDB);
- analyse: ``analyse`` (all detectors, totals, decomposition);
- end to end: a fresh Python process that imports quotadesk, loads and analyses (what a
  ``quotadesk triage`` of a bundle with this file pays), best of ``--repeat``.

Prints each figure and its ratio to the floor. Target: end to end well under 3 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AS_OF = "2026-11-03T10:00:00+00:00"


def generate(path: Path, rows: int, seed: int = 7) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    start = np.datetime64("2026-09-01T00:00:00", "s").astype("int64")
    span = 61 * 86400
    # Office-hours traffic on two keys, round-the-clock on a third, a loop on a fourth.
    n_loop = rows // 50
    n_main = rows - n_loop
    secs = rng.integers(0, span, n_main)
    hour = (secs // 3600) % 24
    weekday = ((secs // 86400) + 1) % 7 < 5  # 2026-09-01 is a Tuesday
    office = (hour >= 8) & (hour < 19) & weekday
    keys = np.where(
        rng.random(n_main) < 0.3,
        "key_batch",
        np.where(office | (rng.random(n_main) < 0.15), "key_prod", "key_cron"),
    )
    swap_at = np.datetime64("2026-10-12T00:00:00", "s").astype("int64") - start
    models = np.where(
        secs >= swap_at,
        rng.choice(np.array(["claude-sonnet", "gpt-4o"]), n_main, p=[0.8, 0.2]),
        rng.choice(np.array(["claude-haiku", "gpt-4o-mini", "gpt-4o"]), n_main, p=[0.6, 0.2, 0.2]),
    )
    loop_start = np.datetime64("2026-10-20T01:00:00", "s").astype("int64") - start
    loop_secs = loop_start + rng.integers(0, 4 * 3600, n_loop)
    ts = np.concatenate([secs, loop_secs]) + start
    order = np.argsort(ts, kind="stable")
    key_id = np.concatenate([keys, np.full(n_loop, "key_worker")])[order]
    model = np.concatenate([models, np.full(n_loop, "gpt-4o")])[order]
    ts = ts[order]
    inp = rng.integers(200, 4000, rows)
    out = rng.integers(20, 900, rows)
    cached = np.where(rng.random(rows) < 0.2, rng.integers(0, 2000, rows), 0)
    status = np.where(rng.random(rows) < 0.02, 429, 200)
    per_mtok = {
        "gpt-4o-mini": (150, 600, 75),
        "gpt-4o": (2500, 10000, 1250),
        "claude-haiku": (800, 4000, 80),
        "claude-sonnet": (3000, 15000, 300),
    }  # nano-dollars per token × 1000
    rate = np.array([per_mtok[m] for m in model.tolist()], dtype=np.int64)
    nanos = (inp * rate[:, 0] + out * rate[:, 1] + cached * rate[:, 2]) // 1000
    nanos = np.where(status >= 400, 0, nanos)
    cost = [f"{n // 1_000_000_000}.{n % 1_000_000_000:09d}" for n in nanos.tolist()]
    missing = rng.random(rows) < 0.1
    cost = [None if m else c for m, c in zip(missing.tolist(), cost, strict=True)]
    table = pa.table(
        {
            "ts": pa.array(ts * 1_000_000, type=pa.timestamp("us", tz="UTC")),
            "request_id": pa.array([f"req_{i:08d}" for i in range(rows)]),
            "key_id": pa.array(key_id),
            "model": pa.array(model),
            "input_tokens": pa.array(inp),
            "output_tokens": pa.array(out),
            "cached_tokens": pa.array(cached),
            "requests": pa.array(np.ones(rows, dtype=np.int64)),
            "status": pa.array(status),
            "cost": pa.array(cost, type=pa.string()),
            "fingerprint": pa.array([f"{x:016x}" for x in rng.integers(0, 2**62, rows).tolist()]),
            "ip": pa.array(np.where(key_id == "key_worker", "198.51.100.4", "203.0.113.10")),
        }
    )
    pq.write_table(table, path, row_group_size=256 * 1024)


def floor(path: Path) -> tuple[float, float]:
    import duckdb

    con = duckdb.connect()
    t0 = time.perf_counter()
    con.execute(f"SELECT COUNT(*) FROM read_parquet('{path}')").fetchall()
    t1 = time.perf_counter()
    con.execute(
        f"SELECT key_id, model, date_trunc('day', ts), SUM(CAST(cost AS DECIMAL(38, 9))) "
        f"FROM read_parquet('{path}') GROUP BY ALL"
    ).fetchall()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


END_TO_END = """
import sys, time
t0 = time.perf_counter()
from datetime import datetime
from pathlib import Path
from quotadesk.usage.records import load_usage
from quotadesk.usage.detectors import analyse
data = load_usage(None, Path(sys.argv[1]))
report = analyse(data, as_of=datetime.fromisoformat(sys.argv[2]))
print(time.perf_counter() - t0, len(report.findings))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--file", type=Path, default=None, help="reuse or write the records file here")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.file or Path(tmp) / "usage.parquet"
        if not path.exists():
            t = time.perf_counter()
            generate(path, args.rows)
            print(
                f"generated {args.rows:,} rows in {time.perf_counter() - t:.2f} s ({path.stat().st_size / 1e6:.1f} MB)"
            )
        floor(path)  # warm the file cache so every figure reads it warm
        count_s, scan_s = floor(path)
        print(f"floor  duckdb COUNT(*):                         {count_s:7.3f} s")
        print(f"floor  duckdb SUM(cost) GROUP BY key,model,day: {scan_s:7.3f} s   (the ratio base)")

        from datetime import datetime

        from quotadesk.usage.detectors import analyse
        from quotadesk.usage.records import load_usage

        t0 = time.perf_counter()
        data = load_usage(None, path)
        t1 = time.perf_counter()
        report = analyse(data, as_of=datetime.fromisoformat(AS_OF))
        t2 = time.perf_counter()
        print(
            f"load   load_usage (in process):                 {t1 - t0:7.3f} s   {(t1 - t0) / scan_s:6.1f}× floor"
        )
        print(
            f"analyse (in process):                           {t2 - t1:7.3f} s   {(t2 - t1) / scan_s:6.1f}× floor"
        )
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run(
                [sys.executable, "-c", END_TO_END, str(path), AS_OF],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            runs.append(float(out[0]))
        best, median = min(runs), statistics.median(runs)
        print(
            f"end to end, fresh process (imports included):   {best:7.3f} s   {best / scan_s:6.1f}× floor "
            f"(median {median:.3f} s of {len(runs)})"
        )
        print(f"rows {data.rows:,}, total ${data.total_nanos / 1e9:,.2f}, priced rows {data.priced_rows:,}")
        for f in report.findings:
            print(
                f"  finding {f.root_cause.value:24s} impact ${f.impact_nanos / 1e9:10,.2f}  conf {f.confidence}"
            )
        print("target: end to end < 3 s:", "met" if best < 3.0 else "NOT met")


if __name__ == "__main__":
    main()
