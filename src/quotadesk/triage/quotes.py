"""The customer's own error and figures, in the few words a reply may quote back.

A reply that speaks conditionally ("the error you quoted (...) means ...") quotes the error as
the customer gave it: its code, else the sentence of the ticket that reads as the same rule
(never the customer's whole story), cut to a sentence. Amounts the money reader does not price
("1.150 €", "300美元") still count as given, so a reply does not ask for them again.
"""

from __future__ import annotations

import re
from typing import Any

_AMOUNT_CUE = re.compile(
    r"[$€£¥₹]\s?\d[\d.,]*|\d[\d.,]*\s?(?:[€£¥₹]|(?i:usd|eur|gbp|dollars?|euros?|reais|d[oó]lares)\b|美元|美金|元|ドル|円)"
)
"""An amount the customer wrote in a shape the money reader does not price ("1.150 €", "300美元")."""


def amounts_written(text: str) -> tuple[str, ...]:
    return tuple(_AMOUNT_CUE.findall(text))


def error_quote(it: Any, status: int | None, prose: object, provider: str) -> str:
    """The customer's error in a few words: its code, else the first sentence of its message.

    An error read out of the customer's prose has the prose as its "message": the sentence
    quoted is then the one that reads as the same rule, never the customer's story."""
    code = getattr(it, "code", None) or ""
    if code:
        return f"{status} {code}" if status else str(code)
    message = " ".join(str(getattr(it, "message", None) or "").split())
    if isinstance(prose, str) and (len(prose) > 160 or "\n" in prose.strip() or message == prose.strip()):
        message = _sentence_with(prose, it.rule, provider)
    message = message.strip(" \"'“”").replace('"', "'")
    if message:
        first = re.split(r"(?<=[.!?])\s", message, maxsplit=1)[0]
        if len(first) > 100:
            first = first[:97].rsplit(" ", 1)[0] + "..."
        return f'{status}, "{first}"' if status else f'"{first}"'
    return f"HTTP {status}" if status else ""


def _sentence_with(text: str, rule: Any, provider: str) -> str:
    from quotadesk.billing.dialects import interpret

    pieces = [p.strip(" \t-*>:") for p in re.split(r"\n+|(?<=[.!?])\s+", text) if p.strip()]
    for piece in pieces[:30]:
        if len(piece) >= 12 and interpret(None, piece, provider).rule == rule:
            return piece
    return ""


__all__ = ["amounts_written", "error_quote"]
