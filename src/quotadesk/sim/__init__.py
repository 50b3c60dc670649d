"""The scenario simulator: organizations, traffic through the real rules, tickets, ground truth.

- ``world.World``: one set of books and one clock; organizations, streams, events, tickets.
- ``traffic``: streams of requests bucketed per hour, driven through ``Books.admit`` and
  ``Books.record_usage_batch`` (every refusal is the rulebook's).
- ``tickets``: how customers word their tickets.
- ``scenarios``: one scenario per root cause of the contract (``scenarios.REGISTRY``).
- ``run.generate(seed, count)``: stage cases in worlds, export their bundles with the truth.
- ``score.score_cases`` / ``score.score_dir``: triage them and measure the desk.
- ``desk``: the demo (a month of a dozen organizations) and the practice mode's deals.
"""
