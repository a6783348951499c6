"""Money back to the customer against one shipment's capture, with the credit memo for its invoice.

Shared by returns and by support's "refund and close". The caller has already set the amount aside
against the capture (canonical/money.py), which is what keeps every refund within what was captured
minus what was already refunded, however many returns run at once.
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import erp, payments
    from canonical.references import credit_memo_reference, refund_reference
    from canonical.steps import ErpDocument, LineQuantity, Refund
    from workflows import policies
    from workflows.context import OrderContext


async def refund_capture(ctx: OrderContext, shipment_id: str, amount: int, tag: str,
                         lines: list[LineQuantity]) -> tuple[Refund, ErpDocument | None]:
    """Raises StepFailed if the gateway refuses or keeps failing, or the ERP rejects the memo."""
    money, oid = ctx.money, ctx.order.order_id
    capture = money.capture_of(shipment_id)
    assert capture is not None
    refund = await ctx.steps.run(
        f"refund {tag}", payments.REFUND, policies.refund(ctx.timings), f"refund {ctx.fmt(amount)} for {shipment_id}",
        payment_intent_id=capture.payment_intent_id, amount=amount, reference=refund_reference(oid, tag))
    money.refunds.append(refund)
    invoice, memo = money.invoice_of(shipment_id), None
    if invoice is not None:
        memo = await ctx.steps.run(
            f"credit memo {tag}", erp.POST_CREDIT_MEMO, policies.after_pivot(),
            f"credit memo {ctx.fmt(refund.amount)} for {shipment_id}", reference=credit_memo_reference(oid, tag),
            invoice=invoice.document_number, amount=refund.amount, currency=ctx.order.currency, lines=lines)
        money.postings.append(memo)
    ctx.outbox.emit("refund.completed", shipment_id=shipment_id, amount=refund.amount, currency=ctx.order.currency)
    return refund, memo
