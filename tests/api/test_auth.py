import hmac

import pytest
from structlog.testing import capture_logs

import api.shared.auth
from api.shared.auth import Keyring
from runtime.api_keys import unnamed

from .conftest import COMMERCE, FINANCE, SUPPORT, assert_problem, valid_order


@pytest.mark.asyncio
async def test_missing_key_is_401_with_bearer_challenge(http):
    r = await http.post("/v1/orders", json=valid_order())
    assert_problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_unknown_key_is_401_invalid_token(http):
    r = await http.get("/v1/orders/ORD-1", headers={"Authorization": "Bearer not-a-key"})
    assert_problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "header", ["Basic Y29tbWVyY2UtZGV2LWtleQ==", "commerce-dev-key", "Bearer", "Bearer "]
)
async def test_malformed_authorization_is_401(http, header):
    r = await http.get("/v1/orders/ORD-1", headers={"Authorization": header})
    assert_problem(r, 401, "unauthorized")


@pytest.mark.asyncio
async def test_non_ascii_key_is_401_not_500(http):
    r = await http.get("/v1/orders/ORD-1", headers={"Authorization": "Bearer cl\u00e9".encode()})
    assert_problem(r, 401, "unauthorized")


@pytest.mark.asyncio
async def test_key_without_scope_is_403(http):
    r = await http.post("/v1/orders", json=valid_order(), headers=FINANCE)
    body = assert_problem(r, 403, "forbidden")
    assert body["required_scopes"] == ["orders:write"]


@pytest.mark.asyncio
async def test_read_only_scope_cannot_create_orders(http):
    r = await http.post("/v1/orders", json=valid_order(), headers=SUPPORT)
    assert_problem(r, 403, "forbidden")


@pytest.mark.asyncio
async def test_cancel_accepts_either_scope_and_refuses_others(http):
    r = await http.post("/v1/orders/ORD-1/cancel", json={"reason": "x"}, headers=FINANCE)
    assert_problem(r, 403, "forbidden")


def test_every_key_is_compared_in_constant_time(monkeypatch):
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(api.shared.auth.hmac, "compare_digest", spy)
    keyring = Keyring({"k1": ["a"], "k2": ["b"], "k3": ["c"]})

    assert keyring.authenticate("k1").scopes == {"a"}
    # No early exit on a match: all three keys were compared, as equal-length digests.
    assert len(calls) == 3
    assert all(len(a) == len(b) == 32 for a, b in calls)

    calls.clear()
    assert keyring.authenticate("nope") is None
    assert len(calls) == 3


def test_a_key_without_a_name_is_named_by_a_stable_digest_that_does_not_reveal_it():
    assert unnamed("commerce-dev-key") == unnamed("commerce-dev-key")
    assert "commerce" not in unnamed("commerce-dev-key")
    assert Keyring({"commerce-dev-key": ["a"]}).authenticate("commerce-dev-key").name == unnamed("commerce-dev-key")


def test_a_named_key_authenticates_as_its_name():
    keyring = Keyring({"support-alice": {"key": "alice-secret", "scopes": ["orders:support"]}, "k2": ["b"]})
    alice = keyring.authenticate("alice-secret")
    assert (alice.name, alice.scopes) == ("support-alice", {"orders:support"})
    assert keyring.authenticate("support-alice") is None  # the name is not a key


@pytest.mark.asyncio
async def test_api_keys_are_never_logged(http):
    with capture_logs() as logs:
        await http.get("/v1/orders/ORD-1", headers={"Authorization": "Bearer wrong-secret-key"})
        await http.post("/v1/orders", json=valid_order(), headers=FINANCE)
        await http.post("/v1/orders", json=valid_order(lines=[]), headers=COMMERCE)
    assert logs, "requests are logged"
    text = repr(logs)
    for secret in ("wrong-secret-key", "finance-dev-key", "commerce-dev-key"):
        assert secret not in text
