from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sandbox_testkit import Api

from sandbox.settings import SandboxSettings

AppFactory = Callable[[SandboxSettings], FastAPI]
ClientFactory = Callable[[FastAPI], httpx.AsyncClient]


@pytest.mark.asyncio
async def test_state_survives_a_restart(
    settings: SandboxSettings, make_app: AppFactory, new_client: ClientFactory
) -> None:
    first = make_app(settings)
    async with new_client(first) as client:
        api = Api(client)
        block = (
            await api.post("/loyalty/members/m/blocks", {"points": 100, "reference": "r", "order_id": "o"})
        ).json()
        auth = {"amount": 700, "currency": "eur", "payment_method": "tok_visa", "metadata": {"order_id": "o"}}
        pi = (await api.post("/payments/payment_intents", auth, key="pi-key")).json()
        await api.post(
            "/erp/sales-orders",
            {"external_reference": "o:so", "order_id": "o", "amount": 700, "currency": "EUR"},
        )
        await api.put("/_sandbox/faults/marketing", {"outage": True})
        await api.put("/_sandbox/erp/posting-window", {"open": False})
        ledger_before = await api.ledger()
    first.state.runtime.db.close()

    second = make_app(settings)
    async with new_client(second) as client:
        api = Api(client)
        assert (await api.get("/loyalty/members/m")).json()["blocked_points"] == 100
        assert (await api.get("/loyalty/blocks", reference="r")).json()["data"][0]["block_id"] == block[
            "block_id"
        ]
        assert (await api.get(f"/payments/payment_intents/{pi['id']}")).json()["amount_capturable"] == 700
        replay = await api.post("/payments/payment_intents", auth, key="pi-key")
        assert replay.json()["id"] == pi["id"] and replay.headers["idempotent-replayed"] == "true"
        assert (await api.get("/erp/documents", external_reference="o:so")).json()["data"][0][
            "document_number"
        ] == "SO-000001"
        assert (await api.client.post("/marketing/events", content=b"{}")).status_code == 503
        assert (
            await api.post(
                "/erp/sales-orders",
                {"external_reference": "x", "order_id": "o", "amount": 1, "currency": "EUR"},
            )
        ).status_code == 503
        assert await api.ledger() == ledger_before
        await api.put("/_sandbox/erp/posting-window", {"open": True})
        new_doc = await api.post(
            "/erp/sales-orders",
            {"external_reference": "o:so2", "order_id": "o", "amount": 1, "currency": "EUR"},
        )
        assert new_doc.json()["document_number"] == "SO-000002"
        assert (await api.ledger())[-1]["seq"] == ledger_before[-1]["seq"] + 1


def test_creating_the_app_touches_no_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox.app import create_app

    monkeypatch.chdir(tmp_path)
    create_app(SandboxSettings())
    assert not (tmp_path / ".data").exists()
