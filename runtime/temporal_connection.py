"""Where and how the Temporal client connects: address, namespace, TLS, mTLS and API key.

Two sources, composed (README "Deploying"):
- a Temporal client profile (temporalio.envconfig: the TOML file at TEMPORAL_CONFIG_FILE or
  ~/.config/temporalio/temporal.toml, overridden by TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
  TEMPORAL_API_KEY, TEMPORAL_TLS*, ...), read only when O2C_TEMPORAL_PROFILE names one, so a
  developer's own Temporal CLI configuration never reaches the local stack;
- the O2C_TEMPORAL_* settings.
An O2C setting that is set wins over the profile; the profile wins over an O2C default. TLS is taken
whole from one source: any O2C_TEMPORAL_TLS* setting replaces the profile's TLS block, so a CA from
one place is never paired with a client key from another. An API key with no TLS configured turns
TLS on (Temporal Cloud).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio.envconfig import ClientConfigProfile
from temporalio.service import TLSConfig

from runtime.settings import Settings, UnsafeConfiguration

TLS_FIELDS = (
    "temporal_tls", "temporal_tls_ca_path", "temporal_tls_cert_path", "temporal_tls_key_path",
    "temporal_tls_server_name",
)


def load_profile(settings: Settings) -> ClientConfigProfile | None:
    """The envconfig profile O2C_TEMPORAL_PROFILE names (file plus TEMPORAL_* variables), else None.

    `default` is Temporal's own choice (TEMPORAL_PROFILE, else the file's `default` profile) and may be
    absent from the file, so TEMPORAL_* variables alone configure it; any other name must be in the file."""
    if settings.temporal_profile is None:
        return None
    name = settings.temporal_profile
    return ClientConfigProfile.load(profile=None if name == "default" else name)


def connect_options(settings: Settings, profile: ClientConfigProfile | None = None) -> dict[str, Any]:
    """The keyword arguments `Client.connect` is given: target_host, namespace, tls, and api_key and
    rpc_metadata when there are any. Reads the certificate files it names (so a missing one fails
    here, by its setting's path, rather than inside the SDK)."""
    base: dict[str, Any] = dict(profile.to_client_connect_config()) if profile else {}
    options: dict[str, Any] = {
        "target_host": _pick("temporal_address", "target_host", settings, base),
        "namespace": _pick("temporal_namespace", "namespace", settings, base),
    }
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else base.get("api_key")
    # By value, not by model_fields_set: a Settings rebuilt from a full dump (the local stack does) has
    # every field "set", and an unset TLS option must still mean "not configured here".
    if any(getattr(settings, name) is not None for name in TLS_FIELDS):
        tls: bool | TLSConfig = _settings_tls(settings)
    else:
        tls = base.get("tls", bool(api_key))  # Temporal Cloud: an API key alone means TLS with system roots
    if api_key:
        options["api_key"] = api_key
        if tls is False and settings.env == "production":
            raise UnsafeConfiguration("O2C_ENV=production refuses to send a Temporal API key without TLS")
    options["tls"] = tls
    if base.get("rpc_metadata"):
        options["rpc_metadata"] = dict(base["rpc_metadata"])
    return options


def uses_tls(options: dict[str, Any]) -> bool:
    return options.get("tls") not in (None, False)


def _pick(field: str, key: str, settings: Settings, base: dict[str, Any]) -> Any:
    if field in settings.model_fields_set or key not in base:
        return getattr(settings, field)
    return base[key]


def _settings_tls(settings: Settings) -> bool | TLSConfig:
    if settings.temporal_tls is False:
        return False
    cert, key = settings.temporal_tls_cert_path, settings.temporal_tls_key_path
    if (cert is None) != (key is None):
        raise ValueError("mTLS needs both O2C_TEMPORAL_TLS_CERT_PATH and O2C_TEMPORAL_TLS_KEY_PATH")
    if not (settings.temporal_tls_ca_path or settings.temporal_tls_server_name or cert):
        return True  # the system's roots, the address's host name
    return TLSConfig(
        server_root_ca_cert=_read(settings.temporal_tls_ca_path),
        domain=settings.temporal_tls_server_name,
        client_cert=_read(cert),
        client_private_key=_read(key),
    )


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None
