"""The desk: cases from tickets, triaged live against the books, worked by the runbook's teams.

Modules: ``service`` (``Desk``: the library every surface calls), ``cases`` (storage, queue,
escalation package, resolution note), ``intake`` (the live case bundle), ``replies`` (the
safety guard on an engineer's reply), ``statuspage`` (the configured status page),
``clock`` (the desk's time, injected).
"""
