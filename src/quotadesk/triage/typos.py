"""Ticket text made comparable: lowercase ASCII, typos and contractions repaired.

Customers type fast and angry: "refnud", "acount", "paymet", "suspnded". The intent rules
match words, so a missed letter must not hide a refund request. Two layers:

- ``_TYPOS``: misspellings seen in real tickets and contractions, as patterns (reviewed one by
  one; some are not one edit away, like "refound" or "sez").
- ``repair``: every other word of five letters or more that is one slip away from a word the
  rules key on (two letters swapped, one letter missing or one extra) becomes that word. A
  wrong letter in place of a right one is *not* repaired: "changed" is one letter from
  "charged", and real words must stay what they are. Only words the vocabulary does not
  already hold are touched, and only when the slip points at exactly one vocabulary word.
"""

from __future__ import annotations

import re
import unicodedata

_TYPOS: tuple[tuple[str, str], ...] = (
    (r"\brecie?ve", "receive"),
    (r"\bbil+ing\b", "billing"),
    (r"\bbil+\b", "bill"),
    (r"\bac+ou?n?t\b|\bacc\b|\bacct\b|\baccout\b|\baccont\b", "account"),
    (r"\bsud+en+ly\b|\bsudently\b", "suddenly"),
    (r"\brefun\b|\brefound\b|\brefnd\b", "refund"),
    (r"\brate[\s_-]?limit(?:ed|s|ing)?\b|\bratelimit\w*", "rate limit"),
    (r"\bexc?e+de?e?d\b|\bexeeded\b|\bexceded\b|\bexcedeed\b", "exceeded"),
    (r"\bquo?ta\b|\bquata\b|\bqouta\b", "quota"),
    (r"\binsuf+ic+ie?n?t\b|\binsufficent\b", "insufficient"),
    (r"\bstop+ed\b", "stopped"),
    (r"\bpay?m(?:ne|en)t\b|\bpaymnet\b", "payment"),
    (r"\bcharg(?:ed|e)d\b", "charged"),
    (r"\bsais\b|\bsez\b", "says"),
    (r"\bpl[sz]\b|\bpleas\b|\bplease\b", "please"),
    (r"\bu\b", "you"),
    (r"\bur\b", "your"),
    (r"\bcredts?\b|\bcreidts?\b", "credits"),
    (r"\bwon'?t\b", "will not"),
    (r"\bcant\b|\bcannot\b|\bcan't\b|\bcan´t\b", "can not"),
    (r"\b(do|does|did|is|are|was|were|has|have|had|could|would|should)n'?t\b", r"\1 not"),
    (r"\bi'?m\b", "i am"),
    (r"\bdosent\b|\bdoesnt\b", "does not"),
    (r"\bworkin\b", "working"),
    (r"\bsuspen(?:ed|ded|sed)\b", "suspended"),
    (r"\binvoce\b|\binvoise\b", "invoice"),
    (r"\bapi[-_ ]?key\b|\bapikey\b", "api key"),
    (r"\btop[-\s]?up\b|\btopup\b", "top up"),
    (r"\bauto[-\s]?(recharge|reload|top up|topup|refill|pay)\b", r"auto recharge"),
)
_TYPO_RES = tuple((re.compile(p), r) for p, r in _TYPOS)
_SPACE_RE = re.compile(r"[ \t\r\f\v]+")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "´": "'", "`": "'", "“": '"', "”": '"', "—": " - ", "–": "-"})


def fold(text: str) -> str:
    """Lowercase, accents stripped (and the voicing marks of kana: NFKD splits them off), full-width
    forms made ASCII: the form every rule is written against, typos aside."""
    t = text.translate(_QUOTES).lower()
    t = unicodedata.normalize("NFKD", t)
    return "".join(c for c in t if not unicodedata.combining(c)).replace("ß", "ss")


def normalise(text: str) -> str:
    """Lowercase ASCII text with accents stripped and common typos and contractions repaired."""
    t = fold(text)
    for rx, rep in _TYPO_RES:
        t = rx.sub(rep, t)
    return _SPACE_RE.sub(" ", repair(t))


VOCABULARY = frozenset(
    [
        "refund",
        "refunds",
        "refunded",
        "reimburse",
        "reimbursed",
        "reimbursement",
        "charged",
        "charges",
        "charge",
        "billing",
        "invoice",
        "invoices",
        "invoiced",
        "payment",
        "payments",
        "declined",
        "expired",
        "expire",
        "exceeded",
        "insufficient",
        "credits",
        "credit",
        "balance",
        "quota",
        "account",
        "accounts",
        "suspended",
        "suspension",
        "deactivated",
        "disabled",
        "banned",
        "blocked",
        "locked",
        "restricted",
        "flagged",
        "subscription",
        "outage",
        "incident",
        "retries",
        "retrying",
        "retried",
        "compromised",
        "leaked",
        "stolen",
        "unauthorized",
        "unauthorised",
        "revoked",
        "invalid",
        "expensive",
        "spending",
        "budget",
        "limits",
        "limit",
        "trial",
        "upgrade",
        "upgraded",
        "recharge",
        "reload",
        "topped",
        "prepaid",
        "postpaid",
        "overdue",
        "unpaid",
        "outstanding",
        "organization",
        "organisation",
        "working",
        "stopped",
        "failing",
        "failed",
        "error",
        "errors",
        "requests",
        "request",
        "tokens",
        "usage",
        "higher",
        "suddenly",
        "receipt",
        "dispute",
        "chargeback",
        "fraud",
        "verification",
        "verify",
        "reinstate",
        "restore",
    ]
)
"""Words the intent rules key on (all forms the rules match), the targets of ``repair``."""


REAL_WORDS = frozenset(
    [
        "filed",
        "filing",
        "sending",
        "retied",
        "reties",
        "retired",
        "retires",
        "retying",
        "trail",
        "trails",
        "sopped",
        "tokes",
        "toped",
        "chares",
    ]
)
"""English words one slip from the vocabulary ("filed" is "failed" less an "a"): never repaired.
A missing first or last letter is not a slip either ("pending"/"spending", "charge"/"charged"),
which keeps most real words out; these are the rest found by reading every candidate."""


def _slips(word: str) -> set[str]:
    """Every string one slip away: two adjacent letters swapped, or one inner letter missing."""
    out = {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
    if len(word) >= 6:  # "refud" would be too close to too much
        out |= {word[:i] + word[i + 1 :] for i in range(1, len(word) - 1)}
    return out - {word} - REAL_WORDS


def _slip_map() -> dict[str, str]:
    found: dict[str, set[str]] = {}
    for word in VOCABULARY:
        for slip in _slips(word):
            found.setdefault(slip, set()).add(word)
    return {
        slip: next(iter(words)) for slip, words in found.items() if len(words) == 1 and slip not in VOCABULARY
    }


_SLIPS = _slip_map()
_WORD_RE = re.compile(r"\b[a-z]{5,}\b")


def _repair_word(match: re.Match[str]) -> str:
    word = match.group(0)
    if word in VOCABULARY:
        return word
    if word in _SLIPS:
        return _SLIPS[word]
    # one letter too many, inside the word: a first one makes other words ("preload"), a last
    # "s" or "d" a plural or a past tense
    extra = {word[:i] + word[i + 1 :] for i in range(1, len(word) - 1)} & VOCABULARY
    if word in REAL_WORDS:
        return word
    return next(iter(extra)) if len(extra) == 1 and len(word) >= 7 else word


def repair(text: str) -> str:
    """Repair words one slip away from the rules' vocabulary (see the module docstring)."""
    return _WORD_RE.sub(_repair_word, text)
