"""Control endpoints that plant what reconciliation must find, as it happens in real life without o2c.

- `POST /_sandbox/erp/documents`: a document keyed in by hand in the ERP. The ERP deduplicates only
  postings made through its API, so a hand-made document may share an API posting's reference:
  that is how a business reference ends up with two documents.
- `POST /_sandbox/fulfillment/shipments`: goods dispatched outside any shipment request o2c made (a
  warehouse shipping on a phone call); no webhook is sent, so o2c never hears of it.

Captures and refunds "without o2c" need nothing here: the payment gateway's own API makes them, as
a support agent would in the gateway's dashboard.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import Field

from . import ledger
from .bodies import Body, Line
from .context import Runtime, get_runtime
from .db import next_counter
from .erp import PREFIXES, DocType
from .fulfillment import CARRIER
from .util import dumps, iso, new_id, now

router = APIRouter(prefix="/_sandbox", tags=["control"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class ManualDocument(Body):
    type: DocType
    external_reference: str = Field(min_length=1)
    order_id: str = Field(min_length=1)
    amount: int = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)


class ManualShipment(Body):
    order_id: str = Field(min_length=1)
    lines: list[Line] = Field(min_length=1)
    shipment_id: str | None = None


@router.post("/erp/documents", status_code=201)
async def post_manual_document(runtime: RuntimeDep, body: ManualDocument) -> dict[str, Any]:
    at = now()
    with runtime.db.transaction() as conn:
        number = f"{PREFIXES[body.type]}-{next_counter(conn, 'erp.' + body.type):06d}"
        doc: dict[str, Any] = {
            "document_number": number,
            "type": body.type,
            "external_reference": body.external_reference,
            "order_id": body.order_id,
            "amount": body.amount,
            "currency": body.currency,
            "status": "open" if body.type == "sales_order" else "posted",
            "posted_at": iso(at),
            "lines": [],
            "source": "manual",
        }
        # The unique (type, external_reference) key guards API postings; a hand-made document gets a
        # key of its own, while its document (what every read returns) carries the shared reference.
        conn.execute(
            "INSERT INTO erp_documents(document_number, type, external_reference, order_id, doc)"
            " VALUES (?,?,?,?,?)",
            (number, body.type, f"{body.external_reference}#manual:{number}", body.order_id, dumps(doc)),
        )
        ledger.append(
            conn,
            at=at,
            vendor="erp",
            action=f"erp.{body.type}",
            order_id=body.order_id,
            amount=body.amount,
            reference=body.external_reference,
        )
    return doc


@router.post("/fulfillment/shipments", status_code=201)
async def post_manual_shipment(runtime: RuntimeDep, body: ManualShipment) -> dict[str, Any]:
    at = now()
    lines = [line.model_dump() for line in body.lines]
    shipment = {
        "shipment_id": body.shipment_id or new_id("shp"),
        "lines": lines,
        "carrier": CARRIER,
        "tracking_number": None,
    }
    doc: dict[str, Any] = {
        "request_id": new_id("shr"),
        "reference": f"manual:{shipment['shipment_id']}",
        "order_id": body.order_id,
        "node": "DC-1",
        "status": "dispatched",
        "on_hold": False,
        "lines": lines,
        "ship_to": {},
        "shipments": [shipment],
        "rejected_lines": [],
        "created": int(at),
        "dispatched_at": int(at),
    }
    with runtime.db.transaction() as conn:
        conn.execute(
            "INSERT INTO shipment_requests(request_id, reference, order_id, status, held, due_at,"
            " correlation_id, doc) VALUES (?,?,?,?,0,NULL,NULL,?)",
            (doc["request_id"], doc["reference"], body.order_id, "dispatched", dumps(doc)),
        )
        ledger.append(
            conn,
            at=at,
            vendor="fulfillment",
            action="fulfillment.dispatch",
            order_id=body.order_id,
            quantity=sum(line.quantity for line in body.lines),
            sku=lines[0]["sku"] if len(lines) == 1 else None,
            reference=shipment["shipment_id"],
        )
    return doc
