"""Room in the SQLite file: the intake cap, the engine's hard limit above it, the WAL bound.

`?max_size_mb=N` refuses new email once the pages in use reach N MiB. SQLite's own
`max_page_count` sits above that by a headroom, so that leasing, settling, retries, dead letters
and purges of the emails already accepted still find room: only intake stops. Past that limit
too, leasing stops but settles still commit (`past_limit`). Pages in use are
`page_count - freelist_count` (https://www.sqlite.org/pragma.html#pragma_freelist_count): a purge
or a delete frees pages without shrinking the file, and those pages are written again first.

The WAL is bounded too. SQLite's automatic checkpoint copies the WAL back into the database but
never shrinks the file, and it cannot restart the WAL while a reader still uses its start
(https://www.sqlite.org/wal.html, "Avoiding Excessively Large WAL Files"); so past a bound the
writer runs `PRAGMA wal_checkpoint(TRUNCATE)`, which waits for readers, copies everything back
and truncates the WAL file to zero bytes.
"""

import contextlib
import os
import sqlite3
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

MIB = 1024 * 1024
# The headroom is the cap itself, and at least this much. Delivering an email adds its history
# (the `sending` event, the attempt's event, the settling event and the attempt row, with their
# index entries): about 0.8 KB, measured. So a full backlog drains whole when the emails average
# 0.8 KB or more as stored; a retry adds about as much again.
MIN_HEADROOM = 8 * MIB
# The WAL may grow to a quarter of the cap (from 1 to 64 MiB) before it is truncated.
MIN_WAL = 1 * MIB
MAX_WAL = 64 * MIB
CHECKPOINT_WAIT_MS = 50
# How far settles may go past the page limit at a time (Space.past_limit).
GROWTH = 1 * MIB

_IN_USE = (
    "SELECT p.page_count - f.freelist_count FROM pragma_page_count() p, pragma_freelist_count() f"
)


def headroom(cap_bytes: int) -> int:
    """Bytes above the intake cap that only delivery, retries and purges may use."""
    return max(cap_bytes, MIN_HEADROOM)


def wal_bound(cap_bytes: int) -> int:
    """The WAL's size past which the writer truncates it (uncapped files: MAX_WAL)."""
    if not cap_bytes:
        return MAX_WAL
    return min(max(cap_bytes // 4, MIN_WAL), MAX_WAL)


class Space:
    """The writer's view of the file's room; every method runs in the writer thread."""

    def __init__(self, path: str, cap_mb: int, busy_ms: int) -> None:
        self._cap_bytes = cap_mb * MIB
        self._busy_ms = int(busy_ms)
        self._wal = f"{path}-wal"
        self._wal_bound = wal_bound(self._cap_bytes)
        self._cap_pages = 0  # known once a connection tells the page size
        self._page_size = 4096
        self._retry_above = self._wal_bound  # the WAL size past which bound_wal checkpoints
        # Read by ping (the event loop's thread): a bool is written and read whole.
        self.intake_refused = False

    def configure(self, conn: sqlite3.Connection) -> None:
        """Set the engine's hard limit on a new write connection: cap plus headroom."""
        if not self._cap_bytes:
            return
        page_size = self._page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        self._cap_pages = self._cap_bytes // page_size
        limit = (self._cap_bytes + headroom(self._cap_bytes)) // page_size
        conn.execute(f"PRAGMA max_page_count={int(limit)}")

    def check(self, conn: sqlite3.Connection) -> bool:
        """Whether new email is refused now: one statement per batch, only for a capped file.
        It reads the last commit of any process sharing the file (the caller holds the lock).
        An uncapped file never refuses ahead: a full disk fails each write by itself."""
        if not self._cap_pages:
            self.intake_refused = False
            return False
        in_use = int(conn.execute(_IN_USE).fetchone()[0])
        self.intake_refused = in_use >= self._cap_pages
        return self.intake_refused

    def past_limit(self, conn: sqlite3.Connection, commit: Callable[[], T]) -> T:
        """Run `commit` (settles only) with the engine's page limit lifted by GROWTH, then set
        it back. SQLite never lowers max_page_count below the file's size, so what the settles
        took stays and the limit is the file's size again: new leases fail as full (nothing new
        is sent) while settles of emails already handed to a provider always commit; without
        them those emails would be sent again once their leases lapse."""
        if not self._cap_pages:
            return commit()  # the disk itself is full: a higher limit finds no room
        limit = int(conn.execute("PRAGMA max_page_count").fetchone()[0])
        conn.execute(f"PRAGMA max_page_count={limit + GROWTH // self._page_size}")
        try:
            return commit()
        finally:
            conn.execute(f"PRAGMA max_page_count={limit}")

    def refuse_intake(self) -> None:
        """The engine's own limit was hit by a batch with new email: refuse it until the next
        check finds room again."""
        self.intake_refused = True

    def bound_wal(self, conn: sqlite3.Connection) -> None:
        """Truncate the WAL once it is past its bound: a stat per batch, a checkpoint rarely.
        When a reader keeps it from finishing, the next try waits until the WAL has grown by
        another quarter of the bound, so batches do not each wait for that reader."""
        size = self._wal_size()
        if size <= self._retry_above:
            return
        # The checkpoint waits for readers through the busy handler while it holds the writer
        # (every write of the process), so it waits briefly. Busy is no reason to fail a batch.
        with contextlib.suppress(sqlite3.Error):
            conn.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        left = self._wal_size()
        done = left <= self._wal_bound
        self._retry_above = self._wal_bound if done else left + self._wal_bound // 4

    def _wal_size(self) -> int:
        try:
            return os.stat(self._wal).st_size
        except OSError:
            return 0
