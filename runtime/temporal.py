"""How the API, the worker and the tools reach Temporal: one place for address and data converter.

Every payload is encrypted by the codec in runtime/codec.py (keys: O2C_CODEC_KEYS), and failure
messages and stack traces travel inside an encrypted payload too, so nothing personal sits in clear
in Temporal's storage.
"""

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from runtime.codec import encrypted_data_converter
from runtime.settings import Settings


def data_converter(settings: Settings, *, worker: bool = False) -> DataConverter:
    """In production the worker takes no unencrypted signal, update or query argument: only a holder of
    a codec key can give a workflow a value (runtime/codec.py)."""
    refuse = worker and settings.env == "production"
    return encrypted_data_converter(settings.codec_keys, refuse_unencrypted=refuse)


async def connect(settings: Settings, *, worker: bool = False, runtime: Runtime | None = None) -> Client:
    """`runtime`: the worker's, which serves its metrics (runtime/metrics.py); the SDK's default otherwise."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings, worker=worker),
        runtime=runtime,
    )
