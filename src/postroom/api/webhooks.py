"""POST /webhooks/{kind}[/{name}]: provider events in (docs/events.md).

No API key: the provider's signature (or Postmark's basic auth) is the authentication. A request
that is not proven to come from the provider, or that is not understood, changes nothing and
gets a bare 4xx; one that is gets a 2xx only once its events are durably stored, since
providers retry until they see one. Matching and suppression happen later, in the workers.
"""

from starlette.requests import Request
from starlette.responses import Response

from postroom.api.container import Container
from postroom.api.responses import error_response, json_response, storage_unavailable
from postroom.domain.errors import StorageUnavailableError
from postroom.logs import get_logger, log_event
from postroom.ports.events import RecordOutcome
from postroom.ports.inbound import WebhookRefusedError, WebhookRequest

log = get_logger("webhooks")


async def receive(request: Request) -> Response:
    container: Container = request.app.state.container
    kind = request.path_params["kind"]
    endpoint = container.inbound.get((kind, request.path_params.get("name", kind)))
    if endpoint is None or container.record_events is None:
        return error_response(404, "Not found", "No such webhook endpoint.")
    body = await request.body()
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        received = await endpoint.receive(WebhookRequest(headers, body, container.now()))
    except WebhookRefusedError as refused:
        return _refused(container, endpoint.name, refused.status, refused.code)
    try:
        recorded = await container.record_events(endpoint.name, received)
    except StorageUnavailableError:
        container.metrics.webhook(endpoint.name, "storage_unavailable", 0)
        return storage_unavailable()
    if recorded.outcome is RecordOutcome.CONFLICT:
        return _refused(container, endpoint.name, 401, "replay")
    container.metrics.webhook(endpoint.name, str(recorded.outcome), recorded.new)
    log_event(
        log,
        "webhook.received",
        provider=endpoint.name,
        events=recorded.new,
        duplicates=recorded.duplicates,
    )
    return json_response({"status": "ok"})


def _refused(container: Container, provider: str, status: int, code: str) -> Response:
    container.metrics.webhook(provider, code, 0)
    log_event(log, "webhook.refused", provider=provider, status=status, code=code)
    return error_response(status, "Refused", "The request was not accepted.")
