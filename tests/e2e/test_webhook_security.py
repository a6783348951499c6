"""Inbound fulfilment webhooks: unsigned or wrongly signed events change nothing."""

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from e2e_support import Stack, order
from standardwebhooks import Webhook

from runtime.settings import DEV_FULFILLMENT_WEBHOOK_SECRET

pytestmark = [pytest.mark.e2e]


def _dispatch_event(order_id: str) -> bytes:
    return json.dumps({"type": "shipment.dispatched", "timestamp": "2026-11-22T10:00:00Z", "data": {
        "order_id": order_id, "request_id": "x", "shipment_id": "SHP-FORGED",
        "lines": [{"sku": "HOLD-W", "quantity": 1}],
        "carrier": "forged", "tracking_number": "0"}}).encode()


@pytest.mark.parametrize("variant", ["unsigned", "wrong-secret", "tampered-body", "stale-timestamp"])
async def test_forged_dispatch_is_rejected_and_not_applied(stack: Stack, variant: str) -> None:
    body = order([("HOLD-W", 1, 1000)])
    assert (await stack.place(body)).status_code == 201
    await stack.wait_ledger(body["order_id"], "fulfillment.request")
    payload = _dispatch_event(body["order_id"])
    msg_id = f"msg_{variant}_{body['order_id']}"
    now = int(time.time())
    secret = "whsec_" + base64.b64encode(b"not-the-secret").decode()
    headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(now)}
    if variant == "wrong-secret":
        headers["webhook-signature"] = Webhook(secret).sign(msg_id, _ts(now), payload.decode())
    elif variant == "tampered-body":
        headers["webhook-signature"] = Webhook(DEV_FULFILLMENT_WEBHOOK_SECRET).sign(msg_id, _ts(now), payload.decode())
        payload = payload.replace(b"forged", b"FORGED")
    elif variant == "stale-timestamp":
        old = now - 3600
        headers["webhook-timestamp"] = str(old)
        headers["webhook-signature"] = Webhook(DEV_FULFILLMENT_WEBHOOK_SECRET).sign(msg_id, _ts(old), payload.decode())
    response = await stack.api.post("/v1/webhooks/fulfillment", content=payload, headers=headers)
    assert response.status_code == 401, response.text
    view = await stack.get(body["order_id"])
    assert view["shipments"] == []
    cancel = await stack.api.post(f"/v1/orders/{body['order_id']}/cancel", json={"reason": "cleanup"},
                                  headers={"Authorization": "Bearer support-dev-key"})
    assert cancel.status_code == 202, cancel.text


def _ts(unix: int) -> datetime:  # standardwebhooks signs with a datetime
    return datetime.fromtimestamp(unix, tz=UTC)
