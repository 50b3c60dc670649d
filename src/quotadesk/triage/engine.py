"""Triage, end to end: bundle → signals, books, usage → decision tree → playbook → safe result.

This is the one place that does I/O for triage (reading the bundle and its records file);
everything it calls decides on values. The result is redacted as a whole before it leaves,
so a key pasted anywhere in the ticket cannot come back out through any field.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from quotadesk import settings
from quotadesk.billing.pricing import PriceTable
from quotadesk.billing.secrets import redact_json
from quotadesk.triage import bundle as bundle_mod
from quotadesk.triage import statuspage
from quotadesk.triage.bundle import Bundle, StatusIncident
from quotadesk.triage.facts import account_facts
from quotadesk.triage.inputs import Case, ErrorSeen, TicketView, UsageFinding, UsageView
from quotadesk.triage.playbooks import build
from quotadesk.triage.quotes import amounts_written, error_quote
from quotadesk.triage.replay import replay
from quotadesk.triage.replies import cite, compose
from quotadesk.triage.safety import guard
from quotadesk.triage.timeparse import mentions_when
from quotadesk.triage.tree import Diagnosis, diagnose
from quotadesk.triage.wording import Wording


def _relevant(inc: StatusIncident, provider: str = "generic", models: tuple[str, ...] = ()) -> bool:
    return statuspage.relevant(inc, provider, models)


def _incidents(
    b: Bundle, models: tuple[str, ...] = ()
) -> tuple[tuple[tuple[int, StatusIncident], ...], tuple[tuple[int, StatusIncident], ...]]:
    """Unresolved incidents at as_of, and incidents of the last 60 days (for refunds of retries).

    Each incident as it stood at as_of (a page captured later is rebuilt from its updates).
    """
    active: list[tuple[int, StatusIncident]] = []
    recent: list[tuple[int, StatusIncident]] = []
    for i, inc in statuspage.state_at(b.incidents or (), b.as_of):
        if not _relevant(inc, b.provider, models):
            continue
        if statuspage.active(inc):
            active.append((i, inc))
        elif inc.created_at >= b.as_of - timedelta(days=60):
            recent.append((i, inc))
    return tuple(active), tuple(recent)


def _ticket_view(b: Bundle) -> TicketView:
    from quotadesk.triage.signals import extract_signals

    s = extract_signals(
        b.ticket.subject,
        b.ticket.body,
        b.ticket.attachments,
        b.ticket.received_at,
        b.provider,
        intent_model=settings.get("intent_model"),
    )
    errors = []
    for e in s.errors:
        it = e.interpretation
        summary = " ".join(
            x for x in (getattr(it, "code", None) or getattr(it, "error_type", None) or "",) if x
        )
        errors.append(
            ErrorSeen(
                rule=it.rule,
                billing=bool(it.billing),
                confidence=float(it.confidence),
                status=e.status,
                source=e.source,
                summary=summary,
                seen_at=getattr(e, "seen_at", None),
                quote=error_quote(it, e.status, e.body if e.in_prose else None, b.provider),
            )
        )
    logs = [a.text or "" for a in b.ticket.attachments if a.kind == "log_excerpt"]
    return TicketView(
        intent=s.intent,
        scores=dict(s.intents),
        claims=frozenset(s.claims),
        errors=tuple(errors),
        key_exposed=bool(s.key_exposed),
        redactions=len(s.secrets),
        models=tuple(getattr(s, "models", ()) or ()),
        has_log=bool(logs),
        log_text="\n".join(logs),
        amounts=tuple(a.text for a in s.amounts) or amounts_written(f"{b.ticket.subject}\n{b.ticket.body}"),
        org_ids=tuple(s.org_ids),
        dated=bool(s.times) or mentions_when(f"{b.ticket.subject}\n{b.ticket.body}"),
    )


def _usage_view(
    b: Bundle, incidents: tuple[tuple[int, StatusIncident], ...], log_text: str
) -> UsageView | None:
    if b.usage_records is None and b.usage_file is None:
        return None
    from quotadesk.triage.usage_adapter import usage_view

    return usage_view(b, incidents, log_text)


USAGE_FROM_BUNDLE: Any = object()
"""``build_case``'s default: analyse the bundle's own usage records."""


def build_case(b: Bundle, usage: UsageView | None = USAGE_FROM_BUNDLE) -> Case:
    """The case the tree decides on. ``usage`` is the analysis of the account's usage when the
    caller already has it (the desk keeps it per account and snapshot of the usage, since the
    analysis costs far more than the rest of a triage); by default the bundle's records are read."""
    ticket = _ticket_view(b)
    active, recent = _incidents(b, ticket.models)
    if usage is USAGE_FROM_BUNDLE:
        usage = _usage_view(b, active + recent, ticket.log_text)
    facts = None
    rp = None
    if b.account is not None:
        facts = account_facts(b.account, b.as_of, usage.month_to_date if usage is not None else None)
        prices = PriceTable.from_mapping(dict(b.prices), b.as_of.date()) if b.prices else None
        rp = replay(
            facts, wanted_models=ticket.models, used_models=usage.models if usage else (), prices=prices
        )
    return Case(
        bundle=b,
        ticket=ticket,
        facts=facts,
        usage=usage,
        active_incidents=active,
        recent_incidents=recent,
        replay=rp,
    )


def result_of(case: Case, dx: Diagnosis, wording: Wording | None = None) -> dict[str, Any]:
    """The contract's result; the reply in ``wording`` (default: the runbook's)."""
    pb = build(case, dx)
    reply = compose(case, dx, wording)
    verdict = guard(reply.text, key_exposed=case.ticket.key_exposed)
    cite(dx, reply)
    result: dict[str, Any] = {
        "ticket_id": case.bundle.ticket.id,
        "incident": dx.incident,
        "root_cause": dx.root_cause,
        "route": dx.route,
        "confidence": dx.confidence,
        "decision_path": list(dx.path),
        "evidence": [{"fact": fact, "source": source} for fact, source in dx.evidence],
        "fix": pb.fix,
        "reply": verdict.reply,
        "recommendations": pb.recommendations,
        "questions": pb.questions,
        "escalation": pb.escalation,
        "safety": {
            "key_exposed": case.ticket.key_exposed,
            "redactions": case.ticket.redactions,
            "refund_promised": False,
            "reinstatement_offered": False,
        },
        "checklist": pb.checklist,
    }
    if verdict.removed:
        result["decision_path"].append(
            f"Safety guard removed {len(verdict.removed)} sentence(s) from the reply."
        )
    redacted, count = redact_json(result)
    out: dict[str, Any] = redacted
    out["safety"]["redactions"] = max(out["safety"]["redactions"], case.ticket.redactions) + count
    return out


def triage_bundle(b: Bundle, *, wording: Wording | None = None) -> dict[str, Any]:
    """Triage a parsed bundle; ``wording`` is a deployment's (``wording.load_wording``), default
    the runbook's."""
    case = build_case(b)
    return result_of(case, diagnose(case), wording)


def triage_with_usage(
    b: Bundle, usage: UsageView | None = USAGE_FROM_BUNDLE, *, wording: Wording | None = None
) -> tuple[dict[str, Any], Case]:
    """``triage_bundle`` with the usage analysis given (or computed), returning the case too."""
    case = build_case(b, usage)
    return result_of(case, diagnose(case), wording), case


def triage_file(path: Path, *, wording: Wording | None = None) -> dict[str, Any]:
    """Triage a bundle file: the CLI's entry point."""
    return triage_bundle(bundle_mod.load(path), wording=wording)


__all__ = ["UsageFinding", "build_case", "result_of", "triage_bundle", "triage_file"]
