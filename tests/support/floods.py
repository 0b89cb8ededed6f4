"""Many raw client sockets at once against 127.0.0.1, bounded in count and time."""

import json
import resource
import selectors
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest

EMAIL = json.dumps({"from": "a@example.com", "to": ["b@example.org"], "subject": "s", "body": "b"})


def post_bytes(close: bool = True) -> bytes:
    """One whole POST /api/v1/email, closing the connection after its answer unless told."""
    body = EMAIL.encode()
    connection = b"Connection: close\r\n" if close else b""
    return (
        b"POST /api/v1/email HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"%sContent-Length: %d\r\n\r\n%s" % (connection, len(body), body)
    )


def allow_open_files(needed: int) -> None:
    """Raise this process's soft limit on open files (the server started from it inherits it),
    or skip when the hard limit cannot hold `needed` sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"needs {needed} open files; the hard limit is {hard}")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def open_many(port: int, count: int) -> list[socket.socket]:
    """`count` connected sockets (the listen backlog holds them until the server accepts)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
    except BaseException:
        close_all(socks)
        raise
    return socks


def close_all(socks: Iterable[socket.socket]) -> None:
    for sock in socks:
        sock.close()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def parse(raw: bytes) -> Answer | None:
    """The first HTTP answer in `raw`, or None while it is incomplete."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    headers = {name.lower(): value for name, value in headers.items()}
    length = int(headers.get("content-length", "0"))
    if len(rest) < length:
        return None
    return Answer(int(lines[0].split(" ")[1]), headers, rest[:length])


def read_answers(
    socks: list[socket.socket], timeout: float, enough: int | None = None
) -> dict[socket.socket, bytes]:
    """What each socket received until the server closed it or its whole answer was in; stops
    once `enough` sockets are done (default: all) or after `timeout` seconds, whatever is left.
    Only sockets that received something are in the result."""
    received = {sock: b"" for sock in socks}
    wanted = len(socks) if enough is None else enough
    selector = selectors.DefaultSelector()
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while len(socks) - len(selector.get_map()) < wanted and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.2):
                _receive(selector, key.fileobj, received)  # type: ignore[arg-type]
    finally:
        selector.close()
    return {sock: raw for sock, raw in received.items() if raw}


def _receive(
    selector: selectors.BaseSelector, sock: socket.socket, received: dict[socket.socket, bytes]
) -> None:
    try:
        chunk = sock.recv(65536)
    except BlockingIOError:
        return
    except ConnectionResetError:
        chunk = b""
    received[sock] += chunk
    if not chunk or parse(received[sock]) is not None:
        selector.unregister(sock)


def still_open(sock: socket.socket) -> bool:
    """True while the server has neither answered nor closed `sock`."""
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)  # an answer or the end of the stream
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False
