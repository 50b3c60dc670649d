"""The usage log and its analytics: load records, explain a bill, decompose a change.

Public API (import from the submodules; nothing here imports Ibis or DuckDB):

- ``records.load_usage(records, records_file, prices) -> UsageData``
- ``detectors.analyse(data, *, as_of, ...) -> UsageReport`` with ranked ``Finding`` values
- ``decompose.decompose(data, period, against) -> Decomposition``
- ``periods.Period`` (calendar months in UTC), ``findings.Finding`` / ``RootCause``
"""
