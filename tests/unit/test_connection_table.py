"""The connection guard's admission rules (a hand-moved clock, stand-in connections) and its
log lines."""

import asyncio
import logging
import time
from collections.abc import Callable

import pytest

from postroom.api.connections import ConnectionLimits, ConnectionTable, CountedEvents, client_key


class Conn:
    """A stand-in connection: on eviction it gives its slot back, as the real one does."""

    def __init__(self, table: ConnectionTable, client: str) -> None:
        self.table, self.client, self.evicted = table, client, False

    def evict(self) -> None:
        self.evicted = True
        self.table.release(self, self.client)


def table(total: int = 3, per_client: int = 0) -> ConnectionTable:
    return ConnectionTable(ConnectionLimits(total, per_client, header_timeout=10))


def admit(t: ConnectionTable, client: str, now: float) -> tuple[Conn, str | None]:
    conn = Conn(t, client)
    return conn, t.admit(conn, client, now)


def test_beyond_the_total_young_connections_keep_their_slots() -> None:
    """Past the total, a newcomer is refused while every holder is under a second old."""
    t = table(total=2)
    assert admit(t, "a", 0.0)[1] is None
    assert admit(t, "b", 0.1)[1] is None
    assert admit(t, "c", 0.9)[1] == "total"
    assert t.open == 2


def test_a_connection_waiting_too_long_gives_its_slot_to_a_newcomer() -> None:
    """When full, the connection that has waited longest for its headers (over a second) is
    evicted for the newcomer; one whose headers are in is never evicted."""
    t = table(total=2)
    first, _ = admit(t, "a", 0.0)
    second, _ = admit(t, "b", 0.5)
    t.headers_complete(first, "a")
    _, refused = admit(t, "c", 1.6)
    assert refused is None
    assert not first.evicted
    assert second.evicted
    assert t.open == 2


def test_one_client_is_capped_while_others_are_admitted() -> None:
    """A client at its cap is refused; another client still gets a slot."""
    t = table(total=10, per_client=2)
    admit(t, "a", 0.0)
    admit(t, "a", 0.0)
    assert admit(t, "a", 0.5)[1] == "client"
    assert admit(t, "b", 0.5)[1] is None


def test_a_capped_client_can_only_evict_its_own_connections() -> None:
    """A client at its cap may displace its own long-waiting connection, not another's."""
    t = table(total=10, per_client=1)
    other, _ = admit(t, "b", 0.0)
    own, _ = admit(t, "a", 0.5)
    _, refused = admit(t, "a", 2.0)
    assert refused is None
    assert own.evicted
    assert not other.evicted


def test_released_slots_are_free_again() -> None:
    """Closing connections frees their slots, and the per-client count with them."""
    t = table(total=1, per_client=1)
    conn, _ = admit(t, "a", 0.0)
    t.headers_complete(conn, "a")
    t.release(conn, "a")
    assert admit(t, "a", 0.1)[1] is None
    assert t.open == 1


@pytest.mark.parametrize(
    ("peer", "key"),
    [
        (("192.0.2.7", 5000), "192.0.2.7"),
        (("2001:db8:1:2:aaaa::1", 5000, 0, 0), "2001:db8:1:2::/64"),
        (("2001:db8:1:2:bbbb::9", 6000, 0, 0), "2001:db8:1:2::/64"),
        (None, ""),
    ],
)
def test_clients_are_counted_by_address_and_ipv6_by_its_64(peer: object, key: str) -> None:
    """IPv4 counts by address; IPv6 by /64, since one host can use any address in it."""
    assert client_key(peer) == key


async def within(seconds: float, condition: Callable[[], bool]) -> bool:
    """Poll `condition` on the running loop for up to `seconds`."""
    deadline = time.monotonic() + seconds
    for _ in range(10_000):
        if condition() or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.01)
    return condition()


async def test_a_flood_of_events_makes_a_line_per_interval_with_its_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first refusal is logged at once, the next ones as one line with their count at the
    end of the interval, and a quiet interval logs nothing."""
    events = CountedEvents(every=0.05)
    caplog.set_level(logging.INFO, logger="postroom.api")
    for _ in range(500):
        events.add("connection.refused", logging.WARNING, "total")
    assert await within(5, lambda: len(caplog.records) >= 2)
    # The interval after that had nothing: the kind is forgotten, no line with a zero count.
    assert await within(5, lambda: not events._counts)
    counts = [record.fields["count"] for record in caplog.records]  # type: ignore[attr-defined]
    assert counts == [1, 499]
    assert all(record.fields["limit"] == "total" for record in caplog.records)  # type: ignore[attr-defined]
