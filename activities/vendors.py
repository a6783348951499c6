"""The composition of vendors: which adapter plays each vendor role, picked by the settings
(`O2C_<ROLE>_ADAPTER`). The worker, reconciliation and `o2c certify` build their ports here.

`ADAPTERS[role][name]` is a factory `(http, settings) -> adapter` implementing the role's port
(activities/ports/<role>.py); adding a vendor is one adapter module and one line here.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from activities.adapters.bloomreach_marketing import BloomreachMarketing
from activities.adapters.sandbox_erp import SandboxErp
from activities.adapters.sandbox_fulfillment import SandboxFulfillment
from activities.adapters.sandbox_inventory import SandboxInventory
from activities.adapters.sandbox_loyalty import SandboxLoyalty
from activities.adapters.sandbox_payments import SandboxPayments
from activities.adapters.stripe_payments import StripePayments
from activities.ports.erp import ErpSystem
from activities.ports.fulfillment import FulfillmentNode
from activities.ports.inventory import InventoryService
from activities.ports.loyalty import LoyaltyEngine
from activities.ports.marketing import MarketingTracker
from activities.ports.payments import PaymentGateway
from activities.vendor_http import VendorClient
from runtime.settings import Settings

AdapterFactory = Callable[[VendorClient, Settings], Any]

ROLES = ("loyalty", "payments", "inventory", "fulfillment", "erp")
ADAPTERS: dict[str, dict[str, AdapterFactory]] = {role: {} for role in ROLES}
ADAPTERS["loyalty"]["sandbox"] = lambda http, settings: SandboxLoyalty(http)
ADAPTERS["payments"]["sandbox"] = lambda http, settings: SandboxPayments(http)
ADAPTERS["payments"]["stripe"] = lambda http, settings: StripePayments(settings, http)
ADAPTERS["inventory"]["sandbox"] = lambda http, settings: SandboxInventory(http)
ADAPTERS["fulfillment"]["sandbox"] = lambda http, settings: SandboxFulfillment(http)
ADAPTERS["erp"]["sandbox"] = lambda http, settings: SandboxErp(http)


class UnknownAdapter(ValueError):
    """The settings name an adapter (or role) this build of o2c does not have."""


def adapter(role: str, http: VendorClient, settings: Settings) -> Any:
    """The adapter `settings.<role>_adapter` names for `role`, built on the shared vendor client."""
    factories = ADAPTERS.get(role)
    if factories is None:
        raise UnknownAdapter(f"no vendor role {role!r}; roles: {', '.join(ADAPTERS)}")
    name = getattr(settings, f"{role}_adapter")
    factory = factories.get(name)
    if factory is None:
        raise UnknownAdapter(f"O2C_{role.upper()}_ADAPTER={name!r} names no {role} adapter; "
                             f"known: {', '.join(sorted(factories))}")
    return factory(http, settings)


@dataclass(frozen=True)
class Vendors:
    """The port of each vendor role, as the settings configure them."""

    loyalty: LoyaltyEngine
    payments: PaymentGateway
    inventory: InventoryService
    fulfillment: FulfillmentNode
    erp: ErpSystem


def vendors(http: VendorClient, settings: Settings) -> Vendors:
    return Vendors(loyalty=adapter("loyalty", http, settings), payments=adapter("payments", http, settings),
                   inventory=adapter("inventory", http, settings),
                   fulfillment=adapter("fulfillment", http, settings), erp=adapter("erp", http, settings))


# Marketing's adapter is the sender's, not the worker's: it delivers tracked events from the outbox with its own
# bounded HTTP client (activities/webhooks.py). None: subscribers get signed webhooks and nothing more.
TRACKERS: dict[str, Callable[[Settings], MarketingTracker] | None] = {"webhooks": None,
                                                                     "bloomreach": BloomreachMarketing}


def marketing_tracker(settings: Settings) -> MarketingTracker | None:
    if settings.marketing_adapter not in TRACKERS:
        raise UnknownAdapter(f"O2C_MARKETING_ADAPTER={settings.marketing_adapter!r} names no marketing adapter; "
                             f"known: {', '.join(sorted(TRACKERS))}")
    factory = TRACKERS[settings.marketing_adapter]
    return factory(settings) if factory else None
