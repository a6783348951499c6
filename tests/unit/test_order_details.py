"""The top of an order's Temporal page and the API's view of a closed order: status, reason, money at risk and
the next support call first; steps as a table; nothing left over from a park once the order closed."""

from types import SimpleNamespace
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus

from api.orders.status import order_detail
from canonical.order import Order
from canonical.order_details import current_details, next_action, settled, static_details
from canonical.saga import AttentionCode, LoyaltyView, OrderResult, OrderStatus, OrderView, StepView
from runtime.settings import Settings


def _view(status: OrderStatus = OrderStatus.NEEDS_ATTENTION, attention: AttentionCode | None = None,
          reason: str | None = None, money_at_risk: int = 0, steps: list[StepView] | None = None) -> OrderView:
    return OrderView(order_id="ORD-7", status=status, status_reason=reason, attention=attention, amount_due=9900,
                     currency="EUR", customer_id="C-1", steps=steps or [], compensations=[], shipments=[],
                     captures=[], erp_postings=[], loyalty=LoyaltyView(), released_lines=[],
                     money_at_risk=money_at_risk)


PARKED = _view(attention=AttentionCode.CAPTURE_FAILED, money_at_risk=4200,
               reason="authorization expired and re-authorization failed: payments card_declined",
               steps=[StepView(name="authorize payment", status="succeeded", attempts=1),
                      StepView(name="capture S1", status="failed", attempts=3, error="payments | card_declined")])


def test_a_parked_order_opens_with_status_reason_money_at_risk_and_the_support_call() -> None:
    first, why, money, action, _steps = current_details(PARKED).split("\n\n")
    assert first == "**Status: needs_attention** — reason `capture_failed`"
    assert why.startswith("**Why:** authorization expired")
    assert money == "**Money at risk:** EUR 42.00"  # the money at risk, not the amount due (EUR 99.00)
    assert action.startswith('**Next action:** `POST /v1/orders/ORD-7/resolve` `{"action": "retry", "note": "…"}`')
    assert "`orders:support`" in action


def test_steps_are_a_markdown_table_with_one_cell_per_value() -> None:
    table = current_details(PARKED).split("\n\n")[-1].splitlines()
    assert table[0] == "| step | state | attempts | error |"
    assert table[1] == "| --- | --- | --- | --- |"
    assert table[2] == "| authorize payment | `succeeded` | `1` |  |"
    # A pipe in an error message stays in its cell.
    assert table[3] == "| capture S1 | `failed` | `3` | payments \\| card_declined |"


def test_a_park_with_nothing_to_retry_offers_mark_resolved_and_refund() -> None:
    action = next_action("ORD-7", OrderStatus.NEEDS_ATTENTION, AttentionCode.CONFLICTING_SHIPMENT)
    assert action is not None and '"action": "mark_resolved"' in action and "refund_and_close" in action
    assert '"retry"' not in action


@pytest.mark.parametrize("status", [OrderStatus.SHIPPED, OrderStatus.COMPLETED, OrderStatus.CANCELLED])
def test_an_order_nobody_needs_to_touch_has_no_next_action(status: OrderStatus) -> None:
    assert next_action("ORD-7", status, None) is None
    details = current_details(_view(status))
    assert "Money at risk" not in details and "**Next action:** none" in details


def test_a_closed_order_drops_what_mattered_only_while_it_was_parked() -> None:
    completed = settled(PARKED.model_copy(update={"status": OrderStatus.COMPLETED}))
    assert (completed.attention, completed.money_at_risk, completed.status_reason) == (None, 0, None)
    cancelling = {"status": OrderStatus.CANCELLED, "status_reason": "refund and close"}
    cancelled = settled(PARKED.model_copy(update=cancelling))
    assert (cancelled.attention, cancelled.money_at_risk, cancelled.status_reason) == (None, 0, "refund and close")
    assert settled(PARKED) == PARKED


def test_static_details_say_what_the_order_is_without_personal_data() -> None:
    order = Order.model_validate({
        "order_id": "ORD-7", "channel": "web", "currency": "EUR",
        "customer": {"customer_id": "C-1", "email": "ana@example.com", "name": "Ana Lima"},
        "shipping_address": {"line1": "Rua 1", "city": "Lisboa", "postal_code": "1000", "country": "PT"},
        "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price": 1250}], "payment": {"method_token": "tok_visa"},
    })
    text = static_details(order)
    assert text.startswith("**Order ORD-7** · web · EUR 25.00 · customer `C-1`")
    assert "- 2 × `SKU-1` at EUR 12.50" in text
    assert not any(secret in text for secret in ("Ana", "ana@", "Rua", "tok_visa"))


class _Handle:
    def __init__(self, view: OrderView) -> None:
        self._view = view

    async def describe(self) -> Any:
        return SimpleNamespace(workflow_type="OrderWorkflow", status=WorkflowExecutionStatus.COMPLETED, run_id="r-1")

    async def result(self) -> OrderResult:
        return OrderResult(view=self._view)


class _Client:
    def __init__(self, view: OrderView) -> None:
        self._view = view

    def get_workflow_handle_for(self, run: Any, workflow_id: str) -> _Handle:
        return _Handle(self._view)


async def test_get_of_a_completed_order_shows_no_park_leftovers_and_no_next_action() -> None:
    closed = PARKED.model_copy(update={"status": OrderStatus.COMPLETED, "status_reason": "mark_resolved by ana: paid"})
    detail = await order_detail(_Client(closed), Settings(), "ORD-7")  # type: ignore[arg-type]
    assert (detail.attention, detail.money_at_risk, detail.status_reason, detail.next_action) == (None, 0, None, None)
    # The UI link opens the run's details, where the status and next action are, not its raw input.
    assert detail.links.temporal_ui.endswith("/workflows/order-ORD-7/r-1/user-metadata")
