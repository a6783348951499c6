"""The scenario mix of a chaos run: what each kind of order looks like, how often it comes, the outcomes
it may end in and support's answers to its parks. What the client does with each is in
tools/chaos_flows.py.

SKU prefixes drive the sandbox (sandbox/CONTRACT.md): SPLIT- ships alone, PICKFAIL- is pick-rejected,
OOS- has no stock, HOLD- waits for `POST /_sandbox/fulfillment/release`, DAMAGED- comes back damaged.
Cards: tok_decline and tok_insufficient_funds decline, tok_expiring's authorization lapses after a few
seconds, tok_reauth_decline's too and every re-authorization of it declines.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tools.chaos_expect import redeemable
from tools.chaos_model import PlacedOrder

Line = dict[str, Any]
Lines = Callable[[random.Random], list[Line]]


@dataclass(frozen=True)
class Scenario:
    name: str
    weight: int
    allowed: frozenset[str]
    lines: Lines
    token: str = "tok_visa"
    support: tuple[tuple[str, ...], ...] = ()
    """Support plans, one drawn per order: answers to successive parks, the last one repeated."""
    uncaptured_ok: bool = False
    """Support may settle dispatched goods outside o2c or write them off."""


def _line(rng: random.Random, prefix: str = "CH", *, quantity: int | None = None, top: int = 9_999) -> Line:
    return {
        "sku": f"{prefix}-{rng.randrange(10_000)}-{rng.randrange(100)}",
        "quantity": quantity or rng.randint(1, 3),
        "unit_price": rng.randint(150, top),
    }


def _some(rng: random.Random, n: int = 3) -> list[Line]:
    return [_line(rng) for _ in range(rng.randint(1, n))]


def _with(prefix: str, keep: int = 1, **kw: Any) -> Lines:
    return lambda rng: [_line(rng, prefix, **kw), *_some(rng)[:keep]]


def _split(rng: random.Random) -> list[Line]:
    return [*(_line(rng, "SPLIT") for _ in range(rng.randint(2, 3))), *_some(rng)[:1]]


def _held_split(rng: random.Random) -> list[Line]:
    return [_line(rng, "HOLD"), _line(rng, "SPLIT")]


def _points_only(rng: random.Random) -> list[Line]:
    # Unknown members start with 10,000 points: the whole order must cost less.
    return [_line(rng, quantity=rng.randint(1, 2), top=2_000) for _ in range(rng.randint(1, 2))]


def _declined_reauthorization(
    name: str, weight: int, allowed: frozenset[str], plan: tuple[str, ...]
) -> Scenario:
    """A held split order whose authorization lapses and every re-authorization declines: each capture
    parks the order until support's plan settles it."""
    return Scenario(name, weight, allowed, _held_split, "tok_reauth_decline", (plan,), uncaptured_ok=True)


ONE = frozenset({"completed"})
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("happy", 26, ONE, _some),
    Scenario("split", 12, ONE, _split),
    Scenario("pick-rejected", 10, ONE, lambda rng: [*_some(rng)[:2], _line(rng, "PICKFAIL")]),
    Scenario(
        "all-pick-rejected",
        3,
        frozenset({"cancelled"}),
        lambda rng: [_line(rng, "PICKFAIL") for _ in range(rng.randint(1, 2))],
    ),
    Scenario("declined", 8, frozenset({"rejected"}), _some),
    Scenario("insufficient-points", 4, frozenset({"rejected"}), _some),
    Scenario("out-of-stock", 7, frozenset({"cancelled"}), _with("OOS")),
    Scenario("cancel", 10, frozenset({"cancelled"}), _with("HOLD")),
    Scenario("cancel-race", 5, frozenset({"cancelled", "completed"}), _some),
    Scenario("return", 10, ONE, _some),
    Scenario("split-return", 5, ONE, _split),
    Scenario("points-only", 3, ONE, _points_only),
    Scenario("dup-sku-return", 3, ONE, _split),
    Scenario("damaged-return", 2, ONE, _with("DAMAGED", keep=2)),
    Scenario("damaged-undecided", 1, ONE, _with("DAMAGED")),
    Scenario("mixed-receipt", 2, ONE, lambda rng: [_line(rng, quantity=3), *_some(rng)]),
    Scenario("duplicate-dispatch", 3, ONE, lambda rng: _some(rng) if rng.random() < 0.5 else _split(rng)),
    Scenario(
        "dispatch-races-cancel",
        3,
        frozenset({"cancelled"}),
        _with("HOLD"),
        support=(("mark_resolved",), ("refund_and_close",)),
        uncaptured_ok=True,
    ),
    Scenario("reauth-expired", 3, ONE, _with("HOLD"), token="tok_expiring"),
    _declined_reauthorization("reauth-decline-retry", 1, ONE, ("retry", "mark_resolved")),
    _declined_reauthorization("reauth-decline-resolve", 1, ONE, ("mark_resolved",)),
    _declined_reauthorization("reauth-decline-close", 1, frozenset({"cancelled"}), ("refund_and_close",)),
    Scenario("temporal-cancel-before", 2, frozenset({"cancelled"}), _with("HOLD")),
    _declined_reauthorization("temporal-cancel-after", 2, ONE, ("mark_resolved",)),
)
BY_NAME = {s.name: s for s in SCENARIOS}


def plan_mix(rng: random.Random, orders: int, names: list[str] | None = None) -> list[Scenario]:
    """Every scenario of the mix once (as far as `orders` goes), the rest drawn by weight, shuffled."""
    mix = [BY_NAME[n] for n in names] if names else list(SCENARIOS)
    plan = mix[:orders] + rng.choices(mix, weights=[s.weight for s in mix], k=max(orders - len(mix), 0))
    rng.shuffle(plan)
    return plan


def build_order(rng: random.Random, scenario: Scenario, order_id: str, point_value: int = 1) -> PlacedOrder:
    # One line per SKU (the canonical order's rule); random SKUs could collide.
    lines = list({ln["sku"]: ln for ln in scenario.lines(rng)}.values())
    total = sum(ln["quantity"] * ln["unit_price"] for ln in lines)
    # Unknown members start with 10,000 points: redeem fewer, except where too few is the scenario.
    points = rng.choice([0, 0, rng.randint(1, min(total // 2, 5_000))])
    if scenario.name == "insufficient-points":
        points = max(points, 100)
    elif scenario.name == "points-only":
        points = total // point_value
    token = (
        rng.choice(["tok_decline", "tok_insufficient_funds"])
        if scenario.name == "declined"
        else scenario.token
    )
    body = {
        "order_id": order_id,
        "channel": rng.choice(["web", "app", "store", "pos", "marketplace"]),
        "currency": "EUR",
        "customer": {
            "customer_id": f"C-{order_id}",
            "loyalty_member_id": f"M-{order_id}",
            "email": f"chaos.{order_id.lower()}@example.com",
            "name": f"Chaos Customer {order_id}",
        },
        "shipping_address": {
            "line1": "Rua Augusta 100",
            "city": "Lisboa",
            "postal_code": "1100-053",
            "country": "PT",
        },
        "lines": lines,
        "payment": {"method_token": token},
        "points_to_redeem": points,
    }
    if not redeemable(body, point_value):
        body["points_to_redeem"] = 0
    support = rng.choice(scenario.support) if scenario.support else ()
    return PlacedOrder(
        scenario.name, body, scenario.allowed, uncaptured_ok=scenario.uncaptured_ok, support_plan=support
    )
