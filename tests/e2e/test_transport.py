"""Transport protections: HTTPS without a proxy, slow clients cut off."""

import http.client
import json
import os
import socket
import ssl
import subprocess
import time
from pathlib import Path

from tests.support.server import POSTROOM, server
from tests.support.tls import self_signed


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
