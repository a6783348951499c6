"""Which checks the daily contract checks may run: everything against the sandbox and Stripe test mode, only
the non-mutating ones with a live key; and the non-mutating mode really skips the checks that move money."""

from pydantic import SecretStr

from activities.certification.framework import Check, run_checks
from activities.contract_checks import check_mode
from runtime.settings import Settings


def test_mode_per_adapter_and_key() -> None:
    assert check_mode("payments", Settings(payments_adapter="sandbox")) == "full"
    assert check_mode("payments", Settings(payments_adapter="stripe",
                                           payments_api_key=SecretStr("sk_test_abc"))) == "full"
    assert check_mode("payments", Settings(payments_adapter="stripe",
                                           payments_api_key=SecretStr("sk_live_abc"))) == "non_mutating"


async def test_non_mutating_mode_runs_only_the_checks_that_leave_nothing() -> None:
    ran: list[str] = []

    def check(name: str, mutating: bool) -> Check:
        async def run() -> str:
            ran.append(name)
            if name == "broken":
                raise RuntimeError("boom")
            return "fine"
        return Check(name, run, mutating)

    checks = [check("authorize", True), check("error_shape", False), check("broken", False)]
    findings = await run_checks(checks, "non_mutating")
    assert ran == ["error_shape", "broken"]
    assert [(f.check, f.passed, f.reason) for f in findings] == [
        ("error_shape", True, "fine"), ("broken", False, "unexpected RuntimeError: boom")]
