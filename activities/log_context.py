"""Binds order_id, workflow_id and correlation_id into every log line an activity writes, and the order and
correlation ids onto the activity's span when the worker traces (runtime/tracing.py)."""

from typing import Any

import structlog
from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from runtime.tracing import tag_span_from_log_context


class _BindOrderContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        arg = input.args[0] if input.args else None
        with structlog.contextvars.bound_contextvars(
            workflow_id=info.workflow_id,
            activity=info.activity_type,
            attempt=info.attempt,
            order_id=getattr(arg, "order_id", None),
            correlation_id=getattr(arg, "correlation_id", None),
        ):
            # The tracing interceptor comes from the client, so it runs first: the current span is RunActivity's.
            tag_span_from_log_context()
            return await super().execute_activity(input)


class LogContextInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindOrderContext(next)
