"""Daily contract checks: which vendor roles have a suite configured, and one role's run."""

from pydantic import BaseModel

from canonical.contract_checks import ContractChecksRequest, RoleCheck
from canonical.operations import Operation


class ConfiguredRoles(BaseModel):
    roles: list[str]


class RoleToCheck(BaseModel):
    role: str
    run_by: str
    """The workflow id of the contract-checks run, for the logs."""


LIST_ROLES = Operation("contract_check_roles", ContractChecksRequest, ConfiguredRoles)
CHECK_ROLE = Operation("run_contract_check", RoleToCheck, RoleCheck)
