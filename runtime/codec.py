"""The payload codec: every payload o2c writes to Temporal is encrypted with AES-256-GCM (design §9).

It is part of the data converter runtime/temporal.py gives everyone who reaches Temporal (worker, API,
tools, tests). Workflow code never imports it: payloads are encoded and decoded outside workflow code.

Each payload is serialized whole (metadata and data) and sealed with a random 12-byte nonce:

    metadata: {"encoding": "binary/encrypted", "encryption-key-id": "<key id>"}
    data:     nonce (12 bytes) || AES-GCM ciphertext and tag

The key id is bound to the ciphertext as associated data, so relabelling a payload with another key id
fails authentication. Several keys may be configured (O2C_CODEC_KEYS, newest first): the first one
encrypts, any of them decrypts, which is how keys are rotated without losing old histories. Payloads
that are not ours (no "binary/encrypted" encoding, e.g. a signal typed into the Temporal UI) pass
through decode unchanged, except in the production worker (`refuse_unencrypted`): there they decode to a
payload of encoding REFUSED, which no payload converter reads, so the SDK drops such a signal, rejects
such an update and fails such a query, and the workflow never sees a value nobody with a key wrote.

Search attributes are not payloads Temporal lets a codec touch: they are indexed in clear, so they
must never hold personal data (ours hold ids, status, channel, total and currency only).
"""

import dataclasses
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from runtime.settings import CodecKey

ENCODING = b"binary/encrypted"
REFUSED = b"binary/unencrypted-refused"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class CodecError(ValueError):
    """A payload cannot be decrypted, or the keys are misconfigured. Messages never contain key material."""


def key_material(key: CodecKey) -> bytes:
    try:
        return key.material()
    except ValueError as err:
        raise CodecError(f"codec {err}") from None


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Sequence[CodecKey], *, refuse_unencrypted: bool = False) -> None:
        if not keys:
            raise CodecError("at least one codec key is required (O2C_CODEC_KEYS)")
        ids = [k.id for k in keys]
        if len(set(ids)) != len(ids):
            raise CodecError(f"codec key ids must be unique, got {ids}")
        self.encrypting_key_id = keys[0].id
        self.refuse_unencrypted = refuse_unencrypted
        self._ciphers = {k.id: AESGCM(key_material(k)) for k in keys}

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) if p.metadata.get("encoding") == ENCODING else self._unencrypted(p)
                for p in payloads]

    def _unencrypted(self, payload: Payload) -> Payload:
        return Payload(metadata={"encoding": REFUSED}) if self.refuse_unencrypted else payload

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.encrypting_key_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(KEY_ID, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecError(
                f"payload is encrypted with key {key_id!r}, which is not configured "
                f"(O2C_CODEC_KEYS has {', '.join(self.key_ids)}); add it back to decrypt"
            )
        data = payload.data
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise CodecError(
                f"payload encrypted with key {key_id!r} fails authentication: "
                "the key material differs from the one that encrypted it, or the data was altered"
            ) from None
        return Payload.FromString(plain)


def encrypted_data_converter(keys: Sequence[CodecKey], *, refuse_unencrypted: bool = False) -> DataConverter:
    """pydantic payloads, encrypted, with failure messages and stack traces moved into an encrypted payload."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keys, refuse_unencrypted=refuse_unencrypted),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
