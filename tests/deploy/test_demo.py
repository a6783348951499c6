"""The demo's own logic (what it sends, how it judges and reports), against an in-memory stand-in API.

The real thing, against the whole stack, is test_demo_e2e.py.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import httpx

from deploy.cli import build_parser
from tools.demo import COMMERCE_KEY, SCENARIOS, SUPPORT_KEY, run_demo

EXPECTED = {
    "DEMO-HAPPY-1": "completed",
    "DEMO-DECLINED-1": "rejected",
    "DEMO-POINTS-1": "rejected",
    "DEMO-OOS-1": "cancelled",
    "DEMO-SPLIT-1": "completed",
    "DEMO-PICKFAIL-1": "completed",
    "DEMO-CANCEL-1": "cancelled",
    "DEMO-PARKED-1": "needs_attention",
}


class FakeO2C:
    """Just enough of the API and the sandbox control surface to drive the demo."""

    def __init__(self, final: dict[str, str] | None = None) -> None:
        self.final = dict(EXPECTED, **(final or {}))
        self.members: dict[str, int] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, str]] = []  # method, path, bearer key
        self.gets: dict[str, int] = {}
        self.intent_looks: dict[str, int] = {}
        self.released: list[str] = []
        self.settled: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        path = request.url.path
        self.calls.append((request.method, path, key))
        if request.method == "PUT" and path.startswith("/_sandbox/members/"):
            self.members[path.rsplit("/", 1)[1]] = json.loads(request.content)["available_points"]
            return httpx.Response(200, json={})
        if request.method == "POST" and path == "/v1/orders":
            assert key == COMMERCE_KEY
            body = json.loads(request.content)
            oid = body["order_id"]
            if oid in self.orders:
                assert self.orders[oid] == body, "a re-run must send the very same payload"
                return httpx.Response(200, json=self._accepted(oid))
            self.orders[oid] = body
            if body["payment"]["method_token"] == "tok_decline":
                return httpx.Response(402, json={"type": "payment-declined"})
            member = body["customer"]["loyalty_member_id"]
            if body["points_to_redeem"] > self.members.get(member, 10_000):
                return httpx.Response(409, json={"type": "insufficient-points"})
            return httpx.Response(201, json=self._accepted(oid))
        if request.method == "POST" and path.endswith("/cancel"):
            assert key == SUPPORT_KEY
            return httpx.Response(202, json={"status": "cancelling"})
        if request.method == "GET" and path == "/payments/payment_intents":
            oid = request.url.params["order_id"]
            self.intent_looks[oid] = self.intent_looks.get(oid, 0) + 1
            # The short authorization lapses by the third look.
            return httpx.Response(200, json={"data": [{"status": "canceled" if self.intent_looks[oid] > 2
                                                       else "requires_capture"}]})
        if request.method == "POST" and path == "/_sandbox/fulfillment/release":
            oid = json.loads(request.content)["order_id"]
            assert self.intent_looks.get(oid, 0) > 2, "released before the authorization lapsed"
            self.released.append(oid)
            return httpx.Response(200, json={"order_id": oid, "released": 1})
        if request.method == "GET" and path.startswith("/v1/orders/"):
            return self._view(path.rsplit("/", 1)[1])
        return httpx.Response(404)

    def _view(self, oid: str) -> httpx.Response:
        self.gets[oid] = self.gets.get(oid, 0) + 1
        if oid not in self.orders:
            return httpx.Response(404, json={"type": "not-found"})
        held = self.orders[oid]["payment"]["method_token"] == "tok_reauth_decline" and oid not in self.released
        # Settles on the second look, like a saga still running on the first; a held order waits for its release.
        # Settled once, it stays so on later runs.
        running = oid not in self.settled and (self.gets[oid] < 2 or held)
        status = "accepted" if running else self.final[oid]
        if not running:
            self.settled.add(oid)
        accepted = self._accepted(oid)
        money: dict[str, Any] = {"captures": [], "refunds": [], "money_at_risk": 0}
        if status == "completed":
            money["captures"] = [{"amount": accepted["amount_due"]}]
        if status == "needs_attention":
            money["money_at_risk"] = accepted["amount_due"]
        return httpx.Response(200, json={**accepted, **money, "status": status, "status_reason": None})

    def _accepted(self, oid: str) -> dict[str, Any]:
        body = self.orders[oid]
        total = sum(line["quantity"] * line["unit_price"] for line in body["lines"])
        return {
            "order_id": oid,
            "status": "accepted",
            "amount_due": total - body["points_to_redeem"],
            "currency": "EUR",
            "authorization": {"id": "pi_1", "amount": total - body["points_to_redeem"]},
            "links": {"temporal_ui": f"http://ui/namespaces/default/workflows/order-{oid}"},
        }


def demo(fake: FakeO2C, **kwargs: Any) -> tuple[Any, str]:
    out = io.StringIO()
    options: dict[str, Any] = {"poll_interval_s": 0.01, "timeout_s": 5.0, **kwargs}
    result = run_demo("http://api", "http://sandbox", transport=httpx.MockTransport(fake), out=out, **options)
    return result, out.getvalue()


def test_scenarios_cover_the_eight_paths_with_distinct_members() -> None:
    assert {s.order_id: s.expected_status for s in SCENARIOS} == EXPECTED
    members = [s.order["customer"]["loyalty_member_id"] for s in SCENARIOS]
    assert len(set(members)) == len(members)
    skus = {s.order_id: [line["sku"] for line in s.order["lines"]] for s in SCENARIOS}
    assert any(sku.startswith("OOS-") for sku in skus["DEMO-OOS-1"])
    assert sum(sku.startswith("SPLIT-") for sku in skus["DEMO-SPLIT-1"]) == 2
    assert [sku.startswith("PICKFAIL-") for sku in skus["DEMO-PICKFAIL-1"]] == [False, True]
    assert all(sku.startswith("HOLD-") for sku in skus["DEMO-CANCEL-1"])
    parked = next(s for s in SCENARIOS if s.order_id == "DEMO-PARKED-1")
    assert all(sku.startswith("HOLD-") for sku in skus["DEMO-PARKED-1"])
    assert parked.order["payment"]["method_token"] == "tok_reauth_decline" and parked.release_once_authorization_lapses


def test_demo_places_every_order_and_reports_success() -> None:
    fake = FakeO2C()
    result, printed = demo(fake)
    assert result.ok
    posts = {o.order_id: o.post_status for o in result.outcomes}
    assert posts["DEMO-HAPPY-1"] == 201 and posts["DEMO-DECLINED-1"] == 402 and posts["DEMO-POINTS-1"] == 409
    # The member is set low before the order that needs it to be.
    member_put = fake.calls.index(("PUT", "/_sandbox/members/DEMO-M-POINTS", ""))
    points_post = next(i for i, c in enumerate(fake.calls) if c[1] == "/v1/orders" and i > member_put)
    assert member_put < points_post
    assert ("POST", "/v1/orders/DEMO-CANCEL-1/cancel", SUPPORT_KEY) in fake.calls
    happy = next(o for o in result.outcomes if o.order_id == "DEMO-HAPPY-1")
    assert happy.amount_due == 2 * 1999 - 500
    assert happy.temporal_ui == "http://ui/namespaces/default/workflows/order-DEMO-HAPPY-1"
    rows = {}
    for scenario in SCENARIOS:
        row = next(line for line in printed.splitlines() if line.startswith(scenario.name))
        cells = rows[scenario.order_id] = re.split(r"\s{2,}", row)
        assert cells[1] == scenario.order_id
        assert cells[3] == scenario.expected_status and cells[4] == "yes"
    # Money as the order's view tells it: nothing reads as owed on a declined or cancelled order.
    assert rows["DEMO-HAPPY-1"][5] == "captured EUR 34.98"
    for oid in ("DEMO-DECLINED-1", "DEMO-POINTS-1", "DEMO-OOS-1", "DEMO-CANCEL-1"):
        assert rows[oid][5] == "nothing charged", rows[oid]
    assert rows["DEMO-PARKED-1"][5] == "at risk EUR 44.99"
    assert "amount due" not in printed
    assert fake.released == ["DEMO-PARKED-1"]
    assert "8/8 demo orders reached their expected status" in printed


def test_the_output_fits_in_100_columns_and_ends_with_the_keys_and_three_next_steps() -> None:
    _, printed = demo(FakeO2C(), temporal_ui_url="http://127.0.0.1:8233")
    widest = max(printed.splitlines(), key=len)
    assert len(widest) <= 100, widest
    tail = printed[printed.index("Dev API keys"):]
    for name, key in [("commerce", "commerce-dev-key"), ("support", "support-dev-key"),
                      ("finance", "finance-dev-key"), ("admin", "admin-dev-key"), ("ops", "ops-dev-key")]:
        assert re.search(rf"^  {name} +{key} +\S", tail, re.MULTILINE), tail
    steps = tail[tail.index("Next steps:"):]
    assert "http://127.0.0.1:8233/namespaces/default/workflows?query=OrderStatus%3D%22needs_attention%22" in steps
    command = " ".join(line.strip().removesuffix("\\").strip() for line in steps.splitlines())
    assert ("curl -X POST -H 'Authorization: Bearer support-dev-key' -H 'Content-Type: application/json' "
            "-d '{\"action\": \"mark_resolved\", \"note\": \"customer paid by bank transfer\"}' "
            "http://api/v1/orders/DEMO-PARKED-1/resolve") in command
    assert ("curl -H 'Authorization: Bearer finance-dev-key' -H 'Accept: text/csv' "
            "http://api/v1/erp-postings > erp-postings.csv") in command


def test_keys_set_through_the_environment_are_never_printed() -> None:
    from runtime.api_keys import ApiKey

    secret = "a-real-key-of-at-least-thirty-two-characters"
    _, printed = demo(FakeO2C(), api_keys={"commerce": ApiKey(key=secret, scopes=["orders:write"])})
    assert secret not in printed and "not shown" in printed


def test_a_parked_order_support_has_resolved_since_is_fine_on_a_later_run() -> None:
    fake = FakeO2C()
    demo(fake)
    fake.final["DEMO-PARKED-1"] = "completed"
    fake.gets.clear()
    result, printed = demo(fake)
    assert result.ok, printed
    assert fake.released == ["DEMO-PARKED-1"]  # released once, on the first run only


def test_second_run_replays_the_same_orders() -> None:
    fake = FakeO2C()
    demo(fake)
    fake.gets.clear()
    result, _ = demo(fake)
    assert result.ok
    assert {o.order_id: o.post_status for o in result.outcomes}["DEMO-HAPPY-1"] == 200
    assert fake.released == ["DEMO-PARKED-1"]  # parked already: nothing to release again


def test_an_order_that_ends_elsewhere_fails_the_demo() -> None:
    result, printed = demo(FakeO2C(final={"DEMO-SPLIT-1": "needs_attention"}))
    assert not result.ok
    assert [o.order_id for o in result.failures] == ["DEMO-SPLIT-1"]
    assert "! DEMO-SPLIT-1: expected completed, got needs_attention" in printed
    assert result.to_dict()["ok"] is False


def test_an_order_that_never_settles_fails_at_the_deadline() -> None:
    fake = FakeO2C(final={"DEMO-HAPPY-1": "allocated"})
    result, printed = demo(fake, temporal_ui_url="http://ui", timeout_s=0.3)
    assert not result.ok
    assert next(o for o in result.outcomes if o.order_id == "DEMO-HAPPY-1").final_status == "allocated"
    assert "! DEMO-HAPPY-1: expected completed, got allocated" in printed


def test_cli_has_the_commands() -> None:
    parser = build_parser()
    args = parser.parse_args(["demo", "--exit"])
    assert args.exit_after_demo and args.api_url is None
    args = parser.parse_args(["run"])
    assert not args.exit_after_demo and not args.no_demo
    for command in ("worker", "api", "sandbox", "temporal"):
        assert callable(parser.parse_args([command]).handler)
