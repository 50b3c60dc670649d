"""The settle journal: segments rotate, committed ones go, a live holder's files are never orphans."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from quotadesk.gateway import journal
from quotadesk.store.metering import UsageEvent


def _entry(i: int) -> journal.Entry:
    event = UsageEvent(request_id=f"req_{i}", org_id="org_1", model="gpt-4o-mini", ts=datetime.now(UTC),
                       input_tokens=5, output_tokens=2, key_id="key_1", hold_id="lease_1")
    return journal.Entry(event, "lease_1", 7)


def test_an_entry_round_trips() -> None:
    e = _entry(1)
    assert journal.decode(journal.encode(e).strip()) == e


def test_segments_rotate_and_committed_ones_are_deleted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal.Journal, "ROTATE", 3)
    j = journal.Journal(tmp_path, "host:1:aa")
    for i in range(7):
        j.append(_entry(i))
    assert len(j.paths) == 3 and all(p.exists() for p in j.paths)
    assert list(journal.orphans(tmp_path)) == []  # locked by a live holder: not orphans
    j.truncate_if(6)  # the first two segments (lines 1-6) are committed
    assert len(j.paths) == 1 and len(list(tmp_path.glob("*.jsonl"))) == 1
    j.truncate_if(7)
    assert j.paths[0].read_bytes().count(b"\n") == 1  # only the header left
    j.close(remove=True)
    assert list(tmp_path.glob("*.jsonl")) == []


def test_a_dead_holders_segments_are_orphans(tmp_path: Path) -> None:
    j = journal.Journal(tmp_path, "host:2:bb")
    j.append(_entry(1))
    j.close(remove=False)  # the process died: its lock is gone, its file stays
    found = list(journal.orphans(tmp_path))
    assert [(h, [e.event.request_id for e in es]) for _, h, es, _ in found] == [("host:2:bb", ["req_1"])]
    for path, _, _, fd in found:
        journal.finish(path, fd)
    assert list(tmp_path.glob("*.jsonl")) == []
