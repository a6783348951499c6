"""The daily contract checks' activities: run a vendor role's contract suite against the configured vendor,
record the findings in the store, and show them as the worker's gauges.

Mode per adapter (README "Operations"): the sandbox, and Stripe with a test key (`sk_test_...`), get the full
suite, since nothing real moves there; any other key (a live Stripe key) gets the non-mutating checks only: a
request the vendor refuses (its error shape) and the adapter's side of Retry-After and timeouts, which the
certification proxy answers itself without reaching the vendor.

Gauges (global figures from the store, like the backlog gauges: every worker reports the same; alert with max):
`o2c_contract_check_failures{vendor,adapter}` failing checks of the last run, and
`o2c_contract_check_last_run_timestamp_seconds{vendor,adapter}` when it finished.
"""

import asyncio

import structlog
from temporalio import activity
from temporalio.common import MetricGauge, MetricGaugeFloat, MetricMeter

from activities.certification.runner import Target, certify, suite_roles
from activities.contracts.contract_checks import CHECK_ROLE, LIST_ROLES, ConfiguredRoles, RoleToCheck
from activities.store_executor import StoreExecutor
from canonical.contract_checks import ContractChecksRequest, Mode, RoleCheck
from runtime.settings import Settings
from store.contract_checks import latest_contract_checks, record_contract_check
from store.models import ContractCheckRun

log = structlog.get_logger("o2c.contract_checks")


def check_mode(role: str, settings: Settings) -> Mode:
    adapter = getattr(settings, f"{role}_adapter")
    if role == "payments" and adapter == "stripe":
        return "full" if settings.payments_api_key.get_secret_value().startswith("sk_test_") else "non_mutating"
    return "full" if adapter == "sandbox" else "non_mutating"


class ContractCheckGauges:
    def __init__(self, store: StoreExecutor, meter: MetricMeter = MetricMeter.noop) -> None:
        self._store = store
        self._failures = meter.create_gauge(
            "o2c_contract_check_failures", "Failing checks of the last contract-check run, by vendor role and adapter")
        self._last_run = meter.create_gauge_float(
            "o2c_contract_check_last_run_timestamp_seconds",
            "When the last contract-check run of a vendor role and adapter finished (Unix time)")
        self._bound: dict[tuple[str, str], tuple[MetricGauge, MetricGaugeFloat]] = {}

    def _show(self, run: ContractCheckRun) -> None:
        key = (run.role, run.adapter)
        if key not in self._bound:
            labels = {"vendor": run.role, "adapter": run.adapter}
            self._bound[key] = (self._failures.with_additional_attributes(labels),
                                self._last_run.with_additional_attributes(labels))
        failures, last_run = self._bound[key]
        failures.set(run.failures)
        last_run.set(run.finished_at.timestamp())

    async def refresh(self) -> None:
        for run in await self._store.read(latest_contract_checks):
            self._show(run)

    async def run(self, every_s: float) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # keep the last values and the worker; the next round tries again
                log.warning("contract_checks.gauges_read_failed", error_type=type(exc).__name__, error=str(exc))
            await asyncio.sleep(every_s)


class ContractCheckActivities:
    def __init__(self, settings: Settings, store: StoreExecutor, gauges: ContractCheckGauges) -> None:
        self._settings = settings
        self._store = store
        self._gauges = gauges

    @activity.defn(name=LIST_ROLES.name)
    async def contract_check_roles(self, req: ContractChecksRequest) -> ConfiguredRoles:
        return ConfiguredRoles(roles=suite_roles())

    @activity.defn(name=CHECK_ROLE.name)
    async def run_contract_check(self, inp: RoleToCheck) -> RoleCheck:
        settings, role = self._settings, inp.role
        target = Target(role=role, adapter=getattr(settings, f"{role}_adapter"), base_url=settings.vendor_url(role),
                        settings=settings, mode=check_mode(role, settings))
        result = await certify(target)
        await self._store.write(lambda session: record_contract_check(session, result))
        await self._gauges.refresh()
        failing = [f.check for f in result.failures]
        (log.warning if failing else log.info)("contract_checks.run", vendor=role, adapter=target.adapter,
                                               mode=target.mode, run_id=result.run_id, failing=failing,
                                               run_by=inp.run_by)
        return RoleCheck(role=role, adapter=target.adapter, checks=len(result.findings), failing=failing)
