"""Contract checks: a vendor role's contract suite run against its live endpoint, by `o2c certify` and by the
daily schedule. Each check is a named finding with a readable reason; a run passes when every check does."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, computed_field

Mode = Literal["full", "non_mutating"]
"""`full` runs every check, moving money in the vendor's test mode or sandbox; `non_mutating` only the checks
that leave nothing behind at the vendor (a refused request, the adapter's side of Retry-After and timeouts)."""


class CheckFinding(BaseModel):
    check: str
    """Stable dotted name, e.g. `idempotency.authorize`."""
    passed: bool
    reason: str
    """Why it passed or failed, in words on-call and a partner can act on."""
    seconds: float


class ContractCheckResult(BaseModel):
    role: str
    adapter: str
    base_url: str
    """The vendor's endpoint, never with credentials."""
    mode: Mode
    run_id: str
    """Unique per run; every order id and idempotency key of the run starts with it."""
    started_at: datetime
    finished_at: datetime
    findings: list[CheckFinding]

    @property
    def failures(self) -> list[CheckFinding]:
        return [f for f in self.findings if not f.passed]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        return bool(self.findings) and not self.failures


class ContractChecksRequest(BaseModel):
    trigger: Literal["schedule", "manual"] = "schedule"


class RoleCheck(BaseModel):
    """One role's run as the workflow records it: counts and failing check names, not every finding."""

    role: str
    adapter: str
    checks: int
    failing: list[str]


class ContractChecksOutcome(BaseModel):
    roles: list[RoleCheck]

    @property
    def failing(self) -> list[str]:
        return [f"{r.role}/{r.adapter}: {check}" for r in self.roles for check in r.failing]
