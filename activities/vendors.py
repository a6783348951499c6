"""The composition: which adapter speaks for each vendor role, chosen by Settings (`O2C_<ROLE>_ADAPTER`).

Used by worker.py, by reconciliation and by `o2c certify`: a role's adapter is built here and nowhere
else, so adding a vendor is one adapter module and one line in ADAPTERS.
"""

from collections.abc import Callable
from typing import Any

from activities.adapters.sandbox_payments import SandboxPayments
from activities.adapters.stripe_payments import StripePayments
from activities.ports.payments import PaymentGateway
from activities.vendor_http import VendorClient
from runtime.settings import Settings

Factory = Callable[[Settings, VendorClient], Any]

ADAPTERS: dict[str, dict[str, Factory]] = {
    "payments": {
        "sandbox": lambda settings, http: SandboxPayments(http),
        "stripe": StripePayments,
    },
}


def adapter(role: str, settings: Settings, http: VendorClient) -> Any:
    """The adapter `settings` names for `role` (e.g. O2C_PAYMENTS_ADAPTER=stripe), built on the shared client."""
    name = getattr(settings, f"{role}_adapter")
    try:
        factory = ADAPTERS[role][name]
    except KeyError:
        raise ValueError(f"O2C_{role.upper()}_ADAPTER={name!r}: no such adapter for {role}") from None
    return factory(settings, http)


def payment_gateway(settings: Settings, http: VendorClient) -> PaymentGateway:
    gateway: PaymentGateway = adapter("payments", settings, http)
    return gateway
