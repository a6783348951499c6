"""Orders for the bench and the client that places them: callers that POST, one poller that follows.

A caller sends an order, records the answer and, unless told to wait for the order to finish (single
orders), goes on with the next one. Orders that were accepted or answered 202 are followed by one
poller, which walks the open orders oldest first with `GET /v1/orders/{id}`, one request at a time and
at most once per `poll_interval_s` per order, so following them costs the stack far less than placing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

# Statuses after which the bench stops following an order (needs_attention waits for a human).
FINAL = frozenset({"completed", "rejected", "cancelled", "needs_attention"})
FOLLOWED_ANSWERS = frozenset({"200", "201", "202"})

FIRST_NAMES = ("Ana", "Bruno", "Carla", "Duarte", "Eva", "Filipe", "Gabriela", "Hugo", "Inês", "João")
LAST_NAMES = ("Lima", "Costa", "Sousa", "Ferreira", "Pereira", "Santos", "Oliveira", "Rodrigues")
CITIES = (("Lisboa", "1100-053"), ("Porto", "4000-322"), ("Braga", "4700-035"), ("Faro", "8000-138"))


def order_body(rng: random.Random, order_id: str, index: int, *, sku_prefix: str = "SKU") -> dict[str, Any]:
    """A happy order like the commerce platform sends: 1-2 lines, a loyalty member, points on about a third.

    Each order has its own member (unknown members start with 10,000 points in the sandbox), so
    redemptions never run a member dry however many orders there are.
    """
    skus = rng.sample(range(1, 400), rng.choice((1, 1, 2)))
    lines = [
        {
            "sku": f"{sku_prefix}-{n:04d}",
            "quantity": rng.choice((1, 1, 1, 2, 3)),
            "unit_price": rng.randint(499, 8_999),
        }
        for n in skus
    ]
    total = sum(line["quantity"] * line["unit_price"] for line in lines)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city, postal_code = rng.choice(CITIES)
    return {
        "order_id": order_id,
        "channel": rng.choice(("web", "web", "app", "store")),
        "currency": "EUR",
        "customer": {
            "customer_id": f"C-{order_id}",
            "loyalty_member_id": f"M-{order_id}",
            "email": f"{first.lower()}.{last.lower()}.{index}@example.com",
            "name": f"{first} {last}",
        },
        "shipping_address": {
            "line1": f"Rua Augusta {index % 200 + 1}",
            "city": city,
            "postal_code": postal_code,
            "country": "PT",
        },
        "lines": lines,
        "payment": {"method_token": "tok_visa"},
        "points_to_redeem": rng.randint(100, min(total // 2, 2_000)) if rng.random() < 1 / 3 else 0,
    }


@dataclass
class Placed:
    order_id: str
    body: dict[str, Any]
    sent_at: float | None = None
    answered_at: float | None = None
    answer: str | None = None
    """HTTP status of the POST, or the transport error's name."""
    outcome: str | None = None
    """`completed`, another final status, `refused` or (when the run gave up) `unfinished`."""
    finished_at: float | None = None
    settled: asyncio.Event = field(default_factory=asyncio.Event)

    def finish(self, outcome: str, at: float) -> None:
        self.outcome, self.finished_at = outcome, at
        self.settled.set()

    @property
    def accept_s(self) -> float | None:
        return None if self.sent_at is None or self.answered_at is None else self.answered_at - self.sent_at

    @property
    def complete_s(self) -> float | None:
        if self.outcome != "completed" or self.sent_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.sent_at


class StatusPoller:
    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str], poll_interval_s: float) -> None:
        self.http = http
        self.headers = headers
        self.poll_interval_s = poll_interval_s
        self.open: dict[str, Placed] = {}  # insertion order: oldest first
        self.polls = 0

    def follow(self, placed: Placed) -> None:
        self.open[placed.order_id] = placed

    async def run(self) -> None:
        while True:
            cycle = time.monotonic()
            for placed in list(self.open.values()):
                await self._poll(placed)
            await asyncio.sleep(max(0.0, self.poll_interval_s - (time.monotonic() - cycle)))

    async def _poll(self, placed: Placed) -> None:
        self.polls += 1
        try:
            response = await self.http.get(f"/v1/orders/{placed.order_id}", headers=self.headers)
        except httpx.HTTPError:
            return  # asked again next cycle
        if response.status_code != 200:
            return  # e.g. 503 while the status query cannot be answered: asked again next cycle
        status = response.json().get("status")
        if status in FINAL:
            placed.finish(status, time.monotonic())
            self.open.pop(placed.order_id, None)


class OrderClient:
    """Places orders through the public API, as the commerce platform would."""

    def __init__(self, http: httpx.AsyncClient, api_key: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {api_key}"}

    async def post(self, placed: Placed) -> None:
        placed.sent_at = time.monotonic()
        try:
            response = await self.http.post(
                "/v1/orders",
                json=placed.body,
                headers={**self.headers, "X-Correlation-ID": f"bench-{placed.order_id}"},
            )
            placed.answer = str(response.status_code)
        except httpx.HTTPError as exc:
            placed.answer = type(exc).__name__
        placed.answered_at = time.monotonic()

    async def _caller(self, queue: deque[Placed], poller: StatusPoller, follow: bool, wait_each: bool,
                      deadline: float) -> None:
        while queue and time.monotonic() < deadline:
            order = queue.popleft()
            await self.post(order)
            if order.answer not in FOLLOWED_ANSWERS:
                order.finish("refused", time.monotonic())
            elif follow:
                poller.follow(order)
                if wait_each:
                    await _wait_until(order.settled, deadline)

    async def run(
        self,
        orders: Iterable[Placed],
        *,
        concurrency: int,
        follow: bool,
        wait_each: bool,
        poll_interval_s: float,
        deadline: float,
        progress: Callable[[list[Placed], StatusPoller], None] | None = None,
        progress_every_s: float = 5.0,
    ) -> StatusPoller:
        """Sends every order with `concurrency` callers; with `follow`, waits until each is final or the
        deadline passes (then it is `unfinished`); `wait_each` makes a caller wait for its order first."""
        placed = list(orders)
        queue = deque(placed)
        poller = StatusPoller(self.http, self.headers, poll_interval_s)

        background = [asyncio.create_task(poller.run())]
        if progress is not None:
            background.append(asyncio.create_task(_report(progress, placed, poller, progress_every_s)))
        try:
            callers = min(concurrency, len(placed)) or 1
            await asyncio.gather(*(self._caller(queue, poller, follow, wait_each, deadline) for _ in range(callers)))
            if follow:
                while poller.open and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
        now = time.monotonic()
        for order in placed:
            if order.outcome is None and (follow or order.answer is None):
                order.finish("unfinished", now)
        return poller


async def _report(progress: Callable[[list[Placed], StatusPoller], None], placed: list[Placed],
                  poller: StatusPoller, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        progress(placed, poller)


async def _wait_until(event: asyncio.Event, deadline: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=max(0.0, deadline - time.monotonic()))


def progress_line(label: str, placed: list[Placed], poller: StatusPoller, started: float) -> str:
    answered = Counter(p.answer for p in placed if p.answer is not None)
    done = sum(1 for p in placed if p.outcome == "completed")
    elapsed = time.monotonic() - started
    rate = done / elapsed if elapsed > 0 else 0.0
    return (
        f"{label} {done}/{len(placed)} done, {rate:.1f}/s; answered {sum(answered.values())} "
        f"({answered.get('202', 0)} with 202), following {len(poller.open)}"
    )
