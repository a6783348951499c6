"""The codec endpoint the Temporal UI (and `temporal --codec-endpoint`) decodes payloads through.

Temporal's remote codec protocol: `POST /codec/encode` and `POST /codec/decode` take and return
`Payloads` as protobuf JSON, `{"payloads": [{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}`;
a body that is not that, or a payload that cannot be decrypted, is a 400. The UI sends `X-Namespace`;
one set of keys serves the whole deployment, so it is only logged.

Access needs an API key with the `codec` scope: decoding shows personal data. The UI calls from the
browser, so /codec/* grants CORS to the configured UI origin (O2C_UI_ORIGIN, and its
localhost/127.0.0.1 twin) and to nobody else.

The Temporal UI can only send an OIDC access token, never an o2c API key. For the local stack alone,
O2C_CODEC_DEV_TRUST_UI_ORIGIN=true lets a request that carries no key but the UI's Origin through;
it is off by default, `o2c run` turns it on, and the API logs a warning at start when it is on. Any
process that can reach the API can forge an Origin header, which is why it is a dev-only setting.
"""

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from google.protobuf import json_format
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payloads

from api.shared.auth import (
    authenticate,
    bearer,  # the API's one security scheme, so OpenAPI lists it once
    require_scope,
)
from api.shared.problems import Problem, ProblemError
from runtime.codec import CodecError, EncryptionCodec
from runtime.settings import Settings

log = structlog.get_logger("o2c.api")

PREFIX = "/codec"
SCOPE = "codec"
ALLOWED_HEADERS = ["Authorization", "Content-Type", "X-Namespace"]
MAX_BODY_BYTES = 8 * 1024 * 1024
"""The codec's own body limit: a batch of payloads the UI decodes may exceed the API's."""
DEV_UI_CALLER = "dev-trusted-ui-origin"

router = APIRouter(prefix=PREFIX, tags=["codec"])


def ui_origins(settings: Settings) -> list[str]:
    """The UI origin and, for a loopback one, the same origin under its other loopback name."""
    origin = settings.ui_origin.rstrip("/")
    parts = urlsplit(origin)
    twins = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}
    twin = twins.get(parts.hostname or "")
    if twin is None:
        return [origin]
    netloc = twin if parts.port is None else f"{twin}:{parts.port}"
    return [origin, urlunsplit((parts.scheme, netloc, "", "", ""))]


class CodecCors:
    """CORS for /codec/* only, granted to the UI origins only; the rest of the API stays CORS-free."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["POST"],
            allow_headers=ALLOWED_HEADERS,
            allow_credentials=True,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def install(app: FastAPI, settings: Settings) -> None:
    """Route, CORS and codec; call after the other middleware so CORS headers reach every answer."""
    app.state.codec = EncryptionCodec(settings.codec_keys)
    app.include_router(router)
    app.add_middleware(CodecCors, origins=ui_origins(settings))
    if settings.codec_dev_trust_ui_origin:
        log.warning(
            "codec.dev_trust_ui_origin_enabled",
            message="DEV ONLY: requests from the Temporal UI origin decode payloads WITHOUT an API key; "
            "never enable O2C_CODEC_DEV_TRUST_UI_ORIGIN outside the local stack",
            ui_origins=ui_origins(settings),
        )


async def codec_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str:
    """Who may use the codec: a key with the codec scope, or (dev only) the trusted UI origin."""
    settings: Settings = request.app.state.settings
    origin = request.headers.get("origin")
    if credentials is None and settings.codec_dev_trust_ui_origin and origin in ui_origins(settings):
        return DEV_UI_CALLER
    principal = await authenticate(request, credentials)
    await require_scope(SCOPE)(principal)
    return principal.name


_PAYLOADS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "payloads": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "metadata": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "format": "byte"},
                    },
                    "data": {"type": "string", "format": "byte"},
                },
            },
        }
    },
}
_DOC: dict[str, Any] = {
    "openapi_extra": {
        "requestBody": {"required": True, "content": {"application/json": {"schema": _PAYLOADS_SCHEMA}}}
    },
    "responses": {
        200: {
            "description": "The payloads, converted",
            "content": {"application/json": {"schema": _PAYLOADS_SCHEMA}},
        },
        **{s: {"model": Problem, "content": {"application/problem+json": {}}} for s in (400, 401, 403, 413)},
    },
}


@router.post("/encode", operation_id="codec_encode",
             summary="Encrypt payloads (Temporal remote codec protocol)", **_DOC)
async def encode(request: Request, caller: Annotated[str, Depends(codec_caller)]) -> Response:
    return await _convert(request, caller, "encode")


@router.post("/decode", operation_id="codec_decode",
             summary="Decrypt payloads (Temporal remote codec protocol)", **_DOC)
async def decode(request: Request, caller: Annotated[str, Depends(codec_caller)]) -> Response:
    return await _convert(request, caller, "decode")


async def _convert(request: Request, caller: str, op: Literal["encode", "decode"]) -> Response:
    body = await request.body()  # at most MAX_BODY_BYTES (api/body_limit.py)
    try:
        payloads = json_format.Parse(body, Payloads())
    except (json_format.ParseError, ValueError):  # also not JSON, not UTF-8
        raise ProblemError(
            400,
            "invalid-payloads",
            'The body must be Temporal Payloads as protobuf JSON: {"payloads": [...]}',
        ) from None
    codec: EncryptionCodec = request.app.state.codec
    try:
        converted = await (codec.encode if op == "encode" else codec.decode)(payloads.payloads)
    except CodecError as err:
        raise ProblemError(400, "codec-error", str(err)) from None
    # Who decoded how much, for the audit trail; never what.
    log.info(
        f"codec.{op}",
        caller=caller,
        payloads=len(converted),
        namespace=request.headers.get("x-namespace"),
    )
    return Response(json_format.MessageToJson(Payloads(payloads=converted)), media_type="application/json")
