"""The entry points the fuzzer drives, each with its seeds: every surface that reads outside input.

HTTP bodies are fuzzed by schemathesis over the running app (``tests/web/test_api_fuzz.py``);
here the request models themselves take mutated JSON (``http-bodies``), which is cheap enough
to run thousands of times.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from fuzz.harness import FIXTURES, ROOT, SHARED, Entry

IMPORT_SEEDS = {
    "openai-usage": ["openai_usage_reference.json", "openai_usage_grouped.json", "openai_completions_usage_2025-10-27.csv"],
    "openai-costs": ["openai_costs_reference.json", "openai_costs_grouped.json"],
    "anthropic-usage": ["anthropic_usage.json", "anthropic_console_usage.csv"],
    "anthropic-cost": ["anthropic_cost.json"],
    "openrouter": ["openrouter_generation.json", "openrouter_activity.csv", "openrouter_completion.json"],
    "litellm": ["litellm_spendlogs.json", "litellm_spendlogs.csv"],
    "contract": ["contract_usage.csv"],
}  # fmt: skip


def _read(path: Path) -> bytes:
    return path.read_bytes()


def _bundle_seeds() -> list[bytes]:
    paths = [ROOT / "examples" / "auto_recharge_failed.json"]
    if SHARED.is_dir():
        paths += sorted(p for p in SHARED.glob("*.json") if not p.name.endswith(".expected.json"))
    return [_read(p) for p in paths]


def _triage(data: bytes, tmp: Path) -> Any:
    from quotadesk.triage import bundle
    from quotadesk.triage.engine import triage_bundle

    for extra in SHARED.glob("*.usage.*") if SHARED.is_dir() else ():
        shutil.copy(extra, tmp / extra.name)
    path = tmp / "case.json"
    path.write_bytes(data)
    return triage_bundle(bundle.load(path))


def _rows_seeds(suffix: str) -> list[bytes]:
    csv_seed = _read(FIXTURES / "contract_usage.csv")
    if suffix == ".csv":
        return [csv_seed]
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(csv_seed.decode())))
    if suffix == ".jsonl":
        extra = [_read(p) for p in SHARED.glob("*.usage.jsonl")] if SHARED.is_dir() else []
        return ["\n".join(json.dumps({k: v for k, v in r.items() if v}) for r in rows).encode(), *extra]
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    return [sink.getvalue()]


def _records(suffix: str) -> Any:
    def call(data: bytes, tmp: Path) -> Any:
        from quotadesk.usage.records import load_usage

        path = tmp / f"records{suffix}"
        path.write_bytes(data)
        usage = load_usage(None, path)
        return {"rows": usage.rows, "requests": usage.requests, "total": usage.total_nanos}

    return call


def _batch_json(batch: Any) -> dict[str, Any]:
    return {
        "rows": batch.usage.num_rows,
        "costs": batch.costs.num_rows,
        "unknown": [u.to_json() for u in batch.unknown],
        "ids": batch.usage.column("request_id").to_pylist()[:50],
    }


def _import(fmt: str, suffix: str) -> Any:
    def call(data: bytes, tmp: Path) -> Any:
        from quotadesk.usage.importers import group_by_format, read_files

        path = tmp / f"export{suffix}"
        path.write_bytes(data)
        if fmt == "auto":
            return [_batch_json(read_files(f, paths)) for f, paths, _ in group_by_format([path])]
        return _batch_json(read_files(fmt, [path]))

    return call


def _explain(data: bytes, tmp: Path) -> Any:
    from quotadesk.explain import explain, render_text

    status = 400 + data[0] % 200 if data else 429
    result = explain(status, data.decode("utf-8", "surrogateescape"), None)
    render_text(result)
    return result.to_json()


def _explain_seeds() -> list[bytes]:
    doc = json.loads((ROOT / "tests" / "data" / "provider_errors.json").read_text())
    cases = next(v for k, v in doc.items() if k != "source")
    return [c["body"].encode("utf-8", "surrogatepass") for c in cases[:40]]


def _stripe(data: bytes, tmp: Path) -> Any:
    from quotadesk.connectors.stripe_hook import parse_event

    return parse_event(data)


def _helpdesk(name: str) -> Any:
    def call(data: bytes, tmp: Path) -> Any:
        from quotadesk.connectors.tickets import PARSERS
        from quotadesk.errors import InputError
        from quotadesk.parse import json_doc

        payload = json_doc(data, "body")
        if not isinstance(payload, dict):
            raise InputError("expected a JSON object", "body")
        try:
            inbound = PARSERS[name](payload, org_field="")
        except ValueError as exc:  # the parsers' refusal; receive() words it as InputError
            raise InputError(str(exc), "body") from exc
        return {k: str(v) for k, v in vars(inbound).items()} if hasattr(inbound, "__dict__") else str(inbound)

    return call


def _connector_seeds(name: str) -> list[bytes]:
    from connectors import payloads as p

    make = {
        "stripe": lambda: [p.payment_intent_failed("pi_1", "ch_1"), p.charge_failed("pi_2", "ch_2"), p.invoice("in_1", status="paid"), p.payment_method()],
        "zammad": lambda: [p.zammad_ticket(body="My API calls fail with 402")],
        "zendesk": lambda: [p.zendesk_created(body="We were billed twice"), p.zendesk_comment(body="again")],
        "freshdesk": lambda: [p.freshdesk_ticket(body="Card declined")],
        "chatwoot": lambda: [p.chatwoot_created(body="Rate limited"), p.chatwoot_message(body="still")],
    }[name]
    seeds = []
    for doc in make():
        seeds.append(json.dumps(doc).encode())
    return seeds


HTTP_SEEDS = [
    ("CaseIn", {"ticket": {"body": "My calls fail with 402", "attachments": [{"kind": "error_response", "status": 402, "body": "{}", "seen_at": "2026-11-14T09:12:00Z"}]}, "org_id": "org_1"}),
    ("GrantIn", {"amount": "25.00", "kind": "goodwill", "expires_at": "2026-12-01T00:00:00Z"}),
    ("LimitsIn", {"soft": "100.00", "hard": "200"}),
    ("AutoRechargeIn", {"enabled": True, "threshold": "10", "amount": "50.00"}),
    ("KeyIn", {"name": "prod", "environment": "production"}),
]  # fmt: skip


def _http(data: bytes, tmp: Path) -> Any:
    from quotadesk.web import schemas

    names = [n for n, _ in HTTP_SEEDS]
    model = getattr(schemas, names[len(data) % len(names)])  # the length picks the model
    return model.model_validate_json(data).model_dump(mode="json")


def _http_seeds() -> list[bytes]:
    from quotadesk.web import schemas  # noqa: F401  (fail early)

    names = [n for n, _ in HTTP_SEEDS]
    out = []
    for name, doc in HTTP_SEEDS:
        raw = json.dumps(doc).encode()
        while len(raw) % len(names) != names.index(name):
            raw += b" "
        out.append(raw)
    return out


def entries() -> list[Entry]:
    found = [Entry("bundle-triage", _bundle_seeds(), _triage)]
    for suffix in (".jsonl", ".csv", ".parquet"):
        found.append(Entry(f"records-file{suffix.replace('.', '-')}", _rows_seeds(suffix), _records(suffix), suffix))
    for fmt, files in IMPORT_SEEDS.items():
        for suffix in sorted({Path(f).suffix for f in files}):
            seeds = [_read(FIXTURES / f) for f in files if f.endswith(suffix)]
            found.append(Entry(f"import-{fmt}{suffix.replace('.', '-')}", seeds, _import(fmt, suffix), suffix))
    for suffix in (".jsonl", ".parquet"):
        found.append(Entry(f"import-contract{suffix.replace('.', '-')}", _rows_seeds(suffix), _import("contract", suffix), suffix))
    auto = [_read(FIXTURES / f) for files in IMPORT_SEEDS.values() for f in files if f.endswith(".json")]
    found.append(Entry("import-auto-json", auto, _import("auto", ".json")))
    auto_csv = [_read(FIXTURES / f) for files in IMPORT_SEEDS.values() for f in files if f.endswith(".csv")]
    found.append(Entry("import-auto-csv", auto_csv, _import("auto", ".csv"), ".csv"))
    found.append(Entry("explain-error", _explain_seeds(), _explain, ".txt"))
    found.append(Entry("webhook-stripe", _connector_seeds("stripe"), _stripe))
    for name in ("zammad", "zendesk", "freshdesk", "chatwoot"):
        found.append(Entry(f"webhook-{name}", _connector_seeds(name), _helpdesk(name)))
    found.append(Entry("http-bodies", _http_seeds(), _http))
    return found


ENTRIES = {e.name: e for e in entries()}
