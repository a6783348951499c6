"""Demo orders that walk the main saga paths through the public API, then a table of how they ended.

Order ids are fixed, so running the demo again against the same data re-sends the same orders and
gets idempotent replays (200) instead of duplicates; the table then shows the state they are in.
Everything goes over HTTP, exactly as the commerce platform would do it, plus the sandbox's control
surface to set up the vendor side (a member with too few points).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

import httpx

from canonical.identifiers import format_money

COMMERCE_KEY = "commerce-dev-key"
SUPPORT_KEY = "support-dev-key"

# Where an order rests once nothing more will happen without a human.
SETTLED_STATUSES = frozenset({"completed", "rejected", "cancelled", "needs_attention"})


@dataclass(frozen=True)
class Scenario:
    name: str
    order_id: str
    expected_status: str
    order: dict[str, Any]
    member_points: int | None = None  # set the member's points in the sandbox before ordering
    cancel_after_accept: bool = False


@dataclass
class Outcome:
    scenario: str
    order_id: str
    expected_status: str
    post_status: int | None = None
    cancel_status: int | None = None
    final_status: str | None = None
    status_reason: str | None = None
    amount_due: int | None = None
    currency: str | None = None
    temporal_ui: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.final_status == self.expected_status


@dataclass
class DemoResult:
    outcomes: list[Outcome]
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return bool(self.outcomes) and all(outcome.ok for outcome in self.outcomes)

    @property
    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "elapsed_s": self.elapsed_s,
            "outcomes": [asdict(o) | {"ok": o.ok} for o in self.outcomes],
        }

    def table(self) -> str:
        headers = [
            "scenario",
            "order id",
            "POST",
            "expected",
            "final status",
            "ok",
            "amount due",
            "Temporal UI",
        ]
        rows = [
            [
                o.scenario,
                o.order_id,
                str(o.post_status) if o.post_status is not None else "-",
                o.expected_status,
                o.final_status or "-",
                "yes" if o.ok else "NO",
                format_money(o.amount_due, o.currency) if o.amount_due is not None and o.currency else "-",
                o.temporal_ui or "-",
            ]
            for o in self.outcomes
        ]
        widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

        out = [line(headers), line(["-" * width for width in widths]), *(line(row) for row in rows)]
        for o in self.failures:
            why = f" ({o.status_reason})" if o.status_reason else ""
            out.append(
                f"! {o.order_id}: expected {o.expected_status}, got {o.final_status or 'nothing'}{why}"
            )
            out.extend(f"    {error}" for error in o.errors[-3:])
        passed = len(self.outcomes) - len(self.failures)
        total = len(self.outcomes)
        out.append(f"{passed}/{total} demo orders reached their expected status in {self.elapsed_s:.1f}s")
        return "\n".join(out)


def _order(
    order_id: str,
    who: str,
    lines: list[tuple[str, int, int]],
    *,
    method_token: str = "tok_visa",
    points_to_redeem: int = 500,
) -> dict[str, Any]:
    # A distinct customer and loyalty member per scenario, so scenarios cannot drain each other's points.
    return {
        "order_id": order_id,
        "channel": "web",
        "currency": "EUR",
        "customer": {
            "customer_id": f"DEMO-C-{who}",
            "loyalty_member_id": f"DEMO-M-{who}",
            "email": f"{who.lower()}@example.com",
            "name": f"Demo {who.title()}",
        },
        "shipping_address": {
            "line1": "Rua Augusta 100",
            "city": "Lisboa",
            "postal_code": "1100-053",
            "country": "PT",
        },
        "lines": [{"sku": sku, "quantity": quantity, "unit_price": price} for sku, quantity, price in lines],
        "payment": {"method_token": method_token},
        "points_to_redeem": points_to_redeem,
    }


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "happy path", "DEMO-HAPPY-1", "completed", _order("DEMO-HAPPY-1", "HAPPY", [("DEMO-MUG", 2, 1999)])
    ),
    Scenario(
        "declined card",
        "DEMO-DECLINED-1",
        "rejected",
        _order("DEMO-DECLINED-1", "DECLINED", [("DEMO-MUG", 1, 1999)], method_token="tok_decline"),
    ),
    Scenario(
        "insufficient points",
        "DEMO-POINTS-1",
        "rejected",
        _order("DEMO-POINTS-1", "POINTS", [("DEMO-MUG", 1, 1999)], points_to_redeem=500),
        member_points=100,
    ),
    Scenario(
        "out of stock", "DEMO-OOS-1", "cancelled", _order("DEMO-OOS-1", "OOS", [("OOS-DEMO-LAMP", 1, 4999)])
    ),
    Scenario(
        "split shipment",
        "DEMO-SPLIT-1",
        "completed",
        _order("DEMO-SPLIT-1", "SPLIT", [("SPLIT-DEMO-CHAIR", 2, 4999), ("SPLIT-DEMO-TABLE", 1, 12999)]),
    ),
    Scenario(
        "pick rejected",
        "DEMO-PICKFAIL-1",
        "completed",
        _order("DEMO-PICKFAIL-1", "PICKFAIL", [("DEMO-BOOK", 1, 1499), ("PICKFAIL-DEMO-VASE", 1, 2999)]),
    ),
    Scenario(
        "customer cancel",
        "DEMO-CANCEL-1",
        "cancelled",
        _order("DEMO-CANCEL-1", "CANCEL", [("HOLD-DEMO-SOFA", 1, 59999)]),
        cancel_after_accept=True,
    ),
)


def run_demo(
    api_url: str,
    sandbox_url: str,
    *,
    scenarios: Sequence[Scenario] = SCENARIOS,
    timeout_s: float = 90.0,
    poll_interval_s: float = 0.5,
    temporal_ui_url: str | None = None,
    namespace: str = "default",
    out: TextIO | None = sys.stdout,
    request_timeout_s: float = 30.0,
    transport: httpx.BaseTransport | None = None,
) -> DemoResult:
    """Place the demo orders, wait for each to settle (or the deadline), print and return the outcome."""
    say: Callable[[str], None] = (
        (lambda text: print(text, file=out, flush=True)) if out else (lambda text: None)
    )
    started = time.monotonic()
    outcomes = [Outcome(s.name, s.order_id, s.expected_status) for s in scenarios]
    with (
        httpx.Client(base_url=api_url, timeout=request_timeout_s, transport=transport) as api,
        httpx.Client(base_url=sandbox_url, timeout=request_timeout_s, transport=transport) as sandbox,
    ):
        for scenario, outcome in zip(scenarios, outcomes, strict=True):
            _place(api, sandbox, scenario, outcome, say)
        _wait_until_settled(api, outcomes, started + timeout_s, poll_interval_s)
    for outcome in outcomes:
        if outcome.temporal_ui is None and temporal_ui_url:
            outcome.temporal_ui = (
                f"{temporal_ui_url.rstrip('/')}/namespaces/{namespace}/workflows/order-{outcome.order_id}"
            )
    result = DemoResult(outcomes, time.monotonic() - started)
    say(result.table())
    return result


def _headers(key: str, order_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-Correlation-ID": f"demo-{order_id}"}


def _place(
    api: httpx.Client, sandbox: httpx.Client, scenario: Scenario, outcome: Outcome, say: Callable[[str], None]
) -> None:
    try:
        if scenario.member_points is not None:
            member = scenario.order["customer"]["loyalty_member_id"]
            response = sandbox.put(
                f"/_sandbox/members/{member}",
                json={"available_points": scenario.member_points, "tier": "base"},
            )
            response.raise_for_status()
        response = api.post(
            "/v1/orders", json=scenario.order, headers=_headers(COMMERCE_KEY, scenario.order_id)
        )
        outcome.post_status = response.status_code
        _absorb(outcome, _json(response))
        say(f"POST /v1/orders {scenario.order_id:<16} {scenario.name:<20} -> {response.status_code}")
        if scenario.cancel_after_accept and response.status_code in (200, 201, 202):
            response = api.post(
                f"/v1/orders/{scenario.order_id}/cancel",
                json={"reason": "customer changed their mind (demo)"},
                headers=_headers(SUPPORT_KEY, scenario.order_id),
            )
            # 409 is expected when a re-run finds the order already cancelled.
            outcome.cancel_status = response.status_code
            say(f"POST /v1/orders/{scenario.order_id}/cancel -> {response.status_code}")
    except httpx.HTTPError as exc:
        _note(outcome, f"{type(exc).__name__}: {exc}")
        say(f"{scenario.order_id}: {type(exc).__name__}: {exc}")


def _wait_until_settled(
    api: httpx.Client, outcomes: list[Outcome], deadline: float, interval_s: float
) -> None:
    pending = list(outcomes)
    while pending:
        for outcome in list(pending):
            try:
                response = api.get(
                    f"/v1/orders/{outcome.order_id}", headers=_headers(COMMERCE_KEY, outcome.order_id)
                )
            except httpx.HTTPError as exc:
                _note(outcome, f"GET: {type(exc).__name__}: {exc}")
                continue
            if response.status_code != 200:
                # 404 right after a rejection or a slow start is normal for a moment; keep asking.
                _note(outcome, f"GET: HTTP {response.status_code} {response.text[:200]}")
                continue
            body = _json(response)
            _absorb(outcome, body)
            status = body.get("status")
            outcome.final_status = status
            outcome.status_reason = body.get("status_reason")
            if status == outcome.expected_status or status in SETTLED_STATUSES:
                pending.remove(outcome)
        if not pending or time.monotonic() >= deadline:
            return
        time.sleep(interval_s)


def _note(outcome: Outcome, error: str) -> None:
    # Polling repeats the same complaint every interval; one copy says it all.
    if not outcome.errors or outcome.errors[-1] != error:
        outcome.errors.append(error)


def _absorb(outcome: Outcome, body: dict[str, Any]) -> None:
    """Keep what the table shows from whichever response carried it."""
    if isinstance(body.get("amount_due"), int):
        outcome.amount_due = body["amount_due"]
    if isinstance(body.get("currency"), str):
        outcome.currency = body["currency"]
    links = body.get("links")
    if isinstance(links, dict) and isinstance(links.get("temporal_ui"), str):
        outcome.temporal_ui = links["temporal_ui"]


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
