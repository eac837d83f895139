"""The SSRF-hardened URL fetcher, against real HTTP(S) servers on 127.0.0.1.

Every test runs with two guards: DNS answers come from a fake table (only "localhost" is
resolved for real, from /etc/hosts), and any attempt by the fetcher to send a request to a
non-loopback address fails the test, so a regression can never reach a real network.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from vecflow.pipeline import fetch
from vecflow.pipeline.fetch import (
    FETCH_FAILED,
    FETCH_TIMEOUT,
    INVALID_URL,
    TOO_LARGE,
    TOO_MANY_REDIRECTS,
    URL_NOT_ALLOWED,
    FetchError,
    FetchPolicy,
    check_address,
    fetch_to_file,
    parse_host,
)

FILE_BODY = b"vecflow fetch test body\n" * 200
LIMIT = 4096
ALLOW = frozenset({"127.0.0.1/32"})
POLICY = FetchPolicy(timeout_seconds=5.0, connect_timeout_seconds=2.0, allow_hosts=ALLOW)
OPEN = FetchPolicy(timeout_seconds=5.0, connect_timeout_seconds=2.0)  # nothing allowlisted


# ------------------------------------------------------------------------ test servers


@dataclass
class Server:
    port: int
    scheme: str = "http"
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header)
    sni: list[str | None] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str, status: int = 302) -> None:
        self._send(status, headers={"Location": location})

    def do_GET(self) -> None:
        state: Server = self.server.state
        state.requests.append((self.path, self.headers.get("Host", "")))
        port = state.port
        path = self.path.split("?", 1)[0]
        try:
            if path == "/file":
                self._send(200, FILE_BODY, {"Content-Type": "Text/Plain; charset=utf-8"})
            elif path == "/no-type":
                self._send(200, b"untyped")
            elif path == "/echo-host":
                self._send(200, self.headers.get("Host", "").encode(), {"Content-Type": "text/plain"})
            elif path.startswith("/redirect/"):
                n = int(path.rsplit("/", 1)[1])
                if n == 0:
                    self._redirect("../file", 301)  # relative to /redirect/0
                elif n % 2:
                    self._redirect(f"/redirect/{n - 1}", 307)
                else:
                    self._redirect(f"{state.scheme}://127.0.0.1:{port}/redirect/{n - 1}", 302)
            elif path == "/loop":
                self._redirect("/loop")
            elif path == "/to-blocked":
                self._redirect(f"http://127.0.0.2:{port}/file")
            elif path == "/to-metadata":
                self._redirect("http://169.254.169.254/latest/meta-data/iam/security-credentials/")
            elif path == "/to-decimal":
                self._redirect(f"http://2130706434:{port}/file")  # 127.0.0.2
            elif path == "/to-userinfo":
                self._redirect(f"http://admin:s3cret-pw@127.0.0.1:{port}/file")
            elif path == "/to-ftp":
                self._redirect("ftp://127.0.0.1/file")
            elif path == "/redirect-no-location":
                self._send(302)
            elif path == "/big-cl":
                self._send(200, b"x" * (LIMIT + 1), {"Content-Type": "application/octet-stream"})
            elif path == "/big-chunked":
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"y" * 512
                for _ in range(4 * LIMIT // len(chunk)):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            elif path == "/slow":
                # Drip one byte every 0.1 s: no single read waits long, only the total is slow.
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(1000):
                    if self.server.stop.wait(0.1):
                        break
                    self.wfile.write(b"z")
                    self.wfile.flush()
            elif path == "/404":
                self._send(404, b"no such document", {"Content-Type": "text/plain"})
            else:
                self._send(500, b"unknown test route")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the fetcher hung up early, as it should for oversized bodies


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@contextlib.contextmanager
def serve(ssl_context: ssl.SSLContext | None = None) -> Iterator[Server]:
    httpd = _Quiet(("127.0.0.1", 0), Handler)
    state = Server(port=httpd.server_address[1], scheme="https" if ssl_context else "http")
    if ssl_context is not None:

        def remember_sni(sslobj: Any, name: str | None, ctx: ssl.SSLContext) -> None:
            state.sni.append(name)

        ssl_context.sni_callback = remember_sni
        httpd.socket = ssl_context.wrap_socket(httpd.socket, server_side=True)
    httpd.state = state  # type: ignore[attr-defined]
    httpd.stop = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.stop.set()  # type: ignore[attr-defined]
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serve() as state:
        yield state


@pytest.fixture
def dead_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- guards


@dataclass
class Network:
    dns: dict[str, list[list[str]]] = field(default_factory=dict)  # name -> answers per lookup
    lookups: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)  # hosts the fetcher sent requests to

    def answer(self, name: str, *answers: list[str]) -> None:
        self.dns[name] = list(answers)


@pytest.fixture(autouse=True)
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    net = Network()
    real_getaddrinfo = asyncio.base_events.BaseEventLoop.getaddrinfo

    async def fake_getaddrinfo(self: Any, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(name.split("%")[0])
            return await real_getaddrinfo(self, host, port, *args, **kwargs)  # numeric, no DNS
        net.lookups.append(name)
        if name == "localhost":
            return await real_getaddrinfo(self, host, port, *args, **kwargs)  # /etc/hosts
        if name not in net.dns:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answers = net.dns[name]
        ips = answers.pop(0) if len(answers) > 1 else answers[0]
        out = []
        for ip in ips:
            if ipaddress.ip_address(ip).version == 6:
                out.append((socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port, 0, 0)))
            else:
                out.append((socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port)))
        return out

    real_send = httpx.AsyncClient.send

    async def guarded_send(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        host = request.url.host
        net.sent.append(host)
        if not ipaddress.ip_address(host).is_loopback:
            raise AssertionError(f"the fetcher tried to connect to non-loopback {host}")
        return await real_send(self, request, **kwargs)

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "getaddrinfo", fake_getaddrinfo)
    monkeypatch.setattr(httpx.AsyncClient, "send", guarded_send)
    return net


async def expect_error(code: str, url: str, dest: Path, policy: FetchPolicy = POLICY) -> FetchError:
    with pytest.raises(FetchError) as info:
        await fetch_to_file(url, dest, policy)
    assert info.value.code == code, info.value.message
    assert names_in(dest.parent) == [], "partial files were left behind"
    return info.value


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ------------------------------------------------------------------ parse_host / check


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0X7F.0.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("１２７.０.０.１", "127.0.0.1"),  # full-width digits
        ("169.254.43518", "169.254.169.254"),
        ("8.8.8.8", "8.8.8.8"),
        ("[::1]", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("[::ffff:7f00:1]", "::ffff:7f00:1"),
        ("[fe80::1%25eth0]", "fe80::1"),
        ("[FE80::1%eth0]", "fe80::1"),
        ("[0:0:0:0:0:0:0:1]", "::1"),
    ],
)
def test_parse_host_normalises_numeric_forms(host: str, expected: str) -> None:
    assert parse_host(host) == ipaddress.ip_address(expected)


@pytest.mark.parametrize("host", ["example.com", "Example.COM.", "localhost", "a_b.example", "bücher.example"])
def test_parse_host_returns_none_for_names(host: str) -> None:
    assert parse_host(host) is None


@pytest.mark.parametrize(
    "host",
    ["1.2.3.4.5", "256.0.0.1", "1.2.3.256", "1.16777216", "08.0.0.1", "0x1g.0.0.1", "1..1", "foo.123", "[v1.x]",
     "[127.0.0.1]", "[::1", "exa mple.com", "%31%32%37.0.0.1", "a*b.example", ""],
)  # fmt: skip
def test_parse_host_rejects_malformed_hosts(host: str) -> None:
    with pytest.raises(FetchError) as info:
        parse_host(host)
    assert info.value.code == INVALID_URL


BLOCKED_ADDRESSES = [
    "127.0.0.1", "127.255.255.254", "0.0.0.0", "0.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.1",
    "100.64.0.1", "100.127.255.254", "169.254.0.1", "169.254.169.254", "100.100.100.200", "224.0.0.1",
    "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.2.1", "198.18.0.1", "192.0.0.8",
    "::", "::1", "fe80::1", "fc00::1", "fd12:3456::1", "fd00:ec2::254", "fec0::1", "ff02::1", "ff0e::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "::10.0.0.1",
    "2002:7f00:1::1", "2002:a9fe:a9fe::", "64:ff9b::127.0.0.1", "64:ff9b::169.254.169.254", "64:ff9b:1::8.8.8.8",
    "2001:db8::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "100::1", "3fff::1", "192.0.0.170",
]  # fmt: skip
PUBLIC_ADDRESSES = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8",
                    "64:ff9b::8.8.8.8", "2002:808:808::1"]  # fmt: skip


@pytest.mark.parametrize("address", BLOCKED_ADDRESSES)
def test_check_address_blocks_non_public(address: str) -> None:
    with pytest.raises(FetchError) as info:
        check_address(ipaddress.ip_address(address), FetchPolicy())
    assert info.value.code == URL_NOT_ALLOWED
    assert "public" in info.value.message


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_check_address_passes_public(address: str) -> None:
    check_address(ipaddress.ip_address(address), FetchPolicy())


def test_check_address_allowlist_networks() -> None:
    policy = FetchPolicy(allow_hosts=frozenset({"127.0.0.1/32", "10.0.0.0/8", "fd00::/8"}))
    for ok in ("127.0.0.1", "::ffff:127.0.0.1", "10.20.30.40", "fd12::1"):
        check_address(ipaddress.ip_address(ok), policy)
    for blocked in ("127.0.0.2", "169.254.169.254", "192.168.0.1", "fc00::1", "::1"):
        with pytest.raises(FetchError):
            check_address(ipaddress.ip_address(blocked), policy)


def test_policy_validation() -> None:
    assert FetchPolicy().allow_hosts == frozenset()
    assert FetchPolicy().max_bytes == 512 * 1024 * 1024
    assert FetchPolicy(allow_hosts={"a.example"}).allow_hosts == frozenset({"a.example"})  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FetchPolicy(allow_hosts=frozenset({"10.0.0.1/8"}))  # host bits set: ambiguous intent
    with pytest.raises(ValueError):
        FetchPolicy(max_redirects=-1)


# ------------------------------------------------------- refused before any connection


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/file", "file:///etc/passwd", "gopher://127.0.0.1:70/_x", "data:text/plain,hi",
        "javascript:alert(1)", "//127.0.0.1/file", "127.0.0.1/file", "", "http://", "http:///path", "http://:80/",
        "http://user:pw@127.0.0.1/", "http://user@127.0.0.1/", "http://@127.0.0.1/", "https://a:b@example.com/",
        "http://127.0.0.1:0/", "http://127.0.0.1:65536/", "http://127.0.0.1:8o/", "http://127.0.0.1:+80/",
        "http://[v1.x]/", "http://[127.0.0.1]/", "http://[::1/", "http://1.2.3.4.5/", "http://256.256.256.256/",
        "http://exa mple.com/", "http://example.com\\@127.0.0.1/", "http://a\tb.example/",
        "http://%31%32%37.0.0.1/", "http://example.com/\r\nX-Injected: 1",
    ],
)  # fmt: skip
async def test_invalid_urls(url: str, tmp_path: Path, network: Network) -> None:
    await expect_error(INVALID_URL, url, tmp_path / "out", OPEN)
    assert network.sent == [] and network.lookups == []


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1", "127.1", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "0", "0.0.0.0", "[::]",
        "[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::127.0.0.1]", "[2002:7f00:1::]", "[64:ff9b::7f00:1]",
        "[fe80::1%25eth0]", "10.0.0.1", "172.16.0.1", "192.168.0.1", "169.254.169.254", "[fd00:ec2::254]",
        "100.100.100.200", "100.64.0.1", "224.0.0.1", "255.255.255.255", "[::ffff:169.254.169.254]", "[fc00::1]",
        "１２７.0.0.1",
    ],
)  # fmt: skip
async def test_blocked_literals_without_allowlist(host: str, tmp_path: Path, dead_port: int, network: Network) -> None:
    err = await expect_error(URL_NOT_ALLOWED, f"http://{host}:{dead_port}/x", tmp_path / "out", OPEN)
    assert network.sent == [] and network.lookups == []
    assert "public" in err.message


async def test_localhost_blocked_without_allowlist(server: Server, tmp_path: Path, network: Network) -> None:
    before = len(server.requests)
    err = await expect_error(URL_NOT_ALLOWED, server.url("/file", host="localhost"), tmp_path / "out", OPEN)
    assert "'localhost'" in err.message and "loopback" in err.message
    assert network.lookups == ["localhost"] and network.sent == []
    assert len(server.requests) == before


async def test_every_resolved_address_must_be_public(tmp_path: Path, network: Network, dead_port: int) -> None:
    network.answer("mixed.test", ["8.8.8.8", "10.0.0.7"])
    err = await expect_error(URL_NOT_ALLOWED, f"http://mixed.test:{dead_port}/", tmp_path / "out")
    assert "mixed.test" in err.message and "10.0.0.7" in err.message
    assert network.sent == []  # refused before connecting to the public answer


async def test_dns_failure_is_fetch_failed(tmp_path: Path) -> None:
    err = await expect_error(FETCH_FAILED, "http://no-such-host.test/", tmp_path / "out")
    assert "no-such-host.test" in err.message


# ---------------------------------------------------------------------- real fetches


async def test_fetch_follows_redirects_and_hashes(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "doc.txt"
    result = await fetch_to_file(server.url("/redirect/3"), dest, POLICY)
    assert dest.read_bytes() == FILE_BODY
    assert result.url == server.url("/file")
    assert result.redirects == 4
    assert result.length == len(FILE_BODY)
    assert result.sha256 == hashlib.sha256(FILE_BODY).hexdigest()
    assert result.content_type == "text/plain"
    assert names_in(tmp_path) == ["doc.txt"]


async def test_fetch_without_content_type_and_overwrite(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "doc"
    dest.write_bytes(b"old contents")
    result = await fetch_to_file(server.url("/no-type?x=1"), dest, POLICY)
    assert (result.content_type, result.redirects, result.length) == ("", 0, 7)
    assert result.url == server.url("/no-type?x=1")
    assert dest.read_bytes() == b"untyped"


async def test_numeric_forms_are_normalised_then_allowlisted(server: Server, tmp_path: Path) -> None:
    for i, host in enumerate(["2130706433", "0x7f.0.0.1", "127.1", "[::ffff:127.0.0.1]"]):
        result = await fetch_to_file(server.url("/echo-host", host=host), tmp_path / f"{i}", POLICY)
        assert result.url == server.url("/echo-host")
        assert (tmp_path / f"{i}").read_text() == f"127.0.0.1:{server.port}"


async def test_redirect_limit_is_exact(server: Server, tmp_path: Path) -> None:
    policy = FetchPolicy(timeout_seconds=5.0, max_redirects=3, allow_hosts=ALLOW)
    result = await fetch_to_file(server.url("/redirect/2"), tmp_path / "ok", policy)  # exactly 3 redirects
    assert result.redirects == 3
    tight = FetchPolicy(timeout_seconds=5.0, max_redirects=2, allow_hosts=ALLOW)
    err = await expect_error(TOO_MANY_REDIRECTS, server.url("/redirect/2"), tmp_path / "sub" / "x", tight)
    assert "2" in err.message


async def test_endless_redirect_loop(server: Server, tmp_path: Path) -> None:
    before = len(server.requests)
    policy = FetchPolicy(timeout_seconds=5.0, max_redirects=5, allow_hosts=ALLOW)
    err = await expect_error(TOO_MANY_REDIRECTS, server.url("/loop"), tmp_path / "out", policy)
    assert "127.0.0.1" in err.message and "5" in err.message
    assert [p for p, _ in server.requests[before:]] == ["/loop"] * 6


@pytest.mark.parametrize("path", ["/to-blocked", "/to-decimal"])
async def test_redirect_to_other_loopback_address_is_refused(
    path: str, server: Server, tmp_path: Path, network: Network
) -> None:
    err = await expect_error(URL_NOT_ALLOWED, server.url(path), tmp_path / "out")
    assert "127.0.0.2" in err.message and "redirect" in err.message
    assert network.sent == ["127.0.0.1"]


async def test_redirect_to_metadata_service_is_refused(server: Server, tmp_path: Path, network: Network) -> None:
    err = await expect_error(URL_NOT_ALLOWED, server.url("/to-metadata"), tmp_path / "out")
    assert "169.254.169.254" in err.message and "metadata" in err.message
    assert network.sent == ["127.0.0.1"]


async def test_redirect_with_credentials_is_refused_without_echoing_them(server: Server, tmp_path: Path) -> None:
    err = await expect_error(INVALID_URL, server.url("/to-userinfo"), tmp_path / "out")
    assert "s3cret" not in err.message and "admin" not in err.message and "s3cret" not in repr(err)
    assert "password" in err.message


async def test_redirect_to_other_scheme_is_refused(server: Server, tmp_path: Path) -> None:
    err = await expect_error(INVALID_URL, server.url("/to-ftp"), tmp_path / "out")
    assert "'ftp'" in err.message and "redirect" in err.message


async def test_redirect_without_location(server: Server, tmp_path: Path) -> None:
    await expect_error(FETCH_FAILED, server.url("/redirect-no-location"), tmp_path / "out")


async def test_too_large_by_content_length(server: Server, tmp_path: Path) -> None:
    policy = FetchPolicy(timeout_seconds=5.0, max_bytes=LIMIT, allow_hosts=ALLOW)
    err = await expect_error(TOO_LARGE, server.url("/big-cl"), tmp_path / "out", policy)
    assert str(LIMIT) in err.message and str(LIMIT + 1) in err.message


async def test_too_large_while_streaming_chunked(server: Server, tmp_path: Path) -> None:
    policy = FetchPolicy(timeout_seconds=5.0, max_bytes=LIMIT, allow_hosts=ALLOW)
    err = await expect_error(TOO_LARGE, server.url("/big-chunked"), tmp_path / "out", policy)
    assert str(LIMIT) in err.message


async def test_size_limit_boundary(server: Server, tmp_path: Path) -> None:
    exact = FetchPolicy(timeout_seconds=5.0, max_bytes=len(FILE_BODY), allow_hosts=ALLOW)
    assert (await fetch_to_file(server.url("/file"), tmp_path / "ok", exact)).length == len(FILE_BODY)
    under = FetchPolicy(timeout_seconds=5.0, max_bytes=len(FILE_BODY) - 1, allow_hosts=ALLOW)
    await expect_error(TOO_LARGE, server.url("/file"), tmp_path / "sub" / "x", under)


async def test_total_timeout_with_partial_file_removed(server: Server, tmp_path: Path) -> None:
    policy = FetchPolicy(timeout_seconds=1.0, allow_hosts=ALLOW)
    started = time.monotonic()
    task = asyncio.create_task(fetch_to_file(server.url("/slow"), tmp_path / "out", policy))
    await asyncio.sleep(0.5)
    partial = names_in(tmp_path)
    assert len(partial) == 1 and partial[0].startswith(".out.") and partial[0].endswith(".part")
    with pytest.raises(FetchError) as info:
        await task
    err = info.value
    assert err.code == FETCH_TIMEOUT
    assert names_in(tmp_path) == []
    assert time.monotonic() - started < 3.0
    assert "1 seconds" in err.message and "127.0.0.1" in err.message


async def test_http_error_status(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "keep"
    dest.write_bytes(b"previous")
    with pytest.raises(FetchError) as info:
        await fetch_to_file(server.url("/404"), dest, POLICY)
    assert info.value.code == FETCH_FAILED
    assert "404" in info.value.message and "127.0.0.1" in info.value.message
    assert dest.read_bytes() == b"previous"
    assert names_in(tmp_path) == ["keep"]


async def test_connection_refused(tmp_path: Path, dead_port: int) -> None:
    err = await expect_error(FETCH_FAILED, f"http://127.0.0.1:{dead_port}/", tmp_path / "out")
    assert "127.0.0.1" in err.message


async def test_hostname_allowlist_and_pinning(server: Server, tmp_path: Path, network: Network) -> None:
    # First answer is checked and used; a rebinding second answer must never be asked for.
    network.answer("internal.test", ["127.0.0.1"], ["169.254.169.254"])
    policy = FetchPolicy(timeout_seconds=5.0, allow_hosts=frozenset({"Internal.Test"}))
    result = await fetch_to_file(server.url("/echo-host", host="internal.test"), tmp_path / "out", policy)
    assert (tmp_path / "out").read_text() == f"internal.test:{server.port}"
    assert result.url == server.url("/echo-host", host="internal.test")
    assert network.lookups == ["internal.test"]
    assert network.sent == ["127.0.0.1"]


async def test_hostname_not_allowlisted_is_refused(tmp_path: Path, network: Network, dead_port: int) -> None:
    network.answer("internal.test", ["127.0.0.1"])
    await expect_error(URL_NOT_ALLOWED, f"http://internal.test:{dead_port}/", tmp_path / "out", OPEN)
    assert network.sent == []


async def test_localhost_allowlisted_by_name(server: Server, tmp_path: Path) -> None:
    policy = FetchPolicy(timeout_seconds=5.0, allow_hosts=frozenset({"LOCALHOST"}))
    await fetch_to_file(server.url("/echo-host", host="localhost"), tmp_path / "out", policy)
    assert (tmp_path / "out").read_text() == f"localhost:{server.port}"


async def test_next_checked_address_is_tried_after_refusal(server: Server, tmp_path: Path, network: Network) -> None:
    network.answer("two.test", ["::1", "127.0.0.1"])  # nothing listens on [::1]:port
    policy = FetchPolicy(timeout_seconds=5.0, allow_hosts=frozenset({"two.test"}))
    await fetch_to_file(server.url("/echo-host", host="two.test"), tmp_path / "out", policy)
    assert network.sent == ["::1", "127.0.0.1"]


# ------------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, ssl.SSLContext]]:
    """An https server on 127.0.0.1 whose certificate names only 'vecflow.test' (no IP)."""
    pytest.importorskip("cryptography")
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vecflow test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vecflow.test")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("vecflow.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client_ctx = ssl.create_default_context(cadata=ca_cert.public_bytes(serialization.Encoding.PEM).decode())
    with serve(server_ctx) as state:
        yield state, client_ctx


@pytest.fixture
def https_server(tls: tuple[Server, ssl.SSLContext], monkeypatch: pytest.MonkeyPatch, network: Network) -> Server:
    state, client_ctx = tls
    ctx_factory: Callable[[], ssl.SSLContext] = lambda: client_ctx  # noqa: E731
    monkeypatch.setattr(fetch.client, "_ssl_context", ctx_factory)
    network.answer("vecflow.test", ["127.0.0.1"])
    network.answer("other.test", ["127.0.0.1"])
    return state


async def test_https_pins_address_but_verifies_original_hostname(
    https_server: Server, tmp_path: Path, network: Network
) -> None:
    before = len(https_server.sni)
    dest = tmp_path / "out"
    result = await fetch_to_file(https_server.url("/echo-host", host="vecflow.test"), dest, POLICY)
    assert dest.read_text() == f"vecflow.test:{https_server.port}"
    assert result.url == https_server.url("/echo-host", host="vecflow.test")
    assert https_server.sni[before:] == ["vecflow.test"]
    assert network.sent == ["127.0.0.1"]

    # Relative redirects stay on the name (and so keep verifying against it).
    result = await fetch_to_file(https_server.url("/redirect/1", host="vecflow.test"), tmp_path / "two", POLICY)
    assert (result.url, result.redirects) == (https_server.url("/file", host="vecflow.test"), 2)
    assert (tmp_path / "two").read_bytes() == FILE_BODY


@pytest.mark.parametrize("host", ["other.test", "127.0.0.1"])
async def test_https_certificate_must_match_the_url_host(host: str, https_server: Server, tmp_path: Path) -> None:
    err = await expect_error(FETCH_FAILED, https_server.url("/file", host=host), tmp_path / "out")
    assert "certificate" in err.message.lower()
