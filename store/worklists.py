"""What on-call works through on the ops page: ERP postings not yet posted, oldest first, and webhook
deliveries that failed, newest first. Reads only; bounded lists, never the whole table."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import ErpPosting, WebhookDelivery

UNPOSTED = ("pending", "retrying")


def unposted_postings(session: Session, limit: int) -> list[ErpPosting]:
    query = select(ErpPosting).where(ErpPosting.status.in_(UNPOSTED)).order_by(ErpPosting.id).limit(limit)
    return list(session.scalars(query))


def failed_deliveries(session: Session, limit: int) -> list[WebhookDelivery]:
    query = (select(WebhookDelivery).where(WebhookDelivery.status == "failed")
             .order_by(WebhookDelivery.id.desc()).limit(limit))
    return list(session.scalars(query))
