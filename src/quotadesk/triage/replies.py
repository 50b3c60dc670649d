"""Replies to the customer, built from evidence: each sentence is a phrase whose slots the case fills.

A reply is a sequence of *beats*, per root cause (``BEATS``). A beat lists phrase ids in order
of preference, and the first phrase whose evidence slots are all bound renders; a beat with no
renderable phrase says nothing. So a root cause's first choice is the phrase that states what
the engine saw (``credits.state``: "your prepaid credit balance is {account.balance}"), and its
fallback speaks conditionally from the customer's own error or words (``credits.if_error``:
"the error you quoted ({ticket.error}) means ..."). Without the account the first cannot
render, whatever a playbook says, because the evidence has no ``account.*`` fact.

The wording of every phrase is data (``wording.py``, default ``quotadesk/data/replies.toml``);
this module only says which phrases, in which order, and binds the evidence:

- ``evidence(case, dx)``: the facts the tree bound (``Diagnosis.slots``) and the customer's own
  error, kept only if their bundle section is present;
- ``compose(case, dx, wording)``: the reply text and the facts it used (for the result's
  evidence). The ask sentence lists only what ``asks.missing`` says is missing.

A ``*.check`` phrase (what to look at, and where) is for a customer the engine could not look up
for: it is left out once a ``*.state`` phrase has said what the account or usage shows. The
safety guard (``safety.py``) still checks the final text; the default wording never needs it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from quotadesk.billing import limits
from quotadesk.explain import ROOT_CAUSES
from quotadesk.triage.asks import missing
from quotadesk.triage.evidence import Evidence, Fact
from quotadesk.triage.inputs import Case
from quotadesk.triage.tree import RULE_INCIDENT, Diagnosis, strongest_error
from quotadesk.triage.wording import ASKS_SLOT, Phrase, Wording, default_wording

ASK = "ask.lead"
"""The beat where the ask sentence goes, if anything is missing."""

Beats = tuple[tuple[str, ...], ...]

BEATS: Mapping[str, Beats] = {
    "active_incident": (("outage.state",), ("outage.retry",)),
    "provider_outage:undetermined": (
        ("outage.if_error", "outage.if"),
        ("outage.check",),
        (ASK,),
    ),
    "card_expired_or_declined": (
        ("card.state", "card.state_nocard", "card.if_error", "card.if"),
        ("card.fix",),
        (ASK,),
    ),
    "auto_recharge_failed": (
        ("auto_recharge.state", "auto_recharge.state_nocard", "auto_recharge.if"),
        ("auto_recharge.fix",),
        (ASK,),
    ),
    "credits_exhausted": (
        ("credits.state", "credits.if_error", "credits.if"),
        ("credits.check",),
        ("credits.fix",),
        (ASK,),
    ),
    "payment_failure:undetermined": (("payment.if",), ("payment.check",), (ASK,)),
    "invoice_overdue": (("invoice.state", "invoice.if"), ("invoice.route",), (ASK,)),
    "sync_delay": (("sync.state", "sync.if"), ("sync.later",), (ASK,)),
    "sync_delay:engineering": (("sync.state_escalate",), ("sync.update",)),
    "hard_limit_reached": (
        ("hard_limit.state", "hard_limit.if_error", "hard_limit.if"),
        ("hard_limit.balance",),
        ("hard_limit.fix",),
        (ASK,),
    ),
    "spending_limit:undetermined": (("hard_limit.if_error", "hard_limit.if"), ("hard_limit.fix",), (ASK,)),
    "free_tier:undetermined": (("free.if",), ("free.check",), (ASK,)),
    "trial_credits_consumed": (("trial.state", "trial.if"), ("trial.fix",), (ASK,)),
    "trial_credits_expired": (("trial_expired.state", "trial_expired.if"), ("trial_expired.fix",), (ASK,)),
    "free_tier_rate_limit": (("free_rate.state", "free_rate.if"), ("free_rate.fix",), (ASK,)),
    "tier_upgrade_pending": (("upgrade.state", "upgrade.if"), ("upgrade.check",), (ASK,)),
    "model_not_in_tier": (
        ("model.state", "model.state_any", "model.if_error", "model.if"),
        ("model.fix",),
        (ASK,),
    ),
    "rate_limit": (("rate.state", "rate.state_any", "rate.if_error", "rate.if"), ("rate.fix",), (ASK,)),
    "rate_limit:undetermined": (("rate.if_error", "rate.if"), ("rate.fix",), (ASK,)),
    "policy_violation": (("review.state", "review.if"), ("review.route",), (ASK,)),
    "fraud_flag": (("review.state", "review.if"), ("review.route",), (ASK,)),
    "outstanding_balance": (("unpaid.state", "unpaid.if"), ("unpaid.route",), (ASK,)),
    "unconfirmed": (("unconfirmed.state", "unconfirmed.if_error", "unconfirmed.if"), (ASK,)),
    "account_suspension:undetermined": (("unconfirmed.if_error", "unconfirmed.if"), (ASK,)),
    "departed_member_key": (("departed.state", "invalid.if_error", "invalid.if"), ("departed.fix",), (ASK,)),
    "invalid_or_revoked_key": (
        ("invalid.state", "invalid.state_unknown", "invalid.if_error", "invalid.if"),
        ("invalid.fix",),
        (ASK,),
    ),
    "api_key_issue:undetermined": (("invalid.if_error", "invalid.if"), ("invalid.fix",), (ASK,)),
    # incident 2: the usage log's finding, or what the customer's words usually mean
    "retry_storm": (("bill.looked",), ("retry.state",), ("retry.fix",), (ASK,)),
    "runaway_loop": (("bill.looked",), ("loop.state",), ("loop.fix",), (ASK,)),
    "model_swap": (("bill.looked",), ("swap.state_from", "swap.state", "swap.if"), ("swap.fix",), (ASK,)),
    "context_bloat": (("bill.looked",), ("bloat.state", "bloat.if"), ("bloat.fix",), (ASK,)),
    "dev_key_in_production": (("bill.looked",), ("dev_key.state", "dev_key.if"), ("dev_key.fix",), (ASK,)),
    "traffic_growth": (("bill.looked",), ("growth.state", "growth.state_period"), ("growth.fix",), (ASK,)),
    "billing_discrepancy": (
        ("bill.looked",),
        ("discrepancy.state", "discrepancy.if"),
        ("discrepancy.after",),
        (ASK,),
    ),
    "unexpected_high_bill:undetermined": (
        ("bill.looked", "bill.thanks"),
        ("bill.no_cause",),
        (ASK,),
        ("bill.check",),
    ),
    # incident 5
    "account_compromise": (
        ("compromise.state", "compromise.if"),
        ("compromise.rotate",),
        ("compromise.route",),
        (ASK,),
    ),
    "provider_outage_retries": (
        ("outage_retries.state", "outage_retries.if"),
        ("outage_retries.usage",),
        ("refund.review",),
        (ASK,),
    ),
    "code_bug": (("bug.state", "bug.state_period", "bug.if"), ("refund.review",), ("bug.limit",), (ASK,)),
    "expensive_model": (("expensive.state", "expensive.if"), ("expensive.fix",), (ASK,)),
    "forgot_to_stop": (("forgot.state", "forgot.if"), ("forgot.fix",), (ASK,)),
    "refund_request:duplicate": (("duplicate.if",), (ASK,)),
    "refund_request:undetermined": (("refund.thanks",), (ASK,)),
    "needs_info:undetermined": (("needs_info.open",), (ASK,)),
}
FALLBACK: Beats = (("needs_info.open",), (ASK,))
KEY_EXPOSED = "key.exposed"


def beats_for(case: Case, dx: Diagnosis) -> Beats:
    """The beats of this diagnosis: its root cause's, or its incident's when the root is open."""
    root = dx.root_cause
    if root == "sync_delay" and dx.route == "engineering":
        return BEATS["sync_delay:engineering"]
    if (
        dx.incident == "refund_request"
        and root == "undetermined"
        and "duplicate_charge" in case.ticket.claims
    ):
        return BEATS["refund_request:duplicate"]
    if root == "undetermined":
        return BEATS.get(f"{dx.incident}:undetermined", FALLBACK)
    return BEATS.get(root, FALLBACK)


# --- evidence ------------------------------------------------------------------------------------
_SPACE_RE = re.compile(r"\s+")


def _error_fits(case: Case, dx: Diagnosis) -> Fact | None:
    """The customer's error, as a fact, when it is the one the diagnosis explains."""
    err = strongest_error(case)
    if err is None:
        return None
    if RULE_INCIDENT.get(err.rule) != dx.incident:
        return None
    if dx.root_cause not in (*ROOT_CAUSES.get(err.rule, ()), "undetermined", "unconfirmed"):
        return None
    quote = _SPACE_RE.sub(" ", err.quote or (f"HTTP {err.status}" if err.status else "")).strip()
    return Fact("ticket.error", quote, err.source) if quote else None


def evidence(case: Case, dx: Diagnosis) -> Evidence:
    facts = [Fact(slot, value, source) for slot, (value, source) in dx.slots.items()]
    # The monthly reset is the rule's, from as_of alone: true with or without the account.
    facts.append(Fact("case.resets_on", limits.next_month_start(case.as_of).strftime("%Y-%m-%d"), "/as_of"))
    err = _error_fits(case, dx)
    if err is not None:
        facts.append(err)
        status = strongest_error(case)
        if status is not None and status.status is not None:
            facts.append(Fact("ticket.status", str(status.status), err.source))
    return Evidence.of(facts, case.bundle.raw)


# --- rendering -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reply:
    """The text sent to the customer and the evidence each of its figures came from."""

    text: str
    used: tuple[Fact, ...]
    phrases: tuple[str, ...]


def _value(fact: Fact, wording: Wording) -> str:
    return wording.money.replace("{amount}", fact.value) if fact.money else fact.value


def render(
    phrase: Phrase, ev: Mapping[str, Fact], wording: Wording, asks: str | None = None
) -> tuple[str, tuple[Fact, ...]] | None:
    """The phrase with its slots filled, or None when a required evidence slot is not bound."""
    if any(s not in ev for s in phrase.required if s in phrase.evidence):
        return None
    out: list[str] = []
    used: list[Fact] = []
    for seg in phrase.segments:
        if seg.optional and any(s not in ev for s in seg.slots if s in phrase.evidence):
            continue
        for part in seg.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            name = part[0]
            ns, _, key = name.partition(".")
            if name == ASKS_SLOT:
                if not asks:
                    return None
                out.append(asks)
            elif ns == "place":
                out.append(wording.places[key])
            elif ns == "team":
                out.append(wording.teams[key])
            else:
                fact = ev[name]
                used.append(fact)
                out.append(_value(fact, wording))
    return "".join(out), tuple(used)


def _join(items: Sequence[str], conjunction: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conjunction} " + items[-1]


def _asks(case: Case, dx: Diagnosis, ev: Mapping[str, Fact], wording: Wording) -> str | None:
    parts = []
    for ask in missing(case, dx):
        phrase = wording.asks.get(ask)
        rendered = render(phrase, ev, wording) if phrase is not None else None
        if rendered is not None:
            parts.append(rendered[0])
    return _join(parts, wording.conjunction) if parts else None


def compose(case: Case, dx: Diagnosis, wording: Wording | None = None) -> Reply:
    """The reply for a diagnosis: greeting, the first renderable phrase of each beat, sign-off."""
    w = wording or default_wording()
    ev = evidence(case, dx)
    asks = _asks(case, dx, ev, w)
    sentences: list[str] = []
    used: list[Fact] = []
    chosen: list[str] = []
    beats = list(beats_for(case, dx))
    if case.ticket.key_exposed:
        beats.append((KEY_EXPOSED,))
    for beat in beats:
        for pid in beat:
            phrase = w.phrases.get(pid)
            if phrase is None or (pid.endswith(".check") and any(c.endswith(".state") for c in chosen)):
                continue
            rendered = render(phrase, ev, w, asks)
            if rendered is None:
                continue
            sentences.append(rendered[0])
            used.extend(f for f in rendered[1] if f not in used)
            chosen.append(pid)
            break
    text = "\n\n".join([w.greeting, *sentences, w.sign_off])
    return Reply(text, tuple(used), tuple(chosen))


def _plainly(text: str) -> str:
    return text.lower().replace("_", " ")


def cite(dx: Diagnosis, reply: Reply) -> None:
    """Every figure the reply states becomes evidence the result holds, with its pointer."""
    for f in reply.used:
        value = _plainly(f.value)
        if f.section in ("ticket", "case") or not any(c.isdigit() for c in value):
            continue
        if not any(source == f.source and value in _plainly(fact) for fact, source in dx.evidence):
            dx.fact(f"{f.slot.split('.', 1)[1].replace('_', ' ').capitalize()}: {f.value}", f.source)


__all__ = ["BEATS", "Reply", "beats_for", "cite", "compose", "evidence", "render"]
