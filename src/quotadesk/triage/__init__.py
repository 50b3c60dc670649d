"""The support runbook as code: bundle in, diagnosis out.

``engine.triage_file`` is the entry point; ``tree`` holds the master decision tree, the
playbook modules fill the result, ``safety`` guards every reply. Decision logic takes
values (a parsed bundle, signals, a usage report) and never reads a clock.
"""
