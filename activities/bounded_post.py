"""One POST to a receiver that can make us neither read much nor wait long.

- One deadline covers the whole attempt: resolving, connecting, TLS, sending and reading the answer.
  A receiver that drips one byte at a time is cut off there, not kept alive by per-read timeouts.
- The answer is read as a stream and at most `keep_bytes` of it are kept; the rest is never read (the
  connection is closed instead of drained), so a 300 MiB answer costs `keep_bytes`.
- The outcome is a status code and an error category, never the network library's own wording (which
  told "connection refused" from "timed out" and so made a port scanner of the delivery log).

Self-contained on purpose: it knows nothing of deliveries, so whatever replaces the delivery workflow
(an outbox) can call it as it is.
"""

import asyncio

import httpcore

from activities.contracts.marketing import PostOutcome as PostOutcome  # re-exported
from activities.guarded_network import DestinationRefused


async def post_bounded(pool: httpcore.AsyncConnectionPool, url: str, body: bytes, headers: dict[str, str], *,
                       deadline_s: float, keep_bytes: int) -> PostOutcome:
    status: int | None = None
    head = bytearray()
    timeouts = {"connect": deadline_s, "read": deadline_s, "write": deadline_s, "pool": deadline_s}
    try:
        async with asyncio.timeout(deadline_s):
            async with pool.stream("POST", url, headers=list(headers.items()), content=body,
                                   extensions={"timeout": timeouts}) as response:
                status = response.status
                async for chunk in response.aiter_stream():
                    head += chunk[: keep_bytes - len(head)]
                    if len(head) >= keep_bytes:
                        break
    except (TimeoutError, httpcore.TimeoutException):
        return PostOutcome(status, bytes(head), "timeout")
    except DestinationRefused:
        return PostOutcome(None, b"", "destination_refused")
    except httpcore.ProtocolError:
        return PostOutcome(status, bytes(head), "invalid_response")
    except (httpcore.NetworkError, httpcore.UnsupportedProtocol, OSError):
        if status is None:
            return PostOutcome(None, b"", "unreachable")
        # The answer's status arrived, then the connection broke while we read its body: keep what came.
    ok = status is not None and 200 <= status < 300
    return PostOutcome(status, bytes(head), None if ok else "http_error")
