"""Instrumentation as a hook protocol: services report events, an adapter turns them into
metrics (Prometheus when installed), and NullMetrics costs nothing when none is wanted."""

from typing import Protocol

from postroom.ports.queue import QueueStats


class Metrics(Protocol):
    def request(self, route: str, status: int) -> None:
        """An HTTP request was answered; `route` is its template (`/api/v1/email/{id}`), never
        the raw path, or "unmatched"."""

    def accepted(self, seconds: float) -> None:
        """An email was stored; `seconds` is the intake latency."""

    def provider_call(self, provider: str, outcome: str, seconds: float) -> None:
        """One send attempt through a provider ended ("sent" or a failure class)."""

    def settled(self, outcome: str, provider: str = "") -> None:
        """An attempt ended the email's turn: "sent", "retried", "failed" or "dead_lettered";
        `provider` is "" when none did (a retry after every provider failed)."""

    def failover(self, provider: str) -> None:
        """An attempt moved on from `provider` to the next one."""

    def circuit(self, provider: str, state: str) -> None:
        """A provider's circuit is now in `state`."""

    def queue(self, stats: QueueStats, in_flight_here: int) -> None:
        """The queue as last observed; `in_flight_here` counts this process's sends."""

    def webhook(self, provider: str, outcome: str, events: int) -> None:
        """A provider's webhook request was answered: "recorded", "duplicate", or the refusal
        code ("signature", "stale", ...); `events` is how many new events it stored."""

    def event_processed(self, resolution: str) -> None:
        """A provider event was matched to an email ("matched") or kept as "unmatched"."""

    def webhook_attempt(self, outcome: str, seconds: float) -> None:
        """One POST to an application's endpoint ended: "delivered", "http_error",
        "no_response" or "refused" (by the address policy)."""


class NullMetrics:
    def request(self, route: str, status: int) -> None:
        pass

    def accepted(self, seconds: float) -> None:
        pass

    def provider_call(self, provider: str, outcome: str, seconds: float) -> None:
        pass

    def settled(self, outcome: str, provider: str = "") -> None:
        pass

    def failover(self, provider: str) -> None:
        pass

    def circuit(self, provider: str, state: str) -> None:
        pass

    def queue(self, stats: QueueStats, in_flight_here: int) -> None:
        pass

    def webhook(self, provider: str, outcome: str, events: int) -> None:
        pass

    def event_processed(self, resolution: str) -> None:
        pass

    def webhook_attempt(self, outcome: str, seconds: float) -> None:
        pass
