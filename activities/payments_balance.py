"""The payment provider's balance transactions (Stripe's /v1/balance_transactions shape): every
capture and refund that moved money, for reconciliation. Refunds come negative, as at Stripe; the
facts handed on are positive amounts with a flow."""

from datetime import UTC, datetime
from math import ceil, floor
from typing import Literal

from pydantic import BaseModel

from activities.vendor_http import parse
from activities.vendor_lists import read_all
from canonical.reconciliation import MoneyMovement, Period

VENDOR = "payments"


class _Metadata(BaseModel):
    order_id: str | None = None
    reference: str | None = None


class _BalanceTransaction(BaseModel):
    id: str
    amount: int
    currency: str
    created: int
    type: Literal["charge", "refund"]
    source: str
    metadata: _Metadata = _Metadata()


def _movement(txn: _BalanceTransaction) -> MoneyMovement:
    return MoneyMovement(
        flow="charge" if txn.type == "charge" else "refund",
        source_id=txn.source,
        order_id=txn.metadata.order_id,
        reference=txn.metadata.reference or txn.source,
        amount=abs(txn.amount),
        currency=txn.currency.upper(),
        at=datetime.fromtimestamp(txn.created, tz=UTC),
    )


async def _movements(params: dict[str, str], correlation_id: str) -> list[MoneyMovement]:
    items = await read_all(
        VENDOR, "/balance_transactions", params, id_field="id", correlation_id=correlation_id
    )
    return [_movement(parse(VENDOR, _BalanceTransaction, item)) for item in items]


async def movements_in(period: Period, correlation_id: str) -> list[MoneyMovement]:
    """Captures and refunds created in the period. `created` is whole seconds: the bounds are widened
    to whole seconds and the result cut to the period exactly."""
    params = {
        "created[gte]": str(floor(period.start.timestamp())),
        "created[lt]": str(ceil(period.end.timestamp())),
    }
    return [m for m in await _movements(params, correlation_id) if period.contains(m.at)]


async def movements_of(order_id: str, correlation_id: str) -> list[MoneyMovement]:
    return await _movements({"order_id": order_id}, correlation_id)
