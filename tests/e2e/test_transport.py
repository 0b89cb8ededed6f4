"""Transport protections: HTTPS without a proxy, slow clients cut off."""

import datetime
import http.client
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.server import POSTROOM, server


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made for this test."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


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
