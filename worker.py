"""Entry point of the Temporal worker, and its composition root.

Run with `python -m worker` or `o2c worker`. Builds the clients once (vendor HTTP, the store), hands
them to the activity classes, and registers every activity those classes define. SIGTERM/SIGINT drain
in-flight activities for O2C_GRACEFUL_SHUTDOWN_S before exiting; Temporal redelivers anything
unfinished.
"""

import asyncio
import inspect
import signal
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog
from temporalio.common import MetricMeter
from temporalio.worker import PollerBehaviorSimpleMaximum, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.backlog_metrics import start_backlog_reporter
from activities.contract_checks import ContractCheckActivities, ContractCheckGauges
from activities.erp import ErpActivities
from activities.events import EventActivities
from activities.fulfillment import FulfillmentActivities
from activities.inventory import InventoryActivities
from activities.log_context import LogContextInterceptor
from activities.loyalty import LoyaltyActivities
from activities.marketing_destination import ensure_marketing_destination
from activities.payments import PaymentActivities
from activities.reconciliation import ReconciliationActivities
from activities.store_executor import StoreExecutor
from activities.vendor_health import VendorHealthReporter
from activities.vendor_http import VendorClient
from activities.vendor_metrics import VendorMetrics
from activities.vendors import vendors
from runtime.logging import configure_logging
from runtime.metrics import worker_runtime
from runtime.schedules import ensure_contract_checks_schedule, ensure_reconciliation_schedule
from runtime.settings import Settings, get_settings
from runtime.temporal import connect
from runtime.tracing import WORKER_SERVICE, start_tracing, stop_tracing
from store import migrate
from workflows.contract_checks import ContractChecksWorkflow
from workflows.order import OrderWorkflow
from workflows.reconciliation import ReconciliationWorkflow

WORKFLOWS = [OrderWorkflow, ReconciliationWorkflow, ContractChecksWorkflow]

# Pydantic's e-mail validation imports these lazily while the sandbox deserializes an order, and the
# stdlib log handler formats workflow.logger records with structlog; they may pass through instead of
# being re-imported per workflow run.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("email_validator", "idna", "structlog")
)

log = structlog.get_logger("o2c.worker")


def activities_of(*instances: object) -> list[Callable[..., Any]]:
    """Every method the instances define as an activity (`@activity.defn`), bound to its instance."""
    return [
        method for instance in instances for _, method in inspect.getmembers(instance, inspect.ismethod)
        if hasattr(method, "__temporal_activity_definition")
    ]


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    settings.refuse_unsafe()
    if settings.database_auto_upgrade:
        # Before taking any task: activities record ERP postings in the store's current schema.
        await asyncio.to_thread(migrate.upgrade, settings.store_url(),
                                secret_keys=settings.webhook_secret_keys)
    store = StoreExecutor(settings.store_url())
    # Before taking any task: the events this worker records get their Bloomreach deliveries from the start.
    log.info("worker.marketing_destination", outcome=await ensure_marketing_destination(settings, store))
    start_tracing(WORKER_SERVICE)  # before the client: its interceptors carry the traces (runtime/tracing.py)
    runtime = worker_runtime(settings)
    http = VendorClient(settings, VendorMetrics(runtime.metric_meter) if runtime else None)
    client = await connect(settings, worker=True, runtime=runtime)
    for ensure in (ensure_reconciliation_schedule, ensure_contract_checks_schedule):
        try:
            await ensure(client, settings)
        except Exception as exc:  # orders must flow even without the schedule; say so loudly
            log.error("schedule.failed", schedule=ensure.__name__, error_type=type(exc).__name__, error=str(exc))
    contract_gauges = ContractCheckGauges(store, runtime.metric_meter if runtime else MetricMeter.noop)
    ports = vendors(http, settings)
    activities = activities_of(
        LoyaltyActivities(ports.loyalty), PaymentActivities(ports.payments), InventoryActivities(ports.inventory),
        FulfillmentActivities(ports.fulfillment), ErpActivities(ports.erp, store), EventActivities(store),
        ReconciliationActivities(store, payments=ports.payments, erp=ports.erp, fulfillment=ports.fulfillment),
        ContractCheckActivities(settings, store, contract_gauges),
    )
    worker = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=activities,
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        # Checkouts arrive as new workflows on the task queue itself, the rest on this worker's sticky queue:
        # half of the pollers serve new orders (the SDK's default is a fifth of five).
        workflow_task_poller_behavior=PollerBehaviorSimpleMaximum(settings.max_workflow_task_polls),
        nonsticky_to_sticky_poll_ratio=0.5,
        activity_task_poller_behavior=PollerBehaviorSimpleMaximum(settings.max_activity_task_polls),
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_s),
        interceptors=[LogContextInterceptor()],
        workflow_runner=WORKFLOW_RUNNER,
    )
    log.info("worker.started", task_queue=settings.task_queue, temporal=settings.temporal_address,
             metrics=f"http://{settings.worker_metrics_host}:{settings.worker_metrics_port}/metrics"
             if runtime else None)
    # Global figures (Temporal visibility, the store): every worker reports the same (activities/backlog_metrics.py).
    backlog = (start_backlog_reporter(client, store, runtime.metric_meter, settings.backlog_report_s)
               if runtime else None)
    # Vendor call figures and breaker states into the store, for GET /v1/ops/vendors (activities/vendor_health.py).
    vendor_health = asyncio.create_task(
        VendorHealthReporter(http.health, store, settings.vendor_health_report_s).run(stop), name="vendor-health")
    contract_gauges_task = asyncio.create_task(contract_gauges.run(settings.backlog_report_s), name="contract-gauges")
    async with worker:
        await stop.wait()
        log.info("worker.stopping")
    await vendor_health
    if backlog is not None:
        backlog.cancel()
    contract_gauges_task.cancel()
    await http.aclose()
    store.close()
    await asyncio.to_thread(stop_tracing)  # export the last spans
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
