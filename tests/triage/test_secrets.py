"""Full API keys in ticket text: found in any wrapping, redacted to nothing of the secret part."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quotadesk.billing.secrets import find_secrets, redact, redact_json

# (kind, prefix that may stay visible, full key) — made-up keys in each provider's shape.
KEYS = [
    ("openai_project", "sk-proj-", "sk-proj-Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6kM9nP2rS5uV8xA1dG4"),
    ("openai", "sk-", "sk-Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVbNm9876Pq2Wx"),
    ("openai_service_account", "sk-svcacct-", "sk-svcacct-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa7Q"),
    (
        "anthropic",
        "sk-ant-api03-",
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlMnOpQrStUvWxYz012345678AA",
    ),
    ("google", "AIza", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"),
    ("openrouter", "sk-or-v1-", "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"),
    ("groq", "gsk_", "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"),
    ("xai", "xai-", "xai-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90Uv12Wx34Yz56"),
    ("github", "ghp_", "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
    ("aws", "AKIA", "AKIAZ7QW3ERT5YUI8OPL"),
]
WRAPPERS = [
    "Here is my key so you can test: {k} - it returns 402.",
    '{{"api_key": "{k}", "model": "gpt-4o"}}',
    "curl https://api.example.com/v1/chat -H \"Authorization: Bearer {k}\" -d '{{}}'",
    "OPENAI_API_KEY={k}\nOTHER=1",
    'client = OpenAI(api_key="{k}")',
    "my key ({k}), thanks",
    "key:{k}.",
    "<{k}>",
    "`{k}`",
    "**{k}**",
    "the key is '{k}';",
]


def _secret_part(prefix: str, key: str) -> str:
    return key[len(prefix) : -4]


@pytest.mark.parametrize(("kind", "prefix", "key"), KEYS)
@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_key_in_any_wrapping_is_redacted(kind: str, prefix: str, key: str, wrapper: str) -> None:
    text = wrapper.format(k=key)
    out, n = redact(text)
    assert n == 1
    assert key not in out
    secret = _secret_part(prefix, key)
    # not even a third of the secret part survives anywhere
    chunk = max(8, len(secret) // 3)
    assert not any(secret[i : i + chunk] in out for i in range(0, len(secret) - chunk + 1))
    hits = find_secrets(text)
    assert hits[0].kind == kind
    assert hits[0].redacted == f"{prefix}...{key[-4:]}"
    assert text[hits[0].start : hits[0].end] == key


def test_many_keys_in_one_text() -> None:
    text = "\n".join(f"{kind}: {key}" for kind, _, key in KEYS)
    out, n = redact(text)
    assert n == len(KEYS)
    for _, _, key in KEYS:
        assert key not in out


def test_line_wrapped_key_is_redacted_whole() -> None:
    text = "Key was sk-proj-Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7b\nC0eF3hJ6kM9nP2rS5uV8xA1dG4\nThanks, Ana"
    out, n = redact(text)
    assert n == 1
    assert "C0eF3hJ6kM9nP2rS5uV8" not in out
    assert "Thanks, Ana" in out


@pytest.mark.parametrize(
    "text",
    [
        "together key: 3f9a2b7c1d8e4f6a0b5c9d2e7f1a3b8c4d6e0f2a9b7c5d3e1f8a6b4c2d0e9f7a",
        "MISTRAL_API_KEY=Zq8Wm3Xr7Tn2Kp5Lv9Hb4Jc6Ds1Fg0Ay",
        "x-api-key: 9b1c4e7f2a5d8c3b6e9f1a4d7c2b5e8f3a6d9c1b",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
        'token="hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"',
    ],
)
def test_generic_secrets_after_a_keyword(text: str) -> None:
    out, n = redact(text)
    assert n == 1
    tail = text.split()[-1].strip("\"'")
    assert tail[4:-4] not in out


@pytest.mark.parametrize(
    "text",
    [
        "My key sk-...q7Lm stopped working",
        "the key sk-…a1b2 is the one in the console",
        "key ending ****18b",
        "sk-proj-********************dG4",
        "request id req_8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c",
        "org org-AbC123dEf456GhI789jKl and org_2b9f8e7d6c5a4b3c2d1e",
        "trace 123e4567-e89b-12d3-a456-426614174000 commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
        "token count 1234567890123456789012 and key_id key_01HZX9Y8W7V6U5T4S3R2Q1P0",
        "Bearer $OPENAI_API_KEY",
        "model gpt-4o-mini-2024-07-18 and claude-3-5-sonnet-20241022",
        "https://platform.openai.com/account/api-keys",
        "the task-management-service-production-eu-west is slow",
        "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx (placeholder)",
        "our secret sauce is good and the token limit is 128000 tokens",
        "chatcmpl-9xYz8WvU7tS6rQ5pO4nM3lK2jI1hG0fE and msg_01XFDUDYJgAACzvnptvVoYEL",
        "Invoice INV-2026-11-0042, card ending 4242, amount $1,234.56",
    ],
)
def test_not_keys(text: str) -> None:
    assert find_secrets(text) == ()
    assert redact(text) == (text, 0)


def test_redact_json_walks_everything() -> None:
    key = KEYS[0][2]
    doc = {
        "ticket": {"body": f"key {key}", "attachments": [{"text": f"export OPENAI_API_KEY={key}"}]},
        key: "as a mapping key",
        "n": 3,
        "t": (f"Bearer {key}",),
    }
    out, n = redact_json(doc)
    assert n == 4
    assert key not in json.dumps(out, default=list)
    assert out["n"] == 3
    assert isinstance(out["t"], tuple)
    assert doc["ticket"]["body"] == f"key {key}"  # the input is not modified


_SAFE = st.text(alphabet=st.sampled_from(list("abcdefghij klmnop,.\n:;()\"'")), max_size=80)


@settings(max_examples=150, deadline=None)
@given(before=_SAFE, after=_SAFE, which=st.integers(min_value=0, max_value=len(KEYS) - 1))
def test_key_never_survives_and_redaction_is_idempotent(before: str, after: str, which: int) -> None:
    _, prefix, key = KEYS[which]
    text = f"{before} {key} {after}"
    out, n = redact(text)
    assert n >= 1
    assert _secret_part(prefix, key) not in out
    again, m = redact(out)
    assert (again, m) == (out, 0)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_redact_never_grows_hits_and_offsets_are_ordered(text: str) -> None:
    hits = find_secrets(text)
    assert all(a.end <= b.start for a, b in itertools.pairwise(hits))
    out, n = redact(text)
    assert n == len(hits)
    assert redact(out)[1] == 0
