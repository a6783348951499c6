"""API keys with scopes: `Authorization: Bearer <key>` (design §5, §9).

Keys are compared in constant time against every configured key (no early exit, equal-length
digests), so neither timing nor length tells a caller how close a guess was. Keys are never logged;
a caller is identified in logs, histories and views by its key's name (O2C_API_KEYS, runtime/api_keys.py).
"""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.shared.problems import ProblemError
from runtime.api_keys import named_api_keys

# auto_error=False: we answer missing credentials ourselves, as a problem with WWW-Authenticate.
bearer = HTTPBearer(auto_error=False, description="An o2c API key")


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


@dataclass(frozen=True)
class Principal:
    name: str
    """The key's name: who acted, in histories (`cancelled by ...`), views and logs."""
    scopes: frozenset[str]


class Keyring:
    def __init__(self, keys: Mapping[Any, Any]) -> None:
        """`keys` as O2C_API_KEYS takes them (either form), e.g. Settings.api_keys."""
        self._entries = [(_digest(entry.key.get_secret_value()), Principal(name, frozenset(entry.scopes)))
                         for name, entry in named_api_keys(keys).items()]

    def authenticate(self, presented: str) -> Principal | None:
        candidate = _digest(presented)
        found: Principal | None = None
        for digest, principal in self._entries:
            # Every key is compared, even after a match, so the time taken does not depend on which matched.
            if hmac.compare_digest(candidate, digest) and found is None:
                found = principal
        return found


def _unauthorized(detail: str, error: str | None = None) -> ProblemError:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return ProblemError(401, "unauthorized", detail, headers={"WWW-Authenticate": challenge})


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise _unauthorized("Send an API key as 'Authorization: Bearer <key>'")
    keyring: Keyring = request.app.state.keyring
    principal = keyring.authenticate(credentials.credentials)
    if principal is None:
        raise _unauthorized("The API key is not valid", error="invalid_token")
    return principal


class ScopeGuard:
    """Dependency: the caller must hold at least one of `any_of`."""

    def __init__(self, any_of: tuple[str, ...]) -> None:
        self.any_of = any_of

    async def __call__(self, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.scopes.intersection(self.any_of):
            raise ProblemError(
                403,
                "forbidden",
                f"This API key lacks the scope for this operation; it needs one of: {', '.join(self.any_of)}",
                required_scopes=list(self.any_of),
            )
        return principal


def require_scope(*any_of: str) -> ScopeGuard:
    return ScopeGuard(any_of)


def _guards(dependant: Dependant | None) -> list[ScopeGuard]:
    if dependant is None:
        return []
    own = [dependant.call] if isinstance(dependant.call, ScopeGuard) else []
    return own + [guard for sub in dependant.dependencies for guard in _guards(sub)]


def route_scopes(dependant: Dependant | None) -> list[str]:
    """The scopes of which a key needs one for a route (its ScopeGuards), for the OpenAPI document."""
    return sorted({scope for guard in _guards(dependant) for scope in guard.any_of})


async def authorize_route(request: Request) -> None:
    """The matched route's key and scope checks, run on demand (before an error about its body is told)."""
    guards = _guards(getattr(request.scope.get("route"), "dependant", None))
    if not guards:
        return
    principal = await authenticate(request, await bearer(request))
    for guard in guards:
        await guard(principal)


def _basic_password(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return decoded.partition(":")[2] or None


class PageGuard:
    """Dependency for pages people open in a browser, which cannot send a Bearer header but ask for and
    send HTTP Basic credentials themselves: the API key is the password (any user name). A Bearer key
    works too, for scripts."""

    def __init__(self, scope: str, realm: str) -> None:
        self.scope = scope
        self.realm = realm

    async def __call__(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else _basic_password(header)
        keyring: Keyring = request.app.state.keyring
        principal = keyring.authenticate(key) if key else None
        if principal is None:
            raise ProblemError(401, "unauthorized", "Sign in with an API key as the password",
                               headers={"WWW-Authenticate": f'Basic realm="{self.realm}", charset="UTF-8"'})
        if self.scope not in principal.scopes:
            raise ProblemError(403, "forbidden", f"This API key lacks the scope {self.scope}",
                               required_scopes=[self.scope])
        return principal
