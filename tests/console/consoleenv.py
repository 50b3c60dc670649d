"""The demo desk the console's tests share (built once per session by ``conftest.demo``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quotadesk.desk.demo import DemoDesk


@dataclass(frozen=True)
class Demo:
    demo: DemoDesk
    app: Any
    cases: dict[str, dict[str, Any]]  # root cause -> case summary

    @property
    def desk(self) -> Any:
        return self.demo.desk

    def org(self, root_cause: str) -> str:
        org = self.cases[root_cause]["org_id"]
        assert isinstance(org, str)
        return org

    def case(self, root_cause: str) -> str:
        case_id = self.cases[root_cause]["id"]
        assert isinstance(case_id, str)
        return case_id

    def token(self, role: str) -> str:
        return self.demo.tokens[role]

    def customer_token(self, root_cause: str) -> str:
        return self.demo.customer_tokens[self.org(root_cause)]
