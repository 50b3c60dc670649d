"""Scanning the whole usage log: every organization's detectors, side by side on every core.

Why a scan: a platform team with hundreds of organizations wants to know which of them
had a runaway loop or a leaked key last night before the tickets arrive. Each org is
analysed exactly as ``quotadesk usage explain --org`` analyses it (its keys and their
environments from the log, the costs the provider reported as invoices, every
detector, nothing after ``as_of`` read), so a finding here is the finding a ticket
about that org would get.

Why worker processes: one org's analysis is a dozen small queries with Python between
them, so one DuckDB using every core still leaves most of the machine idle. One process
per core, each with a single-threaded DuckDB, analyses orgs side by side; the largest
orgs go first so no worker is left with a big one at the end. ``bench/usage.py``
measures it against a single DuckDB aggregation over the same files.

Workers are started with ``spawn`` (a fork would copy the caller's DuckDB threads half
alive), so a script calling ``scan(jobs=2)`` needs the usual ``if __name__ == "__main__":``
guard; the ``quotadesk`` command has it.

An org whose files cannot be read (a corrupt Parquet file) does not stop the scan: its
``OrgScan.error`` names the problem and the other orgs are still analysed; the CLI
exits non-zero when any org failed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from quotadesk.errors import InputError, UsageFileError
from quotadesk.usage.detectors import ANOMALIES, DEFAULT_MIN_IMPACT_NANOS, analyse
from quotadesk.usage.findings import Finding, RootCause, rank_key
from quotadesk.usage.periods import Period


@dataclass(frozen=True, slots=True)
class OrgScan:
    """One org's result: rows read, spend up to ``as_of``, findings ranked, or why it failed."""

    org: str
    rows: int
    total_nanos: int
    findings: tuple[Finding, ...] = ()
    detector_errors: tuple[str, ...] = ()
    error: str | None = None


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def scan(
    root: Path | str,
    *,
    as_of: datetime,
    orgs: Sequence[str] | None = None,
    jobs: int = 1,
    min_impact_nanos: int = DEFAULT_MIN_IMPACT_NANOS,
    on_done: Callable[[OrgScan], None] | None = None,
    engine: str = "duckdb",
) -> list[OrgScan]:
    """Analyse ``orgs`` (default: every org in the log at ``root``) as of ``as_of``; by org.

    ``jobs`` worker processes (1: in this process); ``on_done`` is called with each org's
    result as it arrives (a progress bar). ``engine`` as the ``usage_engine`` setting: on
    Spark the orgs are analysed one after another in one session, whatever ``jobs`` says
    (the cluster parallelizes each query; processes would each start a JVM).
    """
    from quotadesk.usage import engine as engines
    from quotadesk.usage.log import UsageLog

    if as_of.tzinfo is None:
        raise InputError("as_of must carry a UTC offset", "as_of")
    if jobs < 1:
        raise InputError("must be at least 1", "jobs")
    log = UsageLog(root)
    names = targets(log, orgs)
    order = sorted(names, key=lambda o: -_size(log, o))
    results: dict[str, OrgScan] = {}

    def keep(result: OrgScan) -> None:
        results[result.org] = result
        if on_done is not None:
            on_done(result)

    shared = None if engine.strip().lower() in ("", "duckdb", "duckdb://") else engines.connect_engine(engine)
    if shared is not None or jobs == 1 or len(order) < 2:
        for org in order:
            keep(scan_org(str(log.root), org, as_of, min_impact_nanos, con=shared))
    else:
        threads = max(1, default_jobs() // jobs)
        # spawn, not fork: the caller may already hold DuckDB's threads, which fork would copy half-alive
        with ProcessPoolExecutor(
            max_workers=min(jobs, len(order)),
            mp_context=get_context("spawn"),
            initializer=_start_worker,
            initargs=(threads, _memory_share(jobs)),
        ) as pool:
            futures = {
                pool.submit(_scan_in_worker, str(log.root), org, as_of, min_impact_nanos): org for org in order
            }
            for future in as_completed(futures):
                try:
                    keep(future.result())
                except BrokenProcessPool as exc:  # a worker died (killed, out of memory): say so per org
                    keep(OrgScan(futures[future], 0, 0, error=f"the worker process died: {exc}"))
    return [results[o] for o in sorted(results)]


def _size(log: Any, org: str) -> int:
    """Bytes of the org's files, to start the biggest first; an org whose log cannot be read
    (a corrupt journal) counts 0 here and fails on its own in ``scan_org``."""
    try:
        return sum(p.stat().st_size for p in log.files(org))
    except (UsageFileError, OSError):
        return 0


def targets(log: Any, orgs: Sequence[str] | None) -> list[str]:
    """The orgs to scan: those named (each once, each must have usage), or every org with usage.

    An org with only reported costs (no usage rows) has nothing to analyse: left out of a
    scan of everything, refused when named.
    """
    from quotadesk.usage.log import check_org

    if not orgs:
        return [org for org in log.orgs() if log.months(org)]
    names = list(dict.fromkeys(orgs))  # an org named twice is scanned once
    for org in names:
        check_org(org)
        if not log.months(org):
            raise InputError(f"no usage for org {org!r} in {log.root}", "org")
    return names


_WORKER: dict[str, Any] = {}
"""A worker process's own DuckDB, opened once by ``_start_worker`` and used for every org it scans."""


def _start_worker(threads: int, memory_bytes: int | None) -> None:
    from quotadesk.usage import engine

    con = engine.connect()
    con.raw_sql(f"SET threads = {int(threads)}")
    if memory_bytes:
        # DuckDB takes 80% of the machine by default, each worker alike: share it out instead.
        con.raw_sql(f"SET memory_limit = '{max(1, memory_bytes // 2**20)}MB'")
    _WORKER["con"] = con


def _memory_share(jobs: int) -> int | None:
    """Three quarters of the machine's memory split between ``jobs`` workers (None if unknown)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    return int(total * 0.75) // jobs if total > 0 else None


def _scan_in_worker(root: str, org: str, as_of: datetime, min_impact_nanos: int) -> OrgScan:
    return scan_org(root, org, as_of, min_impact_nanos, con=_WORKER.get("con"))


def scan_org(root: str, org: str, as_of: datetime, min_impact_nanos: int, con: Any = None) -> OrgScan:
    """One org, as ``usage explain --org`` reads it; unreadable files become ``error``.

    ``con``: an engine to use (and leave open); default a DuckDB of its own.
    """
    from quotadesk.usage import engine
    from quotadesk.usage.log import UsageLog
    from quotadesk.usage.reconcile import as_invoices, reconcile

    as_of = as_of.astimezone(UTC)
    log = UsageLog(root)
    own = con is None
    con = engine.connect() if own else con
    try:
        data = log.load(org, end=as_of + timedelta(microseconds=1), con=con)
        since = Period.month_of(as_of).previous_month().start
        invoices = as_invoices(reconcile(log, org, start=since, end=as_of + timedelta(microseconds=1)))
        report = analyse(
            data, as_of=as_of, keys=log.keys(org, con), invoices=invoices, min_impact_nanos=min_impact_nanos
        )
    except Exception as exc:  # one org's files (or a detector's bug) must not stop the others
        return OrgScan(org, 0, 0, error=f"{type(exc).__name__}: {engine.short(exc)}")
    finally:
        if own:
            con.disconnect()
        else:
            engine.drop_scratch(con)  # a shared engine must not keep this org's copy
    return OrgScan(org, data.rows, data.total_nanos, report.findings, report.detector_errors)


ALERTS = ANOMALIES | {RootCause.BILLING_DISCREPANCY}
"""Causes a scan lists first: the usage changed or the bill disagrees with it. The others
(traffic growth, a premium model chosen long ago, usage after the customer stopped, the
refund reading of a retry burst) matter when a ticket asks, not as an alert: a premium
model in steady use would otherwise top every scan with its whole month's spend."""


ALERTS = ANOMALIES | {RootCause.BILLING_DISCREPANCY}
"""Causes a scan lists first: the usage changed or the bill disagrees with it. The others
(traffic growth, a premium model chosen long ago, usage after the customer stopped, the
refund reading of a retry burst) matter when a ticket asks, not as an alert: a premium
model in steady use would otherwise top every scan with its whole month's spend."""


def _engine_errors(con: Any) -> tuple[type[Exception], ...]:
    """What else an unreadable file raises: pyarrow's errors (keys, reported costs) and, on
    Spark, its own."""
    import pyarrow as pa

    if type(con).__module__.startswith("ibis.backends.pyspark"):
        from pyspark.errors import PySparkException

        return (pa.ArrowException, PySparkException)
    return (pa.ArrowException,)


def ranked(results: Sequence[OrgScan]) -> list[tuple[str, Finding]]:
    """Every finding of every org with its org: alerts first, each part by impact × confidence."""
    pairs = [(r.org, f) for r in results for f in r.findings]
    return sorted(pairs, key=lambda p: (p[1].root_cause not in ALERTS, *rank_key(p[1]), p[0]))
