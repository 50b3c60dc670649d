"""Provider status pages as they are served: Atlassian Statuspage v2 and incident.io's compatible documents.

``parse_status_document(doc)`` reads ``summary.json``, ``incidents.json`` or
``incidents/unresolved.json`` as fetched (or a case bundle's ``status_page``) into
``StatusIncident`` values; ``state_at(incidents, as_of)`` rebuilds each incident as it stood
at ``as_of`` from its ``incident_updates`` when the page was captured later;
``relevant(incident, provider, models)`` says whether it concerns the API or billing. Pure
functions of the document: the desk's live status-page poller calls the same ones on what
it fetches.

Why lenient: status.openai.com is served by incident.io behind the Statuspage v2 paths, and
its incidents carry ``updated_at`` but no ``created_at`` and often no components. So an
incident's start is ``created_at``, else the earliest of ``started_at``, its first update
and ``updated_at``; a missing status is taken from its latest update; unknown fields are
ignored and a missing or unreadable one never refuses the page (an incident with no time
at all cannot be placed and is left out, and ``skipped`` says so). A missing impact is
``unknown``, not ``none``: an unresolved incident nobody graded is still an incident.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

RESOLVED = frozenset({"resolved", "postmortem", "completed"})
ACTIVE_STATUSES = frozenset({"investigating", "identified", "monitoring", "in_progress", "verifying"})

API_COMPONENT_WORDS = (
    "api", "billing", "completion", "chat", "inference", "model", "endpoint", "platform", "console",
    "dashboard", "messages", "embedding", "responses", "gateway", "authentication", "payments",
)  # fmt: skip
"""Words of component and incident names that mean the API or billing (any provider)."""
_API_WORDS = re.compile(r"\b(?:" + "|".join(API_COMPONENT_WORDS) + r")(?:s|es)?\b")

PROVIDER_COMPONENTS: dict[str, tuple[str, ...]] = {
    "openai": (
        "realtime", "batch", "files", "fine-tuning", "fine tuning", "image generation", "images", "audio",
        "moderations", "assistants", "vector stores", "agents", "codex", "playground", "usage",
    ),
    "anthropic": ("claude api", "claude.ai api", "console.anthropic.com", "platform.claude.com", "claude code"),
    "google": ("gemini api", "ai studio", "vertex", "generativelanguage"),
    "openrouter": ("openrouter", "generation", "credits", "keys"),
    "deepseek": ("api service", "deepseek-v", "deepseek-r"),
    "mistral": ("la plateforme", "le chat api", "codestral"),
    "cohere": ("command", "rerank", "embed"),
    "groq": ("groqcloud",),
    "azure": ("azure openai", "foundry", "cognitive services"),
}  # fmt: skip
"""Components some providers name after their API products rather than with an API word."""

_MODEL_NAMES = re.compile(
    r"\b(?:gpt-?\d|o[1-9](?:-mini|-pro)?\b|chatgpt-4o|dall-e|whisper|tts-1|sora|claude|opus|sonnet|haiku|"
    r"gemini|gemma|imagen|veo|llama|mistral|mixtral|codestral|deepseek|grok|command-?r|kimi|qwen|glm)",
    re.I,
)
"""Model names: an incident named after a model ("Degraded performance for gpt-5") is about the API."""


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One ``incident_updates`` entry: the status it set and when."""

    status: str
    at: datetime
    body: str = ""


@dataclass(frozen=True, slots=True)
class StatusIncident:
    """A status-page incident (Atlassian Statuspage v2 shape, or incident.io's copy of it).

    ``created_at`` is when it started (see the module docstring for the fallbacks;
    ``started_from`` names the field used); ``updates`` are oldest first.
    """

    name: str
    status: str
    created_at: datetime
    id: str = ""
    impact: str = "none"
    resolved_at: datetime | None = None
    components: tuple[str, ...] = ()
    updates: tuple[StatusUpdate, ...] = ()
    updated_at: datetime | None = None
    started_from: str = "created_at"

    @property
    def unresolved(self) -> bool:
        return self.status not in RESOLVED and self.resolved_at is None


@dataclass(frozen=True, slots=True)
class StatusPage:
    """What a status document held: its incidents and the ones that could not be placed in time."""

    incidents: tuple[StatusIncident, ...]
    skipped: tuple[str, ...] = ()


def _time(value: Any) -> datetime | None:
    """An RFC 3339 time as UTC; a naive one is taken as UTC; anything else is None (never an error)."""
    if not isinstance(value, str) or len(value.strip()) < 10:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed).astimezone(UTC)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _components(raw: Any) -> list[str]:
    out: list[str] = []
    for c in raw if isinstance(raw, list) else ():
        name = _text(c.get("name")) if isinstance(c, Mapping) else _text(c)
        if name and name not in out:
            out.append(name)
    return out


def parse_incident(raw: Mapping[str, Any]) -> StatusIncident | None:
    """One incident object, or None when nothing in it says when it happened."""
    updates: list[StatusUpdate] = []
    components = _components(raw.get("components"))
    for u in raw.get("incident_updates") or ():
        if not isinstance(u, Mapping):
            continue
        at = _time(u.get("created_at")) or _time(u.get("display_at")) or _time(u.get("updated_at"))
        if at is not None:
            updates.append(StatusUpdate(_text(u.get("status")).lower(), at, _text(u.get("body"))))
        for c in _components(u.get("affected_components")):
            if c not in components:
                components.append(c)
    updates.sort(key=lambda u: u.at)
    updated = _time(raw.get("updated_at"))
    start, source = _time(raw.get("created_at")), "created_at"
    if start is None:
        candidates = [
            (t, name)
            for t, name in (
                (_time(raw.get("started_at")), "started_at"),
                (updates[0].at if updates else None, "incident_updates"),
                (updated, "updated_at"),
            )
            if t is not None
        ]
        if not candidates:
            return None
        start, source = min(candidates, key=lambda c: c[0])
    status = _text(raw.get("status")).lower() or next((u.status for u in reversed(updates) if u.status), "")
    resolved = _time(raw.get("resolved_at"))
    if not status:
        status = "resolved" if resolved is not None else "investigating"
    impact = _text(raw.get("impact")).lower() or "unknown"
    return StatusIncident(
        name=_text(raw.get("name")) or _text(raw.get("id")) or "(unnamed incident)",
        status=status,
        created_at=start,
        id=_text(raw.get("id")) if isinstance(raw.get("id"), str) else str(raw.get("id") or ""),
        impact=impact,
        resolved_at=resolved,
        components=tuple(components),
        updates=tuple(updates),
        updated_at=updated,
        started_from=source,
    )


def parse_page(doc: Any) -> StatusPage:
    """A status document (``summary.json``, ``incidents.json``, a bundle's ``status_page``)."""
    raw = doc.get("incidents") if isinstance(doc, Mapping) else doc
    incidents: list[StatusIncident] = []
    skipped: list[str] = []
    for i, item in enumerate(raw if isinstance(raw, list) else ()):
        if not isinstance(item, Mapping):
            skipped.append(f"incidents[{i}]: not an object")
            continue
        found = parse_incident(item)
        if found is None:
            skipped.append(f"incidents[{i}]: no time (created_at, started_at, updates, updated_at)")
        else:
            incidents.append(found)
    return StatusPage(tuple(incidents), tuple(skipped))


def parse_status_document(doc: Any) -> list[StatusIncident]:
    """The incidents of a status document, in its order (see ``parse_page`` for what was skipped)."""
    return list(parse_page(doc).incidents)


def at(incident: StatusIncident, as_of: datetime) -> StatusIncident | None:
    """The incident as it stood at ``as_of`` (None: it had not started yet).

    A page captured after ``as_of`` shows later news: the updates after ``as_of`` are
    dropped and the status is the last one posted by then; a resolution after ``as_of``
    did not exist yet.
    """
    if incident.created_at > as_of:
        return None
    later = any(u.at > as_of for u in incident.updates)
    resolved_later = incident.resolved_at is not None and incident.resolved_at > as_of
    if not later and not resolved_later:
        return incident
    known = tuple(u for u in incident.updates if u.at <= as_of)
    posted = [u.status for u in known if u.status]
    if posted:
        status = posted[-1]
    elif incident.status in RESOLVED:
        status = "investigating"
    else:
        status = incident.status
    return replace(
        incident, status=status, resolved_at=None if resolved_later else incident.resolved_at, updates=known
    )


def state_at(incidents: Sequence[StatusIncident], as_of: datetime) -> list[tuple[int, StatusIncident]]:
    """Each incident (with its index on the page) as it stood at ``as_of``; later ones are left out."""
    out: list[tuple[int, StatusIncident]] = []
    for i, inc in enumerate(incidents):
        then = at(inc, as_of)
        if then is not None:
            out.append((i, then))
    return out


def relevant(incident: StatusIncident, provider: str = "generic", models: Sequence[str] = ()) -> bool:
    """Does the incident concern the API or billing, by its components and its name?

    An API or billing word, one of the provider's own API component names, a model name (or
    one of ``models``, the ticket's and the usage's), or no components at all (nothing says
    it is only the consumer app).
    """
    names = " ".join((incident.name, *incident.components)).lower()
    if _API_WORDS.search(names):  # whole words: "Chat Completions" is the API, "ChatGPT" the app
        return True
    if any(w in names for w in PROVIDER_COMPONENTS.get(provider, ())):
        return True
    if _MODEL_NAMES.search(names) or any(m and m.lower() in names for m in models):
        return True
    return not incident.components


def active(incident: StatusIncident) -> bool:
    """Unresolved and graded above ``none`` (an unknown impact counts)."""
    return incident.unresolved and incident.impact != "none"
