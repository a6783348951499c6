"""What is waiting to go out: ERP postings not yet booked and webhook deliveries not yet delivered.

Read by the worker's backlog gauges and by the ops views. Each figure is a COUNT or MIN over one status
(or two), served by the (status, …) indexes of both tables, and the waiting rows are few next to the
booked or delivered ones, so a read stays cheap however large the history grows.
"""

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from store.models import ErpPosting, WebhookDelivery

_UNPOSTED = ("pending", "retrying")


class Backlog(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    erp_postings_pending: int
    """ERP postings not tried yet."""
    erp_postings_retrying: int
    """ERP postings that failed and are retried."""
    erp_oldest_unposted_at: datetime | None
    """created_at of the oldest posting still pending or retrying; None when there is none."""
    webhook_deliveries_pending: int
    """Outbound webhook deliveries waiting to be sent or retried."""
    webhook_deliveries_failed: int
    """Outbound webhook deliveries that gave up (retry them by hand)."""


def _counts_by_status(
    db: Connection | Session, status: InstrumentedAttribute[str], statuses: tuple[str, ...]
) -> dict[str, int]:
    rows = db.execute(select(status, func.count()).where(status.in_(statuses)).group_by(status))
    counts = {name: 0 for name in statuses}
    counts.update({name: int(n) for name, n in rows})
    return counts


def read_backlog(engine: Engine) -> Backlog:
    """One snapshot, on one connection."""
    with engine.connect() as connection:
        return backlog_of(connection)


def backlog_of(db: Connection | Session) -> Backlog:
    """The same, on a connection or session the caller holds (the worker's store executor)."""
    postings = _counts_by_status(db, ErpPosting.status, _UNPOSTED)
    oldest = db.execute(select(func.min(ErpPosting.created_at)).where(ErpPosting.status.in_(_UNPOSTED))).scalar_one()
    deliveries = _counts_by_status(db, WebhookDelivery.status, ("pending", "failed"))
    return Backlog(
        erp_postings_pending=postings["pending"],
        erp_postings_retrying=postings["retrying"],
        erp_oldest_unposted_at=oldest,
        webhook_deliveries_pending=deliveries["pending"],
        webhook_deliveries_failed=deliveries["failed"],
    )
