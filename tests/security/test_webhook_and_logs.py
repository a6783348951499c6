"""Security against the real stack: inbound webhooks are verified (wrong secret, old timestamp and a
replayed id change nothing twice), and the logs of a full run hold no personal data, card token or key.

One stack for the module. Its "full run" is the demo (happy, declined, insufficient points, out of
stock, split, pick-rejected, customer cancel) plus a return with damaged goods resolved by support,
reads by every key (orders, finance, webhook endpoints, the codec), refused keys and a request whose
invalid body carries an e-mail address. The scan covers o2c's own processes, the API and the worker,
and the Temporal server; the sandbox's log is left out on purpose: it *is* the payment vendor and the
warehouse, so card tokens and addresses are its business (as they are Stripe's or a 3PL's).
"""

import asyncio
import base64
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import order
from standardwebhooks import Webhook

from deploy.marketing import ensure_marketing_webhook
from deploy.stack import LocalStack
from runtime.settings import DEV_FULFILLMENT_WEBHOOK_SECRET, Settings
from tools.demo import SCENARIOS, run_demo

pytestmark = [pytest.mark.e2e]

COMMERCE = {"Authorization": "Bearer commerce-dev-key"}
SUPPORT = {"Authorization": "Bearer support-dev-key"}
FINANCE = {"Authorization": "Bearer finance-dev-key"}
ADMIN = {"Authorization": "Bearer admin-dev-key"}
ENV = {
    "SANDBOX_DISPATCH_DELAY_S": "0.2",
    "O2C_WEBHOOK_RETRY_SCHEDULE_S": "[0, 0.5]",
    "O2C_WEBHOOK_DELIVERY_TIMEOUT_S": "2",
}

NAME, EMAIL = "Beatriz Quaresma-Secret", "beatriz.quaresma@privacy.example"
ADDRESS = {
    "line1": "Travessa do Segredo 77",
    "line2": "3o Esq Confidencial",
    "city": "Vilarinho-Privado",
    "postal_code": "9999-321",
    "country": "PT",
}


def _order(
    oid: str, lines: list[tuple[str, int, int]], token: str = "tok_visa", points: int = 0
) -> dict[str, Any]:
    body = order(lines, points=points, token=token, order_id=oid)
    body["customer"].update(email=EMAIL, name=NAME)
    body["shipping_address"] = dict(ADDRESS)
    return body


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack.on_free_ports(Path(tmp_path_factory.mktemp("security")), Settings(), env=ENV) as running:
        ensure_marketing_webhook(running.api_url, running.sandbox_url, running.settings)
        yield running


@pytest.fixture(scope="module")
async def http(stack: LocalStack) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with (
        httpx.AsyncClient(base_url=stack.api_url, timeout=30) as api,
        httpx.AsyncClient(base_url=stack.sandbox_url, timeout=30) as sandbox,
    ):
        yield api, sandbox


async def _wait(api: httpx.AsyncClient, oid: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await api.get(f"/v1/orders/{oid}", headers=COMMERCE)
        if response.status_code == 200:
            view = response.json()
            if view["status"] in statuses:
                return view
        await asyncio.sleep(0.2)
    raise AssertionError(f"{oid} did not reach {statuses}: {view}")


async def _requested(sandbox: httpx.AsyncClient, oid: str) -> None:
    for _ in range(200):
        entries = (await sandbox.get("/_sandbox/ledger", params={"order_id": oid})).json()["entries"]
        if any(e["action"] == "fulfillment.request" for e in entries):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no shipment request for {oid}")


def _dispatch(oid: str, shipment_id: str, sku: str) -> str:
    return json.dumps(
        {
            "type": "shipment.dispatched",
            "timestamp": datetime.now(UTC).isoformat(),
            "data": {
                "order_id": oid,
                "request_id": "shr_x",
                "shipment_id": shipment_id,
                "lines": [{"sku": sku, "quantity": 1}],
                "carrier": "sandbox-express",
                "tracking_number": "SBX000000000001",
            },
        }
    )


def _signed(
    body: str, msg_id: str, *, secret: str = DEV_FULFILLMENT_WEBHOOK_SECRET, at: float | None = None
) -> dict[str, str]:
    ts = datetime.fromtimestamp(at if at is not None else time.time(), tz=UTC)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(ts.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, ts, body),
    }


# -- inbound webhooks ---------------------------------------------------------------------------


async def test_webhooks_with_a_wrong_secret_or_an_old_timestamp_are_refused_and_change_nothing(http) -> None:
    api, sandbox = http
    oid = "SEC-FORGED-1"
    assert (
        await api.post("/v1/orders", json=_order(oid, [("HOLD-SEC", 1, 2500)]), headers=COMMERCE)
    ).status_code == 201
    await _requested(sandbox, oid)
    body = _dispatch(oid, "SHP-FORGED", "HOLD-SEC")
    wrong = "whsec_" + base64.b64encode(b"an attacker's guess at it").decode()
    for headers in (
        _signed(body, "msg_wrong_secret", secret=wrong),
        _signed(body, "msg_old_timestamp", at=time.time() - 3600),
        {"content-type": "application/json"},
    ):
        response = await api.post("/v1/webhooks/fulfillment", content=body, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["type"] == "invalid-signature"
    view = await _wait(api, oid, "allocated", "accepted")
    assert view["shipments"] == [] and view["captures"] == []
    cancel = await api.post(f"/v1/orders/{oid}/cancel", json={"reason": "cleanup"}, headers=SUPPORT)
    assert cancel.status_code == 202, cancel.text
    await _wait(api, oid, "cancelled")


async def test_a_replayed_webhook_id_is_acknowledged_and_applied_once(http) -> None:
    api, sandbox = http
    oid = "SEC-REPLAY-1"
    assert (
        await api.post("/v1/orders", json=_order(oid, [("HOLD-RPL", 1, 4000)]), headers=COMMERCE)
    ).status_code == 201
    await _requested(sandbox, oid)
    first = _dispatch(oid, "SHP-REPLAY", "HOLD-RPL")
    # The same delivery twice (a retry, or a captured request replayed within the tolerance), then the
    # same id with another body: Standard Webhooks' id is the dedupe key.
    for body in (first, first, _dispatch(oid, "SHP-OTHER", "HOLD-RPL")):
        response = await api.post(
            "/v1/webhooks/fulfillment", content=body, headers=_signed(body, "msg_replayed_1")
        )
        assert response.status_code == 200, response.text
        assert response.json()["event_id"] == "msg_replayed_1"
    view = await _wait(api, oid, "completed")
    assert [s["shipment_id"] for s in view["shipments"]] == ["SHP-REPLAY"]
    entries = (await sandbox.get("/_sandbox/ledger", params={"order_id": oid})).json()["entries"]
    captures = [e for e in entries if e["action"] == "payment.capture"]
    assert [(e["reference"], e["amount"]) for e in captures] == [(f"{oid}:capture:SHP-REPLAY", 4000)]
    assert len([e for e in entries if e["action"] == "erp.invoice"]) == 1


# -- logs ---------------------------------------------------------------------------------------


async def _full_run(stack: LocalStack, api: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Every kind of request o2c serves, with personal data in the orders; returns the orders placed."""
    result = await asyncio.to_thread(run_demo, stack.api_url, stack.sandbox_url, out=None, timeout_s=90)
    assert result.ok, result.table()
    oid = "SEC-RETURN-1"
    assert (
        await api.post(
            "/v1/orders",
            json=_order(oid, [("SKU-SEC", 1, 3000), ("DAMAGED-SEC", 1, 900)], points=200),
            headers=COMMERCE,
        )
    ).status_code == 201
    await _wait(api, oid, "completed")
    ret = {"return_id": "R1", "lines": [{"sku": "DAMAGED-SEC", "quantity": 1}], "reason": "arrived broken"}
    assert (await api.post(f"/v1/orders/{oid}/returns", json=ret, headers=COMMERCE)).status_code == 202
    for _ in range(150):
        got = await api.get(f"/v1/orders/{oid}/returns/R1", headers=COMMERCE)
        if got.status_code == 200 and got.json()["status"] == "needs_attention":
            break
        await asyncio.sleep(0.2)
    resolved = await api.post(
        f"/v1/orders/{oid}/returns/R1/resolve", headers=SUPPORT, json={"action": "refund", "note": "goodwill"}
    )
    assert resolved.status_code == 202, resolved.text
    declined = _order("SEC-DECLINED-1", [("SKU-SEC", 1, 1000)], token="tok_decline")
    assert (await api.post("/v1/orders", json=declined, headers=COMMERCE)).status_code == 402
    invalid = {
        **_order("SEC-INVALID-1", [("SKU-SEC", 1, 1000)]),
        "customer": {"customer_id": "C", "email": EMAIL[:-8], "name": NAME, "shoe_size": 44},
    }
    assert (await api.post("/v1/orders", json=invalid, headers=COMMERCE)).status_code == 422
    assert (
        await api.get("/v1/orders/SEC-RETURN-1", headers={"Authorization": "Bearer guessed-key"})
    ).status_code == 401
    assert (await api.get("/v1/erp-postings", headers=COMMERCE)).status_code == 403
    assert (await api.get("/v1/erp-postings", params={"order_id": oid}, headers=FINANCE)).status_code == 200
    assert (await api.get("/v1/webhook-endpoints", headers=ADMIN)).status_code == 200
    assert (
        await api.get("/v1/orders", params={"customer_id": f"C-{oid}"}, headers=SUPPORT)
    ).status_code == 200
    history = await api.get(f"/v1/orders/{oid}", headers=SUPPORT)
    assert history.status_code == 200
    decoded = await api.post(
        "/codec/encode",
        headers=SUPPORT,
        json={
            "payloads": [
                {
                    "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                    "data": base64.b64encode(json.dumps({"name": NAME, "email": EMAIL}).encode()).decode(),
                }
            ]
        },
    )
    assert decoded.status_code == 200, decoded.text
    assert (await api.post("/codec/decode", headers=SUPPORT, json=decoded.json())).status_code == 200
    return [s.order for s in SCENARIOS] + [_order(oid, [])]


def _secrets(stack: LocalStack, orders: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for body in orders:
        customer, address = body["customer"], body["shipping_address"]
        found |= {customer["name"], customer["email"], body["payment"]["method_token"]}
        found |= {address[k] for k in ("line1", "line2", "city", "postal_code") if address.get(k)}
    settings = stack.settings
    found |= {entry.key.get_secret_value() for entry in settings.api_keys.values()}
    found.add(settings.fulfillment_webhook_secret.get_secret_value())
    found |= {key.key.get_secret_value() for key in [*settings.codec_keys, *settings.webhook_secret_keys]}
    return {s for s in found if s}


async def test_logs_of_a_full_run_hold_no_personal_data_card_token_or_key(stack: LocalStack, http) -> None:
    api, _ = http
    orders = await _full_run(stack, api)
    await asyncio.sleep(1.0)  # let the last lines reach the files
    scanned = {
        name: stack.log_path(name).read_text(errors="replace") for name in ("api", "worker", "temporal")
    }
    # Not vacuous: the logs saw the run (orders accepted, vendor calls, webhooks, the codec).
    assert '"order.accepted"' in scanned["api"] and '"webhook.delivered"' in scanned["api"]
    assert '"codec.' in scanned["api"] and "vendor" in scanned["worker"]
    secrets = _secrets(stack, orders)
    leaks = {
        f"{name}.log: {secret!r}" for name, text in scanned.items() for secret in secrets if secret in text
    }
    tokens = {
        f"{name}.log: {m}" for name, text in scanned.items() for m in re.findall(r"\btok_[A-Za-z0-9_]+", text)
    }
    assert not leaks and not tokens, sorted(leaks | tokens)[:20]
