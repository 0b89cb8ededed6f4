"""An in-process engine: nothing survives the process. For tests and quick trials only; held to
the same contract suites as the durable engines. Every port object shares one MemoryState."""

from postroom.ports.clock import Clock
from postroom.ports.storage import Storage
from postroom.storage.memory.activity import MemoryActivityLog
from postroom.storage.memory.claims import MemoryClaims
from postroom.storage.memory.dead import MemoryDeadLetters
from postroom.storage.memory.emails import MemoryEmailStore
from postroom.storage.memory.events import MemoryEventStore
from postroom.storage.memory.keys import MemoryKeyStore
from postroom.storage.memory.lifecycle import MemoryLifecycle
from postroom.storage.memory.pauses import MemoryProviderPauses
from postroom.storage.memory.queue import MemoryQueue
from postroom.storage.memory.sealed import MemorySealedContent
from postroom.storage.memory.sessions import MemorySessionStore
from postroom.storage.memory.state import MemoryState
from postroom.storage.memory.suppressions import MemorySuppressionStore
from postroom.storage.memory.templates import MemoryTemplateStore
from postroom.storage.memory.webhooks import MemoryWebhookStore


def open_storage(url: str, clock: Clock) -> Storage:
    """`memory://`: a new, empty engine."""
    return memory_storage(clock)


def memory_storage(clock: Clock) -> Storage:
    state = MemoryState(clock)
    return Storage(
        queue=MemoryQueue(state),
        emails=MemoryEmailStore(state),
        keys=MemoryKeyStore(state),
        dead=MemoryDeadLetters(state),
        sealed=MemorySealedContent(state),
        lifecycle=MemoryLifecycle(),
        claims=MemoryClaims(state),
        events=MemoryEventStore(state),
        suppressions=MemorySuppressionStore(state),
        templates=MemoryTemplateStore(state),
        webhooks=MemoryWebhookStore(state),
        activity=MemoryActivityLog(state),
        pauses=MemoryProviderPauses(),
        sessions=MemorySessionStore(state),
    )
