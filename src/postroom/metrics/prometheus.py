"""Prometheus metrics (prometheus-client), one registry per process.

No label is ever empty ("none" stands for no value), and the exposition has no `*_created`
series: they double the series count and nothing here reads them. prometheus-client can only turn
them off for the whole process, so this registry leaves them out of its own exposition instead.
"""

from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.metrics_core import CounterMetricFamily, Metric

from postroom.ports.queue import QueueStats

# "paused": an operator paused the provider (services/pauses.py); its circuit resumes on resume.
_CIRCUIT_STATES = ("closed", "half_open", "open", "paused")
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
NONE = "none"


class WithoutCreated(CollectorRegistry):
    """A registry whose collect() leaves out the `*_created` samples of counters and histograms."""

    def collect(self) -> Iterable[Metric]:
        for metric in super().collect():
            samples = [s for s in metric.samples if not s.name.endswith("_created")]
            if len(samples) != len(metric.samples):
                metric = _copy(metric, samples)
            yield metric


def _copy(metric: Metric, samples: list[Any]) -> Metric:
    copy = Metric(metric.name, metric.documentation, metric.type, metric.unit)
    copy.samples = samples
    return copy


class HttpRequests:
    """The HTTP request counter, kept as plain integers and turned into samples at scrape time:
    it is touched on every request of the intake path, where a prometheus-client child's lock
    and checks cost a microsecond each time."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "postroom_http_requests",
            "HTTP requests answered, by route template and status class",
            labels=["route", "status"],
        )
        # list() copies in one step, so a scrape from another thread never sees the dict grow.
        for (route, hundreds), count in sorted(list(self.counts.items())):
            family.add_metric([route, f"{hundreds}xx"], count)
        yield family


class PrometheusMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or WithoutCreated()
        r = self.registry
        self._requests = HttpRequests()
        r.register(self._requests)
        self._accepted = Counter("postroom_emails_accepted", "Emails stored by the API", registry=r)
        self._intake = Histogram(
            "postroom_intake_seconds",
            "Time from request to durable 202",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self._calls = Histogram(
            "postroom_provider_call_seconds",
            "Provider call latency",
            ["provider", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self._settled = Counter(
            "postroom_emails_settled",
            "Attempts that ended an email's turn",
            ["outcome", "provider"],
            registry=r,
        )
        self._failovers = Counter(
            "postroom_failovers", "Attempts moved on from a provider", ["provider"], registry=r
        )
        self._circuit = Gauge(
            "postroom_provider_circuit",
            "1 for the provider's circuit state",
            ["provider", "state"],
            registry=r,
        )
        self._depth = Gauge("postroom_queue_ready", "Emails ready to send now", registry=r)
        self._scheduled = Gauge(
            "postroom_queue_scheduled", "Emails waiting for their time", registry=r
        )
        self._in_flight = Gauge(
            "postroom_queue_in_flight", "Emails leased and not settled", registry=r
        )
        self._dead = Gauge("postroom_queue_dead", "Dead-lettered emails", registry=r)
        self._oldest = Gauge(
            "postroom_queue_oldest_age_seconds",
            "Age of the oldest ready email: the autoscaling signal",
            registry=r,
        )
        self._children: dict[tuple[Any, ...], Any] = {}
        self._sending = Gauge(
            "postroom_worker_in_flight", "Sends in flight in this process", registry=r
        )
        self._webhooks = Counter(
            "postroom_webhooks_received",
            "Provider webhook requests answered, by outcome",
            ["provider", "outcome"],
            registry=r,
        )
        self._events_in = Counter(
            "postroom_provider_events_recorded",
            "New provider events stored",
            ["provider"],
            registry=r,
        )
        self._processed = Counter(
            "postroom_provider_events_processed",
            "Provider events matched to an email, or kept as unmatched",
            ["resolution"],
            registry=r,
        )
        self._webhooks_out = Histogram(
            "postroom_webhook_attempts_seconds",
            "POSTs to the application's webhook endpoints, by outcome",
            ["outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

    def request(self, route: str, status: int) -> None:
        counts = self._requests.counts
        key = (route, status // 100)
        counts[key] = counts.get(key, 0) + 1

    def accepted(self, seconds: float) -> None:
        self._accepted.inc()
        self._intake.observe(seconds)

    def provider_call(self, provider: str, outcome: str, seconds: float) -> None:
        self._child(self._calls, provider, outcome).observe(seconds)

    def settled(self, outcome: str, provider: str = "") -> None:
        self._child(self._settled, outcome, provider or NONE).inc()

    def _child(self, metric: Any, *labels: str) -> Any:
        # `labels()` takes a lock and builds a key on every call; once per delivery that shows
        # in profiles, so the children are kept.
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def failover(self, provider: str) -> None:
        self._failovers.labels(provider).inc()

    def circuit(self, provider: str, state: str) -> None:
        for name in _CIRCUIT_STATES:
            self._circuit.labels(provider, name).set(1 if name == state else 0)

    def queue(self, stats: QueueStats, in_flight_here: int) -> None:
        self._depth.set(stats.ready)
        self._scheduled.set(stats.scheduled)
        self._in_flight.set(stats.in_flight)
        self._dead.set(stats.dead)
        self._oldest.set(stats.oldest_age)
        self._sending.set(in_flight_here)

    def webhook(self, provider: str, outcome: str, events: int) -> None:
        self._child(self._webhooks, provider, outcome).inc()
        if events:
            self._child(self._events_in, provider).inc(events)

    def event_processed(self, resolution: str) -> None:
        self._child(self._processed, resolution).inc()

    def webhook_attempt(self, outcome: str, seconds: float) -> None:
        self._child(self._webhooks_out, outcome).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def serve_metrics(metrics: PrometheusMetrics, host: str, port: int) -> None:
    """Serve `metrics` on http://host:port/metrics from a background thread (a worker-only
    process has no API to serve them on)."""
    start_http_server(port, host, metrics.registry)
