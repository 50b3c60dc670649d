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
from collections.abc import Iterator, Sequence
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
    """This process's journal: append before answering, drop what is committed.

    Lines go to the current segment; every ``ROTATE`` lines a new segment starts. A segment
    whose last line is committed is deleted; the current one is emptied whenever everything is
    committed. Every segment stays open and locked until deleted, so no other process mistakes
    a live holder's older segment for an orphan. Under steady load (when the writer never
    catches up exactly) the journal thus stays within a couple of segments.
    """

    ROTATE = 5_000

    def __init__(self, folder: Path, holder: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.holder = holder
        self.path = holder_file(folder, holder)
        self._header = json.dumps({"holder": holder}).encode() + b"\n"
        self._seq = 0
        self._fd = self._open(self.path)
        self._old: list[tuple[Path, int, int]] = []  # (path, fd, index of its last line)
        self._current_path = self.path
        self._current_start = 0
        self.written = 0  # lines appended, ever (the writer counts commits the same way)
        self._truncated_at = 0

    def _open(self, path: Path) -> int:
        # Made under a name the orphan scan does not match, locked, then renamed into place: a
        # file that can be seen as ``*.jsonl`` is always locked while its holder lives (else a
        # scan between create and lock would take a live holder for dead and close its leases).
        tmp = path.with_name(path.name + ".new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, self._header)
            os.rename(tmp, path)
        except BaseException:
            os.close(fd)
            raise
        return fd

    @property
    def paths(self) -> list[Path]:
        return [p for p, _, _ in self._old] + [self._current_path]

    def append(self, entry: Entry) -> None:
        os.write(self._fd, encode(entry))
        self.written += 1
        if self.written - self._current_start >= self.ROTATE:
            self._old.append((self._current_path, self._fd, self.written))
            self._seq += 1
            self._current_path = self.path.with_name(f"{self.path.stem}.{self._seq}.jsonl")
            self._fd = self._open(self._current_path)
            self._current_start = self.written

    def truncate_if(self, committed: int) -> None:
        """Drop what is committed (both counts kept on the loop thread)."""
        while self._old and self._old[0][2] <= committed:
            path, fd, _ = self._old.pop(0)
            with contextlib.suppress(OSError):
                os.unlink(path)
            os.close(fd)
        if committed >= self.written > max(self._truncated_at, self._current_start):
            os.ftruncate(self._fd, 0)
            os.write(self._fd, self._header)
            self._truncated_at = self.written

    def close(self, *, remove: bool) -> None:
        for path, fd, _ in [*self._old, (self._current_path, self._fd, 0)]:
            with contextlib.suppress(OSError):
                if remove:
                    os.unlink(path)
                os.close(fd)


def orphans(folder: Path, own: Sequence[Path] = ()) -> Iterator[tuple[Path, str, list[Entry], int]]:
    """Journals of dead holders, each yielded locked: (path, holder, entries, fd).

    The caller settles the entries, closes the holder, then ``finish(path, fd)``.
    """
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.jsonl")):
        if path in own:
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
