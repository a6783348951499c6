"""Where outbound webhooks may go (design §9): the SSRF rules shared by registration (the API) and every
delivery attempt (the worker's connect-time check on the resolved address).

Refused: loopback, private (RFC 1918, ULA), link-local, shared (CGNAT), multicast, unspecified,
reserved and every other address that is not globally routable, cloud metadata endpoints, and IPv6
forms that embed one of those (IPv4-mapped, NAT64, 6to4). https only in production.

O2C_WEBHOOK_ALLOWED_HOSTS (entries `host[:port][/path]`), when set, is the only set of destinations
allowed: a URL must match an entry's host, port (the scheme's default when the entry has none) and
path prefix. An entry whose host is an IP address also permits that address and port when it is not
public (the local stack allows exactly its sandbox receiver, `127.0.0.1:8100/marketing/events`); a
host name entry only narrows, the addresses it resolves to are still checked.

Pure functions over strings and addresses: no I/O here, the callers resolve names.
"""

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata", "instance-data",
                            "instance-data.ec2.internal"})
"""Cloud metadata names; their addresses (169.254.169.254, fd00:ec2::254, ...) are refused anyway."""

_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def address_refusal(ip: IPAddress) -> str | None:
    """Why connecting to `ip` is refused, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refusal(embedded)
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local (cloud metadata lives here)"),
        (ip.is_multicast, "multicast"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED, "shared (CGNAT)"),
        (ip.is_private, "private (RFC 1918 / ULA)"),
        (not ip.is_global, "not globally routable"),
    )
    return next((reason for refused, reason in checks if refused), None)


def literal_address(host: str) -> IPAddress | None:
    """`host` as an IP address, also in the legacy IPv4 forms (2130706433, 0x7f.1, 127.1) resolvers accept."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if bare and all(c in "0123456789abcdefxABCDEFX." for c in bare):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


@dataclass(frozen=True)
class AllowedDestination:
    host: str
    port: int | None
    path: str

    @classmethod
    def parse(cls, entry: str) -> "AllowedDestination":
        parts = urlsplit("//" + entry.strip())
        if not parts.hostname or parts.query or parts.fragment or parts.username:
            raise ValueError(f"{entry!r} is not host[:port][/path]")
        return cls(parts.hostname.lower().rstrip("."), parts.port, parts.path.rstrip("/"))

    def matches(self, scheme: str, host: str, port: int, path: str) -> bool:
        wanted_port = self.port if self.port is not None else DEFAULT_PORTS[scheme]
        on_path = not self.path or path == self.path or path.startswith(self.path + "/")
        return host == self.host and port == wanted_port and on_path

    @property
    def address(self) -> IPAddress | None:
        return literal_address(self.host)


@dataclass(frozen=True)
class DestinationPolicy:
    allowed: tuple[AllowedDestination, ...] = ()
    https_only: bool = False

    @classmethod
    def of(cls, allowed_hosts: Sequence[str], https_only: bool) -> "DestinationPolicy":
        return cls(tuple(AllowedDestination.parse(entry) for entry in allowed_hosts), https_only)

    def url_refusal(self, url: str) -> str | None:
        """Why `url` may not receive webhooks, judged on the URL alone (names are resolved by the caller)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            return "must be an http or https URL"
        if self.https_only and scheme != "https":
            return "must be https (O2C_ENV=production)"
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            return "must name a host"
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError:
            return "has an invalid port"
        entry = next((e for e in self.allowed if e.matches(scheme, host, port, parts.path or "/")), None)
        if self.allowed and entry is None:
            return "is not in O2C_WEBHOOK_ALLOWED_HOSTS"
        if host in METADATA_HOSTS:
            return "points at a cloud metadata service"
        address = literal_address(host)
        if address is not None and not self.exempt(address, port):
            reason = address_refusal(address)
            if reason:
                return f"points at a {reason} address"
        return None

    def exempt(self, address: IPAddress, port: int) -> bool:
        """An allowlist entry names this very address and port."""
        return any(e.address == address and e.port in (port, None) for e in self.allowed)

    def resolved_refusal(self, addresses: Iterable[IPAddress], port: int) -> str | None:
        """Why a host that resolved to `addresses` is refused; any refused address refuses the host, so
        a resolver cannot slip a private address in among public ones."""
        for address in addresses:
            reason = None if self.exempt(address, port) else address_refusal(address)
            if reason:
                return f"resolves to a {reason} address"
        return None
