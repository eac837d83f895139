"""Fetch a document by URL without letting the URL reach into our own network (SSRF).

A URL given to the ingestion API is attacker-controlled: left unchecked it can make the
server read cloud credentials from a metadata service, probe internal admin ports, or talk
to databases on loopback. `fetch_to_file` therefore only fetches from public addresses.

What is refused, and why:

* Schemes other than ``http`` and ``https`` (``file``, ``ftp``, ``gopher``, ``data``...):
  they read local files or speak protocols that can be abused to forge requests.
  -> ``INVALID_URL``
* User names and passwords in the URL (``http://user:pass@host/``): credentials must not
  travel in URLs, end up in logs, or be used to confuse which part is the host. They are
  never echoed back in error messages. -> ``INVALID_URL``
* Malformed hosts and ports: empty hosts, characters outside letters, digits, ``-``, ``_``
  and ``.``, percent-encoding, whitespace or control characters anywhere in the URL, ports
  outside 1-65535, names whose last label is numeric but not a valid IPv4 address
  (``1.2.3.4.5``, ``256.1.1.1``), bracketed hosts that are not IPv6. -> ``INVALID_URL``
* Every IP address that is not plainly public, whether written in the URL or returned by
  DNS. Numeric hosts are first normalised the way resolvers read them, so tricks such as
  decimal ``2130706433``, octal ``0177.0.0.1``, hex ``0x7f.0.0.1`` / ``0x7f000001``, short
  forms ``127.1``, full-width digits, IPv4-mapped IPv6 ``[::ffff:127.0.0.1]`` /
  ``[::ffff:7f00:1]`` and zone ids ``[fe80::1%25eth0]`` cannot hide the real address.
  Refused (-> ``URL_NOT_ALLOWED``):

  - loopback 127.0.0.0/8 and ::1 (services listening only on this machine);
  - unspecified 0.0.0.0/8 and :: (connecting to them reaches this machine);
  - private networks 10/8, 172.16/12, 192.168/16 and unique-local fc00::/7, plus the
    deprecated site-local fec0::/10 (internal services);
  - carrier-grade NAT 100.64.0.0/10 (provider-internal, and home of Alibaba Cloud's
    metadata service 100.100.100.200);
  - link-local 169.254.0.0/16 and fe80::/10 (cloud metadata services live here);
  - the metadata service addresses 169.254.169.254, fd00:ec2::254 and 100.100.100.200 by
    name, so the reason is explicit;
  - multicast 224.0.0.0/4 and ff00::/8, broadcast 255.255.255.255, reserved 240.0.0.0/4
    and the other IANA special-purpose ranges (documentation, benchmarking, ...): anything
    Python's ``ipaddress`` does not consider global;
  - IPv6 addresses that embed an IPv4 address are judged by the embedded address:
    IPv4-mapped ``::ffff:a.b.c.d`` (connected to as plain IPv4), 6to4 ``2002::/16``, NAT64
    ``64:ff9b::/96`` and Teredo ``2001::/32``; deprecated IPv4-compatible ``::a.b.c.d`` and
    local-use NAT64 ``64:ff9b:1::/48`` are refused outright.

  A host name is refused if ANY address it resolves to is refused: one private answer is
  enough to be unsafe.
* DNS rebinding: the name is resolved once, every answer is checked, and the connection is
  made to a checked address (no second lookup). The original host is still sent in the
  ``Host`` header and, for https, used for SNI and certificate verification.
* Redirects are followed by hand, at most ``max_redirects``, and every ``Location``
  (relative ones resolved against the current URL) goes through all of the checks above.
  -> ``TOO_MANY_REDIRECTS``
* Bodies larger than ``max_bytes`` (by ``Content-Length`` or by counting while streaming)
  -> ``TOO_LARGE``; fetches slower than ``timeout_seconds`` in total (DNS, redirects and
  body included) -> ``FETCH_TIMEOUT``.
* Proxy settings and ``.netrc`` from the environment are ignored (a proxy would do its own
  DNS and defeat the checks).

``FetchPolicy.allow_hosts`` relaxes the address checks for trusted internal hosts (and
tests): an entry is either a host name (exact, case-insensitive; all of its addresses are
then accepted) or an IP network in CIDR form (``"10.0.0.0/8"``, ``"127.0.0.1/32"``;
addresses inside it are accepted). It is empty by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import ipaddress
import os
import re
import secrets
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO
from urllib.parse import SplitResult, urljoin, urlsplit

import httpx
import idna

__all__ = [
    "FETCH_FAILED",
    "FETCH_TIMEOUT",
    "INVALID_URL",
    "TOO_LARGE",
    "TOO_MANY_REDIRECTS",
    "URL_NOT_ALLOWED",
    "FetchError",
    "FetchPolicy",
    "FetchResult",
    "check_address",
    "fetch_to_file",
    "parse_host",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

INVALID_URL = "INVALID_URL"
URL_NOT_ALLOWED = "URL_NOT_ALLOWED"
TOO_MANY_REDIRECTS = "TOO_MANY_REDIRECTS"
TOO_LARGE = "TOO_LARGE"
FETCH_TIMEOUT = "FETCH_TIMEOUT"
FETCH_FAILED = "FETCH_FAILED"

_MAX_URL_LENGTH = 8192
_WRITE_BUFFER = 1 << 20  # bytes collected before one (threaded) disk write
_USER_AGENT = "vecflow-fetcher/1"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}

_HOSTNAME_RE = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_PORT_RE = re.compile(r"[0-9]{1,5}")
_FORBIDDEN_CHARS_RE = re.compile(r"[\x00-\x20\x7f\\]")
_HEX_PART_RE = re.compile(r"0[xX][0-9a-fA-F]*")
_OCT_PART_RE = re.compile(r"0[0-7]+")
_DEC_PART_RE = re.compile(r"0|[1-9][0-9]*")

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


@dataclass(frozen=True)
class FetchResult:
    url: str  # final URL after redirects (normalised host, no fragment)
    content_type: str  # media type from the Content-Type header, lower-cased, "" if absent
    length: int
    sha256: str  # hex digest of the bytes written to dest
    redirects: int


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


# --------------------------------------------------------------------------- parsing


def _parse_ipv4_part(part: str) -> int | None:
    if _HEX_PART_RE.fullmatch(part):
        return int(part[2:], 16) if len(part) > 2 else 0
    if _OCT_PART_RE.fullmatch(part):
        return int(part, 8)
    if _DEC_PART_RE.fullmatch(part):
        return int(part, 10)
    return None


def _ends_in_number(host: str) -> bool:
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    last = parts[-1]
    return bool(last) and ((last.isascii() and last.isdigit()) or bool(_HEX_PART_RE.fullmatch(last)))


def _parse_ipv4(host: str) -> ipaddress.IPv4Address:
    """Read an IPv4 address the way inet_aton and browsers do: 1 to 4 parts, each decimal,
    octal (leading 0) or hex (0x); the last part fills the remaining bytes."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    invalid = FetchError(INVALID_URL, f"The host {host!r} looks like an IP address but is not a valid one.")
    if len(parts) > 4:
        raise invalid
    numbers = [_parse_ipv4_part(p) for p in parts]
    if any(n is None for n in numbers):
        raise invalid
    values: list[int] = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise invalid
    address = values[-1]
    for i, n in enumerate(values[:-1]):
        address += n << (8 * (3 - i))
    return ipaddress.IPv4Address(address)


def _normalise_hostname(host: str) -> str:
    """Lower-case, IDNA-encode (UTS 46 mapping, so full-width digits become ASCII) and drop
    one trailing dot. Raises INVALID_URL for anything that is not a plausible DNS name."""
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            raise FetchError(INVALID_URL, f"The host {host!r} is not a valid internationalised domain name.") from None
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host or len(host) > 253 or not _HOSTNAME_RE.fullmatch(host) or any(len(x) > 63 for x in host.split(".")):
        raise FetchError(INVALID_URL, f"The host {host!r} is not a valid host name.")
    return host


def _split_host(host: str) -> tuple[str, IPAddress | None]:
    """(normalised host text, address if the host is an IP literal)."""
    if not host:
        raise FetchError(INVALID_URL, "The URL has no host.")
    if host.startswith("[") or host.endswith("]"):
        if not (host.startswith("[") and host.endswith("]")):
            raise FetchError(INVALID_URL, f"The host {host!r} has unbalanced brackets.")
        inner = host[1:-1]
        if "%" in inner:
            # A zone id only makes sense for link-local addresses; it is dropped and the
            # address itself is judged ("%25" is the URL-encoded "%").
            inner = inner.split("%", 1)[0]
        try:
            ip6 = ipaddress.IPv6Address(inner)
        except ValueError:
            raise FetchError(INVALID_URL, f"The host {host!r} is not a valid IPv6 address.") from None
        if ip6.ipv4_mapped is not None:  # it is that IPv4 address on the wire
            return str(ip6.ipv4_mapped), ip6
        return f"[{ip6.compressed}]", ip6
    if _FORBIDDEN_CHARS_RE.search(host) or "%" in host:
        raise FetchError(INVALID_URL, f"The host {host!r} contains characters that are not allowed in host names.")
    # Map first (full-width digits and dots), then decide whether it is numeric.
    name = host
    if not name.isascii():
        name = _normalise_hostname(name)
    if _ends_in_number(name.lower()):
        ip4 = _parse_ipv4(name.lower())
        return str(ip4), ip4
    return _normalise_hostname(name), None


def parse_host(host: str) -> IPAddress | None:
    """Return the IP address a URL host denotes, or None if it is a host name.

    Accepts the host as it appears in a URL: IPv6 in brackets (zone id allowed and
    dropped), IPv4 in any form resolvers accept (decimal, octal, hex, 1-4 parts).
    IPv4-mapped IPv6 is returned as the IPv6Address; `check_address` judges the embedded
    IPv4. Raises FetchError(INVALID_URL) for malformed hosts.
    """
    return _split_host(host)[1]


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


# --------------------------------------------------------------------------- URLs


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # normalised, brackets kept for IPv6, no port
    port: int
    ip: IPAddress | None  # set when the host is an IP literal
    target: str  # path and query, as sent in the request line

    @property
    def host_header(self) -> str:
        return self.host if self.port == _DEFAULT_PORTS[self.scheme] else f"{self.host}:{self.port}"

    @property
    def name(self) -> str:
        """The host as DNS / allow_hosts / SNI see it (no brackets)."""
        return self.host.strip("[]")

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.target}"


def _parse_url(url: str) -> _Target:
    if not isinstance(url, str) or not url.strip():
        raise FetchError(INVALID_URL, "The URL is empty.")
    if len(url) > _MAX_URL_LENGTH:
        raise FetchError(INVALID_URL, f"The URL is longer than {_MAX_URL_LENGTH} characters.")
    if _FORBIDDEN_CHARS_RE.search(url):
        raise FetchError(
            INVALID_URL, "The URL contains whitespace, control characters or backslashes; percent-encode them."
        )
    try:
        parts: SplitResult = urlsplit(url)
    except ValueError:
        raise FetchError(INVALID_URL, "The URL is malformed and could not be parsed.") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        shown = f"scheme is {scheme!r}" if scheme else "has no scheme"
        raise FetchError(INVALID_URL, f"Only http and https URLs can be fetched; this URL's {shown}.")
    netloc = parts.netloc
    if "@" in netloc:
        host_only = netloc.rpartition("@")[2]
        raise FetchError(
            INVALID_URL,
            f"The URL for host {host_only!r} contains a user name or password; "
            "credentials are not accepted in URLs. Remove them (and consider rotating them).",
        )
    if not netloc:
        raise FetchError(INVALID_URL, "The URL has no host.")
    if netloc.startswith("["):
        close = netloc.find("]")
        if close < 0:
            raise FetchError(INVALID_URL, "The URL's IPv6 host is missing its closing bracket.")
        raw_host, rest = netloc[: close + 1], netloc[close + 1 :]
        if rest and not rest.startswith(":"):
            raise FetchError(INVALID_URL, f"The URL's authority {netloc!r} is malformed.")
        raw_port = rest[1:] if rest else None
    else:
        raw_host, sep, raw_port_text = netloc.partition(":")
        raw_port = raw_port_text if sep else None
    host, ip = _split_host(raw_host)
    if raw_port is None or raw_port == "":
        port = _DEFAULT_PORTS[scheme]
    else:
        if not _PORT_RE.fullmatch(raw_port) or not 1 <= int(raw_port) <= 65535:
            raise FetchError(INVALID_URL, f"The port in the URL for host {host!r} is not a number from 1 to 65535.")
        port = int(raw_port)
    target = parts.path or "/"
    if not target.startswith("/"):
        target = "/" + target
    if parts.query:
        target += "?" + parts.query
    return _Target(scheme=scheme, host=host, port=port, ip=ip, target=target)


# --------------------------------------------------------------------- resolution


async def _resolve(target: _Target, policy: FetchPolicy) -> list[IPAddress]:
    """Addresses to connect to, all checked. One lookup per hop; the caller pins them."""
    if target.ip is not None:
        check_address(target.ip, policy, host=target.host)
        return [_effective(target.ip)]
    names, _ = _split_allow_hosts(policy.allow_hosts)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(target.name, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise FetchError(FETCH_FAILED, f"The host {target.name!r} could not be resolved ({exc}).") from None
    addresses: list[IPAddress] = []
    for family, *_, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        text = str(sockaddr[0]).split("%", 1)[0]
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            raise FetchError(
                URL_NOT_ALLOWED, f"The host {target.name!r} resolved to an unreadable address; it cannot be fetched."
            ) from None
        if target.name not in names:
            check_address(ip, policy, host=target.name)
        ip = _effective(ip)
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise FetchError(FETCH_FAILED, f"The host {target.name!r} has no IPv4 or IPv6 address.")
    return addresses


# -------------------------------------------------------------------------- fetching


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """Certificate verification against the certifi bundle (tests substitute a test CA)."""
    return httpx.create_ssl_context()


def _pinned_url(target: _Target, ip: IPAddress) -> str:
    host = f"[{ip.compressed}]" if ip.version == 6 else str(ip)
    return f"{target.scheme}://{host}:{target.port}{target.target}"


async def _open_response(client: httpx.AsyncClient, target: _Target, addresses: Iterable[IPAddress]) -> httpx.Response:
    """Send GET to the first checked address that accepts a connection."""
    headers = {
        "Host": target.host_header,
        "User-Agent": _USER_AGENT,
        "Accept": "*/*",
        "Accept-Encoding": "identity",
        "Connection": "close",
    }
    extensions = {"sni_hostname": target.name} if target.scheme == "https" else {}
    last: httpx.ConnectError | None = None
    for ip in addresses:
        request = client.build_request("GET", _pinned_url(target, ip), headers=headers, extensions=extensions)
        try:
            return await client.send(request, stream=True, follow_redirects=False)
        except httpx.ConnectError as exc:  # nothing was sent; the next address is safe to try
            last = exc
    assert last is not None
    raise last


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else None


def _media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _reason(status: int) -> str:
    try:
        return f" ({HTTPStatus(status).phrase})"
    except ValueError:
        return ""


def _open_exclusive(path: Path) -> BinaryIO:
    # Opening (and closing) is a quick metadata operation, done inline so that a cancelled
    # fetch can never leave a file created behind its back; the writes go to a thread.
    return path.open("xb")


def _write_chunks(fh: BinaryIO, chunks: list[bytes]) -> None:
    fh.writelines(chunks)


async def _stream_body(response: httpx.Response, target: _Target, tmp: Path, policy: FetchPolicy) -> tuple[int, str]:
    declared = _content_length(response)
    if declared is not None and declared > policy.max_bytes:
        raise FetchError(
            TOO_LARGE,
            f"The document at host {target.host!r} is {declared} bytes, over the limit of {policy.max_bytes} bytes.",
        )
    digest = hashlib.sha256()
    total = 0
    pending: list[bytes] = []
    pending_size = 0
    fh = _open_exclusive(tmp)
    try:
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if total > policy.max_bytes:
                raise FetchError(
                    TOO_LARGE,
                    f"The document at host {target.host!r} is larger than the limit of {policy.max_bytes} bytes.",
                )
            digest.update(chunk)
            pending.append(chunk)
            pending_size += len(chunk)
            if pending_size >= _WRITE_BUFFER:
                await asyncio.to_thread(_write_chunks, fh, pending)
                pending, pending_size = [], 0
        if pending:
            await asyncio.to_thread(_write_chunks, fh, pending)
    finally:
        fh.close()
    return total, digest.hexdigest()


def _redirected(exc: FetchError, via: str | None) -> FetchError:
    if via is None:
        return exc
    return FetchError(exc.code, f"{exc.message} The URL came from a redirect sent by host {via!r}.")


async def _fetch(url: str, tmp: Path, policy: FetchPolicy, state: dict[str, str]) -> FetchResult:
    target = _parse_url(url)
    state["host"] = target.host
    redirects = 0
    via: str | None = None  # the host whose redirect led to `target`
    timeout = httpx.Timeout(policy.timeout_seconds, connect=policy.connect_timeout_seconds)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=0)
    async with httpx.AsyncClient(
        trust_env=False, follow_redirects=False, timeout=timeout, limits=limits, verify=_ssl_context()
    ) as client:
        while True:
            try:
                addresses = await _resolve(target, policy)
            except FetchError as exc:
                raise _redirected(exc, via) from None
            try:
                response = await _open_response(client, target, addresses)
            except httpx.ConnectTimeout:
                raise FetchError(
                    FETCH_TIMEOUT,
                    f"Could not connect to host {target.host!r} within {policy.connect_timeout_seconds:g} seconds.",
                ) from None
            except httpx.ConnectError as exc:
                raise FetchError(
                    FETCH_FAILED,
                    f"Could not connect to host {target.host!r} on port {target.port} ({exc}); "
                    "check that the server is up and reachable.",
                ) from None
            try:
                status = response.status_code
                if status in _REDIRECT_STATUSES:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(
                            FETCH_FAILED,
                            f"The host {target.host!r} sent a redirect (HTTP {status}) without a Location.",
                        )
                    redirects += 1
                    if redirects > policy.max_redirects:
                        raise FetchError(
                            TOO_MANY_REDIRECTS,
                            f"The URL redirected more than {policy.max_redirects} times "
                            f"(last at host {target.host!r}); the limit is {policy.max_redirects}.",
                        )
                    try:
                        next_target = _parse_url(urljoin(target.url, location.strip()))
                    except FetchError as exc:
                        raise _redirected(exc, target.host) from None
                    via, target = target.host, next_target
                    state["host"] = target.host
                    continue
                if status >= 300:
                    raise FetchError(
                        FETCH_FAILED,
                        f"The host {target.host!r} answered HTTP {status}{_reason(status)}; "
                        "the document could not be fetched.",
                    )
                length, sha256 = await _stream_body(response, target, tmp, policy)
                return FetchResult(
                    url=target.url,
                    content_type=_media_type(response),
                    length=length,
                    sha256=sha256,
                    redirects=redirects,
                )
            finally:
                await response.aclose()


async def fetch_to_file(url: str, dest: Path, policy: FetchPolicy) -> FetchResult:
    """Download `url` into `dest` under `policy`, refusing non-public destinations.

    The body is written to a temporary file next to `dest` and renamed over it only on
    success; on any failure nothing is left behind and `dest` is untouched. Raises
    FetchError (see the module docstring for the codes). Local I/O errors (missing
    directory, full disk) propagate as OSError.
    """
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.part")
    state = {"host": "?"}
    try:
        try:
            async with asyncio.timeout(policy.timeout_seconds):
                result = await _fetch(url, tmp, policy, state)
        except (TimeoutError, httpx.TimeoutException):
            raise FetchError(
                FETCH_TIMEOUT,
                f"Fetching from host {state['host']!r} did not finish within {policy.timeout_seconds:g} seconds.",
            ) from None
        except httpx.InvalidURL:
            raise FetchError(INVALID_URL, f"The URL for host {state['host']!r} could not be encoded.") from None
        except httpx.HTTPError as exc:
            raise FetchError(FETCH_FAILED, f"Fetching from host {state['host']!r} failed: {exc}.") from None
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return result
