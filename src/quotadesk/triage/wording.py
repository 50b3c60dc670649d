"""The words of a reply, as data: phrases keyed by id, each naming the evidence slots it needs.

A reply is never a free template filled with whatever figures happen to be at hand. It is a
sequence of *phrases* (``replies.py`` says which, per root cause), and a phrase renders only
when every evidence slot it names is bound to a figure the case holds (``evidence.Fact``).
Without the account, a phrase that names ``{account.balance}`` simply does not render, and the
playbook's next choice, a conditional phrase about what the customer's error usually means,
does. A slot is never empty: a ``Fact`` cannot hold an empty value, so a hole in a sentence
cannot be rendered at all.

Phrase syntax:

- ``{account.balance}``, ``{usage.impact}``, ``{status.incident_name}``, ``{ticket.error}``,
  ``{case.resets_on}``: an evidence slot (see ``SLOTS``); money slots render through ``money``.
- ``{place.payment_methods}``: a dashboard path; ``{team.finance}``: a team's name. Both come
  from the wording itself (``places``, ``teams``), never from the case.
- ``[ ... ]``: an optional part, rendered only when the slots inside it are bound.
- ``{asks}``: only in ``ask.*`` phrases, the list of what the customer is asked for.

The default is the runbook's wording, ``quotadesk/data/replies.toml``. A deployment overrides
any part of it (greeting, sign-off, money format, places, teams, phrases, asks) with a file of
the same shape, TOML or JSON::

    from quotadesk.triage.wording import load_wording
    from quotadesk.triage.engine import triage_bundle

    wording = load_wording("desk-wording.toml")      # WordingError (an InputError) if refused
    result = triage_bundle(bundle, wording=wording)  # default: the runbook's wording

``load_wording`` merges the override over the defaults and validates every overridden piece;
it refuses (naming the field) an unknown id, place, team or slot; a phrase that uses a slot its
default does not (the playbook binds only those); a money figure, or any number the default
does not have; a claim about the account, the usage or the status page that no slot of that
source backs (``honesty.CLAIMS``); and any text the safety guard would cut (a refund promise,
reinstatement, a review's trigger, a request for the full key). ``validate_wording`` checks a
mapping without a file (for a settings page).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from quotadesk.errors import InputError
from quotadesk.triage import honesty
from quotadesk.triage.safety import check

FAMILIES = {
    "account": "account",
    "usage": "usage",
    "status": "status_page",
    "ticket": "ticket",
    "case": "case",
}
"""Slot namespace → the bundle section its facts come from (``case``: ``as_of`` and the rules)."""

SLOTS: Mapping[str, str] = {
    # account
    "account.balance": "money",
    "account.card": "text",
    "account.failure_code": "text",
    "account.failed_at": "text",
    "account.failed_amount": "money",
    "account.auto_recharge_off": "text",
    "account.invoice_id": "text",
    "account.invoice_total": "money",
    "account.invoice_due": "text",
    "account.outstanding": "money",
    "account.hard_limit": "money",
    "account.trial_amount": "money",
    "account.expired_at": "text",
    "account.expired_remaining": "money",
    "account.tier": "text",
    "account.target_tier": "text",
    "account.model": "text",
    "account.rpm": "text",
    "account.tpm": "text",
    "account.status": "text",
    "account.suspended": "text",
    "account.key": "text",
    "account.key_count": "text",
    # usage
    "usage.period": "text",
    "usage.total": "money",
    "usage.previous_period": "text",
    "usage.previous_total": "money",
    "usage.impact": "money",
    "usage.since": "text",
    "usage.requests": "text",
    "usage.failed_requests": "text",
    "usage.from_model": "text",
    "usage.to_model": "text",
    "usage.change_date": "text",
    "usage.new_ips": "text",
    "usage.new_models": "text",
    "usage.model": "text",
    # status page
    "status.incident_name": "text",
    "status.incident_id": "text",
    "status.incident_started": "text",
    "status.incident_status": "text",
    # the customer's own words and error
    "ticket.error": "text",
    "ticket.status": "text",
    # the case
    "case.resets_on": "text",
}
ASKS_SLOT = "asks"

_TOKEN_RE = re.compile(r"\{([a-z_]+(?:\.[a-z_]+)?)\}")
_DIGITS_RE = re.compile(r"\d+")
_MONEY_RE = re.compile(r"[$€£¥]\s?\d|\d\s?(?:usd|eur|gbp|dollars?|euros?)\b", re.IGNORECASE)


class WordingError(InputError):
    """A wording (or an override of it) the desk refuses; ``field`` names the piece."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of a phrase: literal text and slot names, required or optional (``[...]``)."""

    parts: tuple[str | tuple[str], ...]
    optional: bool = False

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(p[0] for p in self.parts if isinstance(p, tuple))


@dataclass(frozen=True, slots=True)
class Phrase:
    """One phrase: its id, its text, and the slots it needs (required) or may use (optional)."""

    id: str
    text: str
    segments: tuple[Segment, ...]

    @property
    def required(self) -> frozenset[str]:
        return frozenset(s for seg in self.segments if not seg.optional for s in seg.slots)

    @property
    def slots(self) -> frozenset[str]:
        return frozenset(s for seg in self.segments for s in seg.slots)

    @property
    def evidence(self) -> frozenset[str]:
        """The evidence slots (not places, teams or the ask list)."""
        return frozenset(s for s in self.slots if s.split(".")[0] in FAMILIES)


def parse_phrase(pid: str, text: str) -> Phrase:
    """Split a phrase into segments; refuse unbalanced brackets and unknown slot names."""
    where = f"phrases.{pid}"
    if not isinstance(text, str) or not text.strip():
        raise WordingError("must be a non-empty string", where)
    segments: list[Segment] = []
    rest = text
    while rest:
        open_at = rest.find("[")
        close_at = rest.find("]")
        if close_at != -1 and (open_at == -1 or close_at < open_at):
            raise WordingError("']' without '['", where)
        if open_at == -1:
            segments.append(_segment(rest, False, where))
            break
        end = rest.find("]", open_at)
        if end == -1 or "[" in rest[open_at + 1 : end]:
            raise WordingError("'[' must close with ']' before another '['", where)
        if open_at:
            segments.append(_segment(rest[:open_at], False, where))
        segments.append(_segment(rest[open_at + 1 : end], True, where))
        rest = rest[end + 1 :]
    return Phrase(pid, text, tuple(segments))


def _segment(text: str, optional: bool, where: str) -> Segment:
    parts: list[str | tuple[str]] = []
    pos = 0
    for m in _TOKEN_RE.finditer(text):
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        name = m.group(1)
        ns = name.split(".")[0]
        if name != ASKS_SLOT and ns not in ("place", "team") and name not in SLOTS:
            raise WordingError(f"unknown slot {{{name}}}", where)
        parts.append((name,))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    leftover = "".join(p for p in parts if isinstance(p, str))
    if "{" in leftover or "}" in leftover:
        raise WordingError("a '{' or '}' that is not a slot (slots look like {account.balance})", where)
    return Segment(tuple(parts), optional)


@dataclass(frozen=True, slots=True)
class Wording:
    """Everything a reply says that is not a figure of the case."""

    greeting: str
    sign_off: str
    money: str
    conjunction: str
    places: Mapping[str, str]
    teams: Mapping[str, str]
    phrases: Mapping[str, Phrase]
    asks: Mapping[str, Phrase] = field(default_factory=dict)

    def phrase(self, pid: str) -> Phrase:
        return self.phrases[pid]


# --- validation ----------------------------------------------------------------------------------
def _claim_check(text_by_part: list[tuple[str, frozenset[str]]], where: str) -> None:
    """Each part may claim only sources whose slots it (or the required part) binds."""
    for text, bound in text_by_part:
        families = {FAMILIES[s.split(".")[0]] for s in bound if s.split(".")[0] in FAMILIES}
        claimed = honesty.claims(text)
        unbound = sorted(claimed - families)
        if unbound:
            raise WordingError(
                f"speaks about the {', '.join(unbound)} without a slot of it (a claim must be bound to "
                "the evidence it states)",
                where,
            )


def _plain(seg: Segment) -> str:
    return "".join(p if isinstance(p, str) else "" for p in seg.parts)


def _safe(text: str, where: str) -> None:
    v = check(text)
    if v.refund_promised or v.reinstatement_offered or v.trigger_disclosed or v.asks_for_key:
        raise WordingError(
            "the safety guard would cut this (a refund or credit promised, reinstatement, a review's "
            "trigger, or the full key asked for)",
            where,
        )


def _no_money(text: str, where: str, default: str | None, *, is_default: bool = False) -> None:
    if _MONEY_RE.search(text):
        raise WordingError("states a money figure; figures come only from evidence slots", where)
    if is_default:
        return  # the runbook's own numbers (10 minutes, 00:00 UTC, 429) are the reference
    allowed = set(_DIGITS_RE.findall(default or ""))
    extra = sorted(set(_DIGITS_RE.findall(text)) - allowed)
    if extra:
        raise WordingError(f"introduces the number(s) {', '.join(extra)}, which no slot backs", where)


def check_phrase(
    phrase: Phrase, default: Phrase | None, *, is_ask: bool = False, is_default: bool = False
) -> None:
    """Refuse a phrase that could state what the evidence does not hold."""
    where = f"{'asks' if is_ask else 'phrases'}.{phrase.id}"
    if default is not None:
        extra = sorted(phrase.evidence - default.evidence)
        if extra:
            raise WordingError(
                f"uses slot(s) {', '.join('{' + s + '}' for s in extra)} that this phrase's playbook does "
                "not bind",
                where,
            )
    if ASKS_SLOT in phrase.slots and not (phrase.id.startswith("ask.") and not is_ask):
        raise WordingError("{asks} belongs in ask.* phrases only", where)
    required = phrase.required
    parts = [(_plain(s), required | frozenset(s.slots)) for s in phrase.segments]
    _claim_check(parts, where)
    plain = "".join(_plain(s) for s in phrase.segments)
    _no_money(plain, where, default.text if default else None, is_default=is_default)
    _safe(plain, where)


def _check_plain(text: Any, where: str, default: str | None, is_default: bool = False) -> str:
    if not isinstance(text, str) or not text.strip():
        raise WordingError("must be a non-empty string", where)
    if "{" in text or "}" in text or "[" in text or "]" in text:
        raise WordingError("must be plain text (no slots or brackets)", where)
    if honesty.claims(text):
        raise WordingError("must not speak about the account, usage or status page", where)
    _no_money(text, where, default, is_default=is_default)
    _safe(text, where)
    return text


def _table(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, Mapping):
        raise WordingError("must be a table of strings", name)
    return value


def _build(doc: Mapping[str, Any], base: Wording | None) -> Wording:
    known = {"greeting", "sign_off", "money", "conjunction", "places", "teams", "phrases", "asks"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise WordingError(f"unknown key(s): {', '.join(unknown)}", unknown[0])
    top: dict[str, str] = {}
    for name in ("greeting", "sign_off", "conjunction"):
        if name in doc:
            top[name] = _check_plain(doc[name], name, getattr(base, name) if base else None, base is None)
        elif base is not None:
            top[name] = getattr(base, name)
        else:
            raise WordingError("is required in the default wording", name)
    money = doc.get("money", base.money if base else None)
    if not isinstance(money, str) or money.count("{amount}") != 1 or _DIGITS_RE.search(money):
        raise WordingError(
            "must hold {amount} once and no digits, e.g. '${amount}' or '{amount} USD'", "money"
        )
    tables: dict[str, dict[str, str]] = {}
    for name in ("places", "teams"):
        current = dict(getattr(base, name)) if base else {}
        for key, text in _table(doc, name).items():
            if base is not None and key not in current:
                raise WordingError(
                    f"unknown {name[:-1]} (known: {', '.join(sorted(current))})", f"{name}.{key}"
                )
            current[key] = _check_plain(text, f"{name}.{key}", current.get(key), base is None)
        tables[name] = current
    phrases = dict(base.phrases) if base else {}
    asks = dict(base.asks) if base else {}
    for name, target in (("phrases", phrases), ("asks", asks)):
        for pid, text in _table(doc, name).items():
            if base is not None and pid not in target:
                raise WordingError(f"unknown {name[:-1]} id", f"{name}.{pid}")
            phrase = parse_phrase(pid, text)
            check_phrase(phrase, target.get(pid), is_ask=name == "asks", is_default=base is None)
            for slot in phrase.slots:
                ns, _, key = slot.partition(".")
                if ns == "place" and key not in tables["places"]:
                    raise WordingError(f"unknown place {{{slot}}}", f"{name}.{pid}")
                if ns == "team" and key not in tables["teams"]:
                    raise WordingError(f"unknown team {{{slot}}}", f"{name}.{pid}")
            target[pid] = phrase
    return Wording(
        greeting=top["greeting"],
        sign_off=top["sign_off"],
        money=money,
        conjunction=top["conjunction"],
        places=tables["places"],
        teams=tables["teams"],
        phrases=phrases,
        asks=asks,
    )


@lru_cache(maxsize=1)
def default_wording() -> Wording:
    """The runbook's wording (``quotadesk/data/replies.toml``), validated like any override."""
    text = resources.files("quotadesk.data").joinpath("replies.toml").read_text(encoding="utf-8")
    return _build(tomllib.loads(text), None)


def validate_wording(doc: Mapping[str, Any], base: Wording | None = None) -> Wording:
    """An override (a mapping shaped like ``replies.toml``) merged over ``base`` (the default)."""
    if not isinstance(doc, Mapping):
        raise WordingError("a wording override must be a table", "$")
    return _build(doc, base or default_wording())


def load_wording(path: str | Path, base: Wording | None = None) -> Wording:
    """Read and validate a deployment's wording file (``.toml`` or ``.json``)."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise WordingError(f"cannot read {p}: {exc.strerror or exc}", "wording") from exc
    try:
        doc = json.loads(raw) if p.suffix.lower() == ".json" else tomllib.loads(raw)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise WordingError(
            f"not valid {'JSON' if p.suffix.lower() == '.json' else 'TOML'}: {exc}", "wording"
        ) from exc
    return validate_wording(doc, base)


__all__ = [
    "SLOTS",
    "Phrase",
    "Wording",
    "WordingError",
    "default_wording",
    "load_wording",
    "parse_phrase",
    "validate_wording",
]
