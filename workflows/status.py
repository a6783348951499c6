"""The order's status as support finds it: the OrderStatus and NeedsAttentionReason search attributes
and the markdown at the top of its Temporal page. Changes are gathered and published at milestones,
so a run of steps inside one workflow task costs one upsert, not one per step."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from canonical.saga import AttentionCode, OrderStatus
    from workflows.search_attributes import NEEDS_ATTENTION_REASON, ORDER_STATUS


class StatusBoard:
    def __init__(self) -> None:
        self.status = OrderStatus.RECEIVED
        self.reason: str | None = None
        self.attention: AttentionCode | None = None
        self._published: tuple[OrderStatus, AttentionCode | None] = (OrderStatus.RECEIVED, None)

    def set(self, status: OrderStatus, reason: str | None = None) -> None:
        self.status = status
        if reason is not None:
            self.reason = reason
        if status != OrderStatus.NEEDS_ATTENTION:
            self.attention = None

    def attend(self, code: AttentionCode, reason: str) -> None:
        self.status, self.reason, self.attention = OrderStatus.NEEDS_ATTENTION, reason, code

    def publish(self, details: str) -> None:
        now = (self.status, self.attention)
        if now != self._published:
            workflow.upsert_search_attributes([
                ORDER_STATUS.value_set(self.status.value),
                NEEDS_ATTENTION_REASON.value_set(self.attention.value) if self.attention
                else NEEDS_ATTENTION_REASON.value_unset(),
            ])
            self._published = now
        workflow.set_current_details(details)
