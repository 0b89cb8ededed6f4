"""The OpenAPI operations of webhook endpoints and the events feed (docs/webhooks.md)."""

from typing import Any

from postroom.api.openapi_parts import UNAUTHORIZED, UNAVAILABLE, error, json_content, operation
from postroom.domain.keys import READ, WEBHOOKS
from postroom.domain.webhooks import TYPES

_TYPE = {"type": "string", "enum": sorted(TYPES)}
_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_ENDPOINT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "examples": ["ep_3f0c9a..."]},
        "url": {"type": "string"},
        "types": {
            "type": ["array", "null"],
            "items": _TYPE,
            "description": "the event types it takes; null: every type",
        },
        "description": {"type": "string"},
        "enabled": {"type": "boolean"},
        "disabledReason": {"type": ["string", "null"]},
        "failingSince": _NULLABLE_TIME,
        "createdAt": _TIME,
        "updatedAt": _TIME,
    },
}
_WITH_SECRET = {
    "allOf": [
        _ENDPOINT,
        {
            "type": "object",
            "properties": {
                "secret": {"type": "string", "description": "whsec_...: shown this once"}
            },
        },
    ]
}
_ENDPOINT_FIELDS: dict[str, Any] = {
    "url": {
        "type": "string",
        "maxLength": 2048,
        "description": "where events are POSTed: https://, or http:// to an allowed network; "
        "no user:password@, no fragment",
        "examples": ["https://app.example.com/hooks"],
    },
    "types": {
        "type": ["array", "null"],
        "items": _TYPE,
        "maxItems": 64,
        "description": "the event types it takes (email.bounced, ...); omitted or null: every type",
    },
    "description": {"type": "string", "maxLength": 1000, "description": "a note for people"},
}
# Request bodies, named: the readable page links each operation's body to its fields.
WEBHOOK_SCHEMAS: dict[str, Any] = {
    "WebhookRequest": {
        "type": "object",
        "description": "A new webhook endpoint.",
        "properties": _ENDPOINT_FIELDS,
        "required": ["url"],
        "additionalProperties": False,
    },
    "WebhookChange": {
        "type": "object",
        "description": "The fields to change; the others stay.",
        "properties": {
            **_ENDPOINT_FIELDS,
            "enabled": {
                "type": "boolean",
                "description": "false stops deliveries; true clears why it was disabled",
            },
        },
        "additionalProperties": False,
    },
    "ReplayRequest": {
        "type": "object",
        "description": "Which of the endpoint's messages to send again, under their ids.",
        "properties": {
            "since": {**_TIME, "description": "messages created at or after this [the first]"},
            "until": {**_TIME, "description": "messages created before this [now]"},
            "failed_only": {"type": "boolean", "description": "only those that failed"},
            "webhook_id": {"type": "string", "description": "only the message of this id"},
        },
        "additionalProperties": False,
    },
}
_EVENT = {
    "type": "object",
    "description": "the payload a webhook carries: type, timestamp and data (id, seq, "
    "email_id, recipient, at, provider, bounce, reason, description)",
    "properties": {
        "type": _TYPE,
        "timestamp": _TIME,
        "data": {"type": "object"},
    },
}
_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "the endpoint's id",
    "schema": {"type": "string"},
}
_MISSING = error("no endpoint with this id in the key's tenant")
_BAD = error("a field is missing, unknown or invalid; the message names it")


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"description": description}
    if schema is not None:
        found["content"] = _json(schema)
    return found


def _endpoint_operation(
    operation_id: str, summary: str, responses: dict[str, Any], **more: Any
) -> dict[str, Any]:
    return operation(
        operation_id,
        summary,
        {**responses, "401": UNAUTHORIZED, "404": _MISSING, "503": UNAVAILABLE},
        WEBHOOKS,
        parameters=[_ID],
        **more,
    )


def webhook_paths() -> dict[str, Any]:
    attempt = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "webhookId": {"type": "string"},
            "at": _TIME,
            "status": {"type": ["integer", "null"]},
            "latencyMs": {"type": "number"},
            "response": {"type": "string", "description": "the first 1 KiB"},
            "error": {"type": ["string", "null"]},
        },
    }
    return {
        "/api/v1/webhooks": {
            "get": operation(
                "listWebhooks",
                "The tenant's webhook endpoints",
                {
                    "200": _answer(
                        "the endpoints",
                        {
                            "type": "object",
                            "properties": {"data": {"type": "array", "items": _ENDPOINT}},
                        },
                    ),
                    "401": UNAUTHORIZED,
                    "503": UNAVAILABLE,
                },
                WEBHOOKS,
            ),
            "post": operation(
                "createWebhook",
                "Register an endpoint; its secret is in this answer only",
                {
                    "201": _answer("the endpoint and its secret", _WITH_SECRET),
                    "400": _BAD,
                    "401": UNAUTHORIZED,
                    "503": UNAVAILABLE,
                },
                WEBHOOKS,
                requestBody={"required": True, "content": json_content("WebhookRequest")},
            ),
        },
        "/api/v1/webhooks/{id}": {
            "get": _endpoint_operation(
                "getWebhook", "One endpoint", {"200": _answer("the endpoint", _ENDPOINT)}
            ),
            "patch": _endpoint_operation(
                "updateWebhook",
                "Change an endpoint; enabling clears why it was disabled",
                {"200": _answer("the endpoint", _ENDPOINT), "400": _BAD},
                requestBody={"required": True, "content": json_content("WebhookChange")},
            ),
            "delete": _endpoint_operation(
                "deleteWebhook",
                "Delete an endpoint with its messages and attempts",
                {"204": _answer("deleted")},
            ),
        },
        "/api/v1/webhooks/{id}/test": {
            "post": _endpoint_operation(
                "testWebhook",
                "Send the endpoint a webhook.test event",
                {
                    "202": _answer(
                        "queued",
                        {"type": "object", "properties": {"webhookId": {"type": "string"}}},
                    )
                },
            )
        },
        "/api/v1/webhooks/{id}/rotate": {
            "post": _endpoint_operation(
                "rotateWebhookSecret",
                "A new secret; the old one signs beside it for 24 hours",
                {"200": _answer("the endpoint and its new secret", _WITH_SECRET)},
            )
        },
        "/api/v1/webhooks/{id}/attempts": {
            "get": operation(
                "listWebhookAttempts",
                "The endpoint's attempts, newest first",
                {
                    "200": _answer(
                        "a page of attempts",
                        {
                            "type": "object",
                            "properties": {
                                "data": {"type": "array", "items": attempt},
                                "nextCursor": {"type": ["integer", "null"]},
                            },
                        },
                    ),
                    "400": _BAD,
                    "401": UNAUTHORIZED,
                    "404": _MISSING,
                    "503": UNAVAILABLE,
                },
                WEBHOOKS,
                parameters=[
                    _ID,
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 500}},
                    {"name": "before", "in": "query", "schema": {"type": "integer"}},
                ],
            )
        },
        "/api/v1/webhooks/{id}/replay": {
            "post": _endpoint_operation(
                "replayWebhooks",
                "Send the endpoint's messages of a time range again, under their ids",
                {
                    "202": _answer(
                        "how many go out again",
                        {"type": "object", "properties": {"replayed": {"type": "integer"}}},
                    ),
                    "400": _BAD,
                },
                requestBody={"required": True, "content": json_content("ReplayRequest")},
            )
        },
        "/api/v1/events": {
            "get": operation(
                "listEvents",
                "The tenant's events feed after a cursor",
                {
                    "200": _answer(
                        "a page of events in seq order; `cursor` is the `after` of the next",
                        {
                            "type": "object",
                            "properties": {
                                "data": {"type": "array", "items": _EVENT},
                                "cursor": {"type": "integer"},
                            },
                        },
                    ),
                    "400": error("a parameter is invalid; errors names it"),
                    "401": UNAUTHORIZED,
                    "503": UNAVAILABLE,
                },
                READ,
                parameters=[
                    {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    {
                        "name": "types",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "event types, comma-separated",
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    },
                ],
            )
        },
    }
