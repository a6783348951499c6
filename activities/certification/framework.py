"""The small framework every role's suite shares: named checks, each a finding with a readable reason.

A check is a coroutine that returns why it passed, or raises `CheckFailed` saying why not. Anything else it
raises (an adapter error it did not expect, a bug) is a failure too, described, never a crash of the run.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from temporalio.exceptions import ApplicationError

from canonical.contract_checks import CheckFinding, Mode
from canonical.errors import ErrorKind, VendorError

CHECK_DEADLINE_S = 120.0
"""No single check may hang the run (a vendor that never answers is what the timeout check is for)."""


class CheckFailed(Exception):
    """A check's finding: the reason it failed."""


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], Awaitable[str]]
    mutating: bool = True
    """False: leaves nothing behind at the vendor, so the non-mutating mode runs it too."""


def expect(condition: bool, reason: str) -> None:
    if not condition:
        raise CheckFailed(reason)


def vendor_error_of(exc: BaseException) -> VendorError | None:
    """The classified vendor error an adapter raised (activities/vendor_http.py), if that is what it was."""
    if isinstance(exc, ApplicationError) and exc.details and isinstance(exc.details[0], VendorError):
        return exc.details[0]
    return None


def describe(exc: BaseException) -> str:
    error = vendor_error_of(exc)
    if error is not None:
        return f"{error.kind.value} {error.code} (HTTP {error.http_status}): {error.message}"
    return f"{type(exc).__name__}: {exc}"


async def refused(call: Awaitable[Any], what: str) -> VendorError:
    """The vendor error `call` must end in; a success or any other exception is the finding."""
    try:
        result = await call
    except Exception as exc:  # the adapter's classified error is what we want; anything else is the finding
        error = vendor_error_of(exc)
        if error is None:
            raise CheckFailed(f"{what}: the adapter raised {describe(exc)}, not a classified vendor error") from None
        return error
    raise CheckFailed(f"{what}: expected a vendor error, got a success ({result!r})")


def expect_kind(error: VendorError, kind: ErrorKind, code: str, what: str) -> None:
    expect(error.kind is kind and error.code == code,
           f"{what}: expected {kind.value} `{code}`, got {error.kind.value} `{error.code}` "
           f"(HTTP {error.http_status}: {error.message})")


async def run_checks(checks: list[Check], mode: Mode) -> list[CheckFinding]:
    """Each check in order (they share a vendor and a proxy), the mutating ones only in full mode."""
    findings = []
    for check in checks:
        if mode == "non_mutating" and check.mutating:
            continue
        started = time.monotonic()
        try:
            reason, passed = await asyncio.wait_for(check.run(), CHECK_DEADLINE_S), True
        except CheckFailed as failed:
            reason, passed = str(failed), False
        except TimeoutError:
            reason, passed = f"did not finish within {CHECK_DEADLINE_S:.0f} s", False
        except Exception as exc:  # a check that breaks is a failing check, described; the run goes on
            reason, passed = f"unexpected {describe(exc)}", False
        findings.append(CheckFinding(check=check.name, passed=passed, reason=reason,
                                     seconds=round(time.monotonic() - started, 3)))
    return findings
