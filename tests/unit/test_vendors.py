"""The composition (activities/vendors.py): each role's adapter is the one the settings name, and a name
without an adapter is refused, naming the setting to fix."""

import pytest

from activities.adapters.bloomreach_marketing import BloomreachMarketing
from activities.adapters.sandbox_erp import SandboxErp
from activities.adapters.sandbox_fulfillment import SandboxFulfillment
from activities.adapters.sandbox_inventory import SandboxInventory
from activities.adapters.sandbox_loyalty import SandboxLoyalty
from activities.adapters.sandbox_payments import SandboxPayments
from activities.adapters.stripe_payments import StripePayments
from activities.vendor_http import VendorClient
from activities.vendors import ADAPTERS, UnknownAdapter, adapter, marketing_tracker, vendors
from runtime.settings import Settings


@pytest.fixture
def settings() -> Settings:
    return Settings()


def test_the_default_settings_compose_the_sandbox_adapters(settings: Settings) -> None:
    composed = vendors(VendorClient(settings), settings)
    assert (type(composed.loyalty), type(composed.payments), type(composed.inventory), type(composed.fulfillment),
            type(composed.erp)) == (SandboxLoyalty, SandboxPayments, SandboxInventory, SandboxFulfillment, SandboxErp)


def test_o2c_payments_adapter_stripe_composes_the_stripe_adapter(settings: Settings) -> None:
    stripe = settings.model_copy(update={"payments_adapter": "stripe"})
    assert type(vendors(VendorClient(stripe), stripe).payments) is StripePayments


@pytest.mark.parametrize("role", ["loyalty", "payments", "inventory", "fulfillment", "erp"])
def test_the_adapter_named_in_the_settings_is_built_with_the_client_and_settings(
    role: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[tuple[VendorClient, Settings]] = []

    def acme(http: VendorClient, settings: Settings) -> str:
        built.append((http, settings))
        return "acme-adapter"

    monkeypatch.setitem(ADAPTERS[role], "acme", acme)
    chosen = settings.model_copy(update={f"{role}_adapter": "acme"})
    http = VendorClient(settings)
    assert adapter(role, http, chosen) == "acme-adapter"
    assert built == [(http, chosen)]
    assert getattr(vendors(http, chosen), role) == "acme-adapter"
    assert adapter(role, http, settings) != "acme-adapter"  # the other settings still pick the sandbox


def test_an_unknown_adapter_is_refused_naming_the_setting(settings: Settings) -> None:
    wrong = settings.model_copy(update={"erp_adapter": "sap"})
    with pytest.raises(UnknownAdapter, match=r"O2C_ERP_ADAPTER='sap' names no erp adapter; known: sandbox"):
        vendors(VendorClient(wrong), wrong)


def test_an_unknown_role_is_refused(settings: Settings) -> None:
    with pytest.raises(UnknownAdapter, match="no vendor role 'crm'"):
        adapter("crm", VendorClient(settings), settings)


async def test_the_marketing_adapter_is_the_senders_tracker(settings: Settings) -> None:
    assert marketing_tracker(settings) is None  # webhooks: subscribers get signed webhooks only
    tracker = marketing_tracker(settings.model_copy(update={"marketing_adapter": "bloomreach"}))
    assert type(tracker) is BloomreachMarketing
    await tracker.aclose()
    with pytest.raises(UnknownAdapter, match="O2C_MARKETING_ADAPTER='mailchimp'"):
        marketing_tracker(settings.model_copy(update={"marketing_adapter": "mailchimp"}))
