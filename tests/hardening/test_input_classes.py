"""Each class of bad input from issue #11, through the real surfaces: exit 2 and one
``error: <field>: <message>`` line (CLI), or a 4xx naming the field (HTTP)."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from quotadesk import parse
from quotadesk.cli import app

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "examples" / "auto_recharge_failed.json").read_text())
HEADER = "ts,request_id,key_id,model,input_tokens,output_tokens,cached_tokens,requests,status,cost,fingerprint,ip\n"
ROW = "2026-11-10T10:00:00Z,{rid},k1,gpt-4o,{inp},10,0,1,200,{cost},fp,1.2.3.4\n"


def _one_error(result: Any, field: str) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert field in lines[0], lines[0]
    return lines[0]


def _bundle(tmp: Path, records: list[dict[str, Any]] | None = None, **top: Any) -> Path:
    doc = copy.deepcopy(SAMPLE)
    if records is not None:
        doc["usage"] = {"records": records}
    doc.update(top)
    path = tmp / "case.json"
    path.write_text(json.dumps(doc, ensure_ascii=False))
    return path


def _rec(**kw: Any) -> dict[str, Any]:
    base = {"ts": "2026-11-10T10:00:00Z", "request_id": "r1", "model": "gpt-4o", "input_tokens": 10, "cost": "0.01"}
    base.update(kw)
    return base


def _import(tmp: Path, text: str, name: str = "u.csv") -> Any:
    path = tmp / name
    path.write_text(text)
    return CliRunner().invoke(app, ["usage", "import", "contract", str(path), "--usage-dir", str(tmp / "log"), "--json"])


BAD_ROWS = [
    ("overflow past 2^63", {"input_tokens": 2**64}, {"inp": str(2**64)}, "input_tokens"),
    ("past the plausible bound", {"input_tokens": 10**13}, {"inp": str(10**13)}, "input_tokens"),
    ("exponent money", {"cost": "1e3"}, {"cost": "1e3"}, "cost"),
    ("negative money", {"cost": "-5"}, {"cost": "-5"}, "cost"),
    ("arabic-indic digits", {"cost": "١٢"}, {"cost": "١٢"}, "cost"),
    ("fullwidth digits", {"cost": "１２"}, {"cost": "１２"}, "cost"),
    ("float where int promised", {"input_tokens": 2.0}, {"inp": "2.0"}, "input_tokens"),
    ("year 1", {"ts": "0001-01-01T00:00:00Z"}, {}, "ts"),
    ("year 9999", {"ts": "9999-12-31T23:59:59Z"}, {}, "ts"),
]


@pytest.mark.parametrize(("name", "rec", "cells", "field"), BAD_ROWS, ids=[r[0] for r in BAD_ROWS])
def test_bad_row_is_refused_by_triage_and_import_alike(
    tmp_path: Path, name: str, rec: dict[str, Any], cells: dict[str, str], field: str
) -> None:
    triage = CliRunner().invoke(app, ["triage", str(_bundle(tmp_path, [_rec(**rec)])), "--json"])
    _one_error(triage, field)
    row = ROW.format(**{"rid": "r1", "inp": "10", "cost": "0.01", **cells})
    if "ts" in rec:
        row = row.replace("2026-11-10T10:00:00Z", rec["ts"])
    _one_error(_import(tmp_path, HEADER + row), field)


def test_duplicates_are_one_event_on_both_surfaces(tmp_path: Path) -> None:
    from quotadesk.usage.importers import read_files
    from quotadesk.usage.records import load_usage

    same = [_rec(), _rec(), _rec(request_id="r2")]
    assert load_usage(same, None).rows == 2
    path = tmp_path / "u.csv"
    path.write_text(HEADER + ROW.format(rid="r1", inp=10, cost="0.01") * 2 + ROW.format(rid="r2", inp=10, cost="0.01"))
    assert read_files("contract", [path]).usage.num_rows == 2
    assert load_usage(None, path).rows == 2
    clash = HEADER + ROW.format(rid="r1", inp=10, cost="0.01") + ROW.format(rid="r1", inp=11, cost="0.01")
    _one_error(_import(tmp_path, clash), "request_id")
    triage = CliRunner().invoke(app, ["triage", str(_bundle(tmp_path, [_rec(), _rec(input_tokens=11)])), "--json"])
    _one_error(triage, "request_id")


def test_deep_json_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    _one_error(CliRunner().invoke(app, ["triage", str(path)]), "$")
    deep = tmp_path / "u.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    r = CliRunner().invoke(app, ["usage", "import", "auto", str(deep), "--usage-dir", str(tmp_path / "log")])
    assert r.exit_code == 2 and "Traceback" not in r.stderr + r.stdout


def test_huge_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    with path.open("wb") as fh:  # sparse: past the limit without writing it
        fh.truncate(parse.MAX_JSON_BYTES + 1)
    assert "too large" in _one_error(CliRunner().invoke(app, ["triage", str(path)]), "bundle")


def test_broken_files(tmp_path: Path) -> None:
    truncated = tmp_path / "case.json"
    truncated.write_text(json.dumps(SAMPLE)[:300])
    _one_error(CliRunner().invoke(app, ["triage", str(truncated)]), "$")
    truncated.write_bytes(b'{"ticket": "\xff\xfe"}')
    _one_error(CliRunner().invoke(app, ["triage", str(truncated)]), "$")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq_path = tmp_path / "u.parquet"
    rows = [{"ts": "2026-11-10T10:00:00Z", "request_id": f"r{i}", "model": "gpt-4o", "cost": "0.01"} for i in range(2000)]
    pq.write_table(pa.Table.from_pylist(rows), pq_path)
    data = bytearray(pq_path.read_bytes())
    for i in range(200, 1200, 7):
        data[i] ^= 0xFF
    pq_path.write_bytes(bytes(data))
    r = CliRunner().invoke(app, ["usage", "import", "contract", str(pq_path), "--usage-dir", str(tmp_path / "log")])
    assert r.exit_code == 2 and r.stderr.startswith("error: "), (r.stdout, r.stderr)


def test_surrogates_and_markup_reach_json_and_rich_as_text(tmp_path: Path) -> None:
    doc = copy.deepcopy(SAMPLE)
    doc["ticket"]["id"] = "[bold]T-1[/bold]\ud800"
    path = tmp_path / "case.json"
    path.write_text(json.dumps(doc))  # ASCII-escaped: the lone surrogate survives as \ud800
    r = CliRunner().invoke(app, ["triage", str(path), "--json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout_bytes.decode("utf-8"))
    assert out["ticket_id"] == "[bold]T-1[/bold]\ufffd"
    r = CliRunner().invoke(app, ["triage", str(path)])
    assert r.exit_code == 0 and "[bold]T-1[/bold]" in r.stdout


def _with_file(tmp: Path, ref: str) -> Path:
    doc = copy.deepcopy(SAMPLE)
    doc["usage"] = {"records_file": ref}
    path = tmp / "case" / "case.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_bundle_reads_only_inside_its_folder(tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "u.jsonl").write_text(json.dumps(_rec()) + "\n")
    (tmp_path / "case").mkdir()
    if kind == "symlink":
        os.symlink(outside / "u.jsonl", tmp_path / "case" / "u.jsonl")
        ref = "u.jsonl"
    else:
        ref = "../outside/u.jsonl" if kind == "dotdot" else str(outside / "u.jsonl")
    path = _with_file(tmp_path, ref)
    _one_error(CliRunner().invoke(app, ["triage", str(path), "--json"]), "$.usage.records_file")
    monkeypatch.setenv("QUOTADESK_BUNDLE_EXTRA_ROOT", str(outside))
    r = CliRunner().invoke(app, ["triage", str(path), "--json"])
    assert r.exit_code == 0, r.stderr


def test_http_money_names_the_field() -> None:
    from pydantic import ValidationError

    from quotadesk.web.schemas import GrantIn

    for bad in ("1e3", "-5", "١٢", "１２", "NaN"):
        with pytest.raises(ValidationError) as info:
            GrantIn.model_validate({"amount": bad})
        assert info.value.errors()[0]["loc"] == ("amount",)
