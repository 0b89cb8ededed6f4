"""/metrics as Prometheus scrapes it: with an API key, parsed as the exposition format."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.http import post_email, request
from tests.support.keys import create_key
from tests.support.processes import wait_for
from tests.support.server import Server, free_port, server

EMAIL = {"from": "shop@example.com", "to": ["ann@example.org"], "subject": "Hi", "body": "Hello"}


@pytest.fixture
def secured(workdir: Path) -> Iterator[Server]:
    """API and worker with keys on; the one provider is down (nothing listens on its port),
    so every email is retried."""
    down = f"mailgun://key@mg.example.com?base_url=http://127.0.0.1:{free_port()}"
    env = {"POSTROOM_INSECURE_NO_AUTH": "false", "POSTROOM_PROVIDERS": down}
    running = server(workdir, env).start()
    yield running
    running.stop()


def _samples(api: Server, key: str) -> list[tuple[str, dict[str, str], float]]:
    reply = request("GET", f"{api.url}/metrics", headers={"Authorization": f"Bearer {key}"})
    assert reply.status == 200
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(reply.body.decode())
        for sample in family.samples
    ]


def test_metrics_count_requests_by_route_template_and_status_class(secured: Server) -> None:
    """Requests are counted by route template and status class; no raw id, no empty label,
    no *_created series."""
    key = create_key(secured, "prometheus")
    auth = {"Authorization": f"Bearer {key}"}
    email_id = post_email(secured.url, EMAIL, **auth).json()["id"]
    assert request("GET", f"{secured.url}/api/v1/email/{email_id}", headers=auth).status == 200
    assert request("GET", f"{secured.url}/api/v1/email/nope", headers=auth).status == 404
    assert request("GET", f"{secured.url}/no/such/route").status == 404

    def retried() -> bool:
        status = request("GET", f"{secured.url}/api/v1/email/{email_id}", headers=auth).json()
        return "retrying" in [event["status"] for event in status["events"]]

    wait_for(retried, 30, "a retry after the provider was down")
    samples = _samples(secured, key)
    counted = {
        (labels["route"], labels["status"]): value
        for name, labels, value in samples
        if name == "postroom_http_requests_total"
    }
    assert counted[("/api/v1/email", "2xx")] == 1
    assert counted[("/api/v1/email/{id}", "2xx")] >= 1
    assert counted[("/api/v1/email/{id}", "4xx")] == 1
    assert counted[("unmatched", "4xx")] == 1
    assert not [name for name, _, _ in samples if name.endswith("_created")]
    assert not [(name, labels) for name, labels, _ in samples if "" in labels.values()]
    assert not [labels for _, labels, _ in samples if email_id in str(labels.values())]
    settled = [labels for name, labels, _ in samples if name == "postroom_emails_settled_total"]
    assert "retried" in [labels["outcome"] for labels in settled]
