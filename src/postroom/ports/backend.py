from typing import Protocol

from postroom.ports.claims import Claims
from postroom.ports.dead import DeadLetters
from postroom.ports.keys import KeyStore
from postroom.ports.queue import Queue
from postroom.ports.sealed import SealedContent
from postroom.ports.store import Store


class Backend(Queue, Store, DeadLetters, KeyStore, SealedContent, Protocol):
    """An engine that is both the queue and the store (SQLite, PostgreSQL, memory)."""


class StoreBackend(Backend, Claims, Protocol):
    """A backend that can also serve as the store beside a separate queue (SQS)."""
