"""Signals from a support ticket: what the customer saw, pasted, claimed and asked for.

The decision tree reads these values, never the raw text: the errors (from attachments, and
the statuses and error bodies customers paste into prose or stack traces, each read back into
the rulebook through ``billing.dialects.interpret``), exposed keys, org ids, times, amounts,
models, the customer's claims and a ranked intent. Everything is computed from the ticket's
own fields and ``received_at``; nothing reads a clock or the network.

Keys are redacted *before* any other signal is read, so no excerpt kept here (an error body
quoted from prose, a time mention) can carry a full key. Offsets of times and amounts index
into ``subject + "\\n" + body`` after redaction.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from quotadesk import settings
from quotadesk.billing.decision import Rule
from quotadesk.billing.dialects import Interpretation, interpret
from quotadesk.billing.secrets import SecretHit, find_secrets, redact
from quotadesk.errors import InputError
from quotadesk.triage import intent as it
from quotadesk.triage.timeparse import TimeMention, find_times
from quotadesk.triage.typos import normalise


class AttachmentLike(Protocol):
    """The shape of ``bundle.Attachment``; signals accept anything with these attributes."""

    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> int | None: ...
    @property
    def body(self) -> str | None: ...


PROSE_MIN_CONFIDENCE = 0.8
QUOTED_MIN_CONFIDENCE = 0.6
"""A line the customer marks as the error ("Error message: …") is the provider's wording."""
_ERROR_LINE_RE = re.compile(
    r"(?im)^[ \t>*-]*(?:the )?(?:error|error message|message|response)\s*:\s*(\S.{8,})$"
)
"""A message read from prose alone counts only when a provider signature matches it this well."""


@dataclass(frozen=True, slots=True)
class ErrorSignal:
    """An error the customer saw, where it was found, and what the rulebook reads in it.

    ``status`` may be None (a pasted body without a code); ``body`` is the redacted text or the
    parsed JSON object; ``source`` is a JSON pointer into the bundle; ``in_prose`` is True when
    it was read out of the customer's words rather than an ``error_response`` attachment.
    """

    status: int | None
    body: str | dict[str, Any] | None
    source: str
    interpretation: Interpretation
    seen_at: datetime | None = None
    in_prose: bool = False


@dataclass(frozen=True, slots=True)
class SecretSeen:
    """A full key found in the ticket: the field it was in and the hit (offsets into that field)."""

    source: str
    hit: SecretHit


@dataclass(frozen=True, slots=True)
class MoneyMention:
    """An amount the customer wrote, exact, with its currency (ISO code, ``USD`` for ``$``)."""

    text: str
    amount: Decimal
    currency: str
    offset: int


@dataclass(frozen=True, slots=True)
class Signals:
    """Everything the decision tree needs to know about the ticket's words and pastes.

    ``intents`` ranks the contract's incidents by their share of the evidence; ``intent`` is the
    first of them or ``"unknown"`` when nothing speaks.
    """

    errors: tuple[ErrorSignal, ...]
    secrets: tuple[SecretSeen, ...]
    key_exposed: bool
    org_ids: tuple[str, ...]
    times: tuple[TimeMention, ...]
    amounts: tuple[MoneyMention, ...]
    models: tuple[str, ...]
    claims: frozenset[str]
    intents: tuple[tuple[str, float], ...]
    intent: str


# --- errors in prose ------------------------------------------------------------------------
KNOWN_STATUSES = frozenset({400, 401, 402, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504, 529})
_EXCEPTION_STATUS = {
    "ratelimiterror": 429, "resourceexhausted": 429, "toomanyrequests": 429,
    "authenticationerror": 401, "unauthenticated": 401, "permissiondeniederror": 403, "permissiondenied": 403,
    "badrequesterror": 400, "invalidrequesterror": 400, "invalidargument": 400, "notfounderror": 404,
    "internalservererror": 500,
    "serviceunavailable": 503, "serviceunavailableerror": 503, "overloadederror": 529,
    "apiconnectionerror": None, "apitimeouterror": None, "budgetexceedederror": 400,
}  # fmt: skip
_EXCEPTION_RE = re.compile(
    r"\b(?:(?:openai|anthropic|litellm|google\.api_core\.exceptions|groq|mistralai|cohere|together)\.)?"
    r"(?P<exc>RateLimitError|ResourceExhausted|TooManyRequests|AuthenticationError|Unauthenticated"
    r"|PermissionDeniedError|PermissionDenied|BadRequestError|InvalidRequestError|InvalidArgument|NotFoundError"
    r"|InternalServerError"
    r"|ServiceUnavailable(?:Error)?|OverloadedError|APIConnectionError|APITimeoutError|BudgetExceededError)\b"
)
_SDK_CODE_RE = re.compile(r"\b(?:error|status)[ _]?code\s*[:=]?\s*(?P<st>[1-5]\d\d)\b", re.I)
_STATUS_BEFORE_RE = re.compile(
    r"(?i)(?:\b(?:http(?:/\d(?:\.\d)?)?|status|error|errors|erro|erreur|fehler|code|got|get|getting|gets|returns?"
    r"|returning|returned|receiving|received|throws?|throwing|with|an?|the|hit|see|seeing|respond(?:s|ed)?"
    r"|response|kena|dapat|aa raha)\s*[:=#]?\s*|^|[(\[\s])"
    r"(?P<st>[45]\d\d)\b(?![.,]\d|\s*(?:usd|dollars?|eur|euros?|users?|tokens?|requests?/|ms\b|rpm|tpm|k\b|%))"
)
_STATUS_CJK_RE = re.compile(
    r"(?<![0-9A-Za-z])(?P<st>[45]\d\d)(?![0-9])\s?(?=エラー|错误|錯誤|报错|報錯|的错误|コード|番|状态码|ステータス)"
    r"|(?:返回|报|返され|ステータス|状态码|错误码|エラーコード|コード)\s?[:：]?\s?(?P<st2>[45]\d\d)(?![0-9])"
)
"""A status written against CJK text, where no word boundary falls ("402エラー", "返回402")."""
_QUOTED_AFTER_RE = re.compile(r"\s?[:：]\s*(?P<msg>[\"'“]?[A-Za-z][^\n{]{11,300}?(?:[.!?](?=\s|$)|$))", re.M)
"""The message a customer writes after a status and a colon, up to the end of its sentence."""
_OBJ_START_RE = re.compile(r"\{\s*[\"'](?:error|type|message|code|status)[\"']\s*:")
_STATUS_IN_BODY_RE = re.compile(r"[\"'](?:status|code|status_code)[\"']\s*:\s*(?P<st>[45]\d\d)\b")
_MAX_OBJ = 4000


def _match_brace(text: str, start: int) -> int:
    """Index after the brace that closes the one at ``start`` (-1 if it never closes)."""
    depth = 0
    quote: str | None = None
    i = start
    end = min(len(text), start + _MAX_OBJ)
    while i < end:
        c = text[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def _parse_obj(raw: str) -> dict[str, Any] | None:
    """JSON, or the Python repr the SDKs print (single quotes, None/True/False)."""
    try:
        v = json.loads(raw)
    except ValueError:
        try:
            v = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            return None
    return v if isinstance(v, dict) else None


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    status: int | None
    body: str | dict[str, Any] | None


def _line_rest(text: str, pos: int, limit: int = 300) -> str:
    end = text.find("\n", pos)
    end = len(text) if end == -1 else end
    return text[pos : min(end, pos + limit)].strip(" -:")


def _errors_in_text(text: str) -> list[_Found]:
    """Statuses and error bodies pasted in prose, logs or stack traces, one per occurrence."""
    found: list[_Found] = []
    covered: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in covered)

    # 1. JSON / dict bodies, with the status said just before them or inside them.
    for m in _OBJ_START_RE.finditer(text):
        if not free(m.start(), m.start() + 1):
            continue
        end = _match_brace(text, m.start())
        if end == -1:
            continue
        raw = text[m.start() : end]
        obj = _parse_obj(raw)
        lead_start = max(0, text.rfind("\n", 0, m.start()) + 1, m.start() - 160)
        lead = text[lead_start : m.start()]
        status: int | None = None
        codes = list(_SDK_CODE_RE.finditer(lead)) or list(_STATUS_BEFORE_RE.finditer(lead))
        if codes:
            status = int(codes[-1].group("st"))
        else:
            sm = _STATUS_IN_BODY_RE.search(raw)
            exc = list(_EXCEPTION_RE.finditer(lead))
            if sm:
                status = int(sm.group("st"))
            elif exc:
                status = _EXCEPTION_STATUS.get(exc[-1].group("exc").lower())
        found.append(_Found(lead_start, end, status if status in KNOWN_STATUSES else None, obj or raw))
        covered.append((lead_start, end))
    # 2. SDK exceptions without a parsable body: the status from the name, the message after it.
    for m in _EXCEPTION_RE.finditer(text):
        if not free(m.start(), m.end()):
            continue
        rest = _line_rest(text, m.end())
        code = _SDK_CODE_RE.search(rest)
        status = int(code.group("st")) if code else _EXCEPTION_STATUS.get(m.group("exc").lower())
        body = rest or m.group(0)
        end = m.end() + len(rest)
        found.append(_Found(m.start(), end, status if status in KNOWN_STATUSES else None, body))
        covered.append((m.start(), end))
    # 3. Bare statuses in prose ("getting 402", "HTTP 429", "error code 401"), one per status.
    seen_status = {f.status for f in found}
    for rx in (_SDK_CODE_RE, _STATUS_BEFORE_RE, _STATUS_CJK_RE):
        for m in rx.finditer(text):
            group = "st2" if m.groupdict().get("st2") else "st"
            st = int(m.group(group))
            if st not in KNOWN_STATUSES or st in seen_status or not free(m.start(group), m.end(group)):
                continue
            # The customer's sentence is not an error body: "429, not a billing issue, we have
            # credits" must not be read as a quota message. The status alone goes to the dialect,
            # unless a colon introduces the message ("a 404: The model ... does not exist").
            end = m.end(group)
            quoted = _QUOTED_AFTER_RE.match(text, end)
            said: str | None = None
            if quoted:
                said = str(quoted.group("msg")).strip(" \"'“”") or None
                end = quoted.end()
            found.append(_Found(m.start(group), end, st, said))
            covered.append((m.start(group), end))
            seen_status.add(st)
    found.sort(key=lambda f: f.start)
    return found


# --- org ids, money, models ------------------------------------------------------------------
_ORG_RE = re.compile(r"(?<![A-Za-z0-9_\-])org[-_][A-Za-z0-9]{6,40}(?![A-Za-z0-9_\-])")
_CUR_SYM = {"$": "USD", "us$": "USD", "€": "EUR", "£": "GBP", "r$": "BRL", "₹": "INR", "rs": "INR", "rs.": "INR",
            "rp": "IDR", "¥": "JPY", "c$": "CAD", "a$": "AUD"}  # fmt: skip
_CUR_WORD = {"usd": "USD", "dollar": "USD", "dollars": "USD", "bucks": "USD", "dolares": "USD", "dólares": "USD",
             "eur": "EUR", "euro": "EUR", "euros": "EUR", "€": "EUR", "gbp": "GBP", "pounds": "GBP", "brl": "BRL",
             "reais": "BRL", "inr": "INR", "rupees": "INR", "idr": "IDR", "rupiah": "IDR", "$": "USD", "cad": "CAD",
             "aud": "AUD", "chf": "CHF", "jpy": "JPY", "yen": "JPY"}  # fmt: skip
_NUM = r"\d{1,3}(?:[.,\s']\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d+)?"
_MONEY_RE = re.compile(
    r"(?i)(?P<sym>us\$|r\$|c\$|a\$|\$|€|£|₹|rs\.?|rp\.?)\s?(?P<n1>" + _NUM + r")(?P<k1>\s?[km]\b)?"
    r"|(?<![\w.,])(?P<n2>"
    + _NUM
    + r")(?P<k2>\s?[km])?\s?(?P<word>usd|dollars?|bucks|d[oó]lares|eur|euros?|€|gbp"
    r"|pounds|brl|reais|inr|rupees|idr|rupiah|cad|aud|chf|jpy|yen)\b"
)


def _decimal(num: str) -> Decimal | None:
    """Parse "1,234.56", "1.234,56", "2.100" (thousands), "0.075", "35,50" exactly."""
    s = num.replace(" ", "").replace("'", "")
    if "," in s and "." in s:
        s = s.replace(".", "").replace(",", ".") if s.rfind(",") > s.rfind(".") else s.replace(",", "")
    elif "," in s:
        parts = s.split(",")
        s = (
            s.replace(",", "")
            if all(len(p) == 3 for p in parts[1:]) and len(parts[-1]) == 3
            else s.replace(",", ".")
        )
        if s.count(".") > 1:
            return None
    elif s.count(".") >= 1:
        parts = s.split(".")
        thousands = all(len(p) == 3 for p in parts[1:]) and parts[0] not in ("0", "")
        if thousands:
            s = s.replace(".", "")
        elif len(parts) > 2:
            return None
    try:
        return Decimal(s)
    except InvalidOperation:
        return None


def _amounts(text: str) -> tuple[MoneyMention, ...]:
    out: list[MoneyMention] = []
    for m in _MONEY_RE.finditer(text):
        num = m.group("n1") or m.group("n2")
        amount = _decimal(num)
        if amount is None:
            continue
        k = (m.group("k1") or m.group("k2") or "").strip().lower()
        if k:
            amount *= 1000 if k == "k" else 1_000_000
        if m.group("sym"):
            currency = _CUR_SYM.get(m.group("sym").lower().rstrip("."), "USD")
        else:
            currency = _CUR_WORD.get(m.group("word").lower(), "USD")
        out.append(MoneyMention(m.group(0).strip(), amount, currency, m.start()))
    return tuple(out)


_MODEL_RE = re.compile(
    r"(?i)\b(?:gpt-?(?:5|4\.5|4\.1|4o|4|3\.5)(?:-(?:mini|nano|turbo|32k|pro|preview|instruct|audio|realtime))*"
    r"(?:-\d{4}-\d{2}-\d{2})?"
    r"|o[134](?:-(?:mini|preview|pro|high|low))*(?![\w.-])"
    r"|claude(?:[- ](?:\d(?:[.-]\d)?|instant))?(?:[- ](?:sonnet|opus|haiku))(?:[- ]\d(?:[.-]\d)?)?(?:-\d{8})?"
    r"|claude[- ]\d(?:[.-]\d)?|(?:sonnet|opus|haiku)(?:[- ]\d(?:[.-]\d)?)?"
    r"|gemini(?:[- ](?:\d(?:\.\d)?|pro|flash|ultra|nano|lite|exp))*"
    r"|text-embedding-(?:3-small|3-large|ada-002)|dall-e-[23]|whisper-1|tts-1(?:-hd)?"
    r"|deepseek[- ](?:chat|reasoner|v\d(?:\.\d)?|r1|coder)|mistral[- ](?:large|medium|small|tiny)(?:-latest)?"
    r"|llama[- ]?\d(?:\.\d)?(?:[- ]\d+b)?|command[- ]r(?:[- ]plus|\+)?|grok[- ]\d(?:[.-]\w+)?)"
)


_URL_RE = re.compile(r"https?://\S+")


def _models(text: str) -> tuple[str, ...]:
    """Model names the customer wrote; names inside links (``…/gemini-api/docs``) are not models."""
    seen: dict[str, None] = {}
    for m in _MODEL_RE.finditer(_URL_RE.sub(" ", text)):
        name = re.sub(r"\s+", "-", m.group(0).strip().lower())
        if name.startswith("claude") or name.split("-")[0] in {"sonnet", "opus", "haiku"}:
            name = name if name.startswith("claude") else "claude-" + name
        seen.setdefault(name, None)
    return tuple(seen)


# --- the extractor ---------------------------------------------------------------------------
_FRAME_RE = re.compile(
    r"(?m)^[ \t]*(?:File \"[^\n]*|at [\w.$<>]+\([^\n]*|Traceback \(most recent call last\):|\^[\^~ ]*"
    r"|\.\.\. \d+ more|(?:    |\t)[ \t]*\S[^\n]*)[ \t]*\n?"
)
PROSE_HEAD, PROSE_TAIL = 3000, 1000


def _prose(text: str) -> str:
    """The customer's words for the intent rules: stack frames dropped, a long paste cut.

    Errors are read from the whole text separately; the rules only need the story, and a
    20 KB log would cost the rules time without saying anything a frame-free head and tail
    do not.
    """
    text = _FRAME_RE.sub("", text)
    if len(text) > PROSE_HEAD + PROSE_TAIL:
        text = text[:PROSE_HEAD] + "\n" + text[-PROSE_TAIL:]
    return text


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _interpret(status: int | None, body: str | dict[str, Any] | None, provider: str) -> Interpretation:
    return interpret(status, body, provider)


def extract_signals(
    subject: str,
    body: str,
    attachments: Sequence[AttachmentLike] | Sequence[Mapping[str, Any]],
    received_at: datetime,
    provider: str = "generic",
    *,
    intent_model: str | None = None,
) -> Signals:
    """Read a ticket into signals. ``attachments`` are ``bundle.Attachment`` records or dicts.

    ``intent_model`` overrides the ``intent_model`` setting: ``"rules"`` (the default),
    ``"embedding"`` (the rules, and the optional local model where the rules find nothing) or
    ``"auto"`` (the embedding path when its optional package is installed, else the rules).
    """
    model = settings.get("intent_model", intent_model)
    if model not in ("rules", "embedding", "auto"):
        raise InputError(f"must be 'rules', 'embedding' or 'auto', got {model!r}", "intent_model")
    if model == "auto":
        from quotadesk.triage.intent_embed import available

        model = "embedding" if available() else "rules"
    if not isinstance(subject, str):
        raise InputError("must be a string", "ticket.subject")
    if not isinstance(body, str):
        raise InputError("must be a string", "ticket.body")
    if not isinstance(received_at, datetime) or received_at.utcoffset() is None:
        raise InputError("must be a timezone-aware datetime", "ticket.received_at")
    provider = (provider or "generic").lower()

    secrets: list[SecretSeen] = []
    fields: list[tuple[str, str]] = [("/ticket/subject", subject), ("/ticket/body", body)]
    for i, att in enumerate(attachments):
        for name in ("body", "text"):
            value = _field(att, name)
            if isinstance(value, str) and value:
                fields.append((f"/ticket/attachments/{i}/{name}", value))
    for src, value in fields:
        secrets.extend(SecretSeen(src, h) for h in find_secrets(value))

    red_subject, _ = redact(subject)
    red_body, _ = redact(body)
    text = f"{red_subject}\n{red_body}"

    errors: list[ErrorSignal] = []
    for i, att in enumerate(attachments):
        kind = _field(att, "kind")
        src = f"/ticket/attachments/{i}"
        raw_body = _field(att, "body")
        red = redact(raw_body)[0] if isinstance(raw_body, str) else raw_body
        if kind == "error_response":
            status = _field(att, "status")
            status = status if isinstance(status, int) and not isinstance(status, bool) else None
            parsed = _parse_obj(red) if isinstance(red, str) and red.lstrip().startswith("{") else None
            b: str | dict[str, Any] | None = parsed if parsed is not None else red
            errors.append(
                ErrorSignal(status, b, src, _interpret(status, b, provider), _field(att, "seen_at"), False)
            )
        elif kind == "log_excerpt":
            log = _field(att, "text") or (red if isinstance(red, str) else "")
            for f in _errors_in_text(redact(log)[0] if isinstance(log, str) else ""):
                errors.append(
                    ErrorSignal(f.status, f.body, src, _interpret(f.status, f.body, provider), None, True)
                )
    attached = {e.status for e in errors if not e.in_prose}
    for src, value in (("/ticket/subject", red_subject), ("/ticket/body", red_body)):
        for f in _errors_in_text(value):
            if f.body is None and f.status in attached:
                continue  # "we see 429" about the 429 attached: the attachment says it better
            errors.append(
                ErrorSignal(f.status, f.body, src, _interpret(f.status, f.body, provider), None, True)
            )
    if not any(e.interpretation.rule != Rule.UNKNOWN and e.body for e in errors):
        # An error message quoted without a status or JSON ("Error: This request requires more
        # credits…") is still the provider's wording: read the prose itself, trusting only a
        # specific signature, never loose words.
        quoted = [m.group(1) for m in _ERROR_LINE_RE.finditer(red_body)]
        for line in quoted:
            it_line = _interpret(None, line, provider)
            if it_line.rule != Rule.UNKNOWN and it_line.confidence >= QUOTED_MIN_CONFIDENCE:
                errors.append(ErrorSignal(None, line, "/ticket/body", it_line, None, True))
                break
        else:
            whole = _interpret(None, red_body, provider)
            if whole.rule != Rule.UNKNOWN and whole.confidence >= PROSE_MIN_CONFIDENCE:
                errors.append(ErrorSignal(None, red_body, "/ticket/body", whole, None, True))

    norm = normalise(_prose(text))
    claims = it.find_claims(norm)
    evidence = tuple(
        it.ErrorEvidence(e.interpretation.rule, float(e.interpretation.confidence), attached=not e.in_prose)
        for e in errors
    )
    amounts = _amounts(text)
    intents = it.classify(norm, claims, evidence, amounts=len({a.amount for a in amounts}))
    if model == "embedding" and not intents:
        from quotadesk.triage import intent_embed

        intents = intent_embed.combine(intents, text)
    times = find_times(text, received_at)
    return Signals(
        errors=tuple(errors),
        secrets=tuple(secrets),
        key_exposed=bool(secrets),
        org_ids=tuple(dict.fromkeys(_ORG_RE.findall(text))),
        times=times,
        amounts=amounts,
        models=_models(text),
        claims=claims,
        intents=intents,
        intent=intents[0][0] if intents else it.UNKNOWN,
    )
