"""POST a small body to a URL that someone else chose (a webhook endpoint), under the fetch's SSRF rules.

The same checks as `fetch_to_file` (see the package docstring): the URL is parsed the way resolvers read it;
the host is resolved once and every answer checked (`check_address`, with `allow_hosts`); the connection goes
to a checked address (no second lookup, so DNS rebinding cannot swap it), with the original host in `Host` and
SNI; no proxy, no `.netrc`. Redirects are never followed (a 3xx is just the answer). On top of that, plain
http is accepted only for hosts that `allow_hosts` names (by name, or an IP literal inside one of its networks).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

import httpx

from vecflow.pipeline.fetch.client import _resolve, _ssl_context, send_pinned
from vecflow.pipeline.fetch.policy import (
    FETCH_FAILED,
    FETCH_TIMEOUT,
    INVALID_URL,
    FetchError,
    FetchPolicy,
    IPAddress,
    _allowed_by_network,
    _split_allow_hosts,
    check_address,
)
from vecflow.pipeline.fetch.urls import _parse_url, _Target

USER_AGENT = "vecflow-webhooks/1"


def _allow_listed(target: _Target, policy: FetchPolicy) -> bool:
    if target.ip is not None:
        return _allowed_by_network(target.ip, policy)
    names, _ = _split_allow_hosts(policy.allow_hosts)
    return target.name in names


def _checked_target(url: str, policy: FetchPolicy) -> _Target:
    target = _parse_url(url)
    if target.scheme != "https" and not _allow_listed(target, policy):
        raise FetchError(
            INVALID_URL,
            f"The URL for host {target.host!r} must use https; plain http is accepted only for hosts the "
            "operator allows (VECFLOW_FETCH_ALLOW_HOSTS).",
        )
    return target


def check_destination(url: str, policy: FetchPolicy) -> None:
    """Refuse a URL that could never be posted to: malformed or with credentials (INVALID_URL), http to a host
    that is not allow-listed (INVALID_URL), or an IP literal that is not public (URL_NOT_ALLOWED). Host names are
    resolved and checked at each post, not here."""
    target = _checked_target(url, policy)
    if target.ip is not None:
        check_address(target.ip, policy, host=target.host)


async def _send(
    client: httpx.AsyncClient, target: _Target, addresses: Iterable[IPAddress], body: bytes, headers: Mapping[str, str]
) -> int:
    """POST to the first checked address that accepts a connection; the answer's status (its body unread)."""
    sent = {"User-Agent": USER_AGENT, "Content-Type": "application/json", **headers}
    response = await send_pinned(client, "POST", target, addresses, sent, content=body)
    await response.aclose()
    return response.status_code


async def post(url: str, body: bytes, headers: Mapping[str, str], policy: FetchPolicy) -> int:
    """POST `body` (JSON) with `headers` to `url` under `policy`; returns the HTTP status of the answer.

    Raises FetchError: INVALID_URL, URL_NOT_ALLOWED (the host is, or resolves to, a non-public address),
    FETCH_TIMEOUT (no answer within `policy.timeout_seconds`, DNS and connecting included) or FETCH_FAILED (DNS
    failed, the connection was refused or broke)."""
    target = _checked_target(url, policy)
    timeout = httpx.Timeout(policy.timeout_seconds, connect=policy.connect_timeout_seconds)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=0)
    try:
        async with asyncio.timeout(policy.timeout_seconds):
            addresses = await _resolve(target, policy)
            async with httpx.AsyncClient(
                trust_env=False, follow_redirects=False, timeout=timeout, limits=limits, verify=_ssl_context()
            ) as client:
                return await _send(client, target, addresses, body, headers)
    except (TimeoutError, httpx.TimeoutException):
        raise FetchError(
            FETCH_TIMEOUT, f"Host {target.host!r} did not answer within {policy.timeout_seconds:g} seconds."
        ) from None
    except httpx.ConnectError as exc:
        raise FetchError(
            FETCH_FAILED, f"Could not connect to host {target.host!r} on port {target.port} ({exc})."
        ) from None
    except httpx.HTTPError as exc:
        raise FetchError(FETCH_FAILED, f"Posting to host {target.host!r} failed: {exc}.") from None
