"""A small mutation fuzzer over seed inputs, for every entry point that reads outside input.

Why our own: atheris has no wheel for this interpreter, and a structure-aware mutator (JSON
values swapped for hostile ones: huge and exponent numbers, locale digits, lone surrogates,
rich markup, edge dates, deep nesting) finds in a few thousand inputs what byte flips alone
would take millions for. Byte-level mutations (flips, truncation, splices) run too.

The invariant, for every entry point: it returns, or raises a project error
(``QuotadeskError``, which includes ``InputError``; pydantic's ``ValidationError`` for HTTP
bodies, which the desk answers 400); any other exception is a finding. A successful
result must serialise to valid UTF-8 JSON with ``quotadesk.parse.dumps``.

A finding is written to ``tests/fuzz/corpus/<entry point>/`` (the input, by its hash), where
``test_corpus.py`` replays it as a regression test forever.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
SHARED = Path("/work/shared/examples")
FIXTURES = ROOT / "tests" / "usage_io" / "fixtures"
INPUTS = int(os.environ.get("QUOTADESK_FUZZ_INPUTS", "25"))
"""Inputs per entry point: small in CI; ``QUOTADESK_FUZZ_INPUTS=2000`` for the larger run."""

HOSTILE: list[Any] = [
    "1e3", "-1", "-0.01", "NaN", "Infinity", "١٢", "１２", "12,50", "$5", "0x10", "9" * 40,
    "0." + "0" * 40 + "1", 2**63, 2**64 + 1, -(2**63) - 1, 10**13, 1.5, 3.0, True, None, [], {},
    "[bold]x[/bold]", "[link=file:///etc/passwd]x", "\ud800", "\udfff\ud800", "a\x00b", "",
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00",
    "2026-02-30T00:00:00Z", "2026-11-14T09:12:00", "2026-11-14T25:00:00Z", "2026-11-14T09:12:00+99:99",
    "../../etc/passwd", "/etc/passwd", "x" * 5000, "é" * 300, "\u202e", "sk-" + "a" * 48,
]  # fmt: skip
BYTES = [b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x00", b"[" * 3000, b"{\"a\":" * 2000, b"\r\n", b","]


@dataclass
class Entry:
    """An entry point: its name, seeds (bytes) and the call (bytes, scratch folder) → JSON-able."""

    name: str
    seeds: list[bytes]
    call: Callable[[bytes, Path], Any]
    suffix: str = ".json"


def allowed(exc: BaseException) -> bool:
    """A project error (or pydantic's 4xx) is a clean refusal; anything else is a finding."""
    from pydantic import ValidationError

    from quotadesk.errors import QuotadeskError

    return isinstance(exc, (QuotadeskError, ValidationError))


# --- mutation --------------------------------------------------------------------------------------


def _mutate_doc(doc: Any, rng: random.Random) -> Any:
    """Replace one value somewhere in ``doc`` with a hostile one, or nest it deeply."""
    paths: list[tuple[Any, Any]] = []
    stack = [doc]
    while stack and len(paths) < 5000:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            paths.append((node, k))
            if isinstance(v, (dict, list)):
                stack.append(v)
    if not paths:
        return rng.choice(HOSTILE)
    node, key = rng.choice(paths)
    roll = rng.random()
    if roll < 0.75:
        node[key] = rng.choice(HOSTILE)
    elif roll < 0.85:
        value: Any = node[key]
        for _ in range(rng.choice([70, 2000])):
            value = [value]
        node[key] = value
    elif roll < 0.93 and isinstance(node, list) and node:
        node.append(node[key])  # a duplicate (same request id twice)
    elif isinstance(node, dict):
        del node[key]
    return doc


def _bytes_mutation(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    roll = rng.random()
    if not b or roll < 0.2:
        return bytes(b) + rng.choice(BYTES)
    i = rng.randrange(len(b))
    if roll < 0.45:
        b[i] = rng.randrange(256)
    elif roll < 0.6:
        return bytes(b[: rng.randrange(len(b))])  # truncated
    elif roll < 0.75:
        return bytes(b[:i]) + rng.choice(BYTES) + bytes(b[i:])
    elif roll < 0.85:
        j = rng.randrange(len(b))
        return bytes(b[:i]) + bytes(b[j:])
    else:
        token = rng.choice(HOSTILE)
        text = json.dumps(token, ensure_ascii=False) if not isinstance(token, str) else token
        return bytes(b[:i]) + text.encode("utf-8", "surrogatepass") + bytes(b[i:])
    return bytes(b)


def mutate(seed: bytes, rng: random.Random) -> bytes:
    """One mutant of ``seed``: structure-aware on JSON (and JSON Lines), byte-level otherwise."""
    if rng.random() < 0.6:
        try:
            lines = seed.splitlines()
            if len(lines) > 1 and all(ln.strip()[:1] == b"{" for ln in lines if ln.strip()):
                i = rng.randrange(len(lines))
                doc = _mutate_doc(json.loads(lines[i]), rng)
                lines[i] = json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")
                if rng.random() < 0.2:
                    lines.append(lines[i])
                return b"\n".join(lines)
            doc = _mutate_doc(json.loads(seed), rng)
            return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")
        except (ValueError, RecursionError):
            pass
        if b"," in seed[:2000]:  # CSV: swap a cell
            lines = seed.splitlines()
            if len(lines) > 1:
                i = rng.randrange(1, len(lines))
                cells = lines[i].split(b",")
                j = rng.randrange(len(cells))
                token = rng.choice(HOSTILE)
                cells[j] = (token if isinstance(token, str) else json.dumps(token)).encode("utf-8", "surrogatepass")
                lines[i] = b",".join(cells)
                if rng.random() < 0.2:
                    lines.append(lines[i])
                return b"\n".join(lines)
    data = seed
    for _ in range(rng.randint(1, 3)):
        data = _bytes_mutation(data, rng)
    return data


# --- running ---------------------------------------------------------------------------------------


@dataclass
class Finding:
    entry: str
    path: Path
    error: str


def check_output(result: Any) -> None:
    """A result must serialise to JSON that is valid UTF-8."""
    from quotadesk.parse import dumps

    dumps(result).encode("utf-8")


def run_one(entry: Entry, data: bytes) -> str | None:
    """None when the entry point keeps the invariant on ``data``, else the traceback."""
    with tempfile.TemporaryDirectory(prefix="qd-fuzz-") as tmp:
        try:
            result = entry.call(data, Path(tmp))
            check_output(result)
        except Exception as exc:
            if allowed(exc):
                return None
            return "".join(traceback.format_exception(exc))[-3000:]
    return None


def save(entry: Entry, data: bytes) -> Path:
    folder = CORPUS / entry.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (hashlib.sha256(data).hexdigest()[:16] + entry.suffix)
    path.write_bytes(data)
    return path


def fuzz(entry: Entry, inputs: int = INPUTS, seed: int = 0) -> tuple[int, list[Finding]]:
    """Run ``inputs`` mutants of the entry's seeds (the seeds themselves first); findings saved."""
    rng = random.Random(f"{entry.name}:{seed}")
    findings: list[Finding] = []
    ran = 0
    queue = list(entry.seeds)
    while ran < inputs:
        data = queue[ran] if ran < len(queue) and ran < len(entry.seeds) else mutate(rng.choice(entry.seeds), rng)
        ran += 1
        error = run_one(entry, data)
        if error is not None:
            findings.append(Finding(entry.name, save(entry, data), error))
    return ran, findings
