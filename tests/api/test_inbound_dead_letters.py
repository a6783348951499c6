"""A correctly signed fulfilment event that cannot be applied is answered 4xx (the sender will never
accept it as it is) and kept as a dead letter with its reason, which support lists
(`GET /v1/webhooks/fulfillment/dead-letters`, orders:support). Before, it was answered and lost."""

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from store.engine import Store

from .conftest import COMMERCE, FINANCE, SUPPORT, NoTemporal, assert_problem, signed
from .test_webhooks import DISPATCHED, FakeClient

URL = "/v1/webhooks/fulfillment"
DEAD_LETTERS = "/v1/webhooks/fulfillment/dead-letters"


@pytest.fixture
async def http(make_http: Callable[..., httpx.AsyncClient], store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with make_http(FakeClient(running=set())) as client:
        yield client


UNUSABLE: list[tuple[str, Any, int, str, str | None]] = [
    ("not json", '{"type": "shipment.dispatched",', 400, "malformed_json", None),
    ("unknown type", {**DISPATCHED, "type": "shipment.lost"}, 422, "unsupported_type", "ORD-1001"),
    ("invalid data", {**DISPATCHED, "data": {**DISPATCHED["data"], "lines": [{"sku": "SKU-1", "quantity": 0}]}},
     422, "invalid_data", "ORD-1001"),
    ("no envelope", {"data": {}}, 422, "invalid_envelope", None),
    ("unknown order", DISPATCHED, 404, "unknown_workflow", "ORD-1001"),
]


@pytest.mark.parametrize(("case", "body", "status", "reason", "order_id"), UNUSABLE, ids=[c[0] for c in UNUSABLE])
async def test_a_signed_event_that_cannot_be_applied_is_kept_for_support(
        http: httpx.AsyncClient, case: str, body: Any, status: int, reason: str, order_id: str | None) -> None:
    raw, headers = signed(body if isinstance(body, str) else json.dumps(body), msg_id=f"msg_{reason}")
    response = await http.post(URL, content=raw, headers=headers)
    assert response.status_code == status, response.text
    again = await http.post(URL, content=raw, headers=headers)  # the sender, or someone, tries again
    assert again.status_code == status

    listed = await http.get(DEAD_LETTERS, headers=SUPPORT)
    assert listed.status_code == 200, listed.text
    [letter] = listed.json()["items"]
    assert (letter["webhook_id"], letter["reason"], letter["order_id"], letter["deliveries"]) == (
        f"msg_{reason}", reason, order_id, 2)
    assert letter["payload"] == raw.decode() and letter["detail"]
    assert response.json()["dead_letter_id"] == letter["id"]


async def test_an_unsigned_event_is_not_kept(http: httpx.AsyncClient) -> None:
    raw, headers = signed(DISPATCHED, secret="whsec_" + "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==")
    assert (await http.post(URL, content=raw, headers=headers)).status_code == 401
    assert (await http.get(DEAD_LETTERS, headers=SUPPORT)).json()["items"] == []


async def test_dead_letters_need_orders_support(http: httpx.AsyncClient) -> None:
    assert_problem(await http.get(DEAD_LETTERS), 401, "unauthorized")
    for other in (COMMERCE, FINANCE):
        assert_problem(await http.get(DEAD_LETTERS, headers=other), 403, "forbidden")


async def test_dead_letters_page(http: httpx.AsyncClient) -> None:
    for n in range(5):
        raw, headers = signed({**DISPATCHED, "type": "shipment.lost"}, msg_id=f"msg_{n}")
        assert (await http.post(URL, content=raw, headers=headers)).status_code == 422
    seen: list[str] = []
    cursor = None
    while True:
        page = (await http.get(DEAD_LETTERS, headers=SUPPORT,
                               params={"limit": 2, **({"cursor": cursor} if cursor else {})})).json()
        seen += [item["webhook_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"msg_{n}" for n in range(5)]


async def test_a_store_that_is_down_makes_the_sender_retry(make_http: Callable[..., httpx.AsyncClient],
                                                           settings: Any, tmp_path: Any) -> None:
    """No dead letter can be written: 503, which the sender retries, rather than a 4xx that loses the event."""
    unreachable = settings.model_copy(update={"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    async with make_http(NoTemporal(), unreachable) as http:
        raw, headers = signed({**DISPATCHED, "type": "shipment.lost"})
        assert_problem(await http.post(URL, content=raw, headers=headers), 503, "database-unavailable")
