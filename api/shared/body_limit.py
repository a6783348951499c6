"""Request bodies are capped before anything parses or authenticates them (design §5).

A declared Content-Length over the limit is answered 413 at once, without reading a byte; a body
streamed without one is counted as the app pulls it and cut off at the limit. So an unauthenticated
caller costs at most the limit in memory, whatever it sends. Limits go by path prefix (inbound
webhooks have their own, smaller one); the first matching prefix wins.
"""

from collections.abc import Sequence

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.shared.problems import problem_response


class BodyTooLarge(StarletteHTTPException):
    """Raised from `receive`: FastAPI re-raises HTTP exceptions met while reading a body, and the app's
    handler renders it as the 413 problem (api/problems.py)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_detail(limit))


def too_large_detail(limit: int) -> str:
    return f"The request body exceeds the limit of {limit} bytes"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, default_limit: int, limits: Sequence[tuple[str, int]] = ()) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = list(limits)

    def limit_for(self, path: str) -> int:
        return next((limit for prefix, limit in self.limits if path.startswith(prefix)), self.default_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLarge:
            # Only reached when no handler of the app caught it, i.e. before any answer was started.
            await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(413, "payload-too-large", too_large_detail(limit),
                                    instance=scope.get("path"), headers={"Connection": "close"})
        await response(scope, receive, send)
