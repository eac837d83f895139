"""Parsing URLs and hosts the way resolvers read them, so that no spelling of an address can hide what it is."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import idna

from vecflow.pipeline.fetch.policy import INVALID_URL, FetchError, IPAddress

_MAX_URL_LENGTH = 8192
_DEFAULT_PORTS = {"http": 80, "https": 443}

_HOSTNAME_RE = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_PORT_RE = re.compile(r"[0-9]{1,5}")
_FORBIDDEN_CHARS_RE = re.compile(r"[\x00-\x20\x7f\\]")
_HEX_PART_RE = re.compile(r"0[xX][0-9a-fA-F]*")
_OCT_PART_RE = re.compile(r"0[0-7]+")
_DEC_PART_RE = re.compile(r"0|[1-9][0-9]*")


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
