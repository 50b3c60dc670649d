"""Where the gateway sends traffic: upstream providers, their keys, model routes, the dialect.

From ``--upstream NAME=URL`` flags and a TOML ``--config`` file (flags win for a name both give)::

    dialect = "generic"                 # how refusals are spelled (billing.dialects)
    default_max_output_tokens = 4096    # the output bound when a request names none

    [upstreams.openai]                  # NAME: its API is "openai" or "anthropic" (default: the name)
    url = "https://api.openai.com"
    key_env = "OPENAI_API_KEY"          # the provider key is read from the environment, never the file

    [upstreams.anthropic]
    url = "https://api.anthropic.com"
    key_env = "ANTHROPIC_API_KEY"

    [[routes]]                          # first match wins; else the upstream named like the API
    model = "gpt-4o*"
    upstream = "openai"

    [models."gpt-4o-mini"]
    max_output_tokens = 16384

A trailing ``/v1`` on a URL is dropped: the gateway forwards its own path (``/v1/...``).
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from quotadesk.billing.dialects import canonical_provider
from quotadesk.errors import InputError

APIS = ("openai", "anthropic")
DEFAULT_MAX_OUTPUT = 4096


@dataclass(frozen=True, slots=True)
class Upstream:
    """One provider: ``api`` (openai/anthropic), scheme, host, port, base path, and its key."""

    name: str
    api: str
    scheme: str
    host: str
    port: int
    base_path: str
    api_key: str | None = None

    @property
    def address(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{self.base_path}"


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Upstreams by name, routes (model pattern, upstream name), dialect and output bounds."""

    upstreams: Mapping[str, Upstream]
    routes: tuple[tuple[str, str], ...] = ()
    dialect: str = "generic"
    default_max_output: int = DEFAULT_MAX_OUTPUT
    max_output: Mapping[str, int] = field(default_factory=dict)

    def upstream_for(self, api: str, model: str) -> Upstream | None:
        """The upstream serving ``model`` on an endpoint of ``api``."""
        for pattern, name in self.routes:
            up = self.upstreams.get(name)
            if up is not None and up.api == api and fnmatch.fnmatchcase(model, pattern):
                return up
        up = self.upstreams.get(api)
        if up is not None and up.api == api:
            return up
        return next((u for u in self.upstreams.values() if u.api == api), None)

    def output_bound(self, model: str) -> int:
        for pattern, value in self.max_output.items():
            if model == pattern or fnmatch.fnmatchcase(model, pattern):
                return value
        return self.default_max_output


def parse_url(name: str, url: str, api: str, api_key: str | None) -> Upstream:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"expected http(s)://HOST[:PORT][/PATH], got {url!r}", f"upstream.{name}")
    base = parts.path.rstrip("/")
    if base.endswith("/v1"):
        base = base[:-3]
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Upstream(name, api, parts.scheme, parts.hostname, port, base, api_key)


def _api_of(name: str, raw: Mapping[str, Any]) -> str:
    api = str(raw.get("api") or name)
    if api not in APIS:
        raise InputError(f"api must be one of {', '.join(APIS)} (got {api!r})", f"upstreams.{name}.api")
    return api


def load_config(path: str | None, flags: Iterable[str] = (), dialect: str | None = None) -> GatewayConfig:
    """The configuration from the file at ``path`` (if any) and ``NAME=URL`` flags."""
    raw: dict[str, Any] = {}
    if path:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}", "config") from exc
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"not TOML: {exc}", "config") from exc
    upstreams: dict[str, Upstream] = {}
    for name, entry in (raw.get("upstreams") or {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise InputError("expected a table with url", f"upstreams.{name}")
        env = entry.get("key_env")
        key = os.environ.get(str(env)) if env else None
        upstreams[name] = parse_url(name, entry["url"], _api_of(name, entry), key)
    for flag in flags:
        name, sep, url = flag.partition("=")
        if not sep or not name:
            raise InputError(f"expected NAME=URL, got {flag!r}", "--upstream")
        old = upstreams.get(name)
        api = old.api if old is not None else _api_of(name, {})
        upstreams[name] = parse_url(name, url, api, old.api_key if old else None)
    routes: list[tuple[str, str]] = []
    for i, route in enumerate(raw.get("routes") or []):
        if not isinstance(route, dict) or not isinstance(route.get("model"), str):
            raise InputError("expected {model, upstream}", f"routes[{i}]")
        if route.get("upstream") not in upstreams:
            raise InputError(f"no upstream {route.get('upstream')!r}", f"routes[{i}].upstream")
        routes.append((route["model"], str(route["upstream"])))
    max_output: dict[str, int] = {}
    for model, entry in (raw.get("models") or {}).items():
        value = entry.get("max_output_tokens") if isinstance(entry, dict) else None
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError("expected a positive integer", f"models.{model}.max_output_tokens")
        max_output[model] = value
    default_max = raw.get("default_max_output_tokens", DEFAULT_MAX_OUTPUT)
    if not isinstance(default_max, int) or isinstance(default_max, bool) or default_max < 1:
        raise InputError("expected a positive integer", "default_max_output_tokens")
    chosen = dialect or str(raw.get("dialect") or "generic")
    try:
        canonical_provider(chosen)
    except ValueError as exc:
        raise InputError(str(exc), "dialect") from exc
    return GatewayConfig(upstreams, tuple(routes), chosen, default_max, max_output)
