from __future__ import annotations

import pytest
from sandbox_testkit import Api


@pytest.mark.asyncio
async def test_reserve_commit_release(api: Api) -> None:
    created = await api.post(
        "/inventory/reservations",
        {
            "reference": "o1:res",
            "order_id": "o1",
            "lines": [{"sku": "A", "quantity": 3}, {"sku": "B", "quantity": 2}],
        },
    )
    assert created.status_code == 201
    res = created.json()
    assert res["node"] == "DC-1" and res["status"] == "reserved"
    assert res["lines"] == [
        {"sku": "A", "quantity": 3, "released": 0, "committed": 0},
        {"sku": "B", "quantity": 2, "released": 0, "committed": 0},
    ]
    assert (await api.get("/inventory/stock/A")).json()["nodes"] == {"DC-1": 999_997, "DC-2": 0}

    committed = await api.post(
        f"/inventory/reservations/{res['reservation_id']}/commit", {"lines": [{"sku": "A", "quantity": 2}]}
    )
    assert committed.status_code == 200 and committed.json()["lines"][0]["committed"] == 2

    partial = await api.post(
        f"/inventory/reservations/{res['reservation_id']}/release", {"lines": [{"sku": "B", "quantity": 1}]}
    )
    assert partial.json()["lines"][1]["released"] == 1 and partial.json()["status"] == "reserved"

    rest = await api.post(f"/inventory/reservations/{res['reservation_id']}/release", {"lines": None})
    lines = rest.json()["lines"]
    assert lines[0] == {"sku": "A", "quantity": 3, "released": 1, "committed": 2}
    assert lines[1] == {"sku": "B", "quantity": 2, "released": 2, "committed": 0}
    assert rest.json()["status"] == "closed"
    # Released units are back on the shelf, committed ones left the building.
    assert (await api.get("/inventory/stock/A")).json()["nodes"]["DC-1"] == 999_998
    assert (await api.get("/inventory/stock/B")).json()["nodes"]["DC-1"] == 1_000_000

    found = (await api.get("/inventory/reservations", reference="o1:res")).json()["data"]
    assert [r["reservation_id"] for r in found] == [res["reservation_id"]]

    entries = await api.ledger(order_id="o1")
    assert [(e["action"], e["sku"], e["quantity"]) for e in entries] == [
        ("inventory.reserve", None, None),
        ("inventory.commit", "A", 2),
        ("inventory.release", "B", 1),
        ("inventory.release", "A", 1),
        ("inventory.release", "B", 1),
    ]
    assert entries[0]["reference"] == res["reservation_id"]


@pytest.mark.asyncio
async def test_out_of_stock_and_second_node(api: Api) -> None:
    oos = await api.post(
        "/inventory/reservations",
        {
            "reference": "r",
            "order_id": "o2",
            "lines": [{"sku": "OOS-1", "quantity": 1}, {"sku": "A", "quantity": 1}],
        },
    )
    assert oos.status_code == 409
    assert oos.json()["error"]["type"] == "business_error"
    assert oos.json()["error"]["code"] == "out_of_stock" and oos.json()["error"]["skus"] == ["OOS-1"]
    assert await api.ledger(order_id="o2") == []

    await api.put("/_sandbox/stock/C", {"node": "DC-1", "quantity": 1})
    await api.put("/_sandbox/stock/C", {"node": "DC-2", "quantity": 5})
    await api.put("/_sandbox/stock/D", {"node": "DC-1", "quantity": 0})
    await api.put("/_sandbox/stock/D", {"node": "DC-2", "quantity": 5})
    res = await api.post(
        "/inventory/reservations",
        {
            "reference": "r2",
            "order_id": "o2",
            "lines": [{"sku": "C", "quantity": 2}, {"sku": "D", "quantity": 5}],
        },
    )
    assert res.status_code == 201 and res.json()["node"] == "DC-2"
    more = await api.post(
        "/inventory/reservations",
        {"reference": "r3", "order_id": "o2", "lines": [{"sku": "D", "quantity": 1}]},
    )
    assert more.status_code == 409 and more.json()["error"]["skus"] == ["D"]


@pytest.mark.asyncio
async def test_quantity_exceeds_open_and_missing(api: Api) -> None:
    res = (
        await api.post(
            "/inventory/reservations",
            {"reference": "r", "order_id": "o3", "lines": [{"sku": "A", "quantity": 1}]},
        )
    ).json()
    over = await api.post(
        f"/inventory/reservations/{res['reservation_id']}/commit", {"lines": [{"sku": "A", "quantity": 2}]}
    )
    assert over.status_code == 409 and over.json()["error"]["code"] == "quantity_exceeds_open"
    other = await api.post(
        f"/inventory/reservations/{res['reservation_id']}/release", {"lines": [{"sku": "Z", "quantity": 1}]}
    )
    assert other.status_code == 409 and other.json()["error"]["code"] == "quantity_exceeds_open"
    missing = await api.post("/inventory/reservations/res_nope/release", {"lines": None})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "resource_missing"
    assert [e["action"] for e in await api.ledger(order_id="o3")] == ["inventory.reserve"]


@pytest.mark.asyncio
async def test_restock(api: Api) -> None:
    await api.put("/_sandbox/stock/E", {"node": "DC-2", "quantity": 0})
    response = await api.post(
        "/inventory/restock",
        {"reference": "ret-1", "order_id": "o4", "node": "DC-2", "lines": [{"sku": "E", "quantity": 4}]},
    )
    assert response.status_code == 200
    assert (await api.get("/inventory/stock/E")).json()["nodes"]["DC-2"] == 4
    entries = await api.ledger(order_id="o4")
    assert [(e["action"], e["sku"], e["quantity"], e["reference"]) for e in entries] == [
        ("inventory.restock", "E", 4, "ret-1")
    ]
    bad_node = await api.post(
        "/inventory/restock",
        {"reference": "x", "order_id": "o4", "node": "DC-9", "lines": [{"sku": "E", "quantity": 1}]},
    )
    assert bad_node.status_code == 422
