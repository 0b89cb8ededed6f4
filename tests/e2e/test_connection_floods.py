"""Connection floods against the real `postroom api`: slow connections cannot lock a client out,
and a burst beyond the connection limit is served up to it and refused cleanly."""

import contextlib
import socket
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.support.floods import (
    Answer,
    allow_open_files,
    close_all,
    open_many,
    parse,
    post_bytes,
    read_answers,
    still_open,
)
from tests.support.http import post_email
from tests.support.server import server

FLOOD = 1_100
BURST = 2_000
LIMIT = 1_000  # POSTROOM_MAX_CONNECTIONS, its default
PER_CLIENT = 100  # POSTROOM_MAX_CONNECTIONS_PER_CLIENT, its default
# A newcomer may take the slot of a connection that has waited this long for its first request
# headers, and not sooner (ConnectionLimits.evict_after in src/postroom/api/connections.py).
EVICT_AFTER = 1.0
TRICKLED = b"POST /api/v1/email HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
EMAIL = {"from": "a@example.com", "to": ["b@example.org"], "subject": "s", "body": "b"}


def assert_refused_cleanly(raw: bytes) -> None:
    answer = parse(raw)
    assert answer is not None, raw
    assert answer.status == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["connection"] == "close"
    assert answer.json()["status"] == "SERVICE_UNAVAILABLE"


class Trickle:
    """The next byte of a request's headers on each socket, at most once a second."""

    def __init__(self) -> None:
        self.sent = 0
        self.due = time.monotonic()

    def tick(self, socks: list[socket.socket]) -> None:
        if time.monotonic() < self.due:
            return
        byte = TRICKLED[self.sent : self.sent + 1]
        for sock in socks:
            with contextlib.suppress(OSError):  # answered and closed by the server: done
                sock.send(byte)
        self.sent += 1
        self.due += 1.0

    def until(self, when: float, socks: list[socket.socket]) -> None:
        """Keep trickling until `when` (a few seconds at most in these tests)."""
        assert when - time.monotonic() < 10
        while time.monotonic() < when:
            self.tick(socks)
            time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "held"),
    [({}, PER_CLIENT), ({"POSTROOM_MAX_CONNECTIONS_PER_CLIENT": "0"}, LIMIT)],
    ids=["per-client-cap", "total-limit"],
)
def test_slow_headers_do_not_lock_out_a_client(
    workdir: Path, env: dict[str, str], held: int
) -> None:
    """With 1,100 connections sending their headers a byte a second, a client still gets 202
    within 1 s; the flood holds at most its share of slots, the rest get the JSON 503."""
    allow_open_files(FLOOD + 256)
    api = server(workdir, env, command="api").start()
    flood = open_many(api.port, FLOOD)
    trickle = Trickle()
    try:
        trickle.tick(flood)
        refused = read_answers(flood, timeout=20, enough=FLOOD - held)
        all_refused = time.monotonic()
        waiting = [sock for sock in flood if sock not in refused]
        # Every slot holder was accepted before the last refusal was answered; once it is
        # EVICT_AFTER old, a newcomer may take the oldest one's slot.
        trickle.until(all_refused + EVICT_AFTER + 0.2, waiting)
        started = time.monotonic()
        reply = post_email(api.url, EMAIL)
        took = time.monotonic() - started
        still_waiting = sum(still_open(sock) for sock in waiting)
    finally:
        close_all(flood)
        api.stop()
    assert reply.status == 202, reply.body
    assert took < 1.0
    assert len(refused) == FLOOD - held
    for raw in refused.values():
        assert_refused_cleanly(raw)
    assert still_waiting >= held - 1  # one of them gave its slot to the client


@pytest.mark.slow
def test_a_burst_is_served_up_to_the_limit_and_the_rest_refused_cleanly(workdir: Path) -> None:
    """2,000 clients at once: at least the connection limit get 202, every other one the JSON
    503 with Retry-After, and the refusals log a line, not one per client."""
    allow_open_files(BURST + 256)
    # Every client here is 127.0.0.1; the per-client cap is the other test's subject.
    api = server(workdir, {"POSTROOM_MAX_CONNECTIONS_PER_CLIENT": "0"}, command="api").start()
    # All connect before any sends, and keep their connections alive after the answer, so
    # the server really holds more than its limit at once (one after another, it keeps up).
    clients = open_many(api.port, BURST)
    try:
        for client in clients:
            client.sendall(post_bytes(close=False))
        received = read_answers(clients, timeout=60)
    finally:
        close_all(clients)
        api.stop()
    answers = [parse(raw) for raw in received.values()]
    statuses = Counter(answer.status for answer in answers if answer is not None)
    assert statuses[202] >= LIMIT, statuses
    assert statuses[503] > 0, statuses  # the burst did go past the limit
    assert statuses[202] + statuses[503] == BURST, statuses
    for raw in received.values():
        if not raw.startswith(b"HTTP/1.1 202"):
            assert_refused_cleanly(raw)
    log = api.output()
    assert log.count('"event": "connection.refused"') <= 2
    assert sum('"level": "warning"' in line for line in log.splitlines()) <= 5


def test_answer_parsing_needs_the_whole_body() -> None:
    """The test helper reports an answer only once its Content-Length is in (no false passes)."""
    head = b"HTTP/1.1 503 X\r\ncontent-length: 4\r\n\r\n"
    assert parse(head + b"ab") is None
    whole = parse(head + b"abcd")
    assert isinstance(whole, Answer)
    assert whole.body == b"abcd"
