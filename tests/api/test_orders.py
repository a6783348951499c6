"""POST /v1/orders, cancel and GET mapped onto the workflow's answers, with a recording fake client.

What the workflow decides is the workflow's business (tested against real Temporal elsewhere);
here: what the API sends it, and how each answer becomes an HTTP response.
"""

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from api.orders import accept
from api.orders.status import _enrich
from canonical.order import Order
from canonical.saga import (
    AcceptDecision,
    CancelRequest,
    CompensationView,
    LoyaltyView,
    OrderInput,
    OrderStatus,
    OrderView,
    Rejection,
    StepView,
)
from canonical.steps import Authorization, PointsReservation

from .conftest import COMMERCE, SUPPORT, assert_problem, not_found, valid_order

EXPIRES = datetime(2030, 1, 8, 12, 0, tzinfo=UTC)


def accepted(first: bool) -> AcceptDecision:
    return AcceptDecision(
        order_id="ORD-1001",
        status="accepted",
        amount_due=3498,
        currency="EUR",
        authorization=Authorization(id="pi_1", amount=3498, currency="EUR", expires_at=EXPIRES),
        loyalty=PointsReservation(reservation_id="blk_1", member_id="M-1", points=500),
        first=first,
    )


def rejected(kind: str, decline_code: str | None = None) -> AcceptDecision:
    return AcceptDecision(
        order_id="ORD-1001",
        status="rejected",
        amount_due=3498,
        currency="EUR",
        rejection=Rejection(type=kind, detail="no", decline_code=decline_code),
        first=True,
    )


def view(status: OrderStatus = OrderStatus.CANCELLING) -> OrderView:
    return OrderView(
        order_id="ORD-1001",
        status=status,
        amount_due=3498,
        currency="EUR",
        customer_id="C-1",
        steps=[],
        compensations=[],
        shipments=[],
        captures=[],
        erp_postings=[],
        loyalty=LoyaltyView(),
        released_lines=[],
    )


class FakeHandle:
    def __init__(self, client: "FakeClient", workflow_id: str) -> None:
        self.client, self.id = client, workflow_id

    async def describe(self) -> Any:
        if not self.client.exists:
            raise not_found()
        return SimpleNamespace(workflow_type="OrderWorkflow", status=WorkflowExecutionStatus.RUNNING)

    async def execute_update(self, update: Any, arg: Any) -> Any:
        self.client.calls.append(("update", update.__name__, arg))
        if isinstance(self.client.answer, BaseException):
            raise self.client.answer
        return self.client.answer


class FakeClient:
    def __init__(self, answer: Any = None, *, delay: float = 0.0, exists: bool = True) -> None:
        self.answer, self.delay, self.exists = answer, delay, exists
        self.calls: list[tuple[str, Any, Any]] = []
        self.start: Any = None

    async def execute_update_with_start_workflow(
        self, update: Any, arg: Any, *, start_workflow_operation: Any
    ) -> Any:
        self.calls.append(("update_with_start", update.__name__, arg))
        self.start = start_workflow_operation._start_workflow_input
        await asyncio.sleep(self.delay)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        return FakeHandle(self, workflow_id)

    def get_workflow_handle_for(self, run: Any, workflow_id: str) -> FakeHandle:
        return FakeHandle(self, workflow_id)


@pytest.mark.asyncio
async def test_accepted_order_is_201_with_the_contract_body(make_http):
    fake = FakeClient(accepted(first=True))
    async with make_http(fake) as http:
        r = await http.post(
            "/v1/orders", json=valid_order(), headers={**COMMERCE, "X-Correlation-ID": "chk-1"}
        )
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/v1/orders/ORD-1001"
    assert r.json() == {
        "order_id": "ORD-1001",
        "status": "accepted",
        "workflow_id": "order-ORD-1001",
        "amount_due": 3498,
        "currency": "EUR",
        "authorization": {"id": "pi_1", "amount": 3498, "expires_at": "2030-01-08T12:00:00Z"},
        "loyalty": {"reservation_id": "blk_1", "points": 500},
        "links": {
            "self": "/v1/orders/ORD-1001",
            "temporal_ui": "http://ui.test/namespaces/default/workflows/order-ORD-1001",
        },
    }


@pytest.mark.asyncio
async def test_the_workflow_is_started_once_per_order_id_with_priced_input(make_http, settings):
    fake = FakeClient(accepted(first=True))
    async with make_http(fake) as http:
        await http.post("/v1/orders", json=valid_order(), headers={**COMMERCE, "X-Correlation-ID": "chk-1"})
    [(kind, update, req)] = fake.calls
    assert (kind, update) == ("update_with_start", "accept")
    start = fake.start
    assert start.id == "order-ORD-1001"
    assert start.task_queue == settings.task_queue
    assert start.id_conflict_policy == WorkflowIDConflictPolicy.USE_EXISTING
    assert start.id_reuse_policy == WorkflowIDReusePolicy.REJECT_DUPLICATE
    [inp] = start.args
    assert isinstance(inp, OrderInput)
    assert inp.correlation_id == "chk-1"
    assert inp.priced.amount_due == 3498 and inp.priced.points == 500
    assert inp.fingerprint == req.fingerprint == start.memo["fingerprint"]
    assert inp.timings.dispatch_sla_s == settings.dispatch_sla_s
    assert {p.key.name: p.value for p in start.search_attributes}["OrderStatus"] == "received"
    assert "Ana" not in (start.static_summary or "")
    assert start.static_details.startswith("**Order ORD-1001**") and "Ana" not in start.static_details


@pytest.mark.asyncio
async def test_the_same_order_again_is_200_with_a_byte_identical_body(make_http):
    async with make_http(FakeClient(accepted(first=True))) as http:
        first = await http.post("/v1/orders", json=valid_order(), headers=COMMERCE)
    async with make_http(FakeClient(accepted(first=False))) as http:
        again = await http.post("/v1/orders", json=valid_order(), headers=COMMERCE)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.content == again.content


def test_fingerprint_ignores_key_order_but_not_content_or_idempotency_key():
    a = Order.model_validate(valid_order())
    reordered = Order.model_validate(dict(reversed(list(valid_order().items()))))
    other = Order.model_validate(valid_order(points_to_redeem=10))
    assert accept.fingerprint(a, None) == accept.fingerprint(reordered, None)
    assert accept.fingerprint(a, None) != accept.fingerprint(other, None)
    assert accept.fingerprint(a, None) != accept.fingerprint(a, "idem-1")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("decision", "status", "slug"),
    [
        (rejected("payment-declined", "insufficient_funds"), 402, "payment-declined"),
        (rejected("insufficient-points"), 409, "insufficient-points"),
        (rejected("payment-unavailable"), 503, "payment-unavailable"),
        (rejected("order-failed"), 422, "order-failed"),
    ],
)
async def test_rejections_are_problems(make_http, decision, status, slug):
    async with make_http(FakeClient(decision)) as http:
        r = await http.post("/v1/orders", json=valid_order(), headers=COMMERCE)
    body = assert_problem(r, status, slug)
    assert body["order_id"] == "ORD-1001"
    if slug == "payment-declined":
        assert body["decline_code"] == "insufficient_funds"
    else:
        assert "decline_code" not in body


@pytest.mark.asyncio
async def test_same_id_different_payload_is_409_conflict(make_http):
    conflict = WorkflowUpdateFailedError(ApplicationError("different order", type="OrderIdConflict"))
    async with make_http(FakeClient(conflict)) as http:
        r = await http.post("/v1/orders", json=valid_order(), headers=COMMERCE)
    assert_problem(r, 409, "order-id-conflict")


@pytest.mark.asyncio
async def test_slow_decision_is_202_received(make_http):
    async with make_http(FakeClient(accepted(first=True), delay=5)) as http:
        r = await http.post("/v1/orders", json=valid_order(), headers=COMMERCE)
    assert r.status_code == 202
    assert r.json()["order_id"] == "ORD-1001" and r.json()["status"] == "received"


@pytest.mark.asyncio
async def test_slow_start_of_an_order_that_does_not_exist_is_503(make_http):
    async with make_http(FakeClient(accepted(first=True), delay=5, exists=False)) as http:
        r = await http.post("/v1/orders", json=valid_order(), headers=COMMERCE)
    assert_problem(r, 503, "temporal-unavailable")
    assert r.headers["retry-after"]


# ---- cancel -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_cancel_is_202_cancelling_and_names_the_caller_not_its_key(make_http):
    fake = FakeClient(view(OrderStatus.CANCELLING))
    async with make_http(fake) as http:
        r = await http.post("/v1/orders/ORD-1001/cancel", json={"reason": "customer asked"}, headers=SUPPORT)
    assert r.status_code == 202
    assert r.json()["status"] == "cancelling"
    [(_, update, req)] = fake.calls
    assert update == "cancel"
    assert isinstance(req, CancelRequest) and req.reason == "customer asked"
    assert req.actor == "support"  # the key's name (O2C_API_KEYS), never the key


@pytest.mark.asyncio
async def test_cancel_after_dispatch_is_409(make_http):
    refused = WorkflowUpdateFailedError(
        ApplicationError("goods were already dispatched", type="NotCancellable")
    )
    async with make_http(FakeClient(refused)) as http:
        r = await http.post("/v1/orders/ORD-1001/cancel", json={"reason": "too late"}, headers=COMMERCE)
    body = assert_problem(r, 409, "not-cancellable")
    assert "dispatched" in body["detail"]


@pytest.mark.asyncio
async def test_cancel_of_an_unknown_order_is_404(make_http):
    async with make_http(FakeClient(not_found(), exists=False)) as http:
        r = await http.post("/v1/orders/NOPE/cancel", json={"reason": "x"}, headers=COMMERCE)
    assert_problem(r, 404, "not-found")


@pytest.mark.asyncio
async def test_get_of_an_unknown_order_is_404(make_http):
    async with make_http(FakeClient(exists=False)) as http:
        r = await http.get("/v1/orders/NOPE", headers=SUPPORT)
    assert_problem(r, 404, "not-found")


# ---- live attempts and errors of running steps -------------------------------------------------


@pytest.mark.asyncio
async def test_running_steps_get_attempts_and_last_error_from_pending_activities():
    v = view(OrderStatus.ACCEPTED).model_copy(
        update={
            "steps": [
                StepView(name="authorize payment", status="succeeded", attempts=1),
                StepView(name="allocate inventory", status="running"),
            ],
            "compensations": [CompensationView(name="void authorization", status="running")],
        }
    )
    pending = [
        PendingActivityInfo(
            activity_id="allocate inventory",
            attempt=4,
            last_failure=Failure(message="inventory 503"),
            activity_type={"name": "allocate_inventory"},
        ),
        PendingActivityInfo(
            activity_id="void authorization",
            attempt=2,
            last_failure=Failure(message="payments timeout"),
            activity_type={"name": "void_authorizations"},
        ),
    ]
    desc = SimpleNamespace(
        raw_description=SimpleNamespace(pending_activities=pending), data_converter=pydantic_data_converter
    )
    enriched = await _enrich(v, desc)
    assert (enriched.steps[1].attempts, enriched.steps[1].error) == (4, "inventory 503")
    assert enriched.steps[0].attempts == 1 and enriched.steps[0].error is None
    assert enriched.compensations[0].error == "payments timeout"
    assert v.steps[1].attempts == 0, "the original view is left alone"
