"""The reply an engineer sends: the engine's draft or their edit of it, judged by the same guard.

The triage engine's own replies already pass ``triage.safety``; an engineer's edit must too.
A draft the guard would cut is refused whole rather than trimmed behind the engineer's back,
with each offending sentence and the rule it breaks, so the editor can say why as they type.
A full API key in the text is refused as well: a reply is a place a key must never travel.
"""

from __future__ import annotations

from typing import Any

from quotadesk.billing.secrets import find_secrets
from quotadesk.errors import InputError
from quotadesk.triage.safety import ROTATE, Objection, review


class UnsafeReplyError(InputError):
    """A reply the safety guard refuses; ``objections`` lists each sentence, rule and reason."""

    http_status = 422

    def __init__(self, message: str, objections: list[dict[str, str]]) -> None:
        self.objections = objections
        super().__init__(message, "text")


def objections(text: str, *, key_exposed: bool = False) -> list[dict[str, str]]:
    """What the guard says of ``text``: one entry per refused sentence (empty: safe to send)."""
    found: list[Objection] = list(review(text))
    out = [{"sentence": o.sentence, "rule": o.rule, "why": o.why} for o in found]
    if find_secrets(text):
        out.append({"sentence": "", "rule": "full_key", "why": "contains a full API key: never send one"})
    if key_exposed and not ROTATE.search(text):
        out.append(
            {
                "sentence": "",
                "rule": "rotate_missing",
                "why": "the customer exposed a key: the reply must tell them to rotate it now",
            }
        )
    return out


def refuse_unsafe(text: str, *, key_exposed: bool = False) -> None:
    found = objections(text, key_exposed=key_exposed)
    if found:
        rules = ", ".join(sorted({o["rule"] for o in found}))
        raise UnsafeReplyError(f"the safety guard refuses this reply ({rules})", found)


def verdict(text: str, *, key_exposed: bool = False) -> dict[str, Any]:
    found = objections(text, key_exposed=key_exposed)
    return {"safe": not found, "objections": found}
