"""One scenario per root cause of the contract, registered in ``REGISTRY`` by root cause.

Importing this package registers them all; ``quotadesk.sim.run`` stages them in worlds.
"""

from __future__ import annotations

from quotadesk.sim.scenarios import access, bills, payment, refunds
from quotadesk.sim.scenarios.common import REGISTRY, Plan, Scenario

__all__ = ["REGISTRY", "Plan", "Scenario", "access", "bills", "payment", "refunds"]
