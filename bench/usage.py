"""Benchmark (issue #4, "Speed and memory"): the detector suite over many orgs' usage logs.

Usage: python bench/usage.py [--rows N] [--orgs K] [--dir PATH] [--keep] [--org-rows M] [--jobs J]

Generates N usage rows once with DuckDB SQL, straight into the usage log's own layout
(``org=<org>/month=YYYY-MM/part-<id>.parquet``, see ``quotadesk.usage.log``), spread
evenly over K orgs (default ``max(10, N // 1_000_000)``, so an org holds about 1M rows at
full size). Each org has four keys (one a development key) and three models of the
project's price table; traffic follows office hours and weekdays; rows are per request,
with fingerprints and IPs, about 1.3% failing (429/500, cost 0). Anomalies are injected
in a few orgs: a retry storm (org index % 10 == 1), a model swap to a premium model
(== 2) and a runaway loop on the cron key (== 3). Rows carry their cost, as the log does.

Generation runs in a child process, so the parent's peak memory is the analysis's own.
With ``--dir`` an existing dataset of the same shape is reused (generate once, measure
many times); without it a temporary directory is used and removed unless ``--keep``.

Then, in one run, it measures and prints:

1. floor: DuckDB ``SUM(cost) GROUP BY org, key, model, day`` over all files;
2. suite: ``quotadesk.usage.scan.scan`` over every org (what ``quotadesk usage scan``
   runs: each org's keys, reported costs and every detector, one worker process per core,
   ``--jobs`` to change); ratio to the floor (targets <= 4x and <= 60 s at 100M rows). The
   floor uses every core too, so the ratio compares like with like;
3. one org: ``scan_org`` (load + analyse, in this process) of the largest org, or of a
   separately generated org of ``--org-rows`` rows when the largest is smaller (target
   <= 2 s for 1M rows);
4. peak memory: the larger of this process's ``ru_maxrss`` and the resident memory of this
   process plus the scan's workers, sampled while the suite runs (target <= 8 GiB).

Prints PASS/FAIL per target; exits 0 unless something crashed (a benchmark reports, it
does not fail on a slow machine).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

AS_OF = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
START = "2026-09-01 00:00:00+00"  # a Tuesday
DAYS = 63  # up to AS_OF's day
GIB = 1024**3
CHUNK = 10_000_000


def _models_sql() -> tuple[str, str]:
    """A VALUES list of the price table's models with nano-dollars per token, and its length."""
    from quotadesk.billing.pricing import DEFAULT_PRICES

    rows = []
    for i, (name, p) in enumerate(sorted(DEFAULT_PRICES.items())):
        rates = (p.input_per_mtok * 1000, p.output_per_mtok * 1000, p.cached_input_per_mtok * 1000)
        rows.append(f"({i}, '{name}', {rates[0]}, {rates[1]}, {rates[2]}, '{p.price_class}')")
    return ",\n".join(rows), str(len(rows))


def generation_sql(lo: int, hi: int, orgs: int, target: str, prefix: str = "org") -> str:
    """One ``COPY`` writing rows ``lo..hi-1`` for ``orgs`` orgs under ``target`` (hive layout)."""
    values, n_models = _models_sql()
    return f"""
COPY (
WITH prices(mi, model, in_rate, out_rate, cached_rate, cls) AS (VALUES {values}),
premium AS (SELECT min(mi) AS mi FROM prices WHERE cls = 'premium'),
base AS (
    SELECT i,
           i % {orgs} AS o,
           (hash(i, 1) % 1000003) / 1000003.0 AS u1,
           (hash(i, 2) % 1000003) / 1000003.0 AS u2,
           (hash(i, 3) % 1000003) / 1000003.0 AS u3,
           (hash(i, 4) % 1000003) / 1000003.0 AS u4,
           (hash(i, 5) % 1000003) / 1000003.0 AS u5,
           (hash(i, 6) % 1000003) / 1000003.0 AS u6,
           hash(i, 7) AS h
    FROM range({lo}, {hi}) t(i)
),
shaped AS (
    SELECT *,
           -- weekdays: 70% of weekend rows move to the next Monday/Tuesday
           CASE WHEN (floor(u1 * {DAYS})::INT + 1) % 7 IN (4, 5) AND u2 < 0.7
                THEN least(floor(u1 * {DAYS})::INT + 2, {DAYS} - 1)
                ELSE floor(u1 * {DAYS})::INT END AS day,
           -- office hours: 70% of rows between 08:00 and 19:00 UTC
           CASE WHEN u3 < 0.7 THEN 8 + floor(u4 * 11)::INT ELSE floor(u4 * 24)::INT END AS hour,
           CASE WHEN u5 < 0.45 THEN 'prod' WHEN u5 < 0.75 THEN 'batch'
                WHEN u5 < 0.95 THEN 'cron' ELSE 'dev' END AS key,
           CASE WHEN u6 < 0.6 THEN 0 WHEN u6 < 0.9 THEN 1 ELSE 2 END AS slot,
           (o % 10 = 1 AND u2 < 0.04) AS storm,
           (o % 10 = 3 AND u2 < 0.05) AS loop
    FROM base
),
timed AS (
    SELECT *,
           CASE WHEN storm THEN TIMESTAMPTZ '2026-10-21 14:00:00+00' + to_microseconds((u4 * 3 * 3600e6)::BIGINT)
                WHEN loop THEN TIMESTAMPTZ '2026-10-25 01:00:00+00' + to_microseconds((u4 * 5 * 3600e6)::BIGINT)
                ELSE TIMESTAMPTZ '{START}' + to_days(day) + to_hours(hour)
                     + to_microseconds((u6 * 3600e6)::BIGINT)
           END AS ts,
           -- each org uses three models of the table, spread over the orgs
           CASE WHEN o % 10 = 2 AND slot = 0 AND day >= 44 THEN (SELECT mi FROM premium)
                ELSE (o * 5 + slot * 3) % {n_models} END AS mi
    FROM shaped
),
req AS (
    SELECT t.*, p.model, p.in_rate, p.out_rate, p.cached_rate,
           CASE WHEN loop THEN 'cron' WHEN storm THEN 'prod' ELSE key END AS k,
           CASE WHEN loop THEN 3000 ELSE 200 + floor(u3 * u3 * 6000)::BIGINT END AS input_tokens,
           CASE WHEN loop THEN 500 ELSE 20 + floor(u5 * 900)::BIGINT END AS output_tokens,
           CASE WHEN loop THEN 0 WHEN u1 < 0.3 THEN floor(u4 * 2000)::BIGINT ELSE 0 END AS cached_tokens,
           CASE WHEN storm AND u5 < 0.7 THEN (CASE WHEN u6 < 0.5 THEN 429 ELSE 500 END)
                WHEN h % 100 = 0 THEN 429 WHEN h % 333 = 0 THEN 500 ELSE 200 END AS status
    FROM timed t JOIN prices p USING (mi)
)
SELECT ts,
       'req-' || i AS request_id,
       '{prefix}' || lpad(o::VARCHAR, 4, '0') || '-' || k AS key_id,
       CASE WHEN k = 'dev' THEN 'development' ELSE 'production' END AS environment,
       model,
       input_tokens, output_tokens, cached_tokens,
       1::BIGINT AS requests,
       status::BIGINT AS status,
       CASE WHEN status >= 400 THEN 0
            ELSE round(input_tokens * in_rate + output_tokens * out_rate + cached_tokens * cached_rate)
       END::BIGINT AS cost_nanos,
       CASE WHEN storm THEN 'fp-storm' WHEN loop THEN 'fp-loop'
            ELSE 'fp-' || k || '-' || (h // 1000 % 12) END AS fingerprint,
       '10.' || (o % 250) || '.' || (CASE k WHEN 'prod' THEN 1 WHEN 'batch' THEN 2 WHEN 'cron' THEN 3
            ELSE 4 END) || '.' || (h // 100000 % 8 + 10) AS ip,
       '{prefix}' || lpad(o::VARCHAR, 4, '0') AS org,
       strftime(ts, '%Y-%m') AS month
FROM req
) TO '{target}' (FORMAT PARQUET, PARTITION_BY (org, month), FILENAME_PATTERN 'part-{{uuid}}',
                 COMPRESSION zstd, OVERWRITE_OR_IGNORE)
"""


def generate(target: Path, rows: int, orgs: int, prefix: str = "org") -> None:
    import duckdb

    target.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    # In chunks: one partitioned COPY of 100M rows buffers ~19 GiB; a chunk adds a file per partition.
    for lo in range(0, rows, CHUNK):
        con.execute(generation_sql(lo, min(rows, lo + CHUNK), orgs, str(target), prefix))
    (target / "_bench.json").write_text(json.dumps({"rows": rows, "orgs": orgs}))


def ensure(target: Path, rows: int, orgs: int, prefix: str = "org") -> float:
    """Generate in a child process unless ``target`` already holds this shape; seconds spent."""
    marker = target / "_bench.json"
    if marker.exists() and json.loads(marker.read_text()) == {"rows": rows, "orgs": orgs}:
        return 0.0
    if target.exists():
        shutil.rmtree(target)
    t0 = time.perf_counter()
    cmd = [sys.executable, __file__, "--generate-only", "--rows", str(rows), "--orgs", str(orgs)]
    subprocess.run([*cmd, "--dir", str(target), "--prefix", prefix], check=True)
    return time.perf_counter() - t0


def floor(target: Path) -> tuple[float, int]:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    t0 = time.perf_counter()
    result = con.execute(
        f"""SELECT org, key_id, model, date_trunc('day', ts) AS day, SUM(cost_nanos) AS cost
            FROM read_parquet('{target}/org=*/month=*/part-*.parquet', hive_partitioning = true)
            GROUP BY ALL"""
    ).fetchall()
    return time.perf_counter() - t0, len(result)


def diagnose(root: Path, org: str) -> tuple[int, int, int]:
    """Load and analyse one org in this process: (rows, findings, detector errors)."""
    from quotadesk.usage.detectors import DEFAULT_MIN_IMPACT_NANOS
    from quotadesk.usage.scan import scan_org

    result = scan_org(str(root), org, AS_OF, DEFAULT_MIN_IMPACT_NANOS)
    if result.error:
        raise SystemExit(f"{org}: {result.error}")
    return result.rows, len(result.findings), len(result.detector_errors)


class PeakRss:
    """Peak resident memory of this process plus all its descendants (the scan's workers),
    sampled from /proc every 50 ms while in the ``with`` block: ``ru_maxrss`` alone sees
    one process at a time, and the workers run side by side."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(os.getpid()))
            self._stop.wait(0.05)


def tree_rss(root: int) -> int:
    """Bytes resident in ``root`` and its descendants (0 where /proc is missing)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        kids = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(kids)
        frontier.extend(kids)
    total = 0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError):
            continue
    return total


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def run(args: argparse.Namespace) -> None:
    from quotadesk.usage.log import UsageLog
    from quotadesk.usage.scan import default_jobs, scan

    rows, orgs = args.rows, args.orgs or max(10, args.rows // 1_000_000)
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="qd-bench-usage-"))
    data_dir = root / "log"
    try:
        gen_s = ensure(data_dir, rows, orgs)
        gen_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        print(f"data: {rows:,} rows, {orgs} orgs in {data_dir} (generated in {gen_s:.1f} s; 0 = reused)")

        floor_s, groups = floor(data_dir)
        print(f"1. floor  duckdb SUM(cost) GROUP BY org,key,model,day: {floor_s:8.3f} s  ({groups:,} groups)")

        jobs = args.jobs or default_jobs()
        with PeakRss() as suite_mem:
            t0 = time.perf_counter()
            results = scan(data_dir, as_of=AS_OF, jobs=jobs)
            suite_s = time.perf_counter() - t0
        failed = [f"{r.org}: {r.error}" for r in results if r.error]
        if failed:
            raise SystemExit("orgs could not be read: " + "; ".join(failed))
        sizes = {r.org: r.rows for r in results}
        findings = sum(len(r.findings) for r in results)
        errors = sum(len(r.detector_errors) for r in results)
        causes = Counter(str(f.root_cause.value) for r in results for f in r.findings)
        ratio = suite_s / floor_s if floor_s else float("inf")
        print(
            f"2. suite  scan every org ({jobs} worker processes): {suite_s:8.3f} s  = {ratio:.1f}x floor  "
            f"({sum(sizes.values()):,} rows, {findings} findings, {errors} detector errors)"
        )
        print(f"   findings by cause: {dict(sorted(causes.items()))}")
        full = rows >= 100_000_000
        scale = "" if full else f" (targets are for 100M rows; this run has {rows:,})"
        print(f"   target suite <= 4x floor: {verdict(ratio <= 4)} ({ratio:.1f}x){scale}")
        print(f"   target suite <= 60 s: {verdict(suite_s <= 60)} ({suite_s:.1f} s){scale}")

        biggest = max(sizes, key=lambda o: sizes[o])
        one_root, one_org = data_dir, biggest
        if sizes[biggest] < args.org_rows:
            one_root = root / "solo"
            ensure(one_root, args.org_rows, 1, prefix="solo")
            one_org = UsageLog(one_root).orgs()[0]
        t0 = time.perf_counter()
        n, f, e = diagnose(one_root, one_org)
        one_s = time.perf_counter() - t0
        per_m = one_s * 1_000_000 / n if n else float("nan")
        print(
            f"3. one org  load+analyse {one_org} ({n:,} rows): {one_s:8.3f} s  "
            f"({per_m:.3f} s per 1M rows, {f} findings, {e} detector errors)"
        )
        print(f"   target one org of 1M rows <= 2 s: {verdict(per_m <= 2)} ({per_m:.2f} s per 1M rows)")

        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        peak = max(own, suite_mem.peak)
        print(
            f"4. peak memory  this process (floor, one org): {own / GIB:.2f} GiB   "
            f"suite (this process + {jobs} workers, sampled): {suite_mem.peak / GIB:.2f} GiB   "
            f"generation (a child, not counted): {gen_rss / GIB:.2f} GiB"
        )
        print(f"   target peak <= 8 GiB: {verdict(peak <= 8 * GIB)} ({peak / GIB:.2f} GiB)")
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--orgs", type=int, default=0, help="default max(10, rows // 1M)")
    parser.add_argument("--dir", help="where the data lives (reused when it has this shape)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data")
    parser.add_argument("--org-rows", type=int, default=1_000_000, help="rows of the one-org diagnosis")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes of the suite (default: one per core)")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default="org", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_only:
        generate(Path(args.dir), args.rows, args.orgs, args.prefix)
        return
    run(args)


if __name__ == "__main__":
    main()
