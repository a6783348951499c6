"""The payload codec (runtime/codec.py): AES-GCM per payload, key id in metadata, rotation."""

import base64
import json

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from runtime.codec import ENCODING, KEY_ID, CodecError, EncryptionCodec, encrypted_data_converter
from runtime.settings import DEV_CODEC_KEY, CodecKey, Settings

PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"name":"Ana Lima","email":"ana@example.com"}')


def key(key_id: str, fill: int) -> CodecKey:
    return CodecKey(id=key_id, key=base64.b64encode(bytes([fill]) * 32).decode())


A, B = key("a", 1), key("b", 2)


async def test_round_trip_with_the_key_id_in_the_metadata() -> None:
    codec = EncryptionCodec([A])
    [sealed] = await codec.encode([PLAIN])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == b"a"
    assert b"Ana" not in sealed.SerializeToString() and b"json/plain" not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [PLAIN]


async def test_each_encryption_uses_a_fresh_nonce() -> None:
    codec = EncryptionCodec([A])
    first, second = await codec.encode([PLAIN, PLAIN])
    assert first.data[:12] != second.data[:12] and first.data != second.data


async def test_the_newest_key_encrypts_and_every_key_decrypts() -> None:
    [under_a] = await EncryptionCodec([A]).encode([PLAIN])
    rotated = EncryptionCodec([B, A])
    [under_b] = await rotated.encode([PLAIN])
    assert under_b.metadata[KEY_ID] == b"b"
    assert await rotated.decode([under_a, under_b]) == [PLAIN, PLAIN]


async def test_an_unknown_key_id_is_a_clear_error() -> None:
    [under_a] = await EncryptionCodec([A]).encode([PLAIN])
    with pytest.raises(CodecError, match=r"key 'a', which is not configured \(O2C_CODEC_KEYS has b\)"):
        await EncryptionCodec([B]).decode([under_a])


async def test_altered_data_or_a_relabelled_key_id_fails_authentication() -> None:
    codec = EncryptionCodec([A, key("a2", 1)])  # same material under another id
    [sealed] = await codec.encode([PLAIN])
    tampered = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID: b"a2"}, data=sealed.data)
    for bad in (tampered, relabelled):
        with pytest.raises(CodecError, match="fails authentication"):
            await codec.decode([bad])


async def test_payloads_that_are_not_encrypted_pass_through_decode() -> None:
    assert await EncryptionCodec([A]).decode([PLAIN]) == [PLAIN]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([], "at least one codec key"),
        ([CodecKey(id="x", key="not base64!")], "'x' is not standard base64"),
        ([CodecKey(id="x", key=base64.b64encode(b"short").decode())], "must be 32 bytes"),
        ([A, key("a", 3)], "must be unique"),
    ],
)
def test_misconfigured_keys_are_refused_without_showing_them(keys: list[CodecKey], message: str) -> None:
    with pytest.raises(CodecError, match=message) as raised:
        EncryptionCodec(keys)
    assert not any(k.key.get_secret_value() in str(raised.value) for k in keys)


def test_keys_come_from_o2c_codec_keys_newest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    as_env = [{"id": k.id, "key": k.key.get_secret_value()} for k in (B, A)]
    monkeypatch.setenv("O2C_CODEC_KEYS", json.dumps(as_env))
    assert Settings().codec_keys == [B, A]
    assert A.key.get_secret_value() not in repr(Settings())
    monkeypatch.delenv("O2C_CODEC_KEYS")
    assert Settings().codec_keys == [DEV_CODEC_KEY]


async def test_failure_messages_and_stack_traces_are_encrypted_too() -> None:
    converter = encrypted_data_converter([A])
    failure = Failure()
    try:
        raise ApplicationError("card of Ana Lima declined", type="CardDeclined")
    except ApplicationError as err:
        await converter.encode_failure(err, failure)
    assert b"Ana" not in failure.SerializeToString()
    assert failure.message == "Encoded failure" and failure.stack_trace == ""
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING
    decoded = await converter.decode_failure(failure)
    assert isinstance(decoded, ApplicationError) and decoded.message == "card of Ana Lima declined"
    assert decoded.type == "CardDeclined"  # the type stays readable: the API maps it to a problem


async def test_the_production_worker_codec_turns_unencrypted_payloads_into_unreadable_ones() -> None:
    from temporalio.contrib.pydantic import pydantic_data_converter

    from runtime.codec import REFUSED

    strict = EncryptionCodec([A], refuse_unencrypted=True)
    [sealed] = await strict.encode([PLAIN])
    [refused, opened] = await strict.decode([PLAIN, sealed])
    assert refused.metadata["encoding"] == REFUSED and refused.data == b"" and opened == PLAIN
    with pytest.raises(KeyError, match="unencrypted-refused"):
        pydantic_data_converter.payload_converter.from_payloads([refused])
