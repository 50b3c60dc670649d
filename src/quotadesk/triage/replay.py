"""Replay the admission decision for the account at ``as_of``: the gateway's own rulebook call.

The diagnosis of a refusal is the refusal itself, re-run: the same ``policy.decide`` that the
gateway applies to each request is asked what it would say for this account now, with the
customer's key and model where the ticket names them (else the account's production key and
a model it uses). Key problems are diagnosed from the key list itself, so the replay uses a
usable key and reads the account-level rules: model access, invoice, hard limit, balance.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from quotadesk.billing import model as m
from quotadesk.billing.decision import Decision, Deny, Rule
from quotadesk.billing.policy import AdmissionRequest, decide
from quotadesk.billing.pricing import DEFAULT_TABLE, PriceTable, UnknownModelError
from quotadesk.triage.facts import AccountFacts

ESTIMATE_INPUT_TOKENS = 1_000
ESTIMATE_OUTPUT_TOKENS = 500
PROBE_KEY = "__replay__"


@dataclass(frozen=True, slots=True)
class Replay:
    """The decision and the request it was asked about (for the decision path)."""

    decision: Decision
    key_id: str | None
    model: str


def _key(org: m.Organization) -> m.ApiKey | None:
    usable = [k for k in org.api_keys if k.status == m.KeyStatus.ACTIVE and k.owner_active]
    prod = [k for k in usable if k.environment == m.Environment.PRODUCTION]
    pool = prod or usable
    return (
        max(pool, key=lambda k: (k.last_used_at is not None, k.last_used_at or k.created_at or 0))
        if pool
        else None
    )


def _models(
    org: m.Organization, wanted: tuple[str, ...], used: tuple[str, ...], prices: PriceTable
) -> list[str]:
    """Priced candidates: the customer's model first, then what the account uses or may call."""
    out: list[str] = []
    for name in (*wanted, *used, *(org.model_access or ()), *(org.rate_limits or {})):
        if name in out:
            continue
        try:
            prices.get(name)
        except UnknownModelError:
            continue
        out.append(name)
    return out


def replay(
    facts: AccountFacts,
    *,
    wanted_models: tuple[str, ...],
    used_models: tuple[str, ...],
    prices: PriceTable | None,
) -> Replay | None:
    """Ask the rulebook what it says for this account at as_of; None when no model can be priced.

    A model-access refusal for a model the customer did not ask for says nothing about the
    ticket, so the replay moves on to the next model the account uses, and reports a
    model refusal only for the customer's own model or when no model passes.
    """
    table = prices or DEFAULT_TABLE
    org = facts.org
    key = _key(org)
    if key is None:
        org = replace(org, api_keys=(*org.api_keys, m.ApiKey(id=PROBE_KEY, status=m.KeyStatus.ACTIVE)))
    key_id = key.id if key is not None else PROBE_KEY
    first: Replay | None = None
    for model in _models(org, wanted_models, used_models, table):
        request = AdmissionRequest(
            model=model,
            key_id=key_id,
            estimated_input_tokens=ESTIMATE_INPUT_TOKENS,
            estimated_output_tokens=ESTIMATE_OUTPUT_TOKENS,
            month_to_date=facts.month_to_date or 0,
        )
        decision = decide(org, request, facts.as_of, table)
        result = Replay(decision=decision, key_id=key_id, model=model)
        model_refused = isinstance(decision, Deny) and decision.rule == Rule.MODEL_NOT_IN_TIER
        if not model_refused or model in wanted_models:
            return result
        first = first or result
    return first
