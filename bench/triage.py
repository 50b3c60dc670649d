"""Triage speed, against baselines measured in the same run (the machine is shared and noisy).

Prints, for each figure, the time and its ratio to a baseline:
- in-process triage of each shared example, usage loading excluded (target: median <= 20 ms);
- a bundle whose records_file is a 1,000,000-row Parquet, end to end through the CLI (target <= 3 s);
- the CLI on a small bundle, process start included (target <= 1 s), vs `python -c pass`.

Run: .venv/bin/python bench/triage.py [--examples ../shared/examples] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from quotadesk.triage import bundle as bundle_mod
from quotadesk.triage.engine import _incidents, _ticket_view, _usage_view, result_of
from quotadesk.triage.facts import account_facts
from quotadesk.triage.inputs import Case
from quotadesk.triage.tree import diagnose

ROOT = Path(__file__).resolve().parents[1]


def _timeit(fn, n: int = 30) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def in_process(examples: Path) -> None:
    print("in-process triage, usage loading excluded (median of 30 runs):")
    for path in sorted(examples.glob("*.json")):
        if path.name.endswith(".expected.json"):
            continue
        b = bundle_mod.load(path)
        active, recent = _incidents(b)
        usage = _usage_view(b, active + recent, "")

        def run(b: bundle_mod.Bundle = b, usage=usage, active=active, recent=recent) -> None:  # type: ignore[no-untyped-def]
            ticket = _ticket_view(b)
            facts = (
                account_facts(b.account, b.as_of, usage.month_to_date if usage else None)
                if b.account
                else None
            )
            case = Case(
                bundle=b,
                ticket=ticket,
                facts=facts,
                usage=usage,
                active_incidents=active,
                recent_incidents=recent,
            )
            result_of(case, diagnose(case))

        text = path.read_text()
        t = _timeit(run)
        base = _timeit(lambda text=text: json.loads(text))
        print(f"  {path.stem:24s} {t * 1000:7.2f} ms   (x{t / base:6.1f} json.loads of the bundle)")


def big_parquet(rows: int) -> None:
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        pq = Path(tmp) / "usage.parquet"
        duckdb.sql(
            f"""COPY (SELECT TIMESTAMPTZ '2026-09-01 00:00:00+00' + to_seconds(i * 7) AS ts,
                       'r' || i AS request_id, 'key_prod' AS key_id,
                       CASE WHEN i % 10 = 0 THEN 'gpt-4o' ELSE 'gpt-4o-mini' END AS model,
                       800 + i % 50 AS input_tokens, 200 AS output_tokens, 0 AS cached_tokens, 1 AS requests,
                       200 AS status, NULL::VARCHAR AS cost, 'fp' || (i % 5000) AS fingerprint,
                       '203.0.113.10' AS ip FROM range({rows}) t(i)) TO '{pq}' (FORMAT PARQUET)"""
        )
        doc = json.loads((ROOT / "examples" / "auto_recharge_failed.json").read_text())
        doc["usage"] = {"records_file": "usage.parquet"}
        doc["ticket"]["body"] = "My bill is way higher than expected this month."
        doc["ticket"]["attachments"] = []
        bpath = Path(tmp) / "bundle.json"
        bpath.write_text(json.dumps(doc))
        cli = [str(Path(sys.executable).parent / "quotadesk"), "triage", str(bpath), "--json"]
        t0 = time.perf_counter()
        p = subprocess.run(cli, capture_output=True, text=True, check=False)
        t = time.perf_counter() - t0
        t0 = time.perf_counter()
        duckdb.sql(f"SELECT count(*) FROM '{pq}'").fetchall()
        base = time.perf_counter() - t0
        status = "ok" if p.returncode == 0 else f"exit {p.returncode}: {p.stderr.strip()[-200:]}"
        print(
            f"{rows:,}-row Parquet bundle, CLI end to end: {t:.2f} s (x{t / base:.0f} a duckdb count) [{status}]"
        )


def cli_small() -> None:
    small = ROOT / "examples" / "auto_recharge_failed.json"
    exe = str(Path(sys.executable).parent / "quotadesk")
    ts = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([exe, "triage", str(small), "--json"], capture_output=True, check=True)
        ts.append(time.perf_counter() - t0)
    bs = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True)
        bs.append(time.perf_counter() - t0)
    t, b = statistics.median(ts), statistics.median(bs)
    print(f"CLI on a small bundle, process start included: {t:.2f} s (x{t / b:.1f} `python -c pass`)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", default=str(ROOT.parent / "shared" / "examples"))
    ap.add_argument("--rows", type=int, default=1_000_000)
    a = ap.parse_args()
    if Path(a.examples).is_dir():
        in_process(Path(a.examples))
    cli_small()
    big_parquet(a.rows)


if __name__ == "__main__":
    main()
