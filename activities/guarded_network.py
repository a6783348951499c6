"""Outbound connections that check the address they really connect to (SSRF, DNS rebinding).

A URL checked when it was registered can resolve elsewhere later: a name an attacker controls may
answer a public address at registration and 127.0.0.1 at delivery. So the host is resolved here, at
connect time, every resolved address is checked against the destination policy, and the socket is
opened to a checked address. TLS still verifies, and SNI still names, the host of the URL: httpcore
starts TLS with the URL's host, whatever address the socket went to.

An httpcore network backend, so any connection pool built on it gets the check; it holds no state of
its own besides the policy and the resolver.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable

import httpcore

from canonical.outbound_urls import DestinationPolicy, IPAddress, literal_address

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


class DestinationRefused(Exception):
    """The destination resolves to an address the policy refuses; nothing was sent."""


async def resolve(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


async def vetted_addresses(policy: DestinationPolicy, host: str, port: int, resolver: Resolver = resolve
                           ) -> list[IPAddress]:
    """The addresses `host` resolves to, every one allowed by the policy; DestinationRefused if any is not,
    OSError if the name does not resolve."""
    literal = literal_address(host)
    addresses = [literal] if literal is not None else await resolver(host, port)
    refusal = policy.resolved_refusal(addresses, port)
    if refusal is not None:
        raise DestinationRefused(refusal)
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: DestinationPolicy, resolver: Resolver = resolve,
                 inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.policy = policy
        self.resolver = resolver
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await vetted_addresses(self.policy, host, port, self.resolver)
        except OSError as err:
            raise httpcore.ConnectError(f"name not resolved: {type(err).__name__}") from None
        last: Exception = httpcore.ConnectError("no address to connect to")
        for address in addresses:
            try:
                return await self.inner.connect_tcp(str(address), port, timeout, local_address,
                                                    socket_options)
            except httpcore.ConnectError as err:
                last = err
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused("unix sockets are never a webhook destination")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_pool(policy: DestinationPolicy, *, max_connections: int = 100) -> httpcore.AsyncConnectionPool:
    """A connection pool for receivers: every connection checked, no proxy from the environment (a proxy
    would make the check apply to the proxy's address instead of the receiver's)."""
    return httpcore.AsyncConnectionPool(max_connections=max_connections, max_keepalive_connections=20,
                                        keepalive_expiry=5.0, network_backend=GuardedBackend(policy))
