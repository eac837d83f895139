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

The package: `policy` (codes, FetchError, FetchPolicy, address checks), `urls` (URL and host parsing) and
`client` (resolution, the pinned connection, redirects, limits, `fetch_to_file`).
"""

from __future__ import annotations

from vecflow.pipeline.fetch.client import FetchResult, fetch_to_file
from vecflow.pipeline.fetch.policy import (
    FETCH_FAILED,
    FETCH_TIMEOUT,
    INVALID_URL,
    TOO_LARGE,
    TOO_MANY_REDIRECTS,
    URL_NOT_ALLOWED,
    FetchError,
    FetchPolicy,
    check_address,
)
from vecflow.pipeline.fetch.urls import parse_host

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
