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
            "wording_file",
            "",
            "Reply wording override for triage drafts (TOML or JSON, see docs/design.md); empty: the"
            " runbook's wording.",
        ),
        Setting(
            "bundle_extra_root",
            "",
            "One folder outside a case bundle's own that its usage.records_file may point into; empty:"
            " only the bundle's folder.",
        ),
        Setting(
            "max_body_bytes",
            "1048576",
            "Largest request body the desk service accepts (bytes); larger is 413.",
        ),
        # ------------------------------------------------------------------ connectors (docs/connectors.md)
        Setting(
            "stripe_webhook_secret",
            "",
            "Signing secret of the Stripe webhook endpoint (whsec_...); several, comma-separated, while one"
            " is rotated. Empty: POST /hooks/stripe refuses every delivery.",
        ),
        Setting(
            "stripe_api_key",
            "",
            "Stripe secret key (sk_...) for charging top-ups and auto-recharge through Stripe; empty: the"
            " built-in test processor charges (Stripe's test cards, no network).",
        ),
        Setting("zammad_webhook_secret", "", "Signature token of the Zammad webhook (X-Hub-Signature, HMAC-SHA1)."),
        Setting("zammad_url", "", "Base URL of the Zammad instance the internal notes are written to."),
        Setting("zammad_token", "", "Zammad API token (Authorization: Token token=...) of the agent writing notes."),
        Setting("zammad_org_field", "", "Zammad ticket attribute holding the quotadesk organization id, if any."),
        Setting("zammad_groups", "", "Route to Zammad group, e.g. billing_team=Billing,finance=Finance."),
        Setting("zendesk_webhook_secret", "", "Signing secret of the Zendesk webhook (base64 HMAC-SHA256)."),
        Setting("zendesk_url", "", "Base URL of the Zendesk account, e.g. https://acme.zendesk.com."),
        Setting("zendesk_email", "", "Email of the Zendesk agent whose API token writes the private comments."),
        Setting("zendesk_token", "", "Zendesk API token of that agent."),
        Setting("zendesk_org_field", "", "Zendesk ticket field id holding the organization id (the trigger sends it)."),
        Setting("zendesk_groups", "", "Route to Zendesk group id, e.g. billing_team=360001,finance=360002."),
        Setting(
            "freshdesk_webhook_secret",
            "",
            "Shared secret Freshdesk's rule sends (?secret= in the URL or the X-Quotadesk-Secret header).",
        ),
        Setting("freshdesk_url", "", "Base URL of the Freshdesk helpdesk, e.g. https://acme.freshdesk.com."),
        Setting("freshdesk_api_key", "", "Freshdesk API key of the agent writing private notes."),
        Setting("freshdesk_org_field", "", "Freshdesk custom ticket field (cf_...) holding the organization id."),
        Setting("freshdesk_groups", "", "Route to Freshdesk group id, e.g. billing_team=43000123."),
        Setting("chatwoot_webhook_secret", "", "Secret of the Chatwoot webhook (X-Chatwoot-Signature, HMAC-SHA256)."),
        Setting("chatwoot_url", "", "Base URL of the Chatwoot installation."),
        Setting("chatwoot_token", "", "Chatwoot access token (api_access_token) of the agent or bot writing notes."),
        Setting("chatwoot_account_id", "", "Chatwoot account id the conversations belong to."),
        Setting("chatwoot_org_field", "", "Chatwoot custom attribute (conversation or contact) holding the org id."),
        Setting("chatwoot_teams", "", "Route to Chatwoot team id, e.g. billing_team=3,finance=4."),
        Setting(
            "helpdesk_tag_prefix",
            "",
            "When set, each note also tags the ticket with the incident, e.g. quotadesk_ gives"
            " quotadesk_payment_failure; empty: no tags.",
        ),
        Setting("outbound_timeout_seconds", "10", "Timeout of every call out (help desks, alert webhook, SMTP)."),
        Setting("outbound_max_attempts", "8", "Attempts of one note or alert before it is kept as failed."),
        Setting(
            "status_poll_seconds",
            "60",
            "How often the status pages of setting status_page (http URLs, several separated by spaces) are"
            " polled; 0: read per case instead (no polling).",
        ),
        Setting(
            "status_stale_seconds",
            "600",
            "A status page not read for this long is said to be stale in each case, never read as no incident.",
        ),
        Setting(
            "smtp_url",
            "",
            "Where alerts are mailed: smtp://[user:password@]host[:port] (STARTTLS with smtp+starttls://,"
            " TLS with smtps://); empty: no email alerts.",
        ),
        Setting("alerts_from", "billing@localhost", "Sender address of alert emails."),
        Setting("alerts_webhook_url", "", "URL every alert is also POSTed to as JSON; empty: none."),
        Setting(
            "alerts_webhook_secret",
            "",
            "Secret signing the alert webhook (X-Quotadesk-Signature: t=...,v1=HMAC-SHA256 of t.body).",
        ),
        Setting(
            "alert_kinds",
            "soft_limit_reached,credits_low,payment_failed,auto_recharge_failed,suspension_policy,"
            "suspension_fraud,suspension_payment",
            "Notice kinds sent as alerts (comma-separated).",
        ),
        Setting("gateway_dialect", "generic", "Error dialect of the gateway's refusals (generic, openai, anthropic, ...)."),
        Setting(
            "gateway_redis_url",
            "",
            "Redis URL (redis://127.0.0.1:6379/0) sharing the gateway's rate windows across processes; empty: per process.",
        ),
        Setting(
            "gateway_journal_dir",
            "",
            "Folder of the gateway's settle journals; empty: beside a SQLite books file, else ./quotadesk-gateway-journal.",
        ),
        Setting("gateway_access_log", "", "Access log of the gateway: a file path, '-' for stderr, empty for none."),
        Setting("gateway_lease_dollars", "1.00", "Largest slice of an organization's headroom one gateway process leases at a time."),
        Setting("gateway_lease_ttl_seconds", "15", "A lease its holder stops renewing stops counting after this long."),
        Setting("gateway_lease_idle_seconds", "2", "A gateway process gives an organization's lease back after this long without a request."),
        Setting("gateway_snapshot_seconds", "1", "How often a gateway process renews leases in use and re-reads those organizations."),
        Setting("gateway_key_cache_seconds", "2", "How long the gateway remembers which organization a key hash belongs to."),
        Setting("gateway_upstream_timeout_seconds", "600", "Longest an upstream answer may take, streaming included."),
        Setting("gateway_upstream_retries", "1", "Retries of an upstream request that got no byte of an answer (same request id)."),
        Setting("gateway_shutdown_grace_seconds", "30", "On SIGTERM, how long requests in flight may take to finish."),
    )
}


def get(name: str, override: str | None = None) -> str:
    return SETTINGS[name].value(override)
