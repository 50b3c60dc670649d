"""Every crash the fuzzer ever found, replayed: ``corpus/<entry point>/<input>``."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.entries import ENTRIES
from fuzz.harness import CORPUS, run_one

CASES = sorted(p for p in CORPUS.glob("*/*") if p.is_file() and p.name != "README.md")


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.name}" for p in CASES])
def test_corpus_input_is_refused_cleanly(path: Path) -> None:
    error = run_one(ENTRIES[path.parent.name], path.read_bytes())
    assert error is None, error
