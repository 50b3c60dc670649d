"""The usage log and its analytics: load records, explain a bill, decompose a change.

Nothing here imports Ibis, DuckDB, numpy or pyarrow at import time; they load on first use.

Loading (``quotadesk.usage.records``)::

    load_usage(records: Sequence[Mapping] | None, records_file: Path | None,
               prices: PriceTable | None = None) -> UsageData

validates every row (``UsageFileError`` naming ``usage.records[12].input_tokens`` or
``records_file line 57``), costs rows without a ``cost`` from the price table, and keeps
the log in DuckDB through Ibis (``UsageData.table``, ``UsageData.con``).

Analysis (``quotadesk.usage.detectors``)::

    analyse(data, *, as_of, keys=(), invoices=(), incidents=(), customer_log_text=None,
            stopped_at=None, min_impact_nanos=DEFAULT_MIN_IMPACT_NANOS) -> UsageReport

returns ranked ``Finding`` values (``quotadesk.usage.findings``; root causes in the
contract's vocabulary; ``UsageReport.high_bill()`` / ``.refund()`` select by incident),
monthly totals, the current and previous periods with per-model and per-key totals, the
decomposition of their change, daily spend, the 30-day average daily spend, month-to-date
spend and first sightings of models, keys and IPs.

Decomposition (``quotadesk.usage.decompose``)::

    decompose(data, period: Period | str, against: Period | str) -> Decomposition

splits a change of cost exactly (integers, no residual) into volume, tokens per request
and price mix, per key × model.

Scanning (``quotadesk.usage.scan``)::

    scan(root, *, as_of, orgs=None, jobs=1, min_impact_nanos=…, on_done=None) -> list[OrgScan]

runs ``analyse`` over every org of the usage log at ``root``, in worker processes.

Layout: ``engine`` (the Ibis/DuckDB seam), ``records`` (load), ``profile`` (aggregates
into arrays), ``spikes`` / ``shifts`` / ``account`` (detectors), ``context`` (their shared
inputs), ``detectors`` (``analyse`` and the report), ``decompose``, ``periods``,
``findings``, ``log`` (the Parquet usage log), ``scan`` (every org of it).
"""
