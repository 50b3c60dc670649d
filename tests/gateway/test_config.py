"""The gateway's configuration: flags and the TOML file, routes, bounds, errors naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from quotadesk.errors import InputError
from quotadesk.gateway.config import load_config

TOML = """
dialect = "openai"
default_max_output_tokens = 1000

[upstreams.openai]
url = "https://api.openai.com/v1"
key_env = "QD_TEST_OPENAI_KEY"

[upstreams.fast]
api = "openai"
url = "http://127.0.0.1:9000"

[upstreams.anthropic]
url = "https://api.anthropic.com"

[[routes]]
model = "gpt-4o-mini*"
upstream = "fast"

[models."gpt-4o"]
max_output_tokens = 16384
"""


def test_file_and_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QD_TEST_OPENAI_KEY", "sk-provider")
    path = tmp_path / "gw.toml"
    path.write_text(TOML)
    cfg = load_config(str(path), ["anthropic=http://127.0.0.1:9100/v1"])
    assert cfg.dialect == "openai"
    openai_up = cfg.upstreams["openai"]
    assert (openai_up.host, openai_up.port, openai_up.base_path, openai_up.api_key) == ("api.openai.com", 443, "", "sk-provider")
    assert cfg.upstream_for("openai", "gpt-4o-mini-2024-07-18").name == "fast"
    assert cfg.upstream_for("openai", "gpt-4o").name == "openai"
    anth = cfg.upstream_for("anthropic", "claude-x")
    assert anth is not None and (anth.host, anth.port, anth.base_path) == ("127.0.0.1", 9100, "")
    assert cfg.output_bound("gpt-4o") == 16384 and cfg.output_bound("other") == 1000


@pytest.mark.parametrize(
    ("text", "flags", "field"),
    [
        ("[upstreams.x]\nurl = 'ftp://h'\napi = 'openai'", [], "upstream.x"),
        ("[upstreams.x]\nurl = 'http://h'", [], "upstreams.x.api"),
        ("[[routes]]\nmodel = 'a'\nupstream = 'nope'", [], "routes[0].upstream"),
        ("[models.m]\nmax_output_tokens = 0", [], "models.m.max_output_tokens"),
        ("dialect = 'klingon'", [], "dialect"),
        ("", ["openai"], "--upstream"),
        ("not = [toml", [], "config"),
    ],
)
def test_bad_configuration_names_the_field(tmp_path: Path, text: str, flags: list[str], field: str) -> None:
    path = tmp_path / "gw.toml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_config(str(path), flags)
    assert info.value.field == field
