"""The money invariants a chaos run checks once every order has settled (README "Proofs").

Pure functions over what the run observed: the orders it placed (with the outcome the API reported),
the sandbox's ledger of every effect, the vendors' own state (payment intents, point blocks, stock
reservations, shipment requests, ERP documents) and the finance store's ERP postings. Nothing here
talks to a process, so each rule is tested on small hand-made data (tests/chaos/test_chaos_checks.py).

Per order:
- it ended terminal (completed, cancelled, rejected), or needs_attention with a reason, and in an
  outcome its scenario allows;
- captured <= authorized; captured = amount due (value minus points share) of the dispatched lines;
  one capture per shipment; invoiced = captured, one invoice per shipment and the same amount;
  refunded <= captured; credit memos = refunds; returns refund exactly the returned lines;
- spent points = points share of the dispatched lines; nothing left open once terminal: no capturable
  authorization, no open points block, no open stock reservation, no shipment request still waiting;
  a cancelled order's ERP sales order is cancelled.
Across orders: one ERP document per (type, business reference), one ledger entry per ERP reference,
one marketing event per webhook id; every ERP document posted through the API has its posted row in
the store with the same number and amount, and every store row has its document.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from canonical.order import Order
from canonical.pricing import price
from canonical.references import capture_reference, invoice_reference

TERMINAL = frozenset({"completed", "cancelled", "rejected"})
SETTLED = TERMINAL | {"needs_attention"}
ERP_ACTIONS = {"erp.sales_order": "sales_order", "erp.invoice": "invoice", "erp.credit_memo": "credit_memo"}


@dataclass
class PlacedOrder:
    """One order of the run, as the chaos client saw it."""

    scenario: str
    body: dict[str, Any]
    allowed: frozenset[str]
    """Final statuses the scenario allows (a cancel racing the dispatch may end either way)."""
    status: str | None = None
    status_reason: str | None = None
    returned: list[dict[str, Any]] = field(default_factory=list)
    """Lines returned (whole lines: {"sku", "quantity"}) by a return that completed."""
    return_status: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def order_id(self) -> str:
        return str(self.body["order_id"])


@dataclass(frozen=True)
class Violation:
    rule: str
    order_id: str | None
    detail: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.order_id or '-'}: {self.detail}"


@dataclass
class VendorState:
    """Each vendor's list endpoint, read once after the run (faults cleared)."""

    payment_intents: list[dict[str, Any]]
    blocks: list[dict[str, Any]]
    reservations: list[dict[str, Any]]
    shipment_requests: list[dict[str, Any]]
    documents: list[dict[str, Any]]


def _by_order(items: Iterable[Mapping[str, Any]], key: Any) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for item in items:
        order_id = key(item)
        if order_id:
            grouped[str(order_id)].append(item)
    return grouped


def _sum(entries: Iterable[Mapping[str, Any]], action: str, field_name: str = "amount") -> int:
    return sum(int(e.get(field_name) or 0) for e in entries if e["action"] == action)


def check_run(
    orders: Sequence[PlacedOrder],
    ledger: Sequence[Mapping[str, Any]],
    vendors: VendorState,
    store_rows: Sequence[Mapping[str, Any]],
    *,
    point_value_minor: int = 1,
) -> list[Violation]:
    out: list[Violation] = []
    entries = _by_order(ledger, lambda e: e.get("order_id"))
    intents = _by_order(vendors.payment_intents, lambda pi: (pi.get("metadata") or {}).get("order_id"))
    blocks = _by_order(vendors.blocks, lambda b: b.get("order_id"))
    reservations = _by_order(vendors.reservations, lambda r: r.get("order_id"))
    requests = _by_order(vendors.shipment_requests, lambda r: r.get("order_id"))
    documents = _by_order(vendors.documents, lambda d: d.get("order_id"))
    for placed in orders:
        out.extend(
            check_order(
                placed,
                entries.get(placed.order_id, []),
                intents.get(placed.order_id, []),
                blocks.get(placed.order_id, []),
                reservations.get(placed.order_id, []),
                requests.get(placed.order_id, []),
                documents.get(placed.order_id, []),
                point_value_minor=point_value_minor,
            )
        )
    out.extend(check_erp_documents(ledger, vendors.documents))
    out.extend(check_store(store_rows, vendors.documents))
    out.extend(check_marketing(ledger))
    return out


def check_order(
    placed: PlacedOrder,
    entries: Sequence[Mapping[str, Any]],
    intents: Sequence[Mapping[str, Any]],
    blocks: Sequence[Mapping[str, Any]],
    reservations: Sequence[Mapping[str, Any]],
    requests: Sequence[Mapping[str, Any]],
    documents: Sequence[Mapping[str, Any]],
    *,
    point_value_minor: int = 1,
) -> list[Violation]:
    oid = placed.order_id
    out: list[Violation] = []

    def bad(rule: str, detail: str) -> None:
        out.append(Violation(rule, oid, detail))

    status = placed.status
    if status not in SETTLED:
        bad("settled", f"did not settle: last status {status!r} ({placed.status_reason or 'no reason'})")
    elif status == "needs_attention" and not placed.status_reason:
        bad("settled", "needs_attention without a reason")
    if status in SETTLED and status not in placed.allowed:
        bad(
            "outcome",
            f"{placed.scenario} ended {status} ({placed.status_reason}); expected {sorted(placed.allowed)}",
        )

    priced = price(Order.model_validate(placed.body), point_value_minor)
    authorized = _sum(entries, "payment.authorize")
    captured = _sum(entries, "payment.capture")
    voided = _sum(entries, "payment.void")
    refunded = _sum(entries, "payment.refund")
    invoiced = _sum(entries, "erp.invoice")
    credited = _sum(entries, "erp.credit_memo")

    # What the node dispatched, per shipment and in total (the sandbox ships or rejects whole lines).
    shipments: dict[str, list[Mapping[str, Any]]] = {}
    for request in requests:
        for shipment in request.get("shipments") or []:
            shipments[shipment["shipment_id"]] = shipment["lines"]
    shipped_units: Counter[str] = Counter()
    for lines in shipments.values():
        for line in lines:
            shipped_units[line["sku"]] += int(line["quantity"])
    try:
        due_of_shipment = {
            sid: sum(priced.line(ln["sku"]).units(0, int(ln["quantity"]))[0] for ln in lines)
            for sid, lines in shipments.items()
        }
        expected_capture = sum(priced.line(sku).units(0, n)[0] for sku, n in shipped_units.items())
        expected_points = sum(priced.line(sku).units(0, n)[1] for sku, n in shipped_units.items())
    except (KeyError, ValueError) as err:
        bad("dispatch", f"the node shipped something the order does not hold: {err}")
        return out

    if captured > authorized:
        bad("captured<=authorized", f"captured {captured} > authorized {authorized}")
    if captured != expected_capture:
        bad(
            "captured=dispatched", f"captured {captured} != amount due of dispatched lines {expected_capture}"
        )
    captures = Counter(e["reference"] for e in entries if e["action"] == "payment.capture")
    doubled = {ref: n for ref, n in captures.items() if n > 1}
    if doubled:
        bad("one-capture-per-shipment", f"captured more than once: {doubled}")
    expected_refs = {capture_reference(oid, sid) for sid, due in due_of_shipment.items() if due > 0}
    if set(captures) != expected_refs:
        bad(
            "one-capture-per-shipment",
            f"capture references {sorted(captures)} != shipments {sorted(expected_refs)}",
        )
    capture_amounts = {
        e["reference"]: int(e["amount"] or 0) for e in entries if e["action"] == "payment.capture"
    }
    invoice_amounts = {e["reference"]: int(e["amount"] or 0) for e in entries if e["action"] == "erp.invoice"}
    if invoiced != captured:
        bad("invoices=captures", f"invoiced {invoiced} != captured {captured}")
    for sid in due_of_shipment:
        cap = capture_amounts.get(capture_reference(oid, sid), 0)
        inv = invoice_amounts.get(invoice_reference(oid, sid), 0)
        if cap != inv:
            bad("invoices=captures", f"shipment {sid}: captured {cap}, invoiced {inv}")
    if refunded > captured:
        bad("refunds<=captures", f"refunded {refunded} > captured {captured}")
    if credited != refunded:
        bad("credit-memos=refunds", f"credit memos {credited} != refunds {refunded}")

    returned_due = sum(priced.line(ln["sku"]).units(0, int(ln["quantity"]))[0] for ln in placed.returned)
    if placed.return_status == "completed" and refunded != returned_due:
        bad("refund=returned", f"refunded {refunded} != amount due of the returned lines {returned_due}")
    if not placed.returned and refunded and placed.scenario != "support":
        bad("refund=returned", f"refunded {refunded} without a return")

    spent = _sum(entries, "points.spend", "points")
    blocked = _sum(entries, "points.block", "points")
    released = _sum(entries, "points.release", "points")
    if status == "completed" and spent != expected_points:
        bad("points", f"spent {spent} points != points share of dispatched lines {expected_points}")
    if status in TERMINAL and blocked != spent + released:
        bad("open-points", f"blocked {blocked} != spent {spent} + released {released}")

    if status in TERMINAL:
        if authorized != captured + voided:
            bad("open-authorization", f"authorized {authorized} != captured {captured} + voided {voided}")
        for pi in intents:
            if int(pi.get("amount_capturable") or 0) > 0:
                bad("open-authorization", f"{pi['id']} still holds {pi['amount_capturable']}")
        for block in blocks:
            open_points = int(block["points"]) - int(block["spent"]) - int(block["released"])
            if open_points:
                bad("open-points", f"block {block['block_id']} still holds {open_points} points")
        for reservation in reservations:
            if reservation.get("status") != "closed":
                bad(
                    "open-reservation",
                    f"reservation {reservation['reservation_id']} is {reservation.get('status')}",
                )
        for request in requests:
            if request.get("status") not in ("dispatched", "rejected", "cancelled"):
                bad(
                    "open-shipment-request",
                    f"shipment request {request['request_id']} is {request.get('status')}",
                )
        if status == "cancelled":
            for doc in documents:
                if doc.get("type") == "sales_order" and doc.get("status") != "cancelled":
                    bad(
                        "open-sales-order",
                        f"{doc['document_number']} of a cancelled order is {doc.get('status')}",
                    )
    return out


def check_erp_documents(
    ledger: Sequence[Mapping[str, Any]], documents: Sequence[Mapping[str, Any]]
) -> list[Violation]:
    """Exactly one ERP document, and one ledger entry, per (document type, business reference)."""
    out: list[Violation] = []
    docs = Counter((d["type"], d["external_reference"]) for d in documents if d.get("source") != "manual")
    for (kind, ref), n in docs.items():
        if n != 1:
            out.append(Violation("one-erp-document", None, f"{n} {kind} documents for {ref}"))
    posted = Counter((ERP_ACTIONS[e["action"]], e["reference"]) for e in ledger if e["action"] in ERP_ACTIONS)
    for (kind, ref), n in posted.items():
        if n != 1:
            out.append(Violation("one-erp-document", None, f"{n} ledger entries {kind} {ref}"))
    return out


def check_store(
    store_rows: Sequence[Mapping[str, Any]], documents: Sequence[Mapping[str, Any]]
) -> list[Violation]:
    """The finance store and the ERP agree, row for document."""
    out: list[Violation] = []
    docs = {(d["type"], d["external_reference"]): d for d in documents if d.get("source") != "manual"}
    rows = {(r["kind"], r["reference"]): r for r in store_rows}
    for key, row in rows.items():
        doc = docs.get(key)
        if row["status"] != "posted":
            out.append(
                Violation(
                    "store=erp",
                    row["order_id"],
                    f"store row {key} is {row['status']}: {row.get('last_error')}",
                )
            )
        elif doc is None:
            out.append(Violation("store=erp", row["order_id"], f"store row {key} has no ERP document"))
        elif (row["erp_document_number"], int(row["amount"])) != (doc["document_number"], int(doc["amount"])):
            out.append(
                Violation(
                    "store=erp",
                    row["order_id"],
                    f"store row {key} says {row['erp_document_number']} {row['amount']}, "
                    f"the ERP {doc['document_number']} {doc['amount']}",
                )
            )
    for key, doc in docs.items():
        if key not in rows:
            out.append(
                Violation(
                    "store=erp",
                    doc.get("order_id"),
                    f"ERP document {doc['document_number']} {key} is not in the store",
                )
            )
    return out


def check_marketing(ledger: Sequence[Mapping[str, Any]]) -> list[Violation]:
    """Each outbound event reaches the receiver at most once (Standard Webhooks id)."""
    seen = Counter(e.get("idempotency_key") for e in ledger if e["action"] == "marketing.event")
    return [
        Violation("one-marketing-event", None, f"webhook {key} recorded {n} times")
        for key, n in seen.items()
        if key and n > 1
    ]
