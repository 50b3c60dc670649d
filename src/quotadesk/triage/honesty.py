"""Is a reply honest about what the engine saw? The checks the replies are held to.

A reply that states a fact the engine never saw is worse than a question: the customer is told
something false, in a reply labelled safe to send. The reply builder (``triage/replies.py``)
makes that impossible by construction (a sentence renders only from evidence the case holds);
this module is the independent check, written against the reply's *text* and the bundle's
*document*, so that it holds whatever the builder does:

- ``CLAIMS``: the ways a reply speaks as if it had looked at a source (the account's balance,
  card, limits, tier, keys or status; the usage log; the status page). A claim about a source
  the bundle does not hold is a false claim. The wording loader refuses an override phrase whose
  claims are not bound to a slot of that source.
- money: every money figure in the reply is one the evidence holds (a figure of an evidence
  item whose source is in the bundle) or one the customer wrote.
- holes: a sentence with an empty figure ("a limit of  that", "($)", "on .", "None").
- asks: a reply or question that asks again for what the ticket gave (the quoted error, the
  status code, the org id, the dates, the amount).

``audit(doc, result)`` returns the problems found, as short strings (empty when honest).
The claim patterns are English, like the default wording; a deployment that writes its replies
in another language keeps the structural guarantee but not this second check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

SOURCES = ("account", "usage", "status_page")
"""The sections of a bundle a reply may speak about as seen (the ticket is always there)."""

_I = re.IGNORECASE


def _rx(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, _I) for p in patterns)


CLAIMS: Mapping[str, tuple[re.Pattern[str], ...]] = {
    "account": _rx(
        r"\b(?:i|we)(?:'ve| have)? (?:looked at|checked|reviewed|can see|see|found in) (?:your|the) "
        r"(?:account|balance|billing|books|credits?|card|payments?|invoices?|keys?|limits?|tier|grants?)\b",
        r"\byour (?:prepaid |spendable |current )?(?:credit )?balance (?:is|was|reached|has reached|shows|stands)\b",
        r"\bbalance (?:reached|is now|is at) \$?\d",
        r"\b(?:the )?(?:last|latest) (?:charge|payment) (?:to|on|from) .{0,40}\bfailed\b",
        r"\bauto-?recharge (?:is|was) (?:off|on|enabled|disabled)\b",
        r"\bauto-?recharge tried\b",
        r"\b(?:your )?(?:key|account|card)s? and (?:your )?billing (?:are|is) (?:otherwise )?(?:fine|ok|in order)\b",
        r"\b(?:your )?account and billing are fine\b",
        r"\bhard limit of \S+ (?:that is |which is )?set on your account\b",
        r"\bthis month's spend has reached\b",
        r"\byour (?:free )?trial credits (?:\([^)]*\) )?(?:have been used up|expired|are used up|ran out)\b",
        r"\bis not available on your (?:account's )?(?:current )?tier\b",
        r"\byour (?:account's )?(?:current )?tier (?:allows|is|includes)\b",
        r"\binvoice \S+ (?:\([^)]*\) )?is (?:past its due date|overdue|unpaid)\b",
        r"\byour account is (?:currently )?(?:suspended|active|not suspended)\b",
        r"\byour account itself is not suspended\b",
        r"\bthe (?:api )?key (?:you are using|in use) \([^)]*\) (?:was|is)\b",
        r"\byour payment went through\b",
        r"\byour card (?:looks|is) (?:fine|valid|ok)\b",
        r"\b(?:your )?credit balance (?:\([^)]*\) )?is not the problem\b",
        r"\byour account's tier upgrade\b",
        r"\bthe account (?:shows|has) (?:as )?(?:suspended|active|no )\b",
    ),
    "usage": _rx(
        r"\b(?:i|we)(?:'ve| have)? (?:looked at|checked|reviewed|went through|can see|see) (?:your|the) usage\b",
        r"\b(?:your|the) usage (?:shows|showed|came to|log shows|data shows|totals?)\b",
        r"\b(?:your|the) recorded usage\b",
        r"\b(?:charges|they) match (?:the usage|what was used)\b",
        r"\brequests kept running\b",
        r"\bone of your keys sent\b",
        r"\byour requests moved to\b",
        r"\bthe number of tokens per request rose\b",
        r"\bis carrying production-like traffic\b",
        r"\byour request volume grew\b",
        r"\baccounts? for about\b",
        r"\bactivity inconsistent with your history\b",
        r"\baddresses your account had not used\b",
        r"\bpart of the charges came from\b",
    ),
    "status_page": _rx(
        r"\bwe are (?:currently )?experiencing (?:a|an) (?:service )?(?:incident|outage)\b",
        r"\b(?:listed|shown|posted|reported) on our status page\b",
        r"\bduring a service incident on our side\b",
        r"\bour engineers are working on it\b",
        r"\b(?:there is|there's) (?:no|an) (?:active |ongoing |current |unresolved )?incident\b",
        r"\bno (?:active|ongoing|current|unresolved) incident\b",
        r"\bthe incident (?:is|was) (?:resolved|ongoing|under way)\b",
    ),
}

_MONEY_RE = re.compile(
    r"(?:US)?\$\s?(?P<a>\d[\d,]*(?:\.\d+)?)|(?P<b>\d[\d,]*(?:\.\d+)?)\s?(?:USD|US dollars|dollars)\b", _I
)
_NUMBER_RE = re.compile(r"\d[\d,]*(?:\.\d+)?")
HOLES = _rx(
    r"\S {2,}\S",
    r"\(\s*\)",
    r"\$(?!\s?\d)",
    r"\b(?:None|null|undefined|NaN)\b",
    r"\{[A-Za-z_.]*\}",
    r"[ \t][,.;:)](?!\d)",
)
"""Signs of a figure left empty: two spaces, empty brackets, a bare currency sign, a placeholder or
a null written out, a space before punctuation ("expired on .", "starting : requests")."""


@dataclass(frozen=True, slots=True)
class Given:
    """What the ticket already states (a reply must not ask for it again)."""

    error: bool = False
    status: bool = False
    org_id: bool = False
    dates: bool = False
    amount: bool = False

    @classmethod
    def of(cls, items: Iterable[str]) -> Given:
        names = set(items)
        unknown = names - {"error", "status", "org_id", "dates", "amount"}
        if unknown:
            raise ValueError(f"unknown given item(s): {', '.join(sorted(unknown))}")
        return cls(**dict.fromkeys(names, True))


ASKS: Mapping[str, tuple[re.Pattern[str], ...]] = {
    "error": _rx(
        r"\b(?:exact|full|complete) (?:text of the )?error(?: message)?\b",
        r"\berror message (?:and|you (?:receive|see|get))\b",
        r"\bwhat (?:exact )?error (?:message )?(?:does|do|did)\b",
    ),
    "status": _rx(
        r"\b(?:http )?status(?: code)? (?:you (?:receive|see|get)|does the api return)\b",
        r"\band (?:the )?http status\b",
        r"\bwhat (?:exact )?http status\b",
        r"\berror message and (?:the )?(?:http )?status\b",
    ),
    "org_id": _rx(r"\b(?:which|your|the) organi[sz]ation id\b", r"\borg(?:anization)? id (?:do|does)\b"),
    "dates": _rx(
        r"\b(?:roughly |approximately )?when (?:it|this|the errors?|they) (?:started|began|happened)\b",
        r"\bsince when\b",
        r"\bwhich (?:billing )?(?:period|dates?|days?)\b",
        r"\bthe time (?:it happened|you saw)\b",
    ),
    "amount": _rx(
        r"\bwhich charges\b",
        r"\b(?:what|which) amounts?\b",
        r"\b(?:dates and|and the) amounts?\b",
        r"\broughly what you expected to pay\b",
    ),
}


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def money_figures(text: str) -> tuple[Decimal, ...]:
    """The money amounts a text states, exact."""
    out = []
    for m in _MONEY_RE.finditer(text):
        d = _decimal(m.group("a") or m.group("b"))
        if d is not None:
            out.append(d)
    return tuple(out)


def numbers(text: str) -> frozenset[Decimal]:
    """Every number in a text (a figure of evidence may be written without a currency)."""
    found = set()
    for m in _NUMBER_RE.finditer(text):
        d = _decimal(m.group(0))
        if d is not None:
            found.add(d.normalize())
    return frozenset(found)


_QUOTED_RE = re.compile(r'"[^"\n]*"|“[^”\n]*”')


def claims(text: str) -> frozenset[str]:
    """The sources a text speaks about as seen (words in double quotes are someone else's: the
    customer's error, an incident's name)."""
    text = _QUOTED_RE.sub('""', text)
    return frozenset(src for src, pats in CLAIMS.items() if any(p.search(text) for p in pats))


def holes(text: str) -> tuple[str, ...]:
    """Excerpts of a text where a figure looks left empty."""
    out = []
    for line in text.split("\n"):
        for p in HOLES:
            m = p.search(line)
            if m:
                out.append(line[max(0, m.start() - 20) : m.end() + 20])
    return tuple(out)


_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_ASKING_RE = re.compile(r"\?|\b(?:could|can|would) you\b|\bplease (?:send|tell|share|let us know|reply)", _I)


def asked(text: str) -> frozenset[str]:
    """The items of ``Given`` the asking sentences of a text ask for (a question, "could you...")."""
    asking = " ".join(s for s in _SENTENCE_RE.split(text) if _ASKING_RE.search(s))
    return frozenset(item for item, pats in ASKS.items() if any(p.search(asking) for p in pats))


def resolves(doc: Mapping[str, Any], pointer: str) -> bool:
    """Does a JSON pointer name something in the bundle? A usage pointer needs only the section
    (rows may sit in a records file the document does not inline)."""
    if not pointer.startswith("/"):
        return False
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]
    node: Any = doc
    for i, part in enumerate(parts):
        if i == 1 and parts[0] == "usage":
            return True
        if isinstance(node, Mapping) and part in node and node[part] is not None:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def present(doc: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(s for s in SOURCES if doc.get(s) is not None)


def ticket_text(doc: Mapping[str, Any]) -> str:
    t = doc.get("ticket") or {}
    parts = [str(t.get("subject") or ""), str(t.get("body") or "")]
    for a in t.get("attachments") or ():
        parts.extend(str(a.get(k) or "") for k in ("body", "text"))
    return "\n".join(parts)


def audit(doc: Mapping[str, Any], result: Mapping[str, Any], given: Given | None = None) -> tuple[str, ...]:
    """The ways ``result``'s reply (and questions) are not honest about ``doc``; empty when honest."""
    reply = str(result.get("reply") or "")
    problems: list[str] = []
    have = present(doc)
    for src in sorted(claims(reply) - have):
        problems.append(f"claims the {src} without it in the case")
    evidence: Sequence[Mapping[str, Any]] = result.get("evidence") or ()
    for e in evidence:
        if not resolves(doc, str(e.get("source") or "")):
            problems.append(f"evidence cites {e.get('source')!r}, which the case does not hold")
    known: set[Decimal] = set()
    for e in evidence:
        if resolves(doc, str(e.get("source") or "")):
            known |= numbers(str(e.get("fact") or ""))
    known |= numbers(ticket_text(doc))
    for fig in money_figures(reply):
        if fig.normalize() not in known:
            problems.append(f"states {fig} USD, a figure no evidence holds")
    problems.extend(f"empty slot near {h!r}" for h in holes(reply))
    if given is not None:
        asks = asked(reply) | asked("\n".join(str(q) + "?" for q in result.get("questions") or ()))
        for item in sorted(asks):
            if getattr(given, item):
                problems.append(f"asks again for the {item.replace('_', ' ')} the ticket gave")
    return tuple(problems)


__all__ = ["ASKS", "CLAIMS", "Given", "asked", "audit", "claims", "holes", "money_figures", "present"]
