"""The marketing role: hand one canonical business event to the marketing tool, for its customer.

Delivered through the outbox like webhooks (activities/webhooks.py): the sender claims the delivery,
calls `track` once per attempt and records the answer, so the retry schedule, the failed-with-last-answer
state and the vendor health figures (vendor `marketing`) are those of every other delivery.
"""

from typing import Protocol

from activities.contracts.marketing import PostOutcome
from canonical.events import BusinessEvent


class MarketingTracker(Protocol):
    async def track(self, event: BusinessEvent) -> PostOutcome:
        """One attempt; `destination_refused` when the event cannot be tracked at all (nothing was sent)."""
        ...

    async def aclose(self) -> None: ...
