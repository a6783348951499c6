from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from sandbox_testkit import Api
from standardwebhooks import Webhook

MARKETING_SECRET = "whsec_bWFya2V0aW5nLXNlY3JldA=="


def signed(body: bytes, webhook_id: str, secret: str = MARKETING_SECRET) -> dict[str, str]:
    ts = int(time.time())
    signature = Webhook(secret).sign(webhook_id, datetime.fromtimestamp(ts, tz=UTC), body.decode())
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


@pytest.mark.asyncio
async def test_signed_events_recorded_once_per_webhook_id(api: Api) -> None:
    assert (await api.put("/_sandbox/marketing/secret", {"secret": MARKETING_SECRET})).status_code == 200
    body = json.dumps(
        {"type": "order.shipped", "timestamp": "2024-01-01T00:00:00Z", "data": {"order_id": "o1"}}
    ).encode()
    first = await api.client.post("/marketing/events", content=body, headers=signed(body, "msg_1"))
    assert first.status_code == 200 and first.json()["duplicate"] is False
    again = await api.client.post("/marketing/events", content=body, headers=signed(body, "msg_1"))
    assert again.status_code == 200 and again.json()["duplicate"] is True
    other = await api.client.post("/marketing/events", content=body, headers=signed(body, "msg_2"))
    assert other.status_code == 200

    entries = await api.ledger(vendor="marketing")
    assert [(e["action"], e["reference"], e["order_id"]) for e in entries] == [
        ("marketing.event", "order.shipped", "o1"),
        ("marketing.event", "order.shipped", "o1"),
    ]
    assert [e["idempotency_key"] for e in entries] == ["msg_1", "msg_2"]


@pytest.mark.asyncio
async def test_bad_signatures_are_401(api: Api) -> None:
    body = json.dumps({"type": "tier.changed", "data": {}}).encode()
    # No secret configured yet: nothing can verify.
    unset = await api.client.post("/marketing/events", content=body, headers=signed(body, "msg_1"))
    assert unset.status_code == 401

    await api.put("/_sandbox/marketing/secret", {"secret": MARKETING_SECRET})
    wrong_key = await api.client.post(
        "/marketing/events", content=body, headers=signed(body, "msg_1", secret="whsec_b3RoZXI=")
    )
    assert wrong_key.status_code == 401
    assert wrong_key.json()["error"]["code"] == "invalid_signature"
    tampered = await api.client.post("/marketing/events", content=body + b" ", headers=signed(body, "msg_1"))
    assert tampered.status_code == 401
    unsigned = await api.client.post("/marketing/events", content=body)
    assert unsigned.status_code == 401
    garbage = await api.client.post(
        "/marketing/events", content=body, headers={**signed(body, "msg_1"), "webhook-signature": "garbage"}
    )
    assert garbage.status_code == 401
    assert await api.ledger(vendor="marketing") == []
