"""Email states and the transitions between them (docs/design.md, "States")."""

from enum import StrEnum


class State(StrEnum):
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    RETRYING = "retrying"
    SENT = "sent"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPPRESSED = "suppressed"


# Waiting for a worker: the only states a cancel can stop.
WAITING = frozenset({State.QUEUED, State.SCHEDULED, State.RETRYING})

# Nothing more will be attempted; content may be purged after a while.
FINAL = frozenset(
    {
        State.SENT,
        State.DELIVERED,
        State.BOUNCED,
        State.COMPLAINED,
        State.FAILED,
        State.CANCELLED,
        State.SUPPRESSED,
    }
)


def can_cancel(state: State) -> bool:
    """A cancel succeeds only before a worker has taken the email."""
    return state in WAITING


# Just stored: the states `put` gives. A queue apart from the store sends these a message.
NEW = frozenset({State.QUEUED, State.SCHEDULED})


def is_final(state: State) -> bool:
    """Nothing more will be attempted for an email in this state."""
    return state in FINAL
