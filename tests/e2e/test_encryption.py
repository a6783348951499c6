"""No personal data sits in clear in Temporal (design §9): the raw history of an order, read by a client
without the codec, holds neither the customer's name, e-mail or address nor the card token, and not in
failure messages either; with the codec it decodes fully; rotating keys keeps old histories readable.
"""

import asyncio
import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import TEST_ENV, Stack, make_stack, order
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, SearchAttributes
from temporalio.api.history.v1 import History, MarkerRecordedEventAttributes
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from canonical.saga import OrderInput, workflow_id
from deploy.stack import LocalStack
from runtime.codec import ENCODING, KEY_ID, CodecError
from runtime.settings import CodecKey, Settings
from runtime.temporal import connect

LOCAL_ACTIVITY_MARKER = "core_local_activity"

pytestmark = [pytest.mark.e2e]

PERSONAL = [b"Ana Lima", b"ana.lima@example.com", b"Rua Augusta", b"1100-053", b"Lisboa"]


def payloads_in(message: Message) -> Iterator[Payload]:
    """Every payload in a history event, except search attributes (indexed in clear by design) and a
    local activity marker's own bookkeeping (the SDK's: activity type and id, attempt, times; no order
    data, which the whole-history byte scan still checks), whose result payload is encrypted like any."""
    if isinstance(message, SearchAttributes):
        return
    if isinstance(message, MarkerRecordedEventAttributes) and message.marker_name == LOCAL_ACTIVITY_MARKER:
        yield from (p for key, payloads in message.details.items() if key != "data" for p in payloads.payloads)
        return
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            items = [v for v in value.values() if isinstance(v, Message)]
        else:
            items = list(value) if field.is_repeated else [value]
        for item in items:
            yield from payloads_in(item)


async def raw_history(client: Client, order_id: str) -> History:
    history = await client.get_workflow_handle(workflow_id(order_id)).fetch_history()
    return History(events=history.events)


def no_codec_client(local: LocalStack) -> Any:
    return Client.connect(
        local.temporal_address,
        namespace=local.settings.temporal_namespace,
        data_converter=pydantic_data_converter,  # what anyone reading Temporal's storage sees
    )


async def test_raw_history_holds_no_personal_data_and_no_card_token(
    stack: Stack, local_stack: LocalStack, temporal: Client
) -> None:
    accepted = order(token="tok_visa")
    declined = order(token="tok_decline")
    assert (await stack.place(accepted)).status_code == 201
    assert (await stack.place(declined)).status_code == 402
    await stack.wait_status(accepted["order_id"], "completed")
    view = await stack.wait_status(declined["order_id"], "rejected")
    assert "declined" in view["steps"][-1]["error"]  # the API decodes the encrypted failure for support

    raw_client = await no_codec_client(local_stack)
    failures = 0
    for body in (accepted, declined):
        history = await raw_history(raw_client, body["order_id"])
        stored = history.SerializeToString()
        for secret in [*PERSONAL, body["payment"]["method_token"].encode()]:
            assert secret not in stored, f"{secret!r} in clear in the history of {body['order_id']}"
        payloads = list(payloads_in(history))
        assert payloads and all(p.metadata["encoding"] == ENCODING for p in payloads)
        for event in history.events:
            failure = None
            if event.HasField("activity_task_failed_event_attributes"):
                failure = event.activity_task_failed_event_attributes.failure
            elif event.marker_recorded_event_attributes.HasField("failure"):  # a failed local activity
                failure = event.marker_recorded_event_attributes.failure
            if failure is not None:
                assert (failure.message, failure.stack_trace) == ("Encoded failure", "")
                failures += 1
    assert failures, "the declined order should have recorded a failed activity"

    # The same histories through the codec: every payload decrypts, and the order is all there.
    codec = temporal.data_converter.payload_codec
    assert codec is not None
    for body in (accepted, declined):
        history = await raw_history(temporal, body["order_id"])
        decoded = await codec.decode(list(payloads_in(history)))
        assert not any(p.metadata.get("encoding") == ENCODING for p in decoded)
        clear = b"".join(p.data for p in decoded)
        assert (
            all(secret in clear for secret in PERSONAL) and body["payment"]["method_token"].encode() in clear
        )
        started = history.events[0].workflow_execution_started_event_attributes
        [inp] = await temporal.data_converter.decode(started.input.payloads, [OrderInput])
        assert inp.order.customer.name == "Ana Lima"
        for event in history.events:
            if event.HasField("activity_task_failed_event_attributes"):
                error = await temporal.data_converter.decode_failure(
                    event.activity_task_failed_event_attributes.failure
                )
                assert "declined" in str(error)


def key(key_id: str) -> CodecKey:
    return CodecKey(id=key_id, key=base64.b64encode(os.urandom(32)).decode())


def keys_env(*keys: CodecKey) -> str:
    return json.dumps([{"id": k.id, "key": k.key.get_secret_value()} for k in keys])


async def test_rotating_keys_keeps_old_histories_readable(tmp_path: Path) -> None:
    """An order started under key A finishes after a restart with [B, A]: the worker replays A's history,
    writes new payloads with B, and anyone with [B, A] reads both; without A they are unreadable."""
    old, new = key("test-a"), key("test-b")
    body = order([("HOLD-ROT", 1, 3000)])
    before = make_stack(tmp_path, O2C_CODEC_KEYS=keys_env(old))
    s = before.settings
    # Same data dir and ports: the same Temporal database and sandbox, restarted with the new keys.
    after = LocalStack(
        Settings(),
        data_dir=tmp_path,
        api_port=s.api_port,
        sandbox_port=s.sandbox_port,
        temporal_port=s.temporal_port,
        temporal_ui_port=s.temporal_ui_port,
        worker_metrics_ports=before.worker_metrics_ports,
        env={**TEST_ENV, "O2C_CODEC_KEYS": keys_env(new, old)},
    )
    assert [k.id for k in after.settings.codec_keys] == ["test-b", "test-a"]
    clients = Stack(before.api_url, before.sandbox_url)
    try:
        await asyncio.to_thread(before.start)
        try:
            assert (await clients.place(body)).status_code == 201
            await clients.wait_ledger(body["order_id"], "fulfillment.request")
        finally:
            await asyncio.to_thread(before.stop)
        await asyncio.to_thread(after.start)
        await clients.release_hold(body["order_id"])
        await clients.wait_status(body["order_id"], "completed")

        rotated = await connect(after.settings)
        history = await raw_history(rotated, body["order_id"])
        payloads = list(payloads_in(history))
        assert {p.metadata[KEY_ID] for p in payloads} == {b"test-a", b"test-b"}
        assert rotated.data_converter.payload_codec is not None
        await rotated.data_converter.payload_codec.decode(payloads)

        dropped_too_early = await connect(after.settings.model_copy(update={"codec_keys": [new]}))
        assert dropped_too_early.data_converter.payload_codec is not None
        with pytest.raises(CodecError, match="test-a"):
            await dropped_too_early.data_converter.payload_codec.decode(payloads)
    finally:
        await clients.aclose()
        await asyncio.to_thread(after.stop)
