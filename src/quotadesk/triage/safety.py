"""The safety guard every reply passes before it leaves.

Rules (contract "Rules every result keeps"): never promise or imply a refund or credit (only
the billing team approves), never offer or imply reinstatement, never say what triggered an
automated review, never ask for the full key, and tell the customer to rotate a key they
exposed. The guard does not trust the templates: it checks the final text, drops any
sentence that breaks a rule, and reports what it did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FLAGS = re.IGNORECASE

REFUND_PROMISE = tuple(
    re.compile(p, _FLAGS)
    for p in (
        r"\b(will|shall|going to|'ll)\s+(be\s+)?(fully\s+|definitely\s+|promptly\s+)?(refund|reimburs|credit(ed)?\b)",
        r"\brefund\s+(has|have|is|was)\s+(been\s+)?(issued|processed|approved|granted|on its way)",
        r"\b(i|we)\s*('ve|\s+have)\s+(issued|processed|approved|applied|granted|refunded|credited)",
        r"\bguarantee\w*\b.*\b(refund|credit|money back)",
        r"\byes,?\s+(we|i)\s+(will|can)\s+(refund|credit|reimburse)",
        r"\byou('ll| will)\s+(get|receive|be getting|see)\s+(a|your|the)?\s*(full\s+)?(refund|money back|credit)",
        r"\b(refund|credit)\s+(is|has been)\s+(approved|confirmed|guaranteed)",
        r"\bwe\s+(can|will)\s+(give|send|issue)\s+(you\s+)?(a\s+)?(full\s+)?(refund|credit)",
    )
)
REINSTATE = tuple(
    re.compile(p, _FLAGS)
    for p in (
        r"\b(i|we)\s*('ve|\s+have|'ll|\s+will|\s+can|\s+shall)\s+(now\s+|soon\s+|quickly\s+)?"
        r"(reinstate|reactivate|restore|unsuspend|unlock|unban|lift)",
        r"\baccount\s+(has\s+been|is\s+now|will\s+be|should\s+be)\s+(reinstated|reactivated|restored|unsuspended|unlocked)",
        r"\b(suspension|ban)\s+(has\s+been|will\s+be|is)\s+(lifted|removed|reversed)",
        r"\byou('ll| will)\s+(regain|get back)\s+access\b.*\bsuspen",
    )
)
TRIGGER = tuple(
    re.compile(p, _FLAGS)
    for p in (
        r"\b(was|were|got)\s+(flagged|suspended|reviewed)\s+(because|due to|for)\b",
        r"\b(triggered|caused)\s+by\s+(your|the)\b",
        r"\bthe\s+reason\s+(for|of)\s+(the|your)\s+(suspension|review|flag)\s+(is|was)\b",
        r"\b(automated|automatic)\s+(system|review|check)\s+(detected|found|flagged)\b",
    )
)
ASK_KEY = tuple(
    re.compile(p, _FLAGS)
    for p in (
        r"(send|share|provide|paste|give|email)\s+(us\s+|me\s+)?(your\s+)?(full|complete|entire|whole)\s+(api\s+)?key",
        r"(send|share|provide|paste|give|email)\s+(us\s+|me\s+)?(your|the)\s+(api\s+)?(key|secret)\b(?!.*last\s+(4|four))",
    )
)
ROTATE = re.compile(r"\b(rotate|revoke|regenerate)", _FLAGS)
ROTATE_SENTENCE = (
    "Important: your message contained an API key. Please rotate it now (revoke it and create a new one "
    "under API keys), and never share a full key with anyone, including us."
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the guard found in a reply and the reply it lets out."""

    reply: str
    refund_promised: bool
    reinstatement_offered: bool
    trigger_disclosed: bool
    asks_for_key: bool
    removed: tuple[str, ...]


def _hits(text: str, patterns: tuple[re.Pattern[str], ...]) -> bool:
    return any(p.search(text) for p in patterns)


def check(text: str) -> Verdict:
    """Judge a reply as it stands (nothing removed)."""
    return Verdict(
        reply=text,
        refund_promised=_hits(text, REFUND_PROMISE),
        reinstatement_offered=_hits(text, REINSTATE),
        trigger_disclosed=_hits(text, TRIGGER),
        asks_for_key=_hits(text, ASK_KEY),
        removed=(),
    )


def guard(text: str, *, key_exposed: bool) -> Verdict:
    """Drop every sentence that breaks a rule; add the rotate advice when a key was exposed."""
    removed: list[str] = []
    paragraphs = []
    for para in text.split("\n\n"):
        kept = []
        for sentence in _SENTENCE.split(para):
            if any(_hits(sentence, pats) for pats in (REFUND_PROMISE, REINSTATE, TRIGGER, ASK_KEY)):
                removed.append(sentence)
                continue
            kept.append(sentence)
        if kept:
            paragraphs.append(" ".join(kept))
    out = "\n\n".join(paragraphs)
    if key_exposed and not ROTATE.search(out):
        out = out + "\n\n" + ROTATE_SENTENCE
    final = check(out)
    return Verdict(
        reply=out,
        refund_promised=final.refund_promised,
        reinstatement_offered=final.reinstatement_offered,
        trigger_disclosed=final.trigger_disclosed,
        asks_for_key=final.asks_for_key,
        removed=tuple(removed),
    )


RULES: tuple[tuple[str, tuple[re.Pattern[str], ...], str], ...] = (
    (
        "refund_promise",
        REFUND_PROMISE,
        "promises or implies a refund or credit: only the billing team approves one",
    ),
    ("reinstatement", REINSTATE, "offers or implies reinstatement: only the owning team lifts a suspension"),
    ("trigger_disclosed", TRIGGER, "says what triggered an automated review"),
    ("asks_for_key", ASK_KEY, "asks for a full API key: ask for the last four characters instead"),
)


@dataclass(frozen=True, slots=True)
class Objection:
    """One sentence of a draft the guard would refuse, the rule it breaks and why."""

    sentence: str
    rule: str
    why: str


def review(text: str) -> tuple[Objection, ...]:
    """Every sentence of an engineer's draft that the guard would remove, with the rule and the
    reason, so an editor can say why before the reply is sent (and ``send`` can refuse it)."""
    found: list[Objection] = []
    for para in text.split("\n\n"):
        for sentence in _SENTENCE.split(para):
            for rule, patterns, why in RULES:
                if _hits(sentence, patterns):
                    found.append(Objection(sentence.strip(), rule, why))
                    break
    return tuple(found)
