"""How the API, the worker and the tools reach Temporal: one place for address and data converter.

Every payload is encrypted by the codec in workflows/codec.py (keys: O2C_CODEC_KEYS), and failure
messages and stack traces travel inside an encrypted payload too, so nothing personal sits in clear
in Temporal's storage.
"""

from temporalio.client import Client

from canonical.settings import Settings
from workflows.codec import encrypted_data_converter


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=encrypted_data_converter(settings.codec_keys),
    )
