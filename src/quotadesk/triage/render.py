"""The terminal view of a triage result, for a support engineer reading it at a desk."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from quotadesk.parse import markup as m

# Every value from the result passes through ``m`` (markup escaped, surrogates replaced): a
# ticket id or a customer's words such as "[bold]" or a lone surrogate must print as text.


def render_result(result: dict[str, Any], *, explain: bool = False, console: Console | None = None) -> None:
    con = console or Console()
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("Ticket", m(str(result["ticket_id"])))
    head.add_row("Incident", m(result["incident"]))
    head.add_row("Root cause", m(result["root_cause"]))
    head.add_row("Route", m(result["route"]))
    head.add_row("Confidence", f"{result['confidence']:.2f}")
    if result["safety"]["key_exposed"]:
        head.add_row(
            "Safety", "[red]API key exposed in the ticket: redacted; tell the customer to rotate it[/red]"
        )
    con.print(Panel(head, title="quotadesk triage"))
    if result["evidence"]:
        ev = Table(title="Evidence", show_lines=False)
        ev.add_column("Fact")
        ev.add_column("Source", style="dim")
        for e in result["evidence"]:
            ev.add_row(m(e["fact"]), m(e.get("source") or ""))
        con.print(ev)
    if result["fix"]:
        fx = Table(title="Fix")
        fx.add_column("Step")
        fx.add_column("Where")
        fx.add_column("Time to resolution")
        for f in result["fix"]:
            fx.add_row(m(f["step"]), m(f.get("where") or ""), m(f.get("time_to_resolution") or ""))
        con.print(fx)
    esc = result.get("escalation")
    if esc:
        con.print(
            Panel(m(f"{esc['summary']}\nfigures: {esc.get('figures')}"), title=m(f"Escalate to {esc['team']}"))
        )
    con.print(Panel(m(result["reply"]), title="Reply (safe to send)"))
    for title, key in (("Recommendations", "recommendations"), ("Questions", "questions")):
        if result[key]:
            con.print(f"[bold]{title}[/bold]")
            for line in result[key]:
                con.print(f"  • {m(str(line))}")
    if explain:
        con.print("[bold]Decision path[/bold]")
        for i, step in enumerate(result["decision_path"], 1):
            con.print(f"  {i}. {m(str(step))}")
        ck = Table(title="Checklist")
        ck.add_column("Step")
        ck.add_column("State")
        ck.add_column("Note")
        for c in result["checklist"]:
            ck.add_row(m(c["step"]), m(c["state"]), m(c.get("note") or ""))
        con.print(ck)
