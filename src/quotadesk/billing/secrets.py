"""Full API keys and other secrets: find them, and redact them before anything is printed.

The one redaction rule of the project: triage, ``explain-error`` (``billing.reading``), the
HTTP error envelope, the CLI's error line and the log filter all call ``redact`` here, so a
key shape taught once is hidden everywhere. It lives in the pure core because
``billing.reading`` needs it and may import nothing else.

Customers paste keys to "help us test": in prose, in a curl command, in an ``.env`` line, in
JSON or in a stack trace. The contract says a full key never appears in any output field, so
triage redacts the ticket before it quotes a word of it and tells the customer to rotate it.

Two families of patterns:

- *prefixed* keys whose shape alone says "secret" (OpenAI ``sk-``/``sk-proj-``/``sk-svcacct-``,
  Anthropic ``sk-ant-api03-``, OpenRouter ``sk-or-v1-``, Google ``AIza``, Groq ``gsk_``, xAI
  ``xai-``, GitHub ``ghp_``, AWS ``AKIA``, Hugging Face ``hf_``, Stripe ``sk_live_`` and webhook
  signing secrets ``whsec_``; quotadesk's own key secrets ``sk-qd-`` (an ``sk-`` key), staff
  tokens ``qds_`` and customer tokens ``qdc_``);
- *generic* secrets: a long high-variety token right after ``key``/``token``/``secret``/
  ``Bearer``/``password`` (Together, Mistral, Cohere and every key without a prefix).

What is deliberately not a key: forms already redacted (``sk-...q7Lm``, ``sk-…a1b2``,
``****18b``: the dots or stars cut the token short), request and org ids (``req_…``,
``org-…``), UUIDs, placeholders (``sk-xxxxxxxx…``) and short hashes. A redacted form keeps the
non-secret prefix and the last four characters, the way consoles show keys, and is never
itself found again: redacting twice changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KEEP = 4  # trailing characters kept in a redacted form, as provider consoles show them
ELLIPSIS = "..."

_B = r"(?<![A-Za-z0-9_\-])"  # a key starts at a token boundary ("task-…" is not "sk-…")
_E = r"(?![A-Za-z0-9_\-])"

# (kind, pattern, visible prefix length group) — the first group is the non-secret prefix.
_PREFIXED: tuple[tuple[str, str], ...] = (
    ("anthropic", _B + r"(sk-ant-(?:api|admin|sid)\d{2}-)[A-Za-z0-9_\-]{20,}" + _E),
    ("anthropic", _B + r"(sk-ant-)[A-Za-z0-9_\-]{20,}" + _E),
    ("openrouter", _B + r"(sk-or-v\d-)[A-Za-z0-9]{20,}" + _E),
    ("openai_project", _B + r"(sk-proj-)[A-Za-z0-9_\-]{20,}" + _E),
    ("openai_service_account", _B + r"(sk-svcacct-)[A-Za-z0-9_\-]{20,}" + _E),
    ("openai_admin", _B + r"(sk-admin-)[A-Za-z0-9_\-]{20,}" + _E),
    ("openai", _B + r"(sk-)[A-Za-z0-9_\-]{20,}" + _E),
    ("google", _B + r"(AIza)[0-9A-Za-z_\-]{35}" + _E),
    ("groq", _B + r"(gsk_)[A-Za-z0-9]{20,}" + _E),
    ("xai", _B + r"(xai-)[A-Za-z0-9_\-]{20,}" + _E),
    ("github", _B + r"(gh[pousr]_)[A-Za-z0-9]{30,}" + _E),
    ("github", _B + r"(github_pat_)[A-Za-z0-9_]{30,}" + _E),
    ("huggingface", _B + r"(hf_)[A-Za-z0-9]{30,}" + _E),
    ("stripe", _B + r"((?:sk|rk)_(?:live|test)_)[A-Za-z0-9]{20,}" + _E),
    ("aws", _B + r"((?:AKIA|ASIA))[0-9A-Z]{16}" + _E),
    ("slack", _B + r"(xox[abprs]-)[A-Za-z0-9\-]{20,}" + _E),
    ("stripe_webhook", _B + r"(whsec_)[A-Za-z0-9+/=]{20,}" + _E),
    ("quotadesk_staff", _B + r"(qds_)[A-Za-z0-9_\-]{20,}" + _E),
    ("quotadesk_customer", _B + r"(qdc_)[A-Za-z0-9_\-]{20,}" + _E),
)
_PREFIXED_RE = tuple((kind, re.compile(p)) for kind, p in _PREFIXED)

# A keyword, a short separator (":", "=", quotes, "is", "Bearer"), then the candidate token.
_GENERIC_RE = re.compile(
    r"(?i)(?<![A-Za-z])(?:api[_\-\s]?key|apikey|access[_\-]?key(?:[_\-]?id)?|secret(?:[_\-]?access)?"
    r"(?:[_\-]?key)?|client[_\-]?secret|auth[_\-]?token|access[_\-]?token|token|password|passwd|pwd"
    r"|bearer|authorization|x-api-key|key)(?![A-Za-z])"
    r"[\"'`\]\s]{0,3}(?:[:=]|=>|:=|\s(?:is|was|of|as)\s|\s)?[\s\"'`]{0,3}"
    r"(?:bearer\s+|token\s+)?"
    r"(?P<tok>[A-Za-z0-9][A-Za-z0-9_\-.+/]{19,}={0,2})"
)
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ID_PREFIX_RE = re.compile(
    r"^(?:req|key|org|user|proj|project|chatcmpl|msg|call|file|asst|thread|run|batch|ft|cus|pi|in|ch|sub"
    r"|evt|resp|toolu|gen|cmpl|txn|inv|acct|pm|src|step|vs|span|trace)[_\-]",
    re.I,
)
# A line-wrapped key: the next line starts with the rest of it (letters and digits, no spaces).
_WRAP_RE = re.compile(r"\r?\n[ \t>]*([A-Za-z0-9_\-]{6,})(?![A-Za-z0-9_\-.]*[A-Za-z0-9])")
_QUICK_RE = re.compile(
    r"sk-|AIza|gsk_|xai-|gh[pousr]_|github_pat_|hf_|sk_|rk_|AKIA|ASIA|xox|whsec_|qd[sc]_|key|token|secret"
    r"|bearer|pass|pwd|auth",
    re.I,
)


@dataclass(frozen=True, slots=True)
class SecretHit:
    """One full key in a text: which kind, where (``text[start:end]``), and how to show it safely.

    ``redacted`` keeps only the non-secret prefix and the last four characters, so a support
    engineer can still tell the customer *which* key to rotate without repeating it.
    """

    kind: str
    start: int
    end: int
    redacted: str


def _variety_ok(body: str) -> bool:
    """Random keys use many distinct characters; placeholders (``xxxx…``, ``0000…``) do not."""
    return len(set(body.lower())) >= 6


def _looks_generic_secret(tok: str) -> bool:
    """A token after "key"/"token" is a secret only if it is long, mixed and not an id or a word."""
    if len(tok) < 20 or _UUID_RE.match(tok) or _ID_PREFIX_RE.match(tok):
        return False
    if tok.startswith(("sk-", "http", "www.")) or "..." in tok:
        return False
    if not any(c.isdigit() for c in tok) or not any(c.isalpha() for c in tok):
        return False
    if tok.count("/") >= 2 and not re.fullmatch(r"[A-Za-z0-9+/]{30,}={0,2}", tok):
        return False  # a path or URL, not base64
    if tok.count(".") >= 1 and not tok.startswith("eyJ"):
        parts = tok.split(".")
        if any(p.isalpha() for p in parts) or re.search(r"\.(?:py|js|ts|json|com|io|ai|org|net)\b", tok):
            return False  # a host, a file name or a dotted version
    if re.fullmatch(r"[0-9a-f]{20,39}", tok):
        return False  # short git hashes, trace ids
    if re.fullmatch(r"[\d\-_.:]+", tok):
        return False  # numbers, dates, phone numbers
    if re.fullmatch(r"(?:[a-z]+[-_])+[a-z]*\d*[a-z]*", tok):
        return False  # a slug of words ("gpt-4o-mini-2024-07-18" has many dashes, see next)
    if tok.count("-") >= 3 and all(len(p) <= 10 for p in tok.split("-")):
        return False  # model names, dates, kebab-case identifiers
    return _variety_ok(tok)


def _redact_token(prefix: str, token: str) -> str:
    return f"{prefix}{ELLIPSIS}{token[-KEEP:]}"


def _extend_wrapped(text: str, end: int) -> int:
    """A key wrapped onto the next line by an email client: swallow the rest if it looks like key."""
    m = _WRAP_RE.match(text, end)
    if not m:
        return end
    rest = m.group(1)
    has_digit = any(c.isdigit() for c in rest)
    has_upper = any(c.isupper() for c in rest)
    has_lower = any(c.islower() for c in rest)
    if has_digit and has_upper and has_lower and not re.search(r"\d{4}-\d{2}", rest):
        return m.end(1)
    return end


def find_secrets(text: str) -> tuple[SecretHit, ...]:
    """Every full key in ``text``, in order, without overlaps."""
    if not text or not _QUICK_RE.search(text):
        return ()
    spans: list[tuple[int, int, str, str]] = []  # start, end, kind, prefix
    for kind, rx in _PREFIXED_RE:
        for m in rx.finditer(text):
            body = m.group(0)[len(m.group(1)) :]
            if not _variety_ok(body):
                continue
            if kind == "openai" and not (any(c.isdigit() for c in body) or body.lower() != body):
                continue  # "sk-some-long-lowercase-slug" is prose or a placeholder, not a key
            end = m.end()
            if len(m.group(0)) >= 30 and kind != "aws":
                end = _extend_wrapped(text, end)
            spans.append((m.start(), end, kind, m.group(1)))
    for m in _GENERIC_RE.finditer(text):
        tok = m.group("tok").rstrip(".,;")
        if not _looks_generic_secret(tok):
            continue
        start = m.start("tok")
        spans.append((start, start + len(tok), "generic", ""))
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    hits: list[SecretHit] = []
    last_end = -1
    for start, end, kind, prefix in spans:
        if start < last_end:
            continue
        raw = re.sub(r"\s+|>", "", text[start:end])
        hits.append(SecretHit(kind, start, end, _redact_token(prefix, raw)))
        last_end = end
    return tuple(hits)


def redact(text: str) -> tuple[str, int]:
    """``text`` with every full key replaced by its redacted form, and how many were replaced."""
    hits = find_secrets(text)
    if not hits:
        return text, 0
    out: list[str] = []
    pos = 0
    for h in hits:
        out.append(text[pos : h.start])
        out.append(h.redacted)
        pos = h.end
    out.append(text[pos:])
    return "".join(out), len(hits)


def scrub(text: str) -> str:
    """``text`` with every full key redacted: for messages, log lines and output fields."""
    return redact(text)[0]


def redact_json(obj: Any) -> tuple[Any, int]:
    """Redact every string (keys of mappings included) in a JSON-like structure; returns a copy."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, Mapping):
        total = 0
        out: dict[Any, Any] = {}
        for k, v in obj.items():
            nk, ck = redact_json(k) if isinstance(k, str) else (k, 0)
            nv, cv = redact_json(v)
            out[nk] = nv
            total += ck + cv
        return out, total
    if isinstance(obj, list | tuple):
        total = 0
        items: list[Any] = []
        for v in obj:
            nv, cv = redact_json(v)
            items.append(nv)
            total += cv
        return (tuple(items) if isinstance(obj, tuple) else items), total
    return obj, 0
