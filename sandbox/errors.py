"""Vendor error shape ``{"error": {"type", "code", "message", ...}}`` shared by every router."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


def error_body(type_: str, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": type_, "code": code, "message": message, **extra}}


class VendorError(Exception):
    """Raised by handlers; inside an idempotent call it rolls back the effect but is still stored."""

    def __init__(
        self,
        status: int,
        type_: str,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(type_, code, message, **extra)
        self.headers = headers or {}


def not_found(what: str, ident: str) -> VendorError:
    return VendorError(404, "invalid_request_error", "resource_missing", f"No such {what}: '{ident}'")


def business(code: str, message: str, status: int = 409, **extra: Any) -> VendorError:
    return VendorError(status, "business_error", code, message, **extra)


def invalid(code: str, message: str, **extra: Any) -> VendorError:
    return VendorError(400, "invalid_request_error", code, message, **extra)


def install_error_handlers(app: FastAPI) -> None:
    async def vendor_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, VendorError)
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}" for err in exc.errors()
        )
        return JSONResponse(
            error_body("validation_error", "validation_error", problems or "invalid request"),
            status_code=422,
        )

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = "resource_missing" if exc.status_code == 404 else "http_error"
        return JSONResponse(
            error_body("invalid_request_error", code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            error_body("api_error", "internal_error", f"{type(exc).__name__}: {exc}"), status_code=500
        )

    app.add_exception_handler(VendorError, vendor_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
