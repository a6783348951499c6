"""What a chaos run observed, as the client recorded it and the vendors report it: the input of the oracle
(tools/chaos_checks.py) and the report. Plain data, no behaviour beyond reading it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TERMINAL = frozenset({"completed", "cancelled", "rejected"})
SETTLED = TERMINAL | {"needs_attention"}


@dataclass
class ReturnPlan:
    """One return the client asked for, and what became of it."""

    return_id: str
    lines: list[dict[str, Any]]
    """Requested lines, {"sku", "quantity"}."""
    must_refuse: bool = False
    """It names a SKU twice: the API must answer 422 and nothing may happen."""
    decision: str | None = None
    """Support's planned answer when the return waits on damaged goods: refund, refuse, or None (left
    waiting)."""
    decided: str | None = None
    """The answer support actually gave (202)."""
    receipt: list[dict[str, Any]] | None = None
    """What the client told the sandbox warehouse to find instead of what was announced."""
    answer: int | None = None
    """HTTP status of the return request."""
    status: str | None = None
    status_reason: str | None = None

    @property
    def accepted(self) -> bool:
        return self.answer == 202


@dataclass
class PlacedOrder:
    """One order of the run, as the chaos client saw it."""

    scenario: str
    body: dict[str, Any]
    allowed: frozenset[str]
    """Final statuses the scenario allows (a cancel racing the dispatch may end either way)."""
    status: str | None = None
    status_reason: str | None = None
    uncaptured_ok: bool = False
    """Support may settle dispatched goods outside o2c (mark resolved) or write them off (refund and close),
    so a shipment may end without a capture."""
    support_plan: tuple[str, ...] = ()
    """Support's answers to successive parks of the order, the last one repeated; empty: never resolved."""
    resolutions: list[str] = field(default_factory=list)
    """Support actions the API accepted, in order."""
    returns: list[ReturnPlan] = field(default_factory=list)
    node_shipments: list[dict[str, Any]] = field(default_factory=list)
    """Shipments the client itself reported as the fulfilment node ({"shipment_id", "lines"}), which the
    sandbox does not know about."""
    problems: list[str] = field(default_factory=list)
    """Expectations the client saw broken while steering (e.g. a return naming a SKU twice was accepted)."""
    notes: list[str] = field(default_factory=list)

    @property
    def order_id(self) -> str:
        return str(self.body["order_id"])

    def next_support_action(self) -> str | None:
        if not self.support_plan:
            return None
        return self.support_plan[min(len(self.resolutions), len(self.support_plan) - 1)]


@dataclass(frozen=True)
class Violation:
    rule: str
    order_id: str | None
    detail: str
    scenario: str | None = None

    def __str__(self) -> str:
        where = f"{self.order_id} ({self.scenario})" if self.scenario else self.order_id or "-"
        return f"[{self.rule}] {where}: {self.detail}"


@dataclass
class VendorState:
    """Each vendor's list endpoint, read once after the run (faults cleared)."""

    payment_intents: list[dict[str, Any]]
    blocks: list[dict[str, Any]]
    reservations: list[dict[str, Any]]
    shipment_requests: list[dict[str, Any]]
    documents: list[dict[str, Any]]
    return_requests: list[dict[str, Any]] = field(default_factory=list)
    """The warehouse's return requests; each line has its `condition` once the goods were received."""
