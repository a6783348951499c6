"""How the API, the worker and the tools reach Temporal: one place for the connection (address, namespace,
TLS, API key: runtime/temporal_connection.py) and the data converter.

Every payload is encrypted by the codec in runtime/codec.py (keys: O2C_CODEC_KEYS), and failure
messages and stack traces travel inside an encrypted payload too, so nothing personal sits in clear
in Temporal's storage.
"""

import structlog
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from runtime.codec import encrypted_data_converter
from runtime.settings import Settings
from runtime.temporal_connection import connect_options, load_profile, uses_tls
from runtime.tracing import temporal_interceptors

log = structlog.get_logger("o2c.temporal")


def data_converter(settings: Settings, *, worker: bool = False) -> DataConverter:
    """In production the worker takes no unencrypted signal, update or query argument: only a holder of
    a codec key can give a workflow a value (runtime/codec.py)."""
    refuse = worker and settings.env == "production"
    return encrypted_data_converter(settings.codec_keys, refuse_unencrypted=refuse)


async def connect(settings: Settings, *, worker: bool = False, runtime: Runtime | None = None) -> Client:
    """`runtime`: the worker's, which serves its metrics (runtime/metrics.py); the SDK's default otherwise."""
    options = connect_options(settings, load_profile(settings))
    if settings.env == "production" and not uses_tls(options):
        # Legitimate for a cluster-internal Temporal; said once per client so it is a choice, not an accident.
        log.warning("temporal.plaintext_in_production", target=options["target_host"])
    return await Client.connect(
        **options,
        data_converter=data_converter(settings, worker=worker),
        runtime=runtime,
        # Tracing spans and context in headers when this process traces (runtime/tracing.py); a worker's client
        # hands them on to its workflows and activities.
        interceptors=temporal_interceptors(),
    )
