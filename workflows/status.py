"""The order's status as support finds it: the OrderStatus and NeedsAttentionReason search attributes
and the markdown at the top of its Temporal page. Changes are gathered and published at milestones,
so a run of steps inside one workflow task costs one upsert, not one per step."""

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

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
        status, attention = self._published
        updates: list[SearchAttributeUpdate[str]] = []
        if self.status != status:
            updates.append(ORDER_STATUS.value_set(self.status.value))
        if self.attention != attention:
            updates.append(NEEDS_ATTENTION_REASON.value_set(self.attention.value) if self.attention
                           else NEEDS_ATTENTION_REASON.value_unset())
        if updates:
            workflow.upsert_search_attributes(updates)
            self._published = (self.status, self.attention)
        workflow.set_current_details(details)
