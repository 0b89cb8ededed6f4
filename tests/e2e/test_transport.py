"""Transport protections: HTTPS without a proxy, slow and idle clients cut off."""

import http.client
import json
import os
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.floods import Answer, parse, post_bytes, read_answers
from tests.support.server import POSTROOM, Server, server
from tests.support.tls import self_signed

# 46 header bytes, never finished: sent one each 0.2 s they would take 9 s, far past the 1 s
# header timeout of the `quick` server.
SLOW_HEADERS = b"POST /api/v1/email HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def https_post(port: int, context: ssl.SSLContext) -> int:
    """POST an email over HTTPS, retrying while the server starts (bounded)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
            body = json.dumps({"from": "a@example.com", "to": ["b@example.org"]})
            conn.request(
                "POST", "/api/v1/email", body=body, headers={"Content-Type": "application/json"}
            )
            status = conn.getresponse().status
            conn.close()
            return status
        except (ConnectionError, ssl.SSLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_https_with_a_certificate(workdir: Path) -> None:
    """--tls-cert/--tls-key serve HTTPS that a client trusting the certificate can use."""
    cert, key = self_signed(workdir)
    api = server(workdir, command="api", args=["--tls-cert", str(cert), "--tls-key", str(key)])
    with open(workdir / "tls.log", "wb") as log:
        process = subprocess.Popen(
            [POSTROOM, "api", "--port", str(api.port), *api.args],
            cwd=workdir,
            env={**os.environ, **api.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        assert https_post(api.port, ssl.create_default_context(cafile=str(cert))) == 202
    finally:
        process.terminate()
        process.wait(30)


def test_slow_body_is_cut_off_with_408(workdir: Path) -> None:
    """A client that announces a body and does not send it is answered 408 after the timeout."""
    api = server(workdir, {"POSTROOM_BODY_TIMEOUT": "1"}, command="api").start()
    try:
        with socket.create_connection(("127.0.0.1", api.port), timeout=30) as sock:
            sock.sendall(
                b"POST /api/v1/email HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"from":'
            )
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408")
    finally:
        api.stop()


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`postroom api` with 1 s header and keep-alive timeouts."""
    env = {"POSTROOM_HEADER_TIMEOUT": "1", "POSTROOM_KEEPALIVE_TIMEOUT": "1"}
    running = server(tmp_path_factory.mktemp("quick"), env, command="api").start()
    yield running
    running.stop()


def trickle_until_answered(sock: socket.socket, data: bytes, every: float) -> tuple[bytes, float]:
    """Send `data` a byte every `every` seconds until the server answers or closes; return what
    it sent and the seconds it took. Bounded by the length of `data`."""
    sock.settimeout(every)
    started = time.monotonic()
    for byte in data:
        sock.sendall(bytes([byte]))
        try:
            return sock.recv(4096), time.monotonic() - started
        except TimeoutError:
            continue
        except ConnectionResetError:
            return b"", time.monotonic() - started
    raise AssertionError(f"still open after {len(data)} bytes")


def keep_alive_post(sock: socket.socket) -> Answer:
    sock.sendall(post_bytes(close=False))
    answer = read_answers([sock], timeout=10).get(sock, b"")
    parsed = parse(answer)
    assert parsed is not None, answer
    assert parsed.status == 202, answer
    sock.settimeout(10)  # read_answers left it non-blocking
    return parsed


def test_headers_sent_too_slowly_get_408(quick: Server) -> None:
    """Headers still incomplete after the header timeout get a JSON 408, though bytes keep
    coming (the deadline is not moved by data)."""
    with socket.create_connection(("127.0.0.1", quick.port), timeout=10) as sock:
        answer, took = trickle_until_answered(sock, SLOW_HEADERS, every=0.2)
    parsed = parse(answer)
    assert parsed is not None, answer
    assert parsed.status == 408, answer
    assert parsed.json()["status"] == "REQUEST_TIMEOUT"
    assert 0.8 <= took < 3


def test_a_connection_that_sends_nothing_is_closed(quick: Server) -> None:
    """A connection that never sends a request is closed after the header timeout."""
    with socket.create_connection(("127.0.0.1", quick.port), timeout=10) as sock:
        started = time.monotonic()
        assert sock.recv(4096) == b""
        took = time.monotonic() - started
    assert 0.8 <= took < 3


def test_an_idle_kept_alive_connection_is_closed(quick: Server) -> None:
    """After an answer, a kept-alive connection left idle is closed after the keep-alive
    timeout."""
    with socket.create_connection(("127.0.0.1", quick.port), timeout=10) as sock:
        keep_alive_post(sock)
        started = time.monotonic()
        assert sock.recv(4096) == b""
        took = time.monotonic() - started
    assert 0.8 <= took < 3


def test_a_later_request_trickled_on_a_kept_alive_connection_is_cut_off(quick: Server) -> None:
    """The header timeout also holds for the second request on a connection: trickling it a
    byte at a time does not keep the connection forever."""
    with socket.create_connection(("127.0.0.1", quick.port), timeout=10) as sock:
        keep_alive_post(sock)
        answer, took = trickle_until_answered(sock, SLOW_HEADERS, every=0.2)
    assert answer == b""
    assert 0.8 <= took < 3
