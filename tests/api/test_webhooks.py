"""Fulfilment webhooks: only correctly signed, fresh deliveries reach the order workflow."""

import time
from typing import Any

import pytest

from canonical.saga import FulfillmentEvent

from .conftest import assert_problem, not_found, signed

URL = "/v1/webhooks/fulfillment"

DISPATCHED = {
    "type": "shipment.dispatched",
    "timestamp": "2025-01-01T10:00:00Z",
    "data": {
        "order_id": "ORD-1001",
        "request_id": "req_1",
        "shipment_id": "SHP-1",
        "lines": [{"sku": "SKU-1", "quantity": 2}],
        "carrier": "DHL",
        "tracking_number": "JD0001",
    },
}
PICK_REJECTED = {
    "type": "shipment.pick_rejected",
    "timestamp": "2025-01-01T10:00:00Z",
    "data": {
        "order_id": "ORD-1001",
        "request_id": "req_1",
        "lines": [{"sku": "PICKFAIL-1", "quantity": 1}],
        "reason": "damaged in storage",
    },
}


class FakeHandle:
    def __init__(self, client: "FakeClient", workflow_id: str) -> None:
        self.client, self.workflow_id = client, workflow_id

    async def signal(self, signal: Any, arg: Any) -> None:
        if self.workflow_id not in self.client.running:
            raise not_found()
        self.client.signals.append((self.workflow_id, signal, arg))

    async def describe(self) -> Any:
        if self.workflow_id not in self.client.closed:
            raise not_found()
        return object()


class FakeClient:
    """Records signals; knows which workflows run and which have closed."""

    def __init__(
        self, running: set[str] = frozenset({"order-ORD-1001"}), closed: set[str] = frozenset()
    ) -> None:
        self.running, self.closed = set(running), set(closed)
        self.signals: list[tuple[str, Any, FulfillmentEvent]] = []

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        return FakeHandle(self, workflow_id)


# ---- signature checks: nothing is applied (the `http` fixture's client refuses any use) ---------


@pytest.mark.asyncio
async def test_unsigned_delivery_is_401(http):
    r = await http.post(URL, json=DISPATCHED)
    assert_problem(r, 401, "invalid-signature")


@pytest.mark.asyncio
async def test_wrong_secret_is_401(http):
    body, headers = signed(DISPATCHED, secret="whsec_QUJDREVGR0hJSktMTU5PUA==")
    r = await http.post(URL, content=body, headers=headers)
    assert_problem(r, 401, "invalid-signature")


@pytest.mark.asyncio
async def test_old_timestamp_is_401(http):
    body, headers = signed(DISPATCHED, at=time.time() - 6 * 60)
    r = await http.post(URL, content=body, headers=headers)
    assert_problem(r, 401, "invalid-signature")


@pytest.mark.asyncio
async def test_future_timestamp_is_401(http):
    body, headers = signed(DISPATCHED, at=time.time() + 6 * 60)
    r = await http.post(URL, content=body, headers=headers)
    assert_problem(r, 401, "invalid-signature")


@pytest.mark.asyncio
async def test_configured_tolerance_can_be_tighter(make_http, settings, no_temporal):
    body, headers = signed(DISPATCHED, at=time.time() - 60)
    async with make_http(no_temporal, settings.model_copy(update={"webhook_tolerance_s": 30})) as http:
        r = await http.post(URL, content=body, headers=headers)
    assert_problem(r, 401, "invalid-signature")
    assert no_temporal.touched == []


@pytest.mark.asyncio
async def test_tampered_body_is_401(http):
    body, headers = signed(DISPATCHED)
    r = await http.post(URL, content=body.replace(b"SHP-1", b"SHP-2"), headers=headers)
    assert_problem(r, 401, "invalid-signature")


@pytest.mark.asyncio
@pytest.mark.parametrize("signature", ["garbage", "v1,not-base64!!", "v2,AAAA", ""])
async def test_malformed_signature_is_401(http, signature):
    body, headers = signed(DISPATCHED)
    r = await http.post(URL, content=body, headers={**headers, "webhook-signature": signature})
    assert_problem(r, 401, "invalid-signature")


@pytest.mark.asyncio
async def test_non_numeric_timestamp_is_401(http):
    body, headers = signed(DISPATCHED)
    r = await http.post(URL, content=body, headers={**headers, "webhook-timestamp": "yesterday"})
    assert_problem(r, 401, "invalid-signature")


# ---- signed deliveries ------------------------------------------------------------------------
# Those that cannot be applied are kept as dead letters, so their tests use the migrated `store`.


@pytest.mark.asyncio
async def test_signed_dispatch_signals_the_order_workflow(make_http):
    fake = FakeClient()
    body, headers = signed(DISPATCHED, msg_id="msg_dispatch_1")
    async with make_http(fake) as http:
        r = await http.post(URL, content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "received", "event_id": "msg_dispatch_1", "detail": None}
    [(workflow_id, signal, event)] = fake.signals
    assert workflow_id == "order-ORD-1001"
    assert signal.__name__ == "fulfillment_event"
    assert event == FulfillmentEvent(
        event_id="msg_dispatch_1",
        type="shipment.dispatched",
        order_id="ORD-1001",
        shipment_id="SHP-1",
        lines=[{"sku": "SKU-1", "quantity": 2}],
        carrier="DHL",
        tracking_number="JD0001",
    )


@pytest.mark.asyncio
async def test_redelivery_is_200_and_carries_the_same_event_id(make_http):
    # The workflow dedupes by event id; the API answers every delivery of it with 200.
    fake = FakeClient()
    body, headers = signed(PICK_REJECTED, msg_id="msg_same")
    async with make_http(fake) as http:
        first = await http.post(URL, content=body, headers=headers)
        again = await http.post(URL, content=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert [e.event_id for _, _, e in fake.signals] == ["msg_same", "msg_same"]
    event = fake.signals[0][2]
    assert (event.type, event.reason, event.shipment_id) == (
        "shipment.pick_rejected",
        "damaged in storage",
        None,
    )


@pytest.mark.asyncio
async def test_unknown_order_is_404(make_http, store):
    fake = FakeClient(running=set())
    body, headers = signed(DISPATCHED)
    async with make_http(fake) as http:
        r = await http.post(URL, content=body, headers=headers)
    assert_problem(r, 404, "not-found")


@pytest.mark.asyncio
async def test_an_event_for_a_closed_order_is_kept_for_support_not_dropped(make_http, store):
    fake = FakeClient(running=set(), closed={"order-ORD-1001"})
    body, headers = signed(DISPATCHED)
    async with make_http(fake) as http:
        r = await http.post(URL, content=body, headers=headers)
    assert_problem(r, 409, "order-closed")
    assert r.json()["dead_letter_id"]
    assert fake.signals == []


@pytest.mark.asyncio
async def test_return_received_signals_the_order_workflow(make_http):
    fake = FakeClient(running={"order-ORD-1001"})
    body, headers = signed(
        {
            "type": "return.received",
            "timestamp": "2025-01-01T10:00:00Z",
            "data": {
                "order_id": "ORD-1001",
                "return_id": "RET-1",
                "lines": [{"sku": "SKU-1", "quantity": 1, "condition": "damaged"}],
            },
        }
    )
    async with make_http(fake) as http:
        r = await http.post(URL, content=body, headers=headers)
    assert r.status_code == 200, r.text
    [(workflow_id, _, received)] = fake.signals
    assert workflow_id == "order-ORD-1001"
    assert (received.event_id, received.return_id) == (headers["webhook-id"], "RET-1")
    assert [(ln.sku, ln.condition) for ln in received.lines] == [("SKU-1", "damaged")]


@pytest.mark.asyncio
async def test_unknown_type_is_422(http, store):
    body, headers = signed({**DISPATCHED, "type": "shipment.lost"})
    r = await http.post(URL, content=body, headers=headers)
    problem = assert_problem(r, 422, "validation-error")
    assert problem["errors"][0]["loc"] == ["body", "type"]


@pytest.mark.asyncio
async def test_signed_but_invalid_data_is_422_naming_the_field(http, store):
    bad = {**DISPATCHED, "data": {**DISPATCHED["data"], "lines": [{"sku": "SKU-1", "quantity": 0}]}}
    body, headers = signed(bad)
    r = await http.post(URL, content=body, headers=headers)
    problem = assert_problem(r, 422, "validation-error")
    assert problem["errors"][0]["loc"] == ["body", "data", "lines", 0, "quantity"]


@pytest.mark.asyncio
async def test_signed_but_malformed_json_is_400(http, store):
    body, headers = signed('{"type": "shipment.dispatched",')
    r = await http.post(URL, content=body, headers=headers)
    assert_problem(r, 400, "malformed-json")
