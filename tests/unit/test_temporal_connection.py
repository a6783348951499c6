"""The exact arguments the Temporal client is given (runtime/temporal_connection.py): plain, TLS, mTLS,
API key (Temporal Cloud), and how an envconfig profile composes with the O2C settings."""

import os
from pathlib import Path

import pytest
from temporalio.envconfig import ClientConfigProfile
from temporalio.service import TLSConfig

from runtime.settings import Settings, UnsafeConfiguration
from runtime.temporal_connection import connect_options, load_profile, uses_tls

CLOUD_TOML = """
[profile.cloud]
address = "acme.a1b2c.tmprl.cloud:7233"
namespace = "acme.a1b2c"
api_key = "profile-key"

[profile.mtls]
address = "temporal.internal:7233"
namespace = "orders"
[profile.mtls.tls]
server_name = "frontend.temporal.internal"
server_ca_cert_data = "PROFILE-CA"
client_cert_data = "PROFILE-CERT"
client_key_data = "PROFILE-KEY"
"""


@pytest.fixture(autouse=True)
def no_ambient_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test passes counts: no O2C_TEMPORAL_* or TEMPORAL_* from the shell running pytest."""
    for name in list(os.environ):
        if name.startswith(("O2C_TEMPORAL", "TEMPORAL_")):
            monkeypatch.delenv(name)


def profile(name: str) -> ClientConfigProfile:
    return ClientConfigProfile.load(profile=name, config_source=CLOUD_TOML, disable_env=True)


def pem_files(tmp_path: Path) -> dict[str, str]:
    paths = {}
    for field, content in (("ca", b"CA-PEM"), ("cert", b"CERT-PEM"), ("key", b"KEY-PEM")):
        path = tmp_path / f"{field}.pem"
        path.write_bytes(content)
        paths[field] = str(path)
    return paths


def test_plain_by_default_is_the_local_dev_server() -> None:
    assert connect_options(Settings()) == {"target_host": "127.0.0.1:7233", "namespace": "default", "tls": False}


def test_tls_on_with_nothing_else_uses_the_system_roots() -> None:
    options = connect_options(Settings(temporal_address="temporal.example:7233", temporal_tls=True))
    assert options["tls"] is True
    assert uses_tls(options)


def test_tls_with_the_ca_and_server_name_given(tmp_path: Path) -> None:
    files = pem_files(tmp_path)
    options = connect_options(Settings(temporal_tls_ca_path=files["ca"], temporal_tls_server_name="frontend.internal"))
    assert options["tls"] == TLSConfig(server_root_ca_cert=b"CA-PEM", domain="frontend.internal")
    assert "api_key" not in options


def test_mtls_gives_the_client_certificate_and_key(tmp_path: Path) -> None:
    files = pem_files(tmp_path)
    settings = Settings(temporal_address="temporal.internal:7233", temporal_namespace="orders",
                        temporal_tls_ca_path=files["ca"], temporal_tls_cert_path=files["cert"],
                        temporal_tls_key_path=files["key"])
    assert connect_options(settings) == {
        "target_host": "temporal.internal:7233",
        "namespace": "orders",
        "tls": TLSConfig(server_root_ca_cert=b"CA-PEM", client_cert=b"CERT-PEM", client_private_key=b"KEY-PEM"),
    }


def test_a_client_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    files = pem_files(tmp_path)
    with pytest.raises(ValueError, match="O2C_TEMPORAL_TLS_KEY_PATH"):
        connect_options(Settings(temporal_tls_cert_path=files["cert"]))


def test_a_missing_certificate_file_fails_by_its_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere\.pem"):
        connect_options(Settings(temporal_tls_ca_path=str(tmp_path / "nowhere.pem")))


def test_an_api_key_means_tls_like_temporal_cloud() -> None:
    options = connect_options(Settings(temporal_address="acme.a1b2c.tmprl.cloud:7233", temporal_namespace="acme.a1b2c",
                                       temporal_api_key="cloud-key"))
    assert options == {"target_host": "acme.a1b2c.tmprl.cloud:7233", "namespace": "acme.a1b2c",
                       "api_key": "cloud-key", "tls": True}


def test_an_api_key_without_tls_is_allowed_in_development_and_refused_in_production() -> None:
    development = connect_options(Settings(temporal_api_key="k", temporal_tls=False))
    assert development["tls"] is False
    with pytest.raises(UnsafeConfiguration, match="without TLS") as refused:
        connect_options(Settings(env="production", temporal_api_key="secret-k", temporal_tls=False))
    assert "secret-k" not in str(refused.value)


def test_no_profile_is_read_unless_one_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "elsewhere:7233")
    monkeypatch.setenv("TEMPORAL_API_KEY", "ambient")
    assert load_profile(Settings()) is None
    named = load_profile(Settings(temporal_profile="default"))
    assert named is not None
    assert connect_options(Settings(), named) == {
        "target_host": "elsewhere:7233", "namespace": "default", "api_key": "ambient", "tls": True}


def test_a_profile_fills_in_what_the_o2c_settings_leave_at_their_defaults() -> None:
    assert connect_options(Settings(), profile("cloud")) == {
        "target_host": "acme.a1b2c.tmprl.cloud:7233", "namespace": "acme.a1b2c", "api_key": "profile-key",
        "tls": True}


def test_o2c_settings_that_are_set_win_over_the_profile() -> None:
    options = connect_options(Settings(temporal_namespace="staging", temporal_api_key="o2c-key"), profile("cloud"))
    assert options["target_host"] == "acme.a1b2c.tmprl.cloud:7233"
    assert (options["namespace"], options["api_key"]) == ("staging", "o2c-key")


def test_the_profile_tls_block_is_used_whole_or_replaced_whole(tmp_path: Path) -> None:
    assert connect_options(Settings(), profile("mtls"))["tls"] == TLSConfig(
        domain="frontend.temporal.internal", server_root_ca_cert=b"PROFILE-CA", client_cert=b"PROFILE-CERT",
        client_private_key=b"PROFILE-KEY")
    files = pem_files(tmp_path)
    replaced = connect_options(Settings(temporal_tls_ca_path=files["ca"]), profile("mtls"))
    assert replaced["tls"] == TLSConfig(server_root_ca_cert=b"CA-PEM")
    assert connect_options(Settings(temporal_tls=False), profile("mtls"))["tls"] is False
