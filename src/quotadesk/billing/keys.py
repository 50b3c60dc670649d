"""API keys: lookup by id or by the hash of the secret, redaction, and who may still use one.

The books never keep a secret, only its SHA-256 (hex) and a redacted form such as
``sk-...a1b2``: enough for a customer to recognise the key, useless to anyone who reads it.

A key is unusable when it is unknown or revoked (401 ``invalid_api_key``). A personal key
whose owner left the organization is revoked with them; it is reported as
``departed_member_key`` even after the revocation is recorded, because "its owner left"
is the explanation the customer needs (the fix is an organization-scoped key), where
"revoked" alone would send them looking for who revoked it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace

from quotadesk.billing.decision import Rule
from quotadesk.billing.model import ApiKey, KeyScope, KeyStatus

_SHOWN_TAIL = 4
_MAX_TAG = 5
"""A prefix is shown only when it is a short alphabetic tag such as ``sk`` or ``xai``, never key material."""
_MIN_REDACTABLE = 12
"""Shorter secrets are masked entirely: four characters of an eight-character secret is half of it."""


def hash_secret(secret: str) -> str:
    """SHA-256 of the secret, hex: how the books store a key."""
    if not isinstance(secret, str) or not secret:
        raise ValueError("secret: expected a non-empty string")
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def redact(secret: str) -> str:
    """``sk-...a1b2``: the prefix up to the first dash, then the last four characters.

    ``sk-proj-abc...`` keeps only ``sk-``, so the project part is not shown; a secret whose
    first dash does not follow a short alphabetic tag shows no prefix; a short secret is
    masked whole.
    """
    if not isinstance(secret, str) or not secret:
        raise ValueError("secret: expected a non-empty string")
    secret = secret.strip()
    if len(secret) < _MIN_REDACTABLE:
        return "***"
    dash = secret.find("-")
    tag = secret[:dash]
    prefix = f"{tag}-" if 0 < dash <= _MAX_TAG and tag.isalpha() else ""
    return f"{prefix}...{secret[-_SHOWN_TAIL:]}"


def find_key(
    keys: Iterable[ApiKey],
    *,
    key_id: str | None = None,
    secret: str | None = None,
    secret_hash: str | None = None,
) -> ApiKey | None:
    """The key with this id, or whose stored hash matches the secret (or the given hash)."""
    wanted = hash_secret(secret) if secret is not None else secret_hash
    if key_id is None and wanted is None:
        return None
    for key in keys:
        if key_id is not None and key.id == key_id:
            return key
        if wanted is not None and key.secret_hash is not None and key.secret_hash.lower() == wanted.lower():
            return key
    return None


def is_departed(key: ApiKey) -> bool:
    """A personal key whose owner is no longer a member."""
    return key.scope == KeyScope.PERSONAL and not key.owner_active


def key_usable(key: ApiKey | None) -> Rule | None:
    """None when the key may be used, else the rule that refuses it.

    Order: unknown → ``INVALID_KEY``; personal key of a departed member (revoked or not
    yet) → ``DEPARTED_MEMBER_KEY``; revoked → ``INVALID_KEY``.
    """
    if key is None:
        return Rule.INVALID_KEY
    if is_departed(key):
        return Rule.DEPARTED_MEMBER_KEY
    if key.status == KeyStatus.REVOKED:
        return Rule.INVALID_KEY
    return None


def revoke_departed(keys: Iterable[ApiKey]) -> tuple[ApiKey, ...]:
    """The keys with every personal key of a departed member revoked (others unchanged)."""
    return tuple(
        replace(k, status=KeyStatus.REVOKED) if is_departed(k) and k.status != KeyStatus.REVOKED else k
        for k in keys
    )
