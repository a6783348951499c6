"""Secrets the store keeps are sealed (design §9): AES-256-GCM under O2C_WEBHOOK_SECRET_KEYS.

The first key seals, every listed key opens, so keys rotate like the codec's. A sealed value names
its key and is bound to its row (`context`, e.g. the endpoint id): copied onto another row, it no
longer opens. Stored as text:

    sealed:v1:<key id>:<base64 of nonce (12 bytes) || ciphertext and tag>
"""

import base64
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from runtime.settings import CodecKey

PREFIX = "sealed:v1:"
NONCE_BYTES = 12


class SecretBoxError(ValueError):
    """A value cannot be opened; messages name key ids, never key material or the secret."""


class SecretBox:
    def __init__(self, keys: Sequence[CodecKey]) -> None:
        if not keys:
            raise SecretBoxError("at least one key is required (O2C_WEBHOOK_SECRET_KEYS)")
        try:
            self._ciphers = {k.id: AESGCM(k.material()) for k in keys}
        except ValueError as err:
            raise SecretBoxError(f"O2C_WEBHOOK_SECRET_KEYS: {err}") from None
        self._sealing_key = keys[0].id

    def seal(self, plain: str, context: str) -> str:
        key_id = self._sealing_key
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, plain.encode(), _associated(key_id, context))
        return f"{PREFIX}{key_id}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, context: str) -> str:
        if not sealed.startswith(PREFIX):
            raise SecretBoxError("not a sealed value")
        key_id, _, data = sealed[len(PREFIX):].partition(":")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise SecretBoxError(f"sealed with key {key_id!r}, which O2C_WEBHOOK_SECRET_KEYS does not hold")
        raw = base64.b64decode(data)
        try:
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated(key_id, context)).decode()
        except InvalidTag:
            raise SecretBoxError(f"a value sealed with key {key_id!r} fails authentication") from None


def _associated(key_id: str, context: str) -> bytes:
    return f"{key_id}\n{context}".encode()
