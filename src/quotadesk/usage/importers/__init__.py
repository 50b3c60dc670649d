"""Importers of real usage and cost exports into the usage log, one module per format.

=================  ========  =====================================================
format             kind      reads
=================  ========  =====================================================
``openai-usage``   usage     OpenAI Usage API completions pages (``openai_usage``)
``openai-costs``   costs     OpenAI Costs API pages (``openai_costs``)
``anthropic-usage`` usage    Anthropic usage report (``anthropic_usage``)
``anthropic-cost`` costs     Anthropic cost report, amounts in cents (``anthropic_cost``)
``openrouter``     usage     OpenRouter generations, completions' ``usage.cost``, activity
``litellm``        usage     LiteLLM ``LiteLLM_SpendLogs`` rows, CSV or JSON (``litellm``)
``contract``       usage     the contract's CSV / JSON Lines / Parquet (``contract``)
=================  ========  =====================================================

``auto`` is not a format but a choice made per file from its content
(``importers.detect``); the import says which format it chose for each file.

``read_files(fmt, paths)`` reads every file completely before anything is written, so a
bad row in the third file leaves the log unchanged. Each module has ``SOURCE``, ``KIND``
and ``read_file(path, rows, costs)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import pyarrow as pa

from quotadesk.billing.pricing import DEFAULT_TABLE, PriceTable
from quotadesk.errors import InputError
from quotadesk.usage.importers.batch import CostBuilder, ImportBatch, RowBuilder
from quotadesk.usage.importers.detect import Detected, detect

FORMATS: dict[str, str] = {
    "openai-usage": "openai_usage",
    "openai-costs": "openai_costs",
    "anthropic-usage": "anthropic_usage",
    "anthropic-cost": "anthropic_cost",
    "openrouter": "openrouter",
    "litellm": "litellm",
    "contract": "contract",
}
AUTO = "auto"
ALIASES = {
    "openai": "openai-usage",
    "openai-cost": "openai-costs",
    "anthropic": "anthropic-usage",
    "anthropic-costs": "anthropic-cost",
    "litellm-spendlogs": "litellm",
    "csv": "contract",
    "jsonl": "contract",
    "parquet": "contract",
}


def resolve_format(name: str, *, allow_auto: bool = False) -> str:
    """The canonical format name; an unknown one is an InputError listing the known ones."""
    key = name.strip().lower().replace("_", "-")
    key = ALIASES.get(key, key)
    if allow_auto and key == AUTO:
        return AUTO
    if key not in FORMATS:
        known = ", ".join((AUTO, *FORMATS) if allow_auto else FORMATS)
        raise InputError(f"unknown format {name!r}; expected one of {known}", "FORMAT")
    return key


def group_by_format(paths: Sequence[Path]) -> list[tuple[str, list[Path], list[Detected]]]:
    """``auto``: each file's format from its content, files of one format together (in order)."""
    groups: dict[str, tuple[list[Path], list[Detected]]] = {}
    for path in paths:
        found = detect(Path(path))
        files, why = groups.setdefault(found.format, ([], []))
        files.append(Path(path))
        why.append(found)
    return [(fmt, files, why) for fmt, (files, why) in groups.items()]


def module(fmt: str) -> ModuleType:
    return importlib.import_module(f"quotadesk.usage.importers.{FORMATS[resolve_format(fmt)]}")


def kind(fmt: str) -> str:
    """``usage`` or ``costs``."""
    return str(module(fmt).KIND)


def read_files(
    fmt: str,
    paths: Sequence[Path],
    prices: PriceTable | None = None,
    *,
    on_file: Callable[[Path], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> ImportBatch:
    """Read ``paths`` in format ``fmt`` into one batch (nothing is written here).

    Raises ``UsageFileError`` naming the file, line and field of the first bad value.
    Progress: ``on_file`` is called after each file, ``on_rows`` with the count of source
    rows read so far, every ``batch.PROGRESS_EVERY`` rows.
    """
    name = resolve_format(fmt)
    mod = module(name)
    rows = RowBuilder(mod.SOURCE, DEFAULT_TABLE if prices is None else prices)
    rows.on_progress = on_rows
    costs = CostBuilder(mod.SOURCE)
    fast: list[pa.Table] = []
    fast_read = getattr(mod, "read_fast", None)
    for path in paths:
        bulk = fast_read(Path(path), rows.prices) if fast_read is not None else None
        if bulk is not None:
            fast.append(bulk)
            rows.read += bulk.num_rows
            if on_rows is not None:
                on_rows(rows.read)
        else:
            mod.read_file(Path(path), rows, costs)
        if on_file is not None:
            on_file(Path(path))
    usage = pa.concat_tables([*fast, rows.table()]) if fast else rows.table()
    return ImportBatch(
        fmt=name,
        files=tuple(str(p) for p in paths),
        usage=usage,
        costs=costs.table(),
        rows_read=rows.read,
        unknown=rows.unknown,
        empty=rows.empty,
        notes=tuple(rows.notes),
        unpriced=rows.unpriced_table(),
    )
