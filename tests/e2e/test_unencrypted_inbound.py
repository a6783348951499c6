"""In production the worker refuses signals and updates whose payloads the codec did not encrypt (issue 10):
someone who can reach Temporal but has no codec key (the Temporal UI, `temporal workflow signal`, a
client of their own) cannot feed a workflow a value. A real dev server; the worker's data converter is
the one the worker builds from production settings; a small probe workflow stands in for the order."""

import base64
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from deploy.temporal_server import temporal_binary
from runtime.codec import EncryptionCodec
from runtime.settings import CodecKey, Settings
from runtime.temporal import data_converter

pytestmark = [pytest.mark.e2e]


@workflow.defn(sandboxed=False)
class InboundProbe:
    def __init__(self) -> None:
        self.notes: list[str] = []

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: "stop" in self.notes)

    @workflow.signal
    def note(self, text: str) -> None:
        self.notes.append(text)

    @workflow.update
    def add(self, text: str) -> int:
        self.notes.append(text)
        return len(self.notes)

    @workflow.query
    def all(self) -> list[str]:
        return list(self.notes)


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_local(dev_server_existing_path=str(temporal_binary()))
    try:
        yield environment
    finally:
        await environment.shutdown()


class WritesPlain(EncryptionCodec):
    """A client that reads our payloads but writes its own in clear, so the worker's answer can be read."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


def production(address: str) -> Settings:
    key = CodecKey.model_validate({"id": "prod-1", "key": base64.b64encode(os.urandom(32)).decode()})
    return Settings.model_validate({"env": "production", "temporal_address": address, "codec_keys": [key]})


async def test_production_worker_refuses_unencrypted_signals_and_updates(env: WorkflowEnvironment) -> None:
    address = env.client.service_client.config.target_host
    settings = production(address)
    sealed = await Client.connect(address, data_converter=data_converter(settings))
    plain = await Client.connect(address, data_converter=dataclasses.replace(
        data_converter(settings), payload_codec=WritesPlain(settings.codec_keys)))
    worker_client = await Client.connect(address, data_converter=data_converter(settings, worker=True))
    queue = f"probe-{uuid.uuid4().hex[:8]}"
    async with Worker(worker_client, task_queue=queue, workflows=[InboundProbe]):
        handle = await sealed.start_workflow(InboundProbe.run, id=f"probe-{queue}", task_queue=queue,
                                             execution_timeout=timedelta(minutes=2))
        await plain.get_workflow_handle(handle.id).signal(InboundProbe.note, "plain signal")
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await plain.get_workflow_handle(handle.id).execute_update(InboundProbe.add, "plain update")
        assert "unencrypted-refused" in repr(refused.value.cause.__cause__ or refused.value.cause)
        await handle.signal(InboundProbe.note, "sealed signal")
        assert await handle.execute_update(InboundProbe.add, "sealed update") == 2
        assert await handle.query(InboundProbe.all) == ["sealed signal", "sealed update"]
        await handle.signal(InboundProbe.note, "stop")
        await handle.result()


async def test_a_development_worker_still_takes_them(env: WorkflowEnvironment) -> None:
    """The local stack's UI may signal a workflow by hand; only production refuses."""
    address = env.client.service_client.config.target_host
    settings = Settings(temporal_address=address)
    worker_client = await Client.connect(address, data_converter=data_converter(settings, worker=True))
    queue = f"probe-{uuid.uuid4().hex[:8]}"
    async with Worker(worker_client, task_queue=queue, workflows=[InboundProbe]):
        sealed = await Client.connect(address, data_converter=data_converter(settings))
        handle = await sealed.start_workflow(InboundProbe.run, id=f"probe-{queue}", task_queue=queue,
                                             execution_timeout=timedelta(minutes=2))
        plain = await Client.connect(address, data_converter=dataclasses.replace(
            data_converter(settings), payload_codec=WritesPlain(settings.codec_keys)))
        assert await plain.get_workflow_handle(handle.id).execute_update(InboundProbe.add, "by hand") == 1
        await handle.signal(InboundProbe.note, "stop")
        await handle.result()
