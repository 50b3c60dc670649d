"""The settle journal: what makes a settle durable before the answer leaves, without a commit.

Settles are group-committed by a writer thread a few milliseconds after the answer is sent
(``gateway.settlement``). To survive the process being killed in between, each settle is first
appended to this process's journal file (one JSON line, one ``write`` system call, no fsync):
the bytes are in the kernel once ``write`` returns, so a SIGKILL or a crash of the process loses
nothing; a power cut of the machine can lose the last lines (see docs/gateway.md).

Each holder (gateway process) owns one file, ``<dir>/<holder>.jsonl``, locked with ``flock``
while the process lives. Another gateway starting (or the periodic sweep) that can take the
lock of a file knows its holder is dead, replays the file through ``metering.record_batch``
(exactly once by request id: lines already posted are skipped as replays), releases the dead
holder's leases and deletes the file. The file is truncated whenever everything in it is
committed, so it stays small.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from quotadesk.store.metering import UsageEvent


@dataclass(frozen=True, slots=True)
class Entry:
    """A journaled settle: the usage event and the lease it is counted on."""

    event: UsageEvent
    lease_id: str | None
    cost: int


def encode(entry: Entry) -> bytes:
    e = entry.event
    row = [
        e.request_id, e.org_id, e.key_id, e.model, e.ts.isoformat(), e.input_tokens, e.output_tokens,
        e.cached_tokens, e.status, entry.lease_id, entry.cost, e.ip,
    ]
    return json.dumps(row, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> Entry:
    rid, org, key, model, ts, inp, out, cached, status, lease, cost, ip = json.loads(line)
    event = UsageEvent(
        request_id=rid, org_id=org, key_id=key, model=model, ts=datetime.fromisoformat(ts),
        input_tokens=inp, output_tokens=out, cached_tokens=cached, status=status, ip=ip, hold_id=lease,
    )
    return Entry(event, lease, cost)


def holder_file(folder: Path, holder: str) -> Path:
    return folder / (holder.replace("/", "_").replace(":", "_") + ".jsonl")


class Journal:
    """This process's journal: append before answering, truncate when all is committed."""

    def __init__(self, folder: Path, holder: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = holder_file(folder, holder)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        header = json.dumps({"holder": holder}).encode() + b"\n"
        os.write(self._fd, header)
        self._header = header
        self.written = 0  # lines appended, ever (the writer counts commits the same way)
        self._truncated_at = 0

    def append(self, entry: Entry) -> None:
        os.write(self._fd, encode(entry))
        self.written += 1

    def truncate_if(self, committed: int) -> None:
        """Empty the file when every line written is committed (both counted on the loop thread)."""
        if committed >= self.written > self._truncated_at:
            os.ftruncate(self._fd, 0)
            os.write(self._fd, self._header)
            self._truncated_at = self.written

    def close(self, *, remove: bool) -> None:
        with contextlib.suppress(OSError):
            if remove:
                os.unlink(self.path)
            os.close(self._fd)


def orphans(folder: Path, own: Path | None) -> Iterator[tuple[Path, str, list[Entry], int]]:
    """Journals of dead holders, each yielded locked: (path, holder, entries, fd).

    The caller settles the entries, closes the holder, then ``finish(path, fd)``.
    """
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.jsonl")):
        if own is not None and path == own:
            continue
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)  # alive: its holder keeps the lock
            continue
        with open(path, "rb") as fh:
            lines = fh.read().splitlines()
        holder = path.stem
        entries: list[Entry] = []
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            if i == 0 and line.startswith(b"{"):
                with contextlib.suppress(ValueError):
                    holder = str(json.loads(line).get("holder") or holder)
                continue
            with contextlib.suppress(ValueError, TypeError):
                entries.append(decode(line))  # a torn last line (killed mid-write) is skipped
        yield path, holder, entries, fd


def finish(path: Path, fd: int) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
    with contextlib.suppress(OSError):
        os.close(fd)
