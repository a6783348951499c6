"""The whole stack in production mode, with secrets of its own: an order goes all the way through (the
worker takes only encrypted payloads, and ours all are), and the development keys open nothing."""

import asyncio
import base64
import json
import os
from pathlib import Path

import httpx
import pytest
from e2e_support import TEST_ENV, Stack, order

from deploy.stack import LocalStack
from runtime.settings import Settings

pytestmark = [pytest.mark.e2e]

KEY = "k" * 20 + base64.b32encode(os.urandom(15)).decode()


def secret_key(key_id: str) -> dict[str, str]:
    return {"id": key_id, "key": base64.b64encode(os.urandom(32)).decode()}


async def test_an_order_completes_in_production_mode(tmp_path: Path) -> None:
    env = {
        **TEST_ENV,
        "O2C_ENV": "production",
        "O2C_API_KEYS": json.dumps({KEY: ["orders:write", "orders:read"]}),
        "O2C_FULFILLMENT_WEBHOOK_SECRET": "whsec_" + base64.b64encode(os.urandom(32)).decode(),
        "O2C_CODEC_KEYS": json.dumps([secret_key("prod-1")]),
        "O2C_WEBHOOK_SECRET_KEYS": json.dumps([secret_key("prod-secrets-1")]),
        "O2C_LOYALTY_WEBHOOK_AUTHORIZATION": "Bearer " + base64.b64encode(os.urandom(32)).decode(),
    }
    stack = LocalStack.on_free_ports(tmp_path, Settings(), env=env)
    clients = Stack(stack.api_url, stack.sandbox_url)
    auth = {"Authorization": f"Bearer {KEY}"}
    try:
        await asyncio.to_thread(stack.start)
        body = order()
        placed = await clients.api.post("/v1/orders", json=body, headers=auth)
        assert placed.status_code == 201, placed.text
        deadline = asyncio.get_running_loop().time() + 45
        status = ""
        while status != "completed" and asyncio.get_running_loop().time() < deadline:
            status = (await clients.api.get(f"/v1/orders/{body['order_id']}", headers=auth)).json()["status"]
            await asyncio.sleep(0.3)
        assert status == "completed"
        async with httpx.AsyncClient(base_url=stack.api_url) as http:
            refused = await http.get(f"/v1/orders/{body['order_id']}",
                                     headers={"Authorization": "Bearer commerce-dev-key"})
        assert refused.status_code == 401
    finally:
        await clients.aclose()
        await asyncio.to_thread(stack.stop)
