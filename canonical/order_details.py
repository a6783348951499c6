"""What support reads at the top of an order's Temporal page, and the API's view of a closed order.

The Temporal UI shows a workflow's static details (set at start) and its current details (set by the
workflow as it moves) as Markdown, above everything else. The first lines answer support's questions in
order: where does the order stand, why, how much money is at risk, and what do I do now — with the exact
call. The steps follow as a table. Pure functions, so the wording is tested without a workflow.
"""

from canonical.identifiers import format_money
from canonical.order import Order
from canonical.saga import NOTHING_TO_RETRY, TERMINAL_STATUSES, AttentionCode, OrderStatus, OrderView

SUPPORT_SCOPE = "orders:support"
MAX_STEP_ROWS = 15
"""Current details are re-sent at every milestone; a long order shows its latest steps only."""


def resolve_call(order_id: str, action: str) -> str:
    body = f'{{"action": "{action}", "note": "…"}}'
    return f"`POST /v1/orders/{order_id}/resolve` `{body}`"


def next_action(order_id: str, status: OrderStatus, attention: AttentionCode | None) -> str | None:
    """The support call that moves a parked order on; None when the order needs nobody."""
    if status != OrderStatus.NEEDS_ATTENTION:
        return None
    scope = f"(scope `{SUPPORT_SCOPE}`)"
    if attention in NOTHING_TO_RETRY:
        return f"{resolve_call(order_id, 'mark_resolved')} {scope} once handled by hand; or `refund_and_close`"
    return (f"{resolve_call(order_id, 'retry')} {scope} once the cause is fixed; "
            "otherwise `mark_resolved` once handled by hand, or `refund_and_close`")


def settled(view: OrderView) -> OrderView:
    """A closed order's view without what only mattered while it was open: the reason code and the money
    at risk of a park, and the leftover reason of a completed order (a cancel or reject keeps its why)."""
    if view.status not in TERMINAL_STATUSES:
        return view
    reason = None if view.status == OrderStatus.COMPLETED else view.status_reason
    return view.model_copy(update={"attention": None, "money_at_risk": 0, "status_reason": reason})


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def current_details(view: OrderView) -> str:
    """Markdown for the top of the order's Temporal page."""
    view = settled(view)
    head = f"**Status: {view.status.value}**"
    if view.attention:
        head += f" — reason `{view.attention.value}`"
    lines = [head]
    if view.status_reason:
        lines.append(f"**Why:** {_cell(view.status_reason)}")
    if view.status == OrderStatus.NEEDS_ATTENTION:
        lines.append(f"**Money at risk:** {format_money(view.money_at_risk, view.currency)}")
    action = next_action(view.order_id, view.status, view.attention)
    if action is None:
        action = "none, the order is closed" if view.status in TERMINAL_STATUSES else "none, it moves on its own"
    lines.append(f"**Next action:** {action}")
    # The UI draws tables without cell padding ("succeeded1"): state and attempts go in code spans, whose
    # boxes keep neighbouring cells apart.
    rows = [f"| {_cell(s.name)} | `{s.status}` | `{s.attempts or '–'}` | {_cell(s.error or '')} |"
            for s in view.steps[-MAX_STEP_ROWS:]]
    head = "| step | state | attempts | error |\n| --- | --- | --- | --- |"
    steps = ["", head, *rows] if rows else []
    return "\n\n".join(lines) + "\n" + "\n".join(steps)


def static_details(order: Order) -> str:
    """Markdown set once at start: what the order is and where its live view is. No personal data. The UI
    draws tables without cell padding, so the lines are a list."""
    lines = "\n".join(f"- {ln.quantity} × `{ln.sku}` at {format_money(ln.unit_price, order.currency)}"
                      for ln in order.lines)
    return (f"**Order {order.order_id}** · {order.channel} · {format_money(order.total, order.currency)} · "
            f"customer `{order.customer.customer_id}`\n\n"
            f"Live view: `GET /v1/orders/{order.order_id}` (scope `orders:read`); status and next action in "
            f"Current Details\n\n{lines}")
