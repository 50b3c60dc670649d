"""The desk as a library: ``Desk`` holds the books, the clock and the sources, and does the work.

The HTTP API, the console, the connectors and the CLI all call these methods; none of them
writes a rule of its own. Each method checks the actor's role (``store.access.PERMISSIONS``),
reads ``now`` from the desk's clock once, and changes the case and its audit row in one
transaction. Triage itself runs outside the transaction (it reads, it never writes), so a
slow triage does not hold the books' lock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from quotadesk.desk import cases as c
from quotadesk.desk.clock import Clock, SystemClock
from quotadesk.desk.intake import attach_usage, live_bundle
from quotadesk.desk.statuspage import StatusSource
from quotadesk.desk.usagecache import UsageCache, context_key, usage_token
from quotadesk.errors import InputError
from quotadesk.store import paging
from quotadesk.store.access import SYSTEM, Actor
from quotadesk.store.books import Books
from quotadesk.store.db import transaction
from quotadesk.store.errors import ConflictError
from quotadesk.store.export import default_usage_since, price_section
from quotadesk.store.probe import access_now
from quotadesk.triage.engine import USAGE_FROM_BUNDLE, triage_with_usage
from quotadesk.triage.wording import Wording

JSON = dict[str, Any]
Triage = Callable[..., tuple[JSON, Any]]
"""``(bundle document, usage analysis or USAGE_FROM_BUNDLE) -> (result, usage analysis)``."""


def default_triage(doc: JSON, usage: Any = USAGE_FROM_BUNDLE, wording: Wording | None = None) -> tuple[JSON, Any]:
    from quotadesk.triage.bundle import parse

    result, case = triage_with_usage(parse(doc), usage, wording=wording)
    return result, case.usage


class Desk:
    """The support desk over one set of books (see the module docstring)."""

    def __init__(
        self,
        books: Books,
        *,
        clock: Clock | None = None,
        status: StatusSource | None = None,
        usage_dir: str | None = None,
        provider: str = "generic",
        triage: Triage = default_triage,
        wording: Wording | None = None,
    ) -> None:
        self.books = books
        self.clock: Clock = clock or SystemClock()
        self.status = status or StatusSource("")
        self.usage_dir = usage_dir
        self.provider = provider
        self._triage_fn = triage
        self.wording = wording
        """The deployment's reply wording (setting ``wording_file``); None: the runbook's."""
        self.usage_cache = UsageCache()
        self.listeners: list[Callable[[str], None]] = []
        """Called with the case id after each triage is stored (the connectors write it back)."""

    def _triaged(self, case_id: str) -> None:
        for listener in self.listeners:
            listener(case_id)

    def run_triage(self, doc: JSON, usage: Any = USAGE_FROM_BUNDLE) -> tuple[JSON, Any]:
        if self.wording is None:
            return self._triage_fn(doc, usage)
        return self._triage_fn(doc, usage, self.wording)

    @property
    def engine(self) -> Any:
        return self.books.engine

    def now(self) -> datetime:
        return self.clock.now()

    # ----------------------------------------------------------------- triage

    def _triage(self, ticket: JSON, org_id: str | None, provider: str, now: datetime) -> tuple[JSON, JSON]:
        """Triage on a live bundle; the account's usage analysis comes from the cache when the
        usage, keys, invoices, incidents and log excerpts are those of a recent triage."""
        read = self.status.read()
        doc, sources = live_bundle(
            self.books,
            c.combined_ticket(ticket),
            now,
            org_id=org_id,
            provider=provider,
            status=read.document,
            status_info=read.to_json(),
            usage_dir=self.usage_dir,
            with_usage=False,
        )
        info = sources.to_json()
        if org_id is None:
            return self.run_triage(doc)[0], info
        token = usage_token(self.engine, org_id, default_usage_since(now), now, self.usage_dir)
        key = (org_id, token, context_key(doc), f"{now:%Y-%m}")
        hit, view = self.usage_cache.get(key, now)
        if hit:
            doc["prices"] = price_section(set(view.models) if view is not None else set(), self.books.prices)
            result, _ = self.run_triage(doc, view)
            info |= {"usage_rows": token[0] if isinstance(token, tuple) else None, "usage_analysis": "cached"}
            return result, info
        books_rows, log_rows = attach_usage(self.books, doc, org_id, now, self.usage_dir)
        result, view = self.run_triage(doc)
        self.usage_cache.put(key, view, now)
        info |= {"usage_rows": books_rows, "usage_log_rows": log_rows, "usage_analysis": "fresh"}
        return result, info

    # ----------------------------------------------------------------- cases

    def open_case(
        self,
        actor: Actor,
        ticket: Mapping[str, Any],
        *,
        org_id: str | None = None,
        provider: str | None = None,
        external_ref: str | None = None,
        now: datetime | None = None,
        bundle: JSON | None = None,
    ) -> JSON:
        """Open a case from ``ticket`` and triage it live; returns the case. ``bundle`` (a case
        bundle captured when the ticket arrived, as the demo's world exports them) is triaged
        instead of a live lookup; later triages of the case read the live books."""
        now = now or self.now()
        c.authorise(self.engine, actor, "open_case", now, None, for_org=org_id)
        if not isinstance(ticket, Mapping):
            raise InputError("expected the ticket object of the case bundle", "ticket")
        stored = dict(ticket)
        stored.pop("messages", None)
        dialect = self._provider(provider)
        if org_id is not None:
            with transaction(self.engine) as conn:
                c.org_exists(conn, org_id)
        if bundle is not None:
            result, sources = self.run_triage(bundle)[0], {"account": "account" in bundle, "captured": True}
        else:
            result, sources = self._triage(stored, org_id, dialect, now)
        stored["id"] = result["ticket_id"]
        with transaction(self.engine) as conn:
            case_id = c.insert_case(
                conn,
                org_id=org_id,
                provider=dialect,
                ticket=stored,
                result=result,
                now=now,
                external_ref=external_ref,
            )
            c.add_event(conn, case_id, now, "opened", actor, org_id=org_id, external_ref=external_ref)
            c.add_event(conn, case_id, now, "triaged", actor, reason="opened", result=result, sources=sources)
            c.audit_case(
                conn,
                actor,
                "open_case",
                now,
                case_id,
                org_id,
                after={"status": "open", "team": "support", "incident": result["incident"]},
            )
        self._triaged(case_id)
        return self.case(actor, case_id, now=now, checked=True)

    def _provider(self, provider: str | None) -> str:
        if provider is None:
            return self.provider
        if not isinstance(provider, str) or not provider.strip() or len(provider) > 32:
            raise InputError("expected a provider dialect such as generic, openai or anthropic", "provider")
        return provider.strip().lower()

    def case(self, actor: Actor, case_id: str, *, now: datetime | None = None, checked: bool = False) -> JSON:
        """The whole case: ticket, latest triage, status, team, notes and history."""
        now = now or self.now()
        with transaction(self.engine) as conn:
            row = c.load(conn, case_id)
            history = c.events(conn, case_id)
        if not checked:
            c.authorise(self.engine, actor, "read_case", now, row)
        notes = [e for e in history if e["kind"] == "note"]
        escalations = [e for e in history if e["kind"] == "escalated"]
        replies = [e for e in history if e["kind"] in ("reply_drafted", "reply_sent")]
        sources = next((e.get("sources") for e in reversed(history) if e["kind"] == "triaged"), None)
        return {
            **row.summary(),
            "provider": row.provider,
            "ticket": row.ticket,
            "triage": row.triage,
            "sources": sources,
            "notes": [{"at": n["at"], "by": n["actor"], "role": n["role"], "text": n["text"]} for n in notes],
            "escalation": escalations[-1]["package"] if escalations else None,
            "reply": replies[-1] if replies else None,
            "resolution": next((e.get("note") for e in reversed(history) if e["kind"] == "resolved"), None),
            "history": [{k: v for k, v in e.items() if k != "result"} for e in history],
            "triages": len([e for e in history if e["kind"] == "triaged"]),
        }

    def queue(
        self,
        actor: Actor,
        *,
        status: str | None = None,
        team: str | None = None,
        incident: str | None = None,
        org_id: str | None = None,
        limit: int = 50,
        after: str | None = None,
        newest_first: bool = False,
    ) -> tuple[list[JSON], str | None]:
        """A page of the queue and the cursor of the next page (None: no more)."""
        now = self.now()
        c.authorise(self.engine, actor, "read_case", now, None)
        if status is not None and status not in c.STATUSES:
            raise InputError(f"expected one of {', '.join(c.STATUSES)}", "status")
        if team is not None:
            c.check_team(team)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= c.MAX_PAGE:
            raise InputError(f"expected a whole number from 1 to {c.MAX_PAGE}", "limit")
        cursor = paging.decode(after, "after") if after else None
        with transaction(self.engine) as conn:
            rows = c.queue(
                conn,
                status=status,
                team=team,
                incident=incident,
                org_id=org_id,
                limit=limit + 1,
                after=cursor,
                newest_first=newest_first,
            )
        more = len(rows) > limit
        rows = rows[:limit]
        return [r.summary() for r in rows], (
            paging.encode(rows[-1].created_at, rows[-1].id) if more and rows else None
        )

    def counts(self, actor: Actor) -> dict[str, dict[str, int]]:
        c.authorise(self.engine, actor, "read_case", self.now(), None)
        with transaction(self.engine) as conn:
            return c.counts(conn)

    def note(self, actor: Actor, case_id: str, text: object) -> JSON:
        now = self.now()
        body = c.check_text(text, "text")
        with transaction(self.engine) as conn:
            row = c.load(conn, case_id)
        c.authorise(self.engine, actor, "note_case", now, row)
        with transaction(self.engine) as conn:
            row = c.load(conn, case_id, lock=True)
            c.add_event(conn, case_id, now, "note", actor, text=body)
            c.save(conn, row, now)
            c.audit_case(conn, actor, "note_case", now, case_id, row.org_id)
        return {"at": c._ts(now), "by": actor.name, "role": actor.role.value, "text": body}

    def retriage(
        self, actor: Actor, case_id: str, *, reason: str = "requested", now: datetime | None = None
    ) -> JSON:
        """Run the triage again on the live account (the case's history keeps the earlier ones)."""
        now = now or self.now()
        with transaction(self.engine) as conn:
            row = c.load(conn, case_id)
        c.authorise(self.engine, actor, "triage_case", now, row)
        self._retriage(actor, row, reason, now)
        return self.case(actor, case_id, now=now, checked=True)

    def _retriage(self, actor: Actor, row: c.CaseRow, reason: str, now: datetime, **changes: Any) -> JSON:
        ticket = changes.get("ticket", row.ticket)
        org_id = changes.get("org_id", row.org_id)
        result, sources = self._triage(ticket, org_id, row.provider, now)
        with transaction(self.engine) as conn:
            current = c.load(conn, row.id, lock=True)
            c.add_event(conn, row.id, now, "triaged", actor, reason=reason, result=result, sources=sources)
            c.save(conn, current, now, triage=result, **changes)
            before = {
                "incident": current.triage.get("incident"),
                "root_cause": current.triage.get("root_cause"),
            }
            c.audit_case(
                conn,
                actor,
                "triage_case",
                now,
                row.id,
                org_id,
                before=before,
                after={"incident": result["incident"], "root_cause": result["root_cause"]},
                reason=reason,
            )
        self._triaged(row.id)
        return result

    def message(self, actor: Actor, case_id: str, body: object, attachments: object = None) -> JSON:
        """The customer wrote again: the message joins the ticket, a resolved case reopens, and
        the case is triaged again."""
        now = self.now()
        text = c.check_text(body, "body")
        if attachments is not None and not isinstance(attachments, list):
            raise InputError("expected a list of attachments", "attachments")
        with transaction(self.engine) as conn:
            row = c.load(conn, case_id)
        c.authorise(self.engine, actor, "note_case", now, row)
        ticket = dict(row.ticket)
        ticket["messages"] = [
            *ticket.get("messages", []),
            {"at": c._ts(now), "body": text, "attachments": attachments or []},
        ]
        reopen: dict[str, Any] = {}
        if row.status == "resolved":
            reopen = {"status": "open", "team": "support", "resolved_at": None}
        self._retriage(actor, row, "customer wrote again", now, ticket=ticket, **reopen)
        with transaction(self.engine) as conn:
            c.add_event(conn, case_id, now, "message", actor, body=text, reopened=bool(reopen))
        return self.case(actor, case_id, now=now, checked=True)

    def link(self, actor: Actor, case_id: str, org_id: str) -> JSON:
        """Attach the case to its organization and triage it again from the live account."""
        now = self.now()
        with transaction(self.engine) as conn:
            row = c.load(conn, case_id)
            c.org_exists(conn, org_id)
        c.authorise(self.engine, actor, "triage_case", now, row, link=org_id)
        self._retriage(actor, row, f"linked to {org_id}", now, org_id=org_id)
        with transaction(self.engine) as conn:
            c.add_event(conn, case_id, now, "linked", actor, org_id=org_id, previous=row.org_id)
        return self.case(actor, case_id, now=now, checked=True)

    def books_changed(self, org_id: str, why: str) -> int:
        """The organization's books changed: triage its open cases again. Returns how many."""
        now = self.now()
        with transaction(self.engine) as conn:
            ids = c.open_org_cases(conn, org_id)
        for case_id in ids:
            with transaction(self.engine) as conn:
                row = c.load(conn, case_id)
            self._retriage(SYSTEM, row, f"account changed: {why}", now)
        return len(ids)

    def escalate(self, actor: Actor, case_id: str, team: object, note: object = None) -> JSON:
        """Hand the case to ``team`` with the escalation package (``support`` takes it back)."""
        now = self.now()
        to = c.check_team(team)
        text = None if note is None else c.check_text(note, "note")
        with transaction(self.engine) as conn:
            row = c.load(conn, case_id)
        c.authorise(self.engine, actor, "escalate_case", now, row, team=to)
        if row.status == "resolved":
            raise ConflictError("the case is resolved; a new message from the customer reopens it", "case")
        package = c.escalation_package(row, to, text)
        status = "open" if to == "support" else "escalated"
        with transaction(self.engine) as conn:
            current = c.load(conn, case_id, lock=True)
            c.add_event(conn, case_id, now, "escalated", actor, team=to, package=package)
            c.save(conn, current, now, team=to, status=status)
            c.audit_case(
                conn,
                actor,
                "escalate_case",
                now,
                case_id,
                row.org_id,
                before={"team": current.team, "status": current.status},
                after={"team": to, "status": status},
            )
        return self.case(actor, case_id, now=now, checked=True)

    def reply(self, actor: Actor, case_id: str, text: object = None, *, send: bool = False) -> JSON:
        """Save (or send) the reply: the engine's draft, or the engineer's edit of it. The safety
        guard judges the final text; a reply it would cut is refused with its objections."""
        from quotadesk.desk.replies import refuse_unsafe

        now = self.now()
        with transaction(self.engine) as conn:
            row = c.load(conn, case_id)
        c.authorise(self.engine, actor, "reply_case", now, row, send=send)
        draft = str(row.triage.get("reply") or "")
        final = draft if text is None else c.check_text(text, "text")
        refuse_unsafe(final, key_exposed=bool((row.triage.get("safety") or {}).get("key_exposed")))
        kind = "reply_sent" if send else "reply_drafted"
        with transaction(self.engine) as conn:
            current = c.load(conn, case_id, lock=True)
            c.add_event(conn, case_id, now, kind, actor, text=final, draft=draft, edited=final != draft)
            c.save(conn, current, now)
            c.audit_case(conn, actor, kind, now, case_id, row.org_id, edited=final != draft)
        return {"at": c._ts(now), "kind": kind, "text": final, "draft": draft, "edited": final != draft}

    def _access(self, row: c.CaseRow, now: datetime) -> tuple[JSON, str | None]:
        """Step 5 for a case still with support: does the gateway admit the customer now? Returns
        what was checked and, when it does not, why (a case routed away is not checked here)."""
        if row.team != "support":
            return {"checked": False}, None
        if row.org_id is None:
            why = (
                "the case has no organization, so the customer's access cannot be checked: "
                "link the organization or escalate the case"
            )
            return {"checked": False}, why
        probe = access_now(self.engine, row.org_id, now, prices=self.books.prices, tiers=self.books.tiers)
        access: JSON = {
            "checked": True,
            "allowed": probe.allowed,
            "key_id": probe.key_id,
            "model": probe.model,
        }
        if probe.allowed:
            return access, None
        deny = probe.decision
        access["refused"] = {"rule": str(getattr(deny, "rule", "")), "message": getattr(deny, "message", "")}
        return access, f"the customer's requests are still refused ({access['refused']['message']})"

    def resolve(self, actor: Actor, case_id: str, given: Mapping[str, str | None] | None = None) -> JSON:
        """Resolve, or raise ``ConflictError`` (409) naming what the checklist's step 5 still needs."""
        now = self.now()
        given = dict(given or {})
        for k, v in given.items():
            if v is not None:
                given[k] = c.check_text(v, k)
        with transaction(self.engine) as conn:
            row = c.load(conn, case_id)
        c.authorise(self.engine, actor, "resolve_case", now, row)
        if row.status == "resolved":
            raise ConflictError("the case is resolved already", "case")
        note, missing = c.resolution_note(row, given)
        access, refused = self._access(row, now)
        problems = ([f"access: {refused}"] if refused else []) + [
            f"{m}: the case note must record the {m.replace('_', ' ')}" for m in missing
        ]
        if problems:
            raise ConflictError(
                "cannot resolve yet; " + "; ".join(problems), "access" if refused else missing[0]
            )
        note["access"] = access
        with transaction(self.engine) as conn:
            current = c.load(conn, case_id, lock=True)
            c.add_event(conn, case_id, now, "resolved", actor, note=note)
            c.save(conn, current, now, status="resolved", resolved_at=now)
            c.audit_case(
                conn,
                actor,
                "resolve_case",
                now,
                case_id,
                row.org_id,
                before={"status": current.status},
                after={"status": "resolved"},
            )
        return self.case(actor, case_id, now=now, checked=True)
