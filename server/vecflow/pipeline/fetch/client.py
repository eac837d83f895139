"""The download: one DNS lookup per hop with every answer checked, the connection pinned to a checked address,
redirects followed by hand, and the size and time limits, into a file renamed into place only on success."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import ipaddress
import os
import secrets
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin

import httpx

from vecflow.pipeline.fetch.policy import (
    FETCH_FAILED,
    FETCH_TIMEOUT,
    INVALID_URL,
    TOO_LARGE,
    TOO_MANY_REDIRECTS,
    URL_NOT_ALLOWED,
    FetchError,
    FetchPolicy,
    IPAddress,
    _effective,
    _split_allow_hosts,
    check_address,
)
from vecflow.pipeline.fetch.urls import _parse_url, _Target

_WRITE_BUFFER = 1 << 20  # bytes collected before one (threaded) disk write
_USER_AGENT = "vecflow-fetcher/1"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class FetchResult:
    url: str  # final URL after redirects (normalised host, no fragment)
    content_type: str  # media type from the Content-Type header, lower-cased, "" if absent
    length: int
    sha256: str  # hex digest of the bytes written to dest
    redirects: int


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


async def send_pinned(
    client: httpx.AsyncClient,
    method: str,
    target: _Target,
    addresses: Iterable[IPAddress],
    headers: Mapping[str, str],
    content: bytes | None = None,
) -> httpx.Response:
    """Send `method` to the first checked address that accepts a connection (the original host in `Host` and
    SNI, no redirects followed); the response is streamed, its body unread."""
    sent = {"Host": target.host_header, "Accept-Encoding": "identity", "Connection": "close", **headers}
    extensions = {"sni_hostname": target.name} if target.scheme == "https" else {}
    last: httpx.ConnectError | None = None
    for ip in addresses:
        request = client.build_request(
            method, _pinned_url(target, ip), headers=sent, content=content, extensions=extensions
        )
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
                response = await send_pinned(
                    client, "GET", target, addresses, {"User-Agent": _USER_AGENT, "Accept": "*/*"}
                )
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
