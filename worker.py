"""Entry point of the Temporal worker: the order workflow and every vendor activity.

Run with `python -m worker` or `o2c worker`. SIGTERM/SIGINT drain in-flight activities for
O2C_GRACEFUL_SHUTDOWN_S before exiting; Temporal redelivers anything unfinished.
"""

import asyncio
import signal
from datetime import timedelta

import structlog
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import (
    erp,
    fulfillment,
    inventory,
    loyalty,
    payments,
    reconciliation,
    store_access,
    vendor_http,
)
from activities import webhooks as outbound_webhooks
from activities.log_context import LogContextInterceptor
from canonical.settings import Settings, get_settings
from deploy.log_config import configure_logging
from store import migrate
from workflows.client import connect
from workflows.events import DeliverWebhookWorkflow, PublishEventWorkflow
from workflows.order import OrderWorkflow
from workflows.reconciliation import ReconciliationWorkflow
from workflows.reconciliation_schedule import ensure_reconciliation_schedule
from workflows.returns import ReturnWorkflow

ACTIVITIES = [
    loyalty.reserve_points, loyalty.release_points, loyalty.spend_points, loyalty.earn_points,
    loyalty.take_back_points, loyalty.give_back_points,
    payments.authorize_payment, payments.capture_payment, payments.release_authorization_share,
    payments.void_authorizations, payments.refund_payment,
    inventory.allocate_inventory, inventory.release_allocation, inventory.commit_allocation,
    fulfillment.request_shipment, fulfillment.cancel_shipment_request, fulfillment.request_return,
    inventory.restock_returned,
    erp.book_sales_order, erp.cancel_sales_order, erp.post_invoice, erp.post_credit_memo,
]
WORKFLOWS = [OrderWorkflow, ReturnWorkflow]
# Finance: reconciliation runs, by schedule and on demand.
ACTIVITIES += reconciliation.ACTIVITIES
WORKFLOWS += [ReconciliationWorkflow]
# Outbound webhooks: every canonical event to the subscribed endpoints, signed, with retries.
ACTIVITIES += [outbound_webhooks.record_event_deliveries, outbound_webhooks.attempt_webhook_delivery]
WORKFLOWS += [PublishEventWorkflow, DeliverWebhookWorkflow]

# Pydantic's e-mail validation imports these lazily while the sandbox deserializes an order; they are
# pure and deterministic, so they may pass through instead of being re-imported per workflow run.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("email_validator", "idna")
)

log = structlog.get_logger("o2c.worker")


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    settings.refuse_unsafe()
    if settings.database_auto_upgrade:
        # Before taking any task: activities record ERP postings in the store's current schema.
        await asyncio.to_thread(migrate.upgrade, settings.store_url(),
                                secret_keys=settings.webhook_secret_keys)
    store_access.configure(settings)
    client = await connect(settings, worker=True)
    try:
        await ensure_reconciliation_schedule(client, settings)
    except Exception as exc:  # noqa: BLE001 - orders must flow even without the schedule; say so loudly
        log.error("reconciliation.schedule_failed", error_type=type(exc).__name__, error=str(exc))
    vendor_http.configure(settings)
    outbound_webhooks.configure(settings)
    worker = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=ACTIVITIES,
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_s),
        interceptors=[LogContextInterceptor()],
        workflow_runner=WORKFLOW_RUNNER,
    )
    log.info("worker.started", task_queue=settings.task_queue, temporal=settings.temporal_address)
    async with worker:
        await stop.wait()
        log.info("worker.stopping")
    await vendor_http.close()
    await outbound_webhooks.close()
    store_access.close()
    log.info("worker.stopped")


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(_main())


if __name__ == "__main__":
    main()
