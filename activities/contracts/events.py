"""The outbox: canonical events recorded in the store with one delivery per subscribed endpoint, in
the same transaction; the worker's delivery loop sends them (activities/webhooks.py)."""

from pydantic import BaseModel

from canonical.events import BusinessEvent
from canonical.operations import Operation
from canonical.steps import Done


class RecordEvents(BaseModel):
    events: list[BusinessEvent]


RECORD_EVENTS = Operation("record_events", RecordEvents, Done)
