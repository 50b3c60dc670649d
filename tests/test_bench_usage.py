"""bench/usage.py runs end to end at a small size, so the benchmark of issue #4 cannot rot.

No timing is asserted: the test only checks that every figure and every target is printed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "usage.py"

FIGURES = (
    "1. floor",
    "2. suite",
    "findings by cause",
    "target suite <= 4x floor:",
    "target suite <= 60 s:",
    "3. one org",
    "target one org of 1M rows <= 2 s:",
    "4. peak memory",
    "target peak <= 8 GiB:",
)


def test_bench_usage_prints_every_figure(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--rows", "100000", "--org-rows", "200000", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for figure in FIGURES:
        assert any(figure in line for line in lines), f"missing {figure!r} in:\n{done.stdout}"
    targets = [line for line in lines if "target " in line]
    assert len(targets) == 4
    assert all(("PASS" in line) != ("FAIL" in line) for line in targets)
    assert "0 detector errors" in done.stdout
    assert (tmp_path / "log" / "_bench.json").exists()  # written under the given directory only
