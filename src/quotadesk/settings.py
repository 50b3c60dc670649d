"""Settings, declared once: name, default, environment variable, help.

Each setting can be overridden by its environment variable or, where a command takes it,
by a flag. ``docs/settings.md`` lists them all; a test checks that it does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: str
    help: str

    @property
    def env(self) -> str:
        return "QUOTADESK_" + self.name.upper()

    def value(self, override: str | None = None) -> str:
        if override is not None:
            return override
        return os.environ.get(self.env, self.default)


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "db",
            "sqlite:///./quotadesk.db",
            "Database URL of the books (SQLite file or postgresql+psycopg://...).",
        ),
        Setting("provider", "generic", "Error dialect assumed when a bundle or command names no provider."),
        Setting("usage_dir", "./usage", "Folder of the usage log (Parquet, partitioned by month)."),
        Setting(
            "usage_engine",
            "duckdb",
            "Engine that reads the usage log: 'duckdb' (in-process, default), 'spark' (a local Spark session)"
            " or a Spark master URL (spark://HOST:PORT, yarn, k8s://...; needs the 'spark' extra).",
        ),
        Setting(
            "intent_model",
            "rules",
            "Ticket-intent classifier: 'rules' (default), 'embedding' (rules, then a local embedding model where"
            " they find nothing; needs the 'embed' extra) or 'auto' (embedding when installed, else rules).",
        ),
        Setting(
            "status_page",
            "",
            "The provider's status page the desk reads for each case: a file path or an http(s) URL of a"
            " Statuspage v2 document (summary.json or incidents.json); empty: none configured.",
        ),
        Setting(
            "max_body_bytes",
            "1048576",
            "Largest request body the desk service accepts (bytes); larger is 413.",
        ),
    )
}


def get(name: str, override: str | None = None) -> str:
    return SETTINGS[name].value(override)
