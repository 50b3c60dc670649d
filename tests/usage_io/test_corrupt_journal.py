"""A corrupt journal in one org's usage log: that org is refused, clearly; the rest are read.

A journal is the log's promise to finish a batch (``usage.log``). One that is truncated, not
UTF-8, of another shape, or names paths out of its org's folder is never rolled forward (it
could move files it does not own) nor dropped (it could lose a batch): reading that org is an
``UsageFileError`` naming the journal, and ``usage scan`` reports it for that org (exit 1, the
scan ran) while every other org is scanned as usual. No traceback, and nothing renamed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from quotadesk.errors import UsageFileError
from quotadesk.usage.log import UsageLog

from .test_log import snapshot
from .test_scan import invoke, log_dir

assert log_dir is not None  # the module fixture of test_scan: acme, calm and billed

CORRUPT = {
    "truncated": b'[["org=acme/month=2026-10/.part-x.parquet.tmp", "org=acme/mo',
    "binary": b"\xff\xfe\x00",
    "not_a_list": b'{"a": 1}',
    "empty": b"[]",
    "short_entry": b'[["org=acme/month=2026-10/.part-x.parquet.tmp"]]',
    "escapes": json.dumps([["../../outside.tmp", "../../outside"]]).encode(),
    "other_org": json.dumps(
        [["org=calm/month=2026-10/.part-x.parquet.tmp", "org=calm/month=2026-10/part-x.parquet"]]
    ).encode(),
    "deep": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_a_corrupt_journal_refuses_its_org_and_the_scan_goes_on(
    log_dir: Path, tmp_path: Path, kind: str
) -> None:
    root = tmp_path / "log"
    shutil.copytree(log_dir, root)
    journal = root / "org=acme" / ".journal-corrupt.json"
    journal.write_bytes(CORRUPT[kind])
    before = snapshot(root)

    with pytest.raises(UsageFileError) as err:
        UsageLog(root).files("acme")
    assert err.value.field == "org=acme/.journal-corrupt.json" and "corrupt journal" in err.value.message

    result = invoke("scan", "--usage-dir", root, "--as-of", "2026-10-31T23:59:59Z", "--jobs", "1", "--json")
    assert result.exit_code == 1, result.output
    out = json.loads(result.stdout)
    assert [e["org"] for e in out["errors"]] == ["acme"]
    assert "corrupt journal" in out["errors"][0]["error"]
    assert {o["org"] for o in out["per_org"]} == {"calm", "billed"} and out["orgs"] == 3
    assert result.stderr.startswith("error: org acme: ") and len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output
    assert snapshot(root) == before and journal.exists()  # nothing renamed, nothing dropped
