"""The real Stripe processor, against a stand-in for the SDK client (never the network)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import stripe

from quotadesk.connectors.stripe_processor import StripeProcessor
from quotadesk.errors import InputError
from quotadesk.store.errors import PaymentError

from .payloads import NOW


class FakeClient:
    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.fail = fail
        intents = SimpleNamespace(create=self._create)
        methods = SimpleNamespace(retrieve=lambda token: SimpleNamespace(id=token, customer="cus_1"))
        self.v1 = SimpleNamespace(payment_intents=intents, payment_methods=methods)

    def _create(self, params: dict[str, Any], options: dict[str, Any]) -> Any:
        self.calls.append((params, options))
        if self.fail:
            raise self.fail
        return SimpleNamespace(id="pi_ok", status="succeeded")


def test_charges_off_session_with_our_payment_id_as_idempotency_key() -> None:
    client = FakeClient()
    result = StripeProcessor(client=client).charge("pm_1", 25 * 10**9, idempotency_key="pay_1", now=NOW)
    assert result.succeeded and result.reference == "pi_ok"
    params, options = client.calls[0]
    assert params["amount"] == 2500 and params["confirm"] and params["off_session"]
    assert params["metadata"] == {"quotadesk_payment": "pay_1"} and options == {"idempotency_key": "pay_1"}


def test_a_decline_is_a_failed_charge_with_the_contract_code() -> None:
    err = stripe.CardError("Your card has insufficient funds.", None, "card_declined")
    err.error = SimpleNamespace(
        payment_intent=SimpleNamespace(id="pi_dec"), decline_code="insufficient_funds"
    )  # type: ignore[assignment]
    result = StripeProcessor(client=FakeClient(err)).charge("pm_1", 10**10, idempotency_key="pay_2", now=NOW)
    assert (result.succeeded, result.failure_code, result.reference) == (
        False,
        "insufficient_funds",
        "pi_dec",
    )


def test_refusals() -> None:
    processor = StripeProcessor(client=FakeClient())
    with pytest.raises(PaymentError):
        processor.attach("4242424242424242", 12, 2030, NOW)
    with pytest.raises(InputError):
        processor.charge("pm_1", 1, idempotency_key="k", now=NOW)
