"""Demo orders that walk the main saga paths through the public API, then a table of how they ended.

Order ids are fixed, so running the demo again against the same data re-sends the same orders and
gets idempotent replays (200) instead of duplicates; the table then shows the state they are in.
Everything goes over HTTP, exactly as the commerce platform would do it, plus the sandbox's control
surface to set up the vendor side (a member with too few points, goods held at the node). One order
is left parked in needs_attention (design §8: the card declines the re-authorization after dispatch),
so support has something to find and resolve. The output fits in 100 columns.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

import httpx

from canonical.identifiers import format_money
from runtime.api_keys import DEV_API_KEYS, ApiKey
from tools.demo_next_steps import dev_keys, next_steps

COMMERCE_KEY = "commerce-dev-key"
SUPPORT_KEY = "support-dev-key"

# Where an order rests once nothing more will happen without a human.
SETTLED_STATUSES = frozenset({"completed", "rejected", "cancelled", "needs_attention"})
WIDTH = 100


@dataclass(frozen=True)
class Scenario:
    name: str
    order_id: str
    expected_status: str
    order: dict[str, Any]
    member_points: int | None = None  # set the member's points in the sandbox before ordering
    cancel_after_accept: bool = False
    release_once_authorization_lapses: bool = False
    """Its goods are held at the node (a HOLD- SKU) until the card's short authorization has lapsed."""
    also_fine: frozenset[str] = frozenset()
    """Statuses someone may have moved it to since an earlier run (support resolved the parked order)."""


@dataclass
class Outcome:
    scenario: str
    order_id: str
    expected_status: str
    also_fine: frozenset[str] = frozenset()
    awaiting_release: bool = False
    post_status: int | None = None
    cancel_status: int | None = None
    final_status: str | None = None
    status_reason: str | None = None
    amount_due: int | None = None
    currency: str | None = None
    money: Money | None = None
    temporal_ui: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.final_status == self.expected_status or self.final_status in self.also_fine

    def money_line(self) -> str:
        if self.money is None or self.currency is None:
            return "-"
        return self.money.describe(self.final_status, self.currency)


@dataclass(frozen=True)
class Money:
    """What the order's view says moved, so a declined or cancelled order does not read as money owed."""

    authorized: int = 0
    captured: int = 0
    refunded: int = 0
    at_risk: int = 0

    @classmethod
    def of(cls, view: dict[str, Any]) -> Money:
        def total(key: str) -> int:
            return sum(item.get("amount", 0) for item in view.get(key) or [] if isinstance(item, dict))

        authorization = view.get("authorization")
        authorized = authorization.get("amount", 0) if isinstance(authorization, dict) else 0
        return cls(authorized, total("captures"), total("refunds"), int(view.get("money_at_risk") or 0))

    def describe(self, status: str | None, currency: str) -> str:
        parts = [f"{label} {format_money(amount, currency)}" for label, amount in
                 (("captured", self.captured), ("refunded", self.refunded), ("at risk", self.at_risk)) if amount]
        if not parts and self.authorized and status not in SETTLED_STATUSES:
            parts.append(f"authorized {format_money(self.authorized, currency)}")
        return ", ".join(parts) or "nothing charged"


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
            "outcomes": [asdict(o) | {"ok": o.ok, "also_fine": sorted(o.also_fine)} for o in self.outcomes],
        }

    def table(self) -> str:
        headers = ["scenario", "order id", "POST", "status", "ok", "money"]
        rows = [
            [
                o.scenario,
                o.order_id,
                str(o.post_status) if o.post_status is not None else "-",
                o.final_status or "-",
                "yes" if o.ok else "NO",
                o.money_line(),
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
        return "\n".join(fit(line) for line in out)


def fit(line: str) -> str:
    """A line cut to the terminal width the demo promises (only error text is ever that long)."""
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"


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
    Scenario(
        "parked for support",
        "DEMO-PARKED-1",
        "needs_attention",
        _order("DEMO-PARKED-1", "PARKED", [("HOLD-DEMO-LAMP", 1, 4999)], method_token="tok_reauth_decline"),
        release_once_authorization_lapses=True,
        also_fine=frozenset({"completed", "cancelled"}),
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
    api_keys: Mapping[str, ApiKey] = DEV_API_KEYS,
) -> DemoResult:
    """Place the demo orders, wait for each to settle (or the deadline), print and return the outcome,
    then the dev keys and what to try next."""
    say: Callable[[str], None] = (
        (lambda text: print(text, file=out, flush=True)) if out else (lambda text: None)
    )
    started = time.monotonic()
    outcomes = [Outcome(s.name, s.order_id, s.expected_status, s.also_fine, s.release_once_authorization_lapses)
                for s in scenarios]
    with (
        httpx.Client(base_url=api_url, timeout=request_timeout_s, transport=transport) as api,
        httpx.Client(base_url=sandbox_url, timeout=request_timeout_s, transport=transport) as sandbox,
    ):
        for scenario, outcome in zip(scenarios, outcomes, strict=True):
            _place(api, sandbox, scenario, outcome, say)
        _wait_until_settled(api, sandbox, outcomes, started + timeout_s, poll_interval_s)
    ui = temporal_ui_url.rstrip("/") if temporal_ui_url else None
    for outcome in outcomes:
        if outcome.temporal_ui is None and ui:
            outcome.temporal_ui = f"{ui}/namespaces/{namespace}/workflows/order-{outcome.order_id}"
    result = DemoResult(outcomes, time.monotonic() - started)
    say(result.table())
    if ui:
        say(f"Each order in the Temporal UI: {ui}/namespaces/{namespace}/workflows/order-<order id>")
    parked = next((o for o in outcomes if o.final_status == "needs_attention"), None)
    say("")
    say("\n".join(dev_keys(api_keys)))
    say("")
    say("\n".join(next_steps(api_url, ui, namespace, parked.order_id if parked else None)))
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
    api: httpx.Client, sandbox: httpx.Client, outcomes: list[Outcome], deadline: float, interval_s: float
) -> None:
    pending = list(outcomes)
    while pending:
        for outcome in list(pending):
            if _look(api, outcome):
                pending.remove(outcome)
            elif outcome.awaiting_release:
                _release_once_lapsed(sandbox, outcome)
        if not pending or time.monotonic() >= deadline:
            return
        time.sleep(interval_s)


def _look(api: httpx.Client, outcome: Outcome) -> bool:
    """Read the order; True once it has settled."""
    try:
        response = api.get(f"/v1/orders/{outcome.order_id}", headers=_headers(COMMERCE_KEY, outcome.order_id))
    except httpx.HTTPError as exc:
        _note(outcome, f"GET: {type(exc).__name__}: {exc}")
        return False
    if response.status_code != 200:
        # 404 right after a rejection or a slow start is normal for a moment; keep asking.
        _note(outcome, f"GET: HTTP {response.status_code} {response.text[:200]}")
        return False
    body = _json(response)
    _absorb(outcome, body)
    outcome.money = Money.of(body)
    status = body.get("status")
    outcome.final_status = status
    outcome.status_reason = body.get("status_reason")
    return status == outcome.expected_status or status in SETTLED_STATUSES


def _release_once_lapsed(sandbox: httpx.Client, outcome: Outcome) -> None:
    """Let the held goods go once the authorization has lapsed: the capture then needs a re-authorization,
    which this card declines, and the order parks (design §8). Released only once the node holds them."""
    try:
        intents = sandbox.get("/payments/payment_intents", params={"order_id": outcome.order_id})
        intents.raise_for_status()
        if not any(pi.get("status") == "canceled" for pi in _json(intents).get("data", [])):
            return
        released = sandbox.post("/_sandbox/fulfillment/release", json={"order_id": outcome.order_id})
        released.raise_for_status()
    except httpx.HTTPError as exc:
        _note(outcome, f"release: {type(exc).__name__}: {exc}")
        return
    if _json(released).get("released"):
        outcome.awaiting_release = False


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
