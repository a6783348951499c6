"""The destination policy of outbound webhooks (canonical/outbound_urls.py), on URLs and addresses alone."""

import ipaddress

import pytest

from canonical.outbound_urls import DestinationPolicy, address_refusal, literal_address

OPEN = DestinationPolicy()


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.0.0.5", "private"), ("172.16.0.1", "private"),
    ("192.168.1.1", "private"), ("fd00:ec2::254", "private"), ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"), ("100.64.0.1", "CGNAT"), ("100.100.100.200", "CGNAT"), ("224.0.0.251", "multicast"),
    ("ff02::1", "multicast"), ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("198.18.0.1", "private"),
    ("::ffff:127.0.0.1", "loopback"), ("64:ff9b::a00:5", "private"), ("2002:a00:5::", "private"),
    ("192.0.2.10", "private"),
])
def test_addresses_that_are_not_public_are_refused(address: str, reason: str) -> None:
    refusal = address_refusal(ipaddress.ip_address(address))
    assert refusal is not None and reason in refusal


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::6810:84e5", "64:ff9b::808:808"])
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(("host", "address"), [("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"),
                                               ("017700000001", "127.0.0.1"), ("127.1", "127.0.0.1"),
                                               ("[::1]", "::1"), ("crm.example.test", None), ("1password.com", None)])
def test_literal_addresses_in_every_form_resolvers_accept(host: str, address: str | None) -> None:
    found = literal_address(host)
    assert (str(found) if found else None) == address


def test_urls_judged_on_scheme_host_port_and_path() -> None:
    assert OPEN.url_refusal("https://crm.example.test/hooks") is None
    assert "loopback" in (OPEN.url_refusal("http://2130706433/") or "")
    assert "metadata" in (OPEN.url_refusal("http://metadata.google.internal/computeMetadata/v1/") or "")
    assert "https" in (DestinationPolicy(https_only=True).url_refusal("http://crm.example.test/") or "")
    local = DestinationPolicy.of(["127.0.0.1:8100/marketing/events"], https_only=False)
    assert local.url_refusal("http://127.0.0.1:8100/marketing/events") is None
    assert local.url_refusal("http://127.0.0.1:8100/marketing/events/sub") is None
    for refused in ("http://127.0.0.1:8100/marketing/eventsX", "http://127.0.0.1:8100/_sandbox/reset",
                    "http://127.0.0.1:8101/marketing/events", "https://crm.example.test/hooks"):
        assert local.url_refusal(refused) is not None, refused


def test_a_host_name_entry_narrows_but_its_addresses_are_still_checked() -> None:
    named = DestinationPolicy.of(["crm.example.test"], https_only=True)
    assert named.url_refusal("https://crm.example.test/o2c") is None
    assert named.url_refusal("https://crm.example.test:8443/o2c") is not None  # not the default port
    assert named.resolved_refusal([ipaddress.ip_address("10.1.2.3")], 443) is not None
    exempt = DestinationPolicy.of(["10.1.2.3:8443"], https_only=True)
    assert exempt.resolved_refusal([ipaddress.ip_address("10.1.2.3")], 8443) is None
    assert exempt.resolved_refusal([ipaddress.ip_address("10.1.2.3")], 443) is not None


def test_one_refused_address_among_public_ones_refuses_the_host() -> None:
    mixed = [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("127.0.0.1")]
    assert "loopback" in (OPEN.resolved_refusal(mixed, 443) or "")


def test_a_malformed_allowlist_entry_is_refused() -> None:
    with pytest.raises(ValueError):
        DestinationPolicy.of(["http://?x"], https_only=False)
