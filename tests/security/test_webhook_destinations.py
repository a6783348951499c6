"""Outbound delivery attempts against hostile receivers (issue 10): the delivery loop's sender, in process,
with a real SQLite store and real sockets.

- A destination that is not allowed gets nothing, even when it got into the store without registration
  (an endpoint from before the check, or a name that resolves elsewhere now: DNS rebinding).
- A 300 MiB answer is not read: at most 1 KiB is kept and the receiver cannot push the rest.
- A receiver that drips its answer one byte at a time is cut off by the attempt's one deadline.
- What is recorded is an error category, never the network library's wording.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from activities.guarded_network import DestinationRefused, GuardedBackend
from activities.store_executor import StoreExecutor
from activities.webhooks import WebhookSender
from canonical.events import BusinessEvent
from canonical.outbound_urls import DestinationPolicy, IPAddress
from runtime.settings import Settings
from store import migrate
from store.engine import Store
from store.secret_box import SecretBox
from store.webhooks import WebhookRepository

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
MIB = 1024 * 1024
Handler = Callable[["Receiver", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Receiver:
    """A local HTTP/1.1 receiver whose answer is `handler`; counts connections and bytes it pushed."""

    handler: Handler
    connections: int = 0
    pushed: int = 0
    server: asyncio.AbstractServer | None = field(default=None, repr=False)

    async def start(self) -> "Receiver":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            await self.handler(self, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def flood(r: Receiver, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    total = 300 * MIB
    writer.write(f"HTTP/1.1 200 OK\r\ncontent-length: {total}\r\n\r\n".encode())
    chunk = b"x" * (64 * 1024)
    while r.pushed < total:
        writer.write(chunk)
        await writer.drain()
        r.pushed += len(chunk)


async def drip(r: Receiver, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 40\r\n\r\n")
    for _ in range(40):  # 40 bytes over 12 s, each well within a per-read timeout
        writer.write(b".")
        await writer.drain()
        r.pushed += 1
        await asyncio.sleep(0.3)


async def answer_ok(r: Receiver, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
    await writer.drain()


@pytest.fixture
async def receivers() -> AsyncIterator[dict[str, Receiver]]:
    made = {name: await Receiver(handler).start() for name, handler in
            (("flood", flood), ("drip", drip), ("ok", answer_ok))}
    yield made
    for r in made.values():
        assert r.server is not None
        r.server.close()


@pytest.fixture
def settings(tmp_path: Path, receivers: dict[str, Receiver]) -> Iterator[Settings]:
    s = Settings(database_url=f"sqlite:///{tmp_path}/o2c.db", webhook_delivery_timeout_s=1.0,
                 webhook_allowed_hosts=[f"127.0.0.1:{r.port}" for r in receivers.values()])
    migrate.upgrade(s.store_url())
    yield s


async def attempt(settings: Settings, url: str, n: int) -> dict[str, object]:
    """Register `url` straight in the store (as an endpoint from before the checks would be), record an
    event for it and make one attempt; returns the delivery's row."""
    endpoint_id = f"ep_{n}"
    store = Store(settings.store_url())
    try:
        with store.writing() as session:
            repo = WebhookRepository(session)
            repo.create_endpoint(endpoint_id=endpoint_id, url=url, event_types=["order.completed"],
                                 sealed_secret=SecretBox(settings.webhook_secret_keys).seal(
                                     "whsec_c2VjcmV0c2VjcmV0c2VjcmV0", endpoint_id), at=T0)
            [row] = repo.record_event(BusinessEvent(type="order.completed", id=f"evt-{n}", occurred_at=T0,
                                                    order_id="O-1", correlation_id="c", data={}), T0)
            [claim] = repo.claim_due(T0, T0, 1)
        executor = StoreExecutor(settings.store_url())
        sender = WebhookSender(settings.model_copy(update={"webhook_retry_schedule_s": [0.0, 5.0]}), executor)
        try:
            await sender.attempt(claim)
        finally:
            await sender.aclose()
            executor.close()
        with store.reading() as session:
            stored = WebhookRepository(session).delivery(row.delivery_id)
            assert stored is not None
            outcome = {"delivered": "delivered", "pending": "retry", "failed": "failed"}[stored.status]
            return {"outcome": outcome, "status_code": stored.last_status_code,
                    "response": stored.last_response, "error": stored.last_error, "status": stored.status}
    finally:
        store.dispose()


async def test_an_allowed_receiver_still_gets_its_event(settings: Settings, receivers: dict[str, Receiver]) -> None:
    row = await attempt(settings, f"http://127.0.0.1:{receivers['ok'].port}/hook", 1)
    assert (row["outcome"], row["status_code"], row["response"], row["error"]) == ("delivered", 200, "ok", None)


async def test_a_stored_internal_url_gets_nothing(tmp_path: Path, receivers: dict[str, Receiver]) -> None:
    """Without an allowlist entry, the loopback receiver is refused at attempt time, before connecting."""
    s = Settings(database_url=f"sqlite:///{tmp_path}/o2c.db", webhook_delivery_timeout_s=1.0)
    migrate.upgrade(s.store_url())
    row = await attempt(s, f"http://127.0.0.1:{receivers['ok'].port}/hook", 2)
    assert receivers["ok"].connections == 0
    assert (row["outcome"], row["status"], row["error"], row["response"]) == (
        "failed", "failed", "destination_refused", None)


async def test_a_300_mib_answer_is_not_read(settings: Settings, receivers: dict[str, Receiver]) -> None:
    row = await attempt(settings, f"http://127.0.0.1:{receivers['flood'].port}/hook", 3)
    assert row["status_code"] == 200 and isinstance(row["response"], str)
    assert len(row["response"].encode()) <= 1024
    # The receiver could push what the socket buffers hold, never the 300 MiB.
    assert receivers["flood"].pushed < 32 * MIB, f"{receivers['flood'].pushed} bytes were taken"


async def test_a_drip_is_cut_off_by_the_attempt_deadline(settings: Settings, receivers: dict[str, Receiver]) -> None:
    started = time.monotonic()
    row = await attempt(settings, f"http://127.0.0.1:{receivers['drip'].port}/hook", 4)
    took = time.monotonic() - started
    assert (row["outcome"], row["error"]) == ("retry", "timeout")
    assert took < 6.0, f"the attempt lasted {took:.1f}s with a 1 s deadline (the drip lasts 12 s)"


async def test_errors_are_categories_not_the_library_wording(settings: Settings,
                                                             receivers: dict[str, Receiver]) -> None:
    closed = receivers["ok"]
    assert closed.server is not None
    port = closed.port
    closed.server.close()
    await closed.server.wait_closed()
    row = await attempt(settings, f"http://127.0.0.1:{port}/hook", 5)
    assert (row["outcome"], row["error"], row["status_code"]) == ("retry", "unreachable", None)


def resolver_answering(address: str) -> Callable[[str, int], Awaitable[list[IPAddress]]]:
    import ipaddress

    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(address)]

    return resolve


async def test_a_name_that_resolves_inside_at_connect_time_is_refused(receivers: dict[str, Receiver]) -> None:
    """DNS rebinding: the check is on the address the socket would go to, whatever the URL said."""
    backend = GuardedBackend(DestinationPolicy(), resolver=resolver_answering("127.0.0.1"))
    with pytest.raises(DestinationRefused, match="loopback"):
        await backend.connect_tcp("rebind.attacker.test", receivers["ok"].port)
    for inside in ("169.254.169.254", "10.1.2.3", "::ffff:192.168.0.1", "fd00:ec2::254"):
        with pytest.raises(DestinationRefused):
            await GuardedBackend(DestinationPolicy(), resolver=resolver_answering(inside)).connect_tcp("x.test", 80)
    assert receivers["ok"].connections == 0
    allowed = DestinationPolicy.of([f"127.0.0.1:{receivers['ok'].port}"], https_only=False)
    stream = await GuardedBackend(allowed, resolver=resolver_answering("127.0.0.1")).connect_tcp(
        "rebind.attacker.test", receivers["ok"].port)
    await stream.aclose()
