"""``quotadesk gateway``: the OpenAI- and Anthropic-compatible API in front of the providers.

Thin: reads the flags and settings, checks the configuration and migrates the books (so a bad
config or an unreachable database stops the start with exit 2), then hands over to
``quotadesk.gateway.server.run``. See docs/gateway.md.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from quotadesk.cli.common import DbOption, guard
from quotadesk.cli.serve import HostOption, PortOption


def gateway_command(
    db: DbOption = None,
    config: Annotated[
        str | None, typer.Option("--config", help="TOML file: upstreams, their key variables, model routes.")
    ] = None,
    upstream: Annotated[
        list[str] | None,
        typer.Option("--upstream", help="NAME=URL, e.g. openai=http://127.0.0.1:18000 (repeatable)."),
    ] = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 4000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve the gateway: admits every request by the books, forwards it, meters it exactly once."""
    from quotadesk import settings

    if db is not None:
        os.environ[settings.SETTINGS["db"].env] = db

    def prepare() -> object:
        from quotadesk.gateway.config import load_config
        from quotadesk.gateway.server import options_from_settings
        from quotadesk.store import migrations
        from quotadesk.store.db import make_engine

        cfg = load_config(config, upstream or (), settings.get("gateway_dialect"))
        url = settings.get("db")
        engine = make_engine(url)
        try:
            migrations.upgrade(engine)
        finally:
            engine.dispose()
        return options_from_settings(url, cfg)

    opts = guard(prepare)
    from quotadesk.gateway.server import Options, run

    assert isinstance(opts, Options)
    run(opts, host, port, workers)
