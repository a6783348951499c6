"""One certification run: the role's adapter, built by the composition with its URL pointed at a fault proxy
in front of the live endpoint, put through the role's contract suite."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from activities.certification.erp import ErpSuite
from activities.certification.fault_proxy import FaultProxy
from activities.certification.framework import Check, run_checks
from activities.certification.fulfillment import FulfillmentSuite
from activities.certification.inventory import InventorySuite
from activities.certification.loyalty import LoyaltySuite
from activities.certification.payments import PaymentsSuite, TestCards
from activities.certification.vendor_checks import SuiteContext
from activities.vendor_health import VendorHealth
from activities.vendor_http import VendorClient
from activities.vendors import adapter
from canonical.contract_checks import ContractCheckResult, Mode
from runtime.settings import Settings

Suite = Callable[[Any, SuiteContext, "Target"], list[Check]]
"""The role's checks against its port, in a run's context, for that target."""


@dataclass(frozen=True)
class Target:
    """What to certify: a role, its adapter, the endpoint, and the settings (credentials) to build it with."""

    role: str
    adapter: str
    base_url: str
    settings: Settings
    mode: Mode = "full"
    cards: TestCards = field(default_factory=TestCards)


def new_run_id(now: datetime | None = None) -> str:
    """`cert-<UTC timestamp>-<random>`: every order id and key of a run starts with it, so runs never collide."""
    return f"cert-{(now or datetime.now(UTC)):%Y%m%d%H%M%S}-{secrets.token_hex(3)}"


def suite_roles() -> list[str]:
    return list(_SUITES)


_SUITES: dict[str, Suite] = {
    "loyalty": lambda engine, ctx, target: LoyaltySuite(engine, ctx).checks(),
    "payments": lambda gateway, ctx, target: PaymentsSuite(gateway, ctx, target.cards).checks(),
    "inventory": lambda inventory, ctx, target: InventorySuite(inventory, ctx).checks(),
    "fulfillment": lambda node, ctx, target: FulfillmentSuite(node, ctx).checks(),
    "erp": lambda erp, ctx, target: ErpSuite(erp, ctx).checks(),
}


async def certify(target: Target) -> ContractCheckResult:
    if target.role not in _SUITES:
        raise ValueError(f"role: no contract suite for {target.role!r} (suites: {', '.join(_SUITES)})")
    run_id = new_run_id()
    started = datetime.now(UTC)
    async with FaultProxy(target.base_url) as proxy:
        settings = target.settings.model_copy(update={f"{target.role}_adapter": target.adapter,
                                                      f"{target.role}_url": proxy.url})
        # Its own client, without a breaker: the run's injected faults must not count against the worker's
        # breakers or figures, and an open breaker would hide what the vendor answers from the later checks.
        http = VendorClient(settings, health=VendorHealth(settings, with_breakers=False))
        try:
            port = adapter(target.role, http, settings)
            checks = _SUITES[target.role](port, SuiteContext(proxy, run_id, settings.vendor_timeout_s), target)
            findings = await run_checks(checks, target.mode)
        finally:
            await http.aclose()
    return ContractCheckResult(role=target.role, adapter=target.adapter, base_url=target.base_url, mode=target.mode,
                               run_id=run_id, started_at=started, finished_at=datetime.now(UTC), findings=findings)
