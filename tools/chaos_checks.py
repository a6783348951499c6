"""The money invariants a chaos run checks once every order has settled (README "Proofs").

Pure functions over what the run observed: the orders it placed (with the outcome the API reported and
what the client did to them), the sandbox's ledger of every effect, the vendors' own state (payment
intents, point blocks, stock reservations, shipment and return requests, ERP documents) and the finance
store's ERP postings. Nothing here talks to a process, so each rule is tested on small hand-made data
(tests/chaos/test_chaos_checks.py). The oracle does its own arithmetic (tools/chaos_expect.py) and never
imports the product's pricing, unit ledger, money book or reference builders.

Per order:
- it ended terminal (completed, cancelled, rejected), or needs_attention with a reason, in an outcome its
  scenario allows; what the client expected while steering held (client);
- captured <= authorized; each shipment captured once for the amount due of its units (or, where support
  may settle it outside o2c, not at all); each capture invoiced with the same amount; refunds <= captures
  in total and per capture; every refund has its credit memo where the shipment was invoiced;
- spent points = points of the dispatched units on a completed order, none on a cancelled or rejected one;
  a completed order has exactly one ERP sales order, a rejected one none;
- nothing left open once terminal: no capturable authorization, no open points block, no open stock
  reservation, no shipment request still waiting; a cancelled order's ERP sales order is cancelled;
- returns (tools/chaos_return_checks.py): refunds only for accepted returns or support's refund and close,
  never before the warehouse received the goods, exactly for what it received resellable (and damaged
  goods support chose to refund); restock = resellable units received; points given back and taken back
  follow the refunded units; every return ends completed, or waits only on damaged goods left undecided;
  a return the API had to refuse changed nothing.
Across orders: one ERP document per (type, business reference), one ledger entry per ERP reference,
one marketing event per webhook id; every ERP document posted through the API has its posted row in
the store with the same number and amount, and every store row has its document.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from tools.chaos_books import Books, DispatchError, OrderFacts
from tools.chaos_expect import refund_ref
from tools.chaos_model import SETTLED, TERMINAL, PlacedOrder, VendorState, Violation
from tools.chaos_return_checks import RETURN_RULES

ERP_ACTIONS = {"erp.sales_order": "sales_order", "erp.invoice": "invoice", "erp.credit_memo": "credit_memo"}

Finding = tuple[str, str]
Rule = Callable[[Books], Iterable[Finding]]


def _by_order(
    items: Iterable[Mapping[str, Any]], key: Callable[[Mapping[str, Any]], Any]
) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for item in items:
        order_id = key(item)
        if order_id:
            grouped[str(order_id)].append(item)
    return grouped


def check_run(
    orders: Sequence[PlacedOrder],
    ledger: Sequence[Mapping[str, Any]],
    vendors: VendorState,
    store_rows: Sequence[Mapping[str, Any]],
    *,
    point_value_minor: int = 1,
) -> list[Violation]:
    grouped = {
        "entries": _by_order(ledger, lambda e: e.get("order_id")),
        "intents": _by_order(vendors.payment_intents, lambda pi: (pi.get("metadata") or {}).get("order_id")),
        "blocks": _by_order(vendors.blocks, lambda b: b.get("order_id")),
        "reservations": _by_order(vendors.reservations, lambda r: r.get("order_id")),
        "requests": _by_order(vendors.shipment_requests, lambda r: r.get("order_id")),
        "documents": _by_order(vendors.documents, lambda d: d.get("order_id")),
        "return_requests": _by_order(vendors.return_requests, lambda r: r.get("order_id")),
    }
    out: list[Violation] = []
    for placed in orders:
        facts = OrderFacts(**{name: found.get(placed.order_id, []) for name, found in grouped.items()})
        out.extend(check_order(placed, facts, point_value_minor=point_value_minor))
    out.extend(check_erp_documents(ledger, vendors.documents))
    out.extend(check_store(store_rows, vendors.documents))
    out.extend(check_marketing(ledger))
    return out


def check_order(placed: PlacedOrder, facts: OrderFacts, *, point_value_minor: int = 1) -> list[Violation]:
    def found(rule: str, detail: str) -> Violation:
        return Violation(rule, placed.order_id, detail, placed.scenario)

    out = [found(rule, detail) for rule, detail in _ending(placed)]
    try:
        books = Books(placed, facts, point_value_minor)
    except DispatchError as err:
        return [*out, found("dispatch", str(err))]
    for rule in ORDER_RULES:
        out.extend(found(name, detail) for name, detail in rule(books))
    return out


# ---- per order -----------------------------------------------------------------------------------


def _ending(placed: PlacedOrder) -> Iterator[Finding]:
    status = placed.status
    if status not in SETTLED:
        yield "settled", f"did not settle: last status {status!r} ({placed.status_reason or 'no reason'})"
    elif status == "needs_attention" and not placed.status_reason:
        yield "settled", "needs_attention without a reason"
    if status in SETTLED and status not in placed.allowed:
        yield (
            "outcome",
            f"{placed.scenario} ended {status} ({placed.status_reason}); expected {sorted(placed.allowed)}",
        )
    for problem in placed.problems:
        yield "client", problem


def _captures(b: Books) -> Iterator[Finding]:
    authorized, captured = b.total("payment.authorize"), b.total("payment.capture")
    if captured > authorized:
        yield "captured<=authorized", f"captured {captured} > authorized {authorized}"
    doubled = {ref: n for ref, n in Counter(e["reference"] for e in b.of("payment.capture")).items() if n > 1}
    if doubled:
        yield "one-capture-per-shipment", f"captured more than once: {doubled}"
    amounts = b.by_reference("payment.capture")
    stray = sorted(set(amounts) - {b.ref("capture", sid) for sid in b.shipments})
    if stray:
        yield "one-capture-per-shipment", f"captures {stray} name no dispatched shipment"
    for sid, shipped in b.shipments.items():
        got = amounts.get(b.ref("capture", sid), 0)
        if got != shipped.due and not (got == 0 and b.placed.uncaptured_ok):
            yield (
                "captured=dispatched",
                f"shipment {sid}: captured {got} != amount due of its units {shipped.due}",
            )


def _invoices(b: Books) -> Iterator[Finding]:
    """Each capture invoiced with its amount; a shipment support settled outside o2c may be invoiced for its
    amount due (the sale is booked) or not at all (written off)."""
    captures, invoices = b.by_reference("payment.capture"), b.by_reference("erp.invoice")
    stray = sorted(set(invoices) - {b.ref("invoice", sid) for sid in b.shipments})
    if stray:
        yield "invoices=captures", f"invoices {stray} name no dispatched shipment"
    for sid, shipped in b.shipments.items():
        cap, inv = captures.get(b.ref("capture", sid), 0), invoices.get(b.ref("invoice", sid), 0)
        settled_outside = cap == 0 and b.placed.uncaptured_ok and inv in (0, shipped.due)
        if inv != cap and not settled_outside:
            yield "invoices=captures", f"shipment {sid}: captured {cap}, invoiced {inv}"


def _refund_totals(b: Books) -> Iterator[Finding]:
    captured, refunded = b.total("payment.capture"), b.total("payment.refund")
    if refunded > captured:
        yield "refunds<=captures", f"refunded {refunded} > captured {captured}"
    captures = b.by_reference("payment.capture")
    per_capture: Counter[str] = Counter()
    for entry in b.of("payment.refund"):
        parsed = refund_ref(b.order_id, entry["reference"])
        per_capture[parsed.shipment_id if parsed else "?"] += int(entry["amount"] or 0)
    for sid, amount in sorted(per_capture.items()):
        if amount > captures.get(b.ref("capture", sid), 0):
            yield (
                "refund<=its-capture",
                (
                    f"refunds against shipment {sid} total {amount} > its capture "
                    f"{captures.get(b.ref('capture', sid), 0)}"
                ),
            )


def _credit_memos(b: Books) -> Iterator[Finding]:
    """A credit memo per refund, same amount, where the refunded shipment was invoiced; none elsewhere."""
    invoiced, memos = b.by_reference("erp.invoice"), b.by_reference("erp.credit_memo")
    refund_word, memo_word = b.ref("refund", ""), b.ref("credit-memo", "")
    expected: Counter[str] = Counter()
    for ref, amount in b.by_reference("payment.refund").items():
        parsed = refund_ref(b.order_id, ref)
        if parsed and invoiced.get(b.ref("invoice", parsed.shipment_id)):
            expected[memo_word + ref.removeprefix(refund_word)] = amount
    for ref in sorted(set(expected) | set(memos)):
        if expected.get(ref, 0) != memos.get(ref, 0):
            yield (
                "credit-memos=refunds",
                f"{ref}: credit memo {memos.get(ref, 0)}, refund {expected.get(ref, 0)}",
            )


def _points(b: Books) -> Iterator[Finding]:
    status = b.placed.status
    spent, blocked, released = (
        b.total(a, "points") for a in ("points.spend", "points.block", "points.release")
    )
    shipped_points = sum(s.points for s in b.shipments.values())
    if status == "completed" and spent != shipped_points:
        yield "points", f"spent {spent} points != points of the dispatched units {shipped_points}"
    if status in ("cancelled", "rejected") and spent:
        yield "no-points-spent", f"{spent} points spent on a {status} order"
    if status in TERMINAL and blocked != spent + released:
        yield "open-points", f"blocked {blocked} != spent {spent} + released {released}"


def _sales_orders(b: Books) -> Iterator[Finding]:
    booked = len(b.of("erp.sales_order"))
    if b.placed.status == "completed" and booked != 1:
        yield "one-sales-order", f"completed with {booked} ERP sales orders"
    if b.placed.status == "rejected" and booked:
        yield "one-sales-order", f"rejected with {booked} ERP sales orders"


def _open_money(b: Books) -> Iterator[Finding]:
    if b.placed.status not in TERMINAL:
        return
    authorized, captured, voided = (
        b.total(a) for a in ("payment.authorize", "payment.capture", "payment.void")
    )
    if authorized != captured + voided:
        yield "open-authorization", f"authorized {authorized} != captured {captured} + voided {voided}"
    for pi in b.facts.intents:
        if int(pi.get("amount_capturable") or 0) > 0:
            yield "open-authorization", f"{pi['id']} still holds {pi['amount_capturable']}"
    for block in b.facts.blocks:
        open_points = int(block["points"]) - int(block["spent"]) - int(block["released"])
        if open_points:
            yield "open-points", f"block {block['block_id']} still holds {open_points} points"


def _open_goods(b: Books) -> Iterator[Finding]:
    status = b.placed.status
    if status not in TERMINAL:
        return
    for reservation in b.facts.reservations:
        if reservation.get("status") != "closed":
            yield (
                "open-reservation",
                f"reservation {reservation['reservation_id']} is {reservation.get('status')}",
            )
    for request in b.facts.requests:
        if request.get("status") not in ("dispatched", "rejected", "cancelled"):
            yield (
                "open-shipment-request",
                f"shipment request {request['request_id']} is {request.get('status')}",
            )
    for doc in b.facts.documents:
        # Once goods left (support refunded and closed, or the node shipped after the cancel) the sales
        # order stays: it books what went out.
        cancelled = status == "cancelled" and not b.shipments
        if cancelled and doc.get("type") == "sales_order" and doc.get("status") != "cancelled":
            yield "open-sales-order", f"{doc['document_number']} of a cancelled order is {doc.get('status')}"


ORDER_RULES: tuple[Rule, ...] = (
    _captures,
    _invoices,
    _refund_totals,
    _credit_memos,
    _points,
    _sales_orders,
    _open_money,
    _open_goods,
    *RETURN_RULES,
)


# ---- across orders -------------------------------------------------------------------------------


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


def _store_row_finding(
    key: tuple[str, str], row: Mapping[str, Any], doc: Mapping[str, Any] | None
) -> str | None:
    if row["status"] == "cancelled":
        # A sales order of a cancelled order: cancelled in the ERP too, or never booked there.
        if key[0] == "sales_order" and (doc is None or doc.get("status") == "cancelled"):
            return None
        return f"store row {key} is cancelled, the ERP document is {doc.get('status') if doc else 'missing'}"
    if row["status"] != "posted":
        return f"store row {key} is {row['status']}: {row.get('last_error')}"
    if doc is None:
        return f"store row {key} has no ERP document"
    if (row["erp_document_number"], int(row["amount"])) != (doc["document_number"], int(doc["amount"])):
        return (
            f"store row {key} says {row['erp_document_number']} {row['amount']}, "
            f"the ERP {doc['document_number']} {doc['amount']}"
        )
    return None


def check_store(
    store_rows: Sequence[Mapping[str, Any]], documents: Sequence[Mapping[str, Any]]
) -> list[Violation]:
    """The finance store and the ERP agree, row for document."""
    docs = {(d["type"], d["external_reference"]): d for d in documents if d.get("source") != "manual"}
    rows = {(r["kind"], r["reference"]): r for r in store_rows}
    out = [
        Violation("store=erp", row["order_id"], finding)
        for key, row in rows.items()
        if (finding := _store_row_finding(key, row, docs.get(key))) is not None
    ]
    out += [
        Violation(
            "store=erp",
            doc.get("order_id"),
            f"ERP document {doc['document_number']} {key} is not in the store",
        )
        for key, doc in docs.items()
        if key not in rows
    ]
    return out


def check_marketing(ledger: Sequence[Mapping[str, Any]]) -> list[Violation]:
    """Each outbound event reaches the receiver at most once (Standard Webhooks id)."""
    seen = Counter(e.get("idempotency_key") for e in ledger if e["action"] == "marketing.event")
    return [
        Violation("one-marketing-event", None, f"webhook {key} recorded {n} times")
        for key, n in seen.items()
        if key and n > 1
    ]
