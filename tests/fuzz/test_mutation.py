"""Mutation fuzzing of every entry point (``harness``): only project errors or success.

CI budget: ``QUOTADESK_FUZZ_INPUTS`` (default 25) inputs per entry point. The larger run is
``QUOTADESK_FUZZ_INPUTS=2000 .venv/bin/pytest tests/fuzz -q`` (docs/testing.md).
"""

from __future__ import annotations

import pytest

from fuzz.entries import ENTRIES
from fuzz.harness import INPUTS, fuzz


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_entry_point_keeps_the_invariant(name: str) -> None:
    ran, findings = fuzz(ENTRIES[name], INPUTS)
    assert ran == INPUTS
    assert not findings, "\n\n".join(f"{f.path}:\n{f.error}" for f in findings[:3])
