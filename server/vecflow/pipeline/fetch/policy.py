"""What a fetch may reach: `FetchError` and its codes, `FetchPolicy` (limits, allow_hosts) and `check_address`,
which refuses every IP address that is not plainly public (see the package docstring for the list)."""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

import idna

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

INVALID_URL = "INVALID_URL"
URL_NOT_ALLOWED = "URL_NOT_ALLOWED"
TOO_MANY_REDIRECTS = "TOO_MANY_REDIRECTS"
TOO_LARGE = "TOO_LARGE"
FETCH_TIMEOUT = "FETCH_TIMEOUT"
FETCH_FAILED = "FETCH_FAILED"

_METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, ...
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    }
)
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
# Not globally reachable per the IANA special-purpose registries, but missed by some
# Python versions' `is_global`: IETF protocol assignments, IPv6 documentation (RFC 9637)
# and SRv6 SIDs.
_EXTRA_NON_PUBLIC: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n) for n in ("192.0.0.0/24", "3fff::/20", "5f00::/16")
)
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class FetchError(Exception):
    """A URL could not be fetched. `code` is one of the module's UPPER_SNAKE constants;
    `message` is a sentence for a person, naming the host and the limit where relevant
    (never credentials)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"FetchError({self.code!r}, {self.message!r})"


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for one fetch. See the module docstring for what `allow_hosts` accepts."""

    max_bytes: int = 512 * 1024 * 1024
    timeout_seconds: float = 60.0
    connect_timeout_seconds: float = 10.0
    max_redirects: int = 5
    allow_hosts: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.allow_hosts, frozenset):
            object.__setattr__(self, "allow_hosts", frozenset(self.allow_hosts))
        if self.max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        if self.timeout_seconds <= 0 or self.connect_timeout_seconds <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_redirects < 0:
            raise ValueError("max_redirects must not be negative")
        _split_allow_hosts(self.allow_hosts)  # raises ValueError on a malformed network


@functools.lru_cache(maxsize=64)
def _split_allow_hosts(entries: frozenset[str]) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for raw in entries:
        entry = raw.strip()
        try:
            networks.append(ipaddress.ip_network(entry, strict=True))
            continue
        except ValueError:
            if "/" in entry or ":" in entry:
                raise ValueError(f"allow_hosts entry {raw!r} is not a valid host name or CIDR network") from None
        if not entry.isascii():
            try:
                entry = idna.encode(entry, uts46=True).decode("ascii")
            except (idna.IDNAError, UnicodeError):
                raise ValueError(f"allow_hosts entry {raw!r} is not a valid host name") from None
        names.add(entry.lower().rstrip("."))
    return frozenset(names), tuple(networks)


# ------------------------------------------------------------------- classification


def _effective(ip: IPAddress) -> IPAddress:
    """IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 address on the wire."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _ipv4_reason(ip: ipaddress.IPv4Address) -> str | None:
    if ip in _METADATA_ADDRESSES:
        return "a cloud metadata service address"
    if ip.is_unspecified or ip in ipaddress.IPv4Network("0.0.0.0/8"):
        return "an unspecified address (it reaches this machine)"
    if ip.is_loopback:
        return "a loopback address"
    if ip in _CGNAT:
        return "a carrier-grade NAT (shared) address"
    if ip.is_link_local:
        return "a link-local address"
    if ip == _BROADCAST:
        return "the broadcast address"
    if ip.is_multicast:
        return "a multicast address"
    if any(ip in net for net in _RFC1918):
        return "a private-network address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private or not ip.is_global or any(ip in n for n in _EXTRA_NON_PUBLIC):
        return "a special-purpose address that is not public"
    return None


def _ipv6_reason(ip: ipaddress.IPv6Address) -> str | None:
    if ip.ipv4_mapped is not None:
        return _ipv4_reason(ip.ipv4_mapped)
    if ip in _METADATA_ADDRESSES:
        return "a cloud metadata service address"
    if ip.is_unspecified:
        return "the unspecified address (it reaches this machine)"
    if ip.is_loopback:
        return "a loopback address"
    if ip in _IPV4_COMPATIBLE:
        return "a deprecated IPv4-compatible address"
    if ip in _NAT64_WELL_KNOWN:
        embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        inner = _ipv4_reason(embedded)
        # Well-known NAT64 with a public IPv4 inside is ordinary DNS64 traffic.
        return f"a NAT64 address embedding {embedded}, which is {inner}" if inner else None
    if ip in _NAT64_LOCAL_USE:
        return "a local-use NAT64 address"
    if ip.sixtofour is not None:
        inner = _ipv4_reason(ip.sixtofour)
        if inner:
            return f"a 6to4 address embedding {ip.sixtofour}, which is {inner}"
    if ip.teredo is not None:
        server, client = ip.teredo
        for embedded in (client, server):
            inner = _ipv4_reason(embedded)
            if inner:
                return f"a Teredo address embedding {embedded}, which is {inner}"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_site_local:
        return "a site-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip in _UNIQUE_LOCAL:
        return "a unique-local (private-network) address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private or not ip.is_global or any(ip in n for n in _EXTRA_NON_PUBLIC):
        return "a special-purpose address that is not public"
    return None


def _allowed_by_network(ip: IPAddress, policy: FetchPolicy) -> bool:
    _, networks = _split_allow_hosts(policy.allow_hosts)
    candidates = {ip, _effective(ip)}
    return any(c.version == net.version and c in net for c in candidates for net in networks)


def check_address(ip: IPAddress, policy: FetchPolicy, *, host: str | None = None) -> None:
    """Raise FetchError(URL_NOT_ALLOWED) unless `ip` is public or inside an allow_hosts network.

    `host` (the URL's host, if different from the address) only improves the message.
    """
    if _allowed_by_network(ip, policy):
        return
    reason = _ipv4_reason(ip) if isinstance(ip, ipaddress.IPv4Address) else _ipv6_reason(ip)
    if reason is None:
        return
    shown = _effective(ip)
    if host and host.strip("[]") not in (str(ip), str(shown)):
        what = f"The host {host!r} resolves to {shown}, which is {reason}"
    else:
        what = f"The address {shown} is {reason}"
    raise FetchError(
        URL_NOT_ALLOWED,
        f"{what}; only public addresses can be fetched. "
        "Use a publicly reachable URL, or ask an operator to allow this host.",
    )
