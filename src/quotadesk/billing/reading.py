"""Reading a provider's error back into a rule: ``interpret(status, body, provider)``.

The body may come in any envelope (OpenAI's ``error`` object, Anthropic's
``details.error_code``, Google's ``details`` list, OpenRouter's ``metadata``, a bare
``detail``), as a Python dict repr the way SDKs print it, or as text with a prefix such as
``Error code: 429 - {...}``; the fields are pulled out, matched against
``billing.signatures`` and scored. Full API keys are redacted from everything an
``Interpretation`` carries.

Scoring: every signature that matches contributes ``confidence x provider factor x status
factor``; the best score wins. A signature from another dialect still counts (a body pasted
under the wrong provider is still recognisable) but less, and much less for texts that mean
different things at different providers ("Unauthorized"). A status that differs from what the
provider sends for that signature lowers the score instead of vetoing it, because gateways
rewrap statuses (an Anthropic 400 seen as 500 behind a proxy). When no signature matches, a
per-provider status table gives a low-confidence guess and says what else it could be.

Pure: standard library, ``quotadesk.money`` and ``quotadesk.billing`` only.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from quotadesk.billing.decision import BILLING_RULES, Rule
from quotadesk.billing.providers import RUNBOOK_STATUS, canonical_provider, provider_name
from quotadesk.billing.secrets import redact
from quotadesk.billing.signatures import PROVIDER_FALLBACK, SIGNATURES, STATUS_FALLBACK, Signature


@dataclass(frozen=True, slots=True)
class Interpretation:
    """Which rule a provider's error reports, and how sure we are.

    ``billing`` is true for account cut-offs (credits, payment, hard limit, invoice,
    suspension), not for rate limits, tier limits or outages. ``evidence`` says what
    matched (and any caveat, e.g. "seen during outages"); ``details`` holds figures parsed
    from the message (limit, used, model, resets_at, retry_after_s, ...); ``alternatives``
    are other rules the same error is known to mean. ``parse_error`` is set when the body
    looked like JSON but did not parse (it was then read as text). ``key_exposed`` is true
    when a full API key was found in the body (it is redacted in every field here).
    """

    rule: Rule
    billing: bool
    confidence: float
    provider: str
    status: int | None = None
    error_type: str | None = None
    code: str | None = None
    message: str | None = None
    evidence: tuple[str, ...] = ()
    details: dict[str, str] = field(default_factory=dict, hash=False)
    alternatives: tuple[Rule, ...] = ()
    parse_error: str | None = None
    key_exposed: bool = False


@dataclass(frozen=True, slots=True)
class _Fields:
    """What a body says, whatever its envelope."""

    structured: bool
    raw: str
    error_type: str | None = None
    code: str | None = None
    reasons: tuple[str, ...] = ()
    message: str | None = None
    extras: tuple[str, ...] = ()
    embedded_status: int | None = None
    parse_error: str | None = None

    @property
    def codes(self) -> str:
        return " ".join(c for c in (self.code, *self.reasons) if c)

    @property
    def text(self) -> str:
        return " ".join(t for t in (self.message, *self.extras) if t)


_MAX_BODY = 200_000
MAX_JSON_DEPTH = 64
"""As ``quotadesk.parse.MAX_JSON_DEPTH`` (the pure core imports nothing outside it)."""


def _load(text: str) -> tuple[Any, str | None]:
    """Parse JSON (or a Python dict repr, as SDKs print) from ``text``; never raises."""
    stripped = text.strip()
    if stripped[:1] in "{[":
        if depth_hint(stripped) > MAX_JSON_DEPTH:  # the parsers recurse: refuse before, read as text
            return None, f"nested deeper than {MAX_JSON_DEPTH} levels; read as text"
        try:
            return json.loads(stripped), None
        except json.JSONDecodeError as exc:
            error = f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); read as text"
        try:
            value = _literal(stripped)
            if isinstance(value, dict | list):
                return value, None
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
        return None, error
    start = stripped.find("{")
    if start > 0:  # a prefix such as "Error code: 429 - {...}" around the body
        inner = stripped[start : stripped.rfind("}") + 1]
        if depth_hint(inner) > MAX_JSON_DEPTH:
            return None, None
        for attempt in (json.loads, _literal):
            try:
                value = attempt(inner)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if isinstance(value, dict):
                return value, None
    return None, None


def _literal(text: str) -> Any:
    """A Python literal (an SDK's dict repr), refused past the JSON depth limit before parsing."""
    if text.count("{") + text.count("[") > 10_000 or depth_hint(text) > MAX_JSON_DEPTH:
        raise ValueError("too deep")
    return ast.literal_eval(text)


def depth_hint(text: str) -> int:
    """The deepest bracket nesting of ``text``, ignoring quotes (an upper bound, cheap)."""
    level = deepest = 0
    for ch in text:
        if ch in "{[(":
            level += 1
            deepest = max(deepest, level)
        elif ch in "}])":
            level -= 1
    return deepest


def _s(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def _strings(value: object, out: list[str], depth: int = 0) -> None:
    """Every string and number under ``value`` (metadata, details), for the message patterns."""
    if depth > 6 or len(out) > 200:
        return
    if isinstance(value, dict):
        for v in value.values():
            _strings(v, out, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out, depth + 1)
    elif isinstance(value, str | int) and not isinstance(value, bool):
        out.append(str(value))


def _http(value: object) -> int | None:
    text = _s(value)
    if text is not None and text.isdigit() and 100 <= int(text) <= 599:
        return int(text)
    return None


def _fields(body: str | Mapping[str, Any] | None) -> _Fields | None:
    if body is None:
        return None
    parse_error = None
    if isinstance(body, Mapping):
        obj: Any = dict(body)
        raw = json.dumps(obj, default=str)
    else:
        raw = str(body)[:_MAX_BODY]
        if not raw.strip():
            return None
        obj, parse_error = _load(raw)
    if isinstance(obj, list):
        obj = next((x for x in obj if isinstance(x, dict)), None)
    if not isinstance(obj, dict):
        return _Fields(False, raw, parse_error=parse_error, embedded_status=_status_in_text(raw))
    err = obj.get("error")
    extras: list[str] = []
    reasons: list[str] = []
    if isinstance(err, dict):
        message = _s(err.get("message"))
        etype = _s(err.get("type")) or _s(err.get("status"))
        code = _s(err.get("code"))
        status = _http(err.get("code")) or _http(obj.get("raw_status_code"))
        details = err.get("details")
        if isinstance(details, dict):  # Anthropic
            reasons += [x for x in (_s(details.get("error_code")),) if x]
        elif isinstance(details, list):  # Google
            for d in details:
                if isinstance(d, dict) and _s(d.get("reason")):
                    reasons.append(str(d["reason"]))
            _strings(details, extras)
        meta = err.get("metadata")
        if isinstance(meta, dict) and _s(meta.get("error_code")):
            reasons.append(str(meta["error_code"]))
        _strings(meta, extras)
        if reasons and (code is None or code.isdigit()):
            code = reasons[0]
    else:
        message = _s(err) or _s(obj.get("message")) or _s(obj.get("detail")) or _s(obj.get("error_message"))
        if isinstance(obj.get("detail"), list):  # a validation error list
            parts: list[str] = []
            _strings(obj["detail"], parts)
            message = "; ".join(parts)
        etype = _s(obj.get("type")) if obj.get("type") != "error" else None
        code = _s(obj.get("code"))
        status = _http(obj.get("raw_status_code")) or _http(obj.get("status"))
        _strings(obj.get("metadata"), extras)
    if message is None and not extras:  # an envelope nobody documented: read every string in it
        _strings(obj, extras)
    return _Fields(
        True, raw, etype, code, tuple(reasons), message, tuple(extras),
        status or _status_in_text(raw if not raw.lstrip().startswith("{") else ""), parse_error,
    )  # fmt: skip


_STATUS_IN_TEXT = re.compile(r"\b(?:status(?: code)?|error code|http)\s*[:=]?\s*\(?([1-5]\d\d)\b", re.I)


def _status_in_text(text: str) -> int | None:
    m = _STATUS_IN_TEXT.search(text)
    return int(m.group(1)) if m else None


# Full API keys are redacted from everything an Interpretation carries (``billing.secrets``).


def _redact(text: str | None) -> tuple[str | None, bool]:
    if text is None:
        return None, False
    redacted, count = redact(text)
    return redacted, count > 0


_DETAILS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(p, re.I))
    for name, p in (
        ("resets_at", r"regain access on (\d{4}-\d{2}-\d{2})"),
        ("model", r"\bmodel[:\s]+[`'\"]([^`'\"\s]+)[`'\"]"),
        ("model", r"\bmodel[:\s]+([A-Za-z][\w.:/-]*[-/\d][\w.:/-]*[A-Za-z0-9])"),
        ("model", r"(?:rate limit reached|request too large) for ([\w.:/-]+) in organi[sz]ation"),
        ("organization", r"organi[sz]ation[:\s]+[`(]?(org[-_][\w-]+|[0-9a-f-]{8,})"),
        ("team", r"your team ([\w-]{8,})"),
        ("service_tier", r"service tier [`']?(\w+)"),
        ("quota_metric", r"quota exceeded for metric: ([\w./-]+)"),
        ("limit", r"\blimit[:\s]+([\d,]+)"),
        ("limit", r"limited to ([\d,]+) api calls"),
        ("limit", r"rate limit is ([\d.]+) queries"),
        ("limit", r"of ([\d,]+) (?:input |output )?tokens per minute"),
        ("used", r"\bused[:\s]+([\d,]+)"),
        ("requested", r"\brequested[:\s]+(?:up to )?([\d,]+)"),
        ("affordable_tokens", r"can only afford ([\d,]+)"),
        ("period", r"api calls ?/ ?(month|minute)"),
        ("unit", r"\bon ((?:tokens|requests) per (?:min|minute|day)(?: \(\w+\))?)"),
        ("retry_after", r"(?:try again|retry) in ((?:\d+h)?(?:\d+m(?!s))?(?:[\d.]+(?:ms|s)))"),
        ("retry_after", r"retry after (\d+) seconds"),
        ("retry_after", r"retryDelay[\"':\s]+([\d.]+s)"),
        ("quota_id", r"\b(\w+-FreeTier)\b"),
    )
)
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m(?!s))?(?:([\d.]+)(ms|s))?$")


def _seconds(text: str) -> str | None:
    """``9m38.016s`` → ``578.016``; ``644ms`` → ``0.644``; a bare number is seconds."""
    if text.isdigit():
        return text
    m = _DURATION.fullmatch(text)
    if not m or not any(m.groups()):
        return None
    try:
        total = Decimal(m.group(1) or 0) * 3600 + Decimal(m.group(2) or 0) * 60
        if m.group(3):
            total += Decimal(m.group(3)) / (1000 if m.group(4) == "ms" else 1)
    except InvalidOperation:
        return None
    return format(total.normalize(), "f")


def _details(fields: _Fields) -> dict[str, str]:
    text = fields.text if fields.structured else fields.raw
    out: dict[str, str] = {}
    for name, pattern in _DETAILS:
        if name in out:
            continue
        m = pattern.search(text)
        if m:
            out[name] = m.group(1).replace(",", "") if name in ("limit", "used", "requested") else m.group(1)
    if "resets_at" in out:
        out["resets_at"] += "T00:00:00Z"
    if "retry_after" in out:
        seconds = _seconds(out.pop("retry_after"))
        if seconds is not None:
            out["retry_after_s"] = seconds
    if out.get("model", "").lower() in ("is", "not", "the", "provider"):
        del out["model"]
    return out


def _match(sig: Signature, f: _Fields) -> list[str] | None:
    """What matched, as evidence phrases, or None when the signature does not apply."""
    found: list[str] = []
    checks = (
        (sig.type, f.error_type or "", "type"),
        (sig.code, f.codes, "code"),
        (sig.msg, f.text, "message"),
    )
    for pattern, target, label in checks:
        if pattern is None:
            continue
        m = pattern.search(target if f.structured else f.raw)
        if not m:
            return None
        found.append(f"{label} {m.group(0).strip()!r}" if f.structured else f"text {m.group(0).strip()!r}")
    if sig.unless is not None and sig.unless.search(f.raw + " " + f.text):
        return None
    return found


def _score(sig: Signature, provider: str, status: int | None) -> tuple[float, str | None] | None:
    factor, note = 1.0, None
    if sig.dialects and provider not in sig.dialects:
        factor = 0.8 if sig.loose else 0.97
        origin = "/".join(provider_name(d) for d in sorted(sig.dialects))
        note = f"this is how {origin} spells it" + (
            "" if provider == "generic" else f", not {provider_name(provider)}"
        )
    if sig.statuses and status is not None and status not in sig.statuses:
        if sig.strict:
            return None
        factor *= 0.75
        usual = "/".join(str(s) for s in sorted(sig.statuses))
        rewrap = f"it usually comes as {usual}, not {status} (a gateway may rewrap it)"
        note = f"{note}; {rewrap}" if note else rewrap
    return sig.confidence * factor, note


def interpret(
    status: int | None, body: str | Mapping[str, Any] | None, provider: str = "generic"
) -> Interpretation:
    """Which rule a provider's error reports: keyed on provider, status, type, code and message.

    Works with the body alone (``status=None``) and with the status alone (``body=None``, low
    confidence). An unknown provider name is read as ``generic``: every dialect is tried.
    Never raises on a malformed body; a body that looks like JSON but is not gets
    ``parse_error`` and is read as text.
    """
    evidence: list[str] = []
    try:
        p = canonical_provider(provider)
    except ValueError:
        evidence.append(f"unknown provider {provider!r}: matched against every dialect")
        p = "generic"
    fields = _fields(body)
    if status is None and fields is not None and fields.embedded_status is not None:
        status = fields.embedded_status
        evidence.append(f"status {status} taken from the body")
    # Specific signatures outrank wording heuristics even when scored lower: a low score there
    # is a deliberate "ambiguous" (with a caveat to show), not a weaker match.
    best: tuple[float, Signature, list[str], str | None] | None = None
    best_heuristic: tuple[float, Signature, list[str], str | None] | None = None
    matches: list[tuple[float, Signature]] = []
    if fields is not None:
        for sig in SIGNATURES:
            found = _match(sig, fields)
            scored = None if found is None else _score(sig, p, status)
            if found is None or scored is None:
                continue
            matches.append((scored[0], sig))
            candidate = (scored[0], sig, found, scored[1])
            if sig.loose and not sig.dialects:
                if best_heuristic is None or scored[0] > best_heuristic[0]:
                    best_heuristic = candidate
            elif best is None or scored[0] > best[0]:
                best = candidate
    best = best or best_heuristic
    if best is not None and status is None:
        best = (best[0] * 0.9, *best[1:])
        evidence.append("no HTTP status given: read from the body alone")
    alternatives: list[Rule] = []
    fallback = PROVIDER_FALLBACK.get(p, {}).get(status or 0) or STATUS_FALLBACK.get(status or 0)
    if fallback is None and status is not None and 500 <= status <= 599:
        fallback = (Rule.OVERLOADED, 0.4, (), None)
    if best is not None:
        score, sig, found, note = best
        rule = sig.rule
        origin = "/".join(provider_name(d) for d in sorted(sig.dialects)) or "any provider"
        evidence.append(f"matched {origin} signature '{sig.name}': " + ", ".join(found))
        if not sig.statuses and fallback is not None and fallback[0] == rule:
            # A wording-only match and the status say the same thing independently.
            score = min(0.99, 1 - (1 - score) * (1 - fallback[1] / 2))
            evidence.append(f"status {status} agrees")
        if note:
            evidence.append(note)
        if sig.note:
            evidence.append(sig.note)
        alternatives += [a for a in sig.alternatives if a != rule]
        for other_score, other in sorted(matches, key=lambda m: -m[0]):
            if other.rule != rule and other.rule not in alternatives and other_score >= score - 0.15:
                alternatives.append(other.rule)
                evidence.append(f"also consistent with {other.rule} ('{other.name}')")
    else:
        if fields is not None:
            evidence.append("no known signature matched the body")
        if status is None:
            rule, score = Rule.UNKNOWN, 0.0
            evidence.append("neither a status nor a recognisable body: nothing to go on")
        elif fallback is None:
            rule, score = Rule.UNKNOWN, 0.1
            evidence.append(f"status {status} alone says nothing about billing")
        else:
            rule, score, alts, why = fallback
            score *= 0.8 if fields is not None else 1.0
            alternatives += list(alts)
            evidence.append(f"status {status} alone" + (f": {why}" if why else ""))
    if (
        status is not None
        and rule in RUNBOOK_STATUS
        and not (RUNBOOK_STATUS[rule] == status or (rule == Rule.OVERLOADED and status >= 500))
    ):
        evidence.append(
            f"{provider_name(p)} answered {status} where the runbook would say {RUNBOOK_STATUS[rule]}: "
            "go by the body, not the status"
        )
    details: dict[str, str] = {}
    message = error_type = code = parse_error = None
    exposed = False
    if fields is not None:
        details = _details(fields)
        message, exposed = _redact(fields.message if fields.structured else fields.raw.strip()[:2000])
        error_type, hit_type = _redact(fields.error_type)
        code, hit_code = _redact(fields.code or None)
        parse_error, hit_parse = _redact(fields.parse_error)
        exposed |= hit_type or hit_code or hit_parse
        if parse_error:
            evidence.append(f"body: {parse_error}")
    clean_evidence = []
    for line in evidence:
        red, hit = _redact(line)
        exposed |= hit
        clean_evidence.append(red or "")
    for k, v in list(details.items()):
        red, hit = _redact(v)
        exposed |= hit
        details[k] = red or ""
    if exposed:
        clean_evidence.append("a full API key was in the body: it is redacted here and must be rotated")
    return Interpretation(
        rule=rule,
        billing=rule in BILLING_RULES,
        confidence=round(max(0.0, min(1.0, score)), 3),
        provider=p,
        status=status,
        error_type=error_type,
        code=code,
        message=message,
        evidence=tuple(clean_evidence),
        details=details,
        alternatives=tuple(dict.fromkeys(alternatives)),
        parse_error=parse_error,
        key_exposed=exposed,
    )
