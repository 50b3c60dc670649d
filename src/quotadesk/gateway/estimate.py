"""What a request may cost at worst, read from its body, and what it did cost, read from the answer.

The hold must be an upper bound, or concurrent requests could together spend past a balance:

* **Prompt tokens** are bounded by the body's size in bytes: every token of text is at least
  one byte of UTF-8 (JSON escaping only adds bytes), and the roles, names and tool schemas
  the provider also counts are in the body too. Images are not bytes-for-tokens (a URL of 60
  bytes can cost 1,000 tokens), so each image or document part adds ``MEDIA_TOKENS``.
* **Output tokens** are bounded by ``max_completion_tokens`` / ``max_tokens``. A chat request
  that names none gets the model's bound (config ``models.<m>.max_output_tokens``, else
  ``default_max_output_tokens``) written into the request sent upstream, so the bound is
  enforced by the provider and not merely hoped for. Anthropic requires ``max_tokens``.

Validation happens here too (the gateway must answer a bad body with a 400 naming the field,
never a 5xx), for the few fields the gateway itself relies on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MEDIA_TOKENS = 2_000
"""Upper bound per image/document part (OpenAI high-detail images and Anthropic's resized ones stay below it)."""

_MEDIA_TYPES = frozenset({"image_url", "image", "input_image", "document", "input_audio", "file"})


class BadRequest(ValueError):
    """A body the gateway cannot admit: ``param`` names the field."""

    def __init__(self, message: str, param: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True, slots=True)
class Estimate:
    """A parsed request: model, streaming, and its worst-case prompt and output tokens."""

    model: str
    stream: bool
    prompt_bound: int
    output_bound: int
    rewrite: dict[str, Any] | None = None  # fields to set on the body sent upstream


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens as billed: ``input`` uncached input, ``output``, ``cached`` cached input."""

    input: int
    output: int
    cached: int = 0


def _count_media(messages: Any) -> int:
    n = 0
    if isinstance(messages, list):
        for m in messages:
            content = m.get("content") if isinstance(m, dict) else None
            if isinstance(content, list):
                n += sum(1 for part in content if isinstance(part, dict) and part.get("type") in _MEDIA_TYPES)
    return n


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("model: expected the model name (a non-empty string)", "model")
    return model


def _positive(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest(f"{name}: expected a positive integer", name)
    return value


def _stream(body: dict[str, Any]) -> bool:
    value = body.get("stream", False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest("stream: expected a boolean", "stream")
    return value


def chat(body: dict[str, Any], size: int, default_output: int) -> Estimate:
    model = _model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: expected a non-empty array of messages", "messages")
    stream = _stream(body)
    out = _positive(body, "max_completion_tokens") or _positive(body, "max_tokens")
    rewrite: dict[str, Any] = {}
    if out is None:
        out = default_output
        rewrite["max_completion_tokens"] = out
    n = body.get("n")
    choices = _positive(body, "n") if n is not None else 1
    if stream:
        opts = body.get("stream_options")
        if opts is not None and not isinstance(opts, dict):
            raise BadRequest("stream_options: expected an object", "stream_options")
        if not (opts or {}).get("include_usage"):
            rewrite["stream_options"] = {**(opts or {}), "include_usage": True}
    prompt = size + MEDIA_TOKENS * _count_media(messages)
    return Estimate(model, stream, prompt, out * (choices or 1), rewrite or None)


def messages(body: dict[str, Any], size: int) -> Estimate:
    model = _model(body)
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise BadRequest("messages: expected a non-empty array of messages", "messages")
    out = _positive(body, "max_tokens")
    if out is None:
        raise BadRequest("max_tokens: Field required", "max_tokens")
    prompt = size + MEDIA_TOKENS * _count_media(msgs)
    return Estimate(model, _stream(body), prompt, out)


def embeddings(body: dict[str, Any], size: int) -> Estimate:
    model = _model(body)
    inp = body.get("input")
    if not (isinstance(inp, str) and inp) and not (isinstance(inp, list) and inp):
        raise BadRequest("input: expected a string or a non-empty array", "input")
    return Estimate(model, False, size, 0)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def openai_usage(usage: Any) -> Usage | None:
    """OpenAI's ``usage``: prompt tokens include the cached ones; billing splits them."""
    if not isinstance(usage, dict):
        return None
    prompt = _int(usage.get("prompt_tokens"))
    details = usage.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    cached = min(cached, prompt)
    return Usage(prompt - cached, _int(usage.get("completion_tokens")), cached)


def anthropic_usage(usage: Any, base: Usage | None = None) -> Usage | None:
    """Anthropic's ``usage``: ``input_tokens`` exclude cache reads (billed as cached) and cache
    writes (billed here as input: the price table has one input rate)."""
    if not isinstance(usage, dict):
        return base
    b = base or Usage(0, 0, 0)
    inp = usage.get("input_tokens")
    write = _int(usage.get("cache_creation_input_tokens"))
    read = usage.get("cache_read_input_tokens")
    return Usage(
        _int(inp) + write if inp is not None else b.input,
        _int(usage.get("output_tokens")) if "output_tokens" in usage else b.output,
        _int(read) if read is not None else b.cached,
    )


def guess_tokens(text_bytes: int) -> int:
    """Tokens of streamed text with no usage report: about four bytes each, at least one."""
    return max(1, (text_bytes + 3) // 4) if text_bytes else 0
