"""Evidence items: a figure of the case, the slot it fills in a reply, and where it was read.

A reply sentence is rendered only from these (``wording.render``). Three properties make the
honesty of a reply structural rather than a final regex:

- a ``Fact`` cannot be empty: its value is a non-blank string, never ``None`` or ``"None"``;
- a ``Fact`` names its JSON pointer, and the pointer must lie in the section its slot speaks
  for (``account.*`` under ``/account``, ``usage.*`` under ``/usage``, ``status.*`` under
  ``/status_page``, ``ticket.*`` under ``/ticket``, ``case.*`` at ``/as_of``);
- ``Evidence.of`` keeps only facts whose section the bundle holds, so a playbook that binds an
  account figure for a case without an account still gets no sentence out of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from quotadesk.triage.wording import FAMILIES, SLOTS

_ROOTS = {
    "account": "/account",
    "usage": "/usage",
    "status": "/status_page",
    "ticket": "/ticket",
    "case": "/as_of",
}
_EMPTY = frozenset({"", "none", "null", "nan", "undefined"})


@dataclass(frozen=True, slots=True)
class Fact:
    """``value`` of slot ``slot`` (``account.balance``), read at ``source`` (a JSON pointer)."""

    slot: str
    value: str
    source: str

    def __post_init__(self) -> None:
        if self.slot not in SLOTS:
            raise ValueError(f"unknown evidence slot {self.slot!r}")
        if not isinstance(self.value, str) or self.value.strip().lower() in _EMPTY:
            raise ValueError(f"slot {self.slot} cannot hold an empty value ({self.value!r})")
        root = _ROOTS[self.slot.split(".")[0]]
        if not (self.source == root or self.source.startswith(root + "/")):
            raise ValueError(f"slot {self.slot} must be read under {root}, not {self.source!r}")

    @property
    def section(self) -> str:
        """The bundle section the fact comes from (``account``, ``usage``, ``status_page``, ...)."""
        return FAMILIES[self.slot.split(".")[0]]

    @property
    def money(self) -> bool:
        return SLOTS[self.slot] == "money"


@dataclass(frozen=True, slots=True)
class Evidence(Mapping[str, Fact]):
    """The facts a reply may use, by slot; only facts from sections the bundle holds."""

    facts: Mapping[str, Fact]

    @classmethod
    def of(cls, facts: Iterable[Fact], raw: Mapping[str, Any]) -> Evidence:
        held = {"ticket", "case"} | {s for s in ("account", "usage", "status_page") if raw.get(s) is not None}
        kept: dict[str, Fact] = {}
        for f in facts:
            if f.section in held:
                kept.setdefault(f.slot, f)
        return cls(kept)

    def __getitem__(self, slot: str) -> Fact:
        return self.facts[slot]

    def __iter__(self) -> Iterator[str]:
        return iter(self.facts)

    def __len__(self) -> int:
        return len(self.facts)


__all__ = ["Evidence", "Fact"]
