"""The Prometheus adapter's exposition: no empty labels, no *_created series."""

from prometheus_client.parser import text_string_to_metric_families

from postroom.metrics.prometheus import PrometheusMetrics


def _samples(metrics: PrometheusMetrics) -> list[tuple[str, dict[str, str]]]:
    text = metrics.render().decode()
    return [(s.name, s.labels) for f in text_string_to_metric_families(text) for s in f.samples]


def test_a_retry_without_a_provider_is_labelled_none() -> None:
    """settled("retried") with no provider is exposed with provider="none", not ""."""
    metrics = PrometheusMetrics()
    metrics.settled("retried")
    metrics.settled("sent", "mailgun")
    settled = [labels for name, labels in _samples(metrics) if name.startswith("postroom_emails_s")]
    assert {"outcome": "retried", "provider": "none"} in settled
    assert {"outcome": "sent", "provider": "mailgun"} in settled


def test_no_created_series_and_status_classes() -> None:
    """Counters and histograms expose no *_created sample; requests count by status class."""
    metrics = PrometheusMetrics()
    metrics.accepted(0.002)
    metrics.request("/api/v1/email", 202)
    metrics.request("/api/v1/email", 200)
    metrics.request("/healthz", 503)
    samples = _samples(metrics)
    assert not [name for name, _ in samples if name.endswith("_created")]
    requests = [labels for name, labels in samples if name == "postroom_http_requests_total"]
    assert requests == [
        {"route": "/api/v1/email", "status": "2xx"},
        {"route": "/healthz", "status": "5xx"},
    ]
