"""POST /v1/orders/{id}/resolve: support's way out of needs_attention, mapped onto the `resolve` update.

What each action does is the workflow's business (tested against real Temporal); here: who may ask,
what the workflow is sent, and how its answers become HTTP responses.
"""

import pytest
from structlog.testing import capture_logs
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from canonical.saga import OrderStatus, ResolveRequest

from .conftest import COMMERCE, SUPPORT, assert_problem, not_found
from .test_orders import FakeClient, FakeHandle, view

URL = "/v1/orders/ORD-1001/resolve"


class MovedOn(FakeClient):
    """The update answers with the view it saw when it took the action; the order has moved on since."""

    def __init__(self, now: OrderStatus) -> None:
        super().__init__(view(OrderStatus.NEEDS_ATTENTION))
        self.now = now

    def get_workflow_handle_for(self, run, workflow_id):
        client = self

        class Queried(FakeHandle):
            async def query(self, query, *args, rpc_timeout=None):
                client.calls.append(("query", query.__name__, None))
                return view(client.now)

        return Queried(self, workflow_id)


@pytest.mark.parametrize(("action", "now"), [("retry", "shipped"), ("mark_resolved", "shipped"),
                                             ("refund_and_close", "cancelling")])
async def test_resolve_is_202_with_the_status_it_led_to_and_sends_who_asked(make_http, action, now):
    fake = MovedOn(OrderStatus(now))
    async with make_http(fake) as http:
        r = await http.post(URL, json={"action": action, "note": "called the bank"}, headers=SUPPORT)
    assert r.status_code == 202, r.text
    assert r.json() == {
        "order_id": "ORD-1001",
        "status": now,
        "links": {
            "self": "/v1/orders/ORD-1001",
            "temporal_ui": "http://ui.test/namespaces/default/workflows/order-ORD-1001",
        },
    }
    [(_, update, req), (_, query, _)] = fake.calls
    assert (update, query) == ("resolve", "status")
    assert isinstance(req, ResolveRequest) and (req.action, req.note) == (action, "called the bank")
    assert req.actor == "support"  # the key's name, never the key


async def test_a_key_of_the_older_form_acts_under_its_digest_name(make_http, settings):
    old_form = settings.model_copy(update={"api_keys": {"support-only": ["orders:support"]}})
    fake = MovedOn(OrderStatus.SHIPPED)
    async with make_http(fake, old_form) as http:
        r = await http.post(URL, json={"action": "retry", "note": "x"},
                            headers={"Authorization": "Bearer support-only"})
    assert r.status_code == 202, r.text
    actor = fake.calls[0][2].actor
    assert actor.startswith("key-") and "support" not in actor


async def test_resolve_needs_the_support_scope(http):
    r = await http.post(URL, json={"action": "retry", "note": "x"}, headers=COMMERCE)
    assert_problem(r, 403, "forbidden")
    r = await http.post(URL, json={"action": "retry", "note": "x"})
    assert_problem(r, 401, "unauthorized")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"action": "shrug", "note": "x"}, "action"),
        ({"action": "retry", "note": ""}, "note"),
        ({"action": "retry", "note": "x" * 1001}, "note"),
        ({"action": "retry"}, "note"),
        ({"action": "retry", "note": "x", "actor": "someone else"}, "actor"),
    ],
)
async def test_a_bad_body_is_422_and_reaches_no_workflow(http, payload, field):
    r = await http.post(URL, json=payload, headers=SUPPORT)
    body = assert_problem(r, 422, "validation-error")
    assert [e["loc"] for e in body["errors"]] == [["body", field]]


async def test_an_order_that_does_not_need_attention_is_409_not_resolvable(make_http):
    refused = WorkflowUpdateFailedError(
        ApplicationError("order is shipped, not needs_attention", type="NotResolvable")
    )
    async with make_http(FakeClient(refused)) as http:
        r = await http.post(URL, json={"action": "retry", "note": "x"}, headers=SUPPORT)
    body = assert_problem(r, 409, "not-resolvable")
    assert "shipped" in body["detail"] and body["order_id"] == "ORD-1001"


async def test_resolve_of_an_unknown_order_is_404(make_http):
    async with make_http(FakeClient(not_found(), exists=False)) as http:
        r = await http.post("/v1/orders/NOPE/resolve", json={"action": "retry", "note": "x"}, headers=SUPPORT)
    assert_problem(r, 404, "not-found")


async def test_a_key_with_only_the_support_scope_may_cancel(make_http, settings):
    only_support = settings.model_copy(update={"api_keys": {"support-only": ["orders:support"]}})
    async with make_http(FakeClient(view(OrderStatus.CANCELLING)), only_support) as http:
        r = await http.post(
            "/v1/orders/ORD-1001/cancel",
            json={"reason": "customer called"},
            headers={"Authorization": "Bearer support-only"},
        )
    assert r.status_code == 202, r.text


async def test_the_log_names_who_acted_never_the_key(make_http):
    async with make_http(MovedOn(OrderStatus.SHIPPED)) as http:
        with capture_logs() as logs:
            r = await http.post(URL, json={"action": "retry", "note": "x"}, headers=SUPPORT)
    assert r.status_code == 202, r.text
    [entry] = [e for e in logs if e["event"] == "order.resolve_requested"]
    assert entry["actor"] == "support"
    assert "support-dev-key" not in repr(logs)
