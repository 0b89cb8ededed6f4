"""The OpenAPI 3.1 description of the API (the readable page is rendered from it in docs_page.py).

Written by hand next to the handlers; tests validate real responses against these schemas and
send requests generated from them, so the document cannot drift from what the API does.
"""

from functools import cache
from typing import Any

from postroom import __version__
from postroom.api.batch_schemas import BATCH_ANSWER, BATCH_REQUEST, BATCH_RESULT
from postroom.api.docs_page import render
from postroom.api.openapi_emails import EMAIL_ITEM, EMAIL_PAGE, list_emails
from postroom.api.openapi_parts import OPEN as _OPEN
from postroom.api.openapi_parts import RETRY_AFTER as _RETRY_AFTER
from postroom.api.openapi_parts import UNAUTHORIZED as _UNAUTHORIZED
from postroom.api.openapi_parts import UNAVAILABLE as _UNAVAILABLE
from postroom.api.openapi_parts import answer as _answer
from postroom.api.openapi_parts import error as _error
from postroom.api.openapi_parts import json_content as _json
from postroom.api.openapi_parts import operation as _operation
from postroom.api.openapi_parts import page_parameters
from postroom.api.openapi_providers import PROVIDER_SCHEMAS, provider_paths
from postroom.api.openapi_templates import submit_batch, template_paths
from postroom.api.openapi_webhooks import WEBHOOK_SCHEMAS, webhook_paths
from postroom.api.schemas import (
    ACCEPTED,
    ADDRESS,
    CANCELLED,
    DERIVED_STATES,
    EMAIL_REQUEST,
    NEW_SUPPRESSION,
    PRODUCED_STATES,
    RECIPIENT_STATES,
    SUPPRESSION_REASONS,
    SUPPRESSION_REQUEST,
    SUPPRESSIONS_ADDED,
    SUPPRESSIONS_REMOVED,
)
from postroom.api.suppressions import DEFAULT_PAGE, MAX_CURSOR_CHARS
from postroom.api.template_schemas import (
    RENDER_REQUEST,
    RENDERED,
    TEMPLATE,
    TEMPLATE_DELETED,
    TEMPLATE_PAGE,
    TEMPLATE_REQUEST,
    TEMPLATE_SUMMARY,
    TEMPLATE_VERSION,
    TEMPLATED_EMAIL_REQUEST,
    VARIABLE,
)
from postroom.domain.keys import READ, SEND, SUPPRESSIONS
from postroom.services.suppressions import MAX_PAGE

_STATES = PRODUCED_STATES
_TIME = {
    "type": "string",
    "format": "date-time",
    "description": "RFC 3339 in UTC with milliseconds",
    "examples": ["2026-11-28T18:46:45.813Z"],
}

_EVENT = {
    "type": "object",
    "required": ["at", "status"],
    "description": "One step in the email's history.",
    "properties": {
        "at": {**_TIME, "description": "when it happened (RFC 3339, UTC)"},
        "status": {
            "type": "string",
            "enum": _STATES,
            "description": "the state entered; `sending` events also record each provider call",
            "examples": ["sent"],
        },
        "provider": {
            "type": ["string", "null"],
            "description": "the provider involved, or null",
            "examples": ["mailgun"],
        },
        "reason": {
            "type": ["string", "null"],
            "description": "for `sent`, the provider's message id; for a failure, the provider's "
            "error on one line, addresses shown as <address>; else null",
            "examples": ["<20261128184645.1.ABC@mg.example.com>"],
        },
        # Provider attempts only; null on every other event.
        "outcome": {
            "type": ["string", "null"],
            "enum": [
                "sent",
                "permanent",
                "misconfigured",
                "throttled",
                "down",
                "unsupported",
                None,
            ],
            "description": "for a provider call, how it ended: `sent` or a failure class; "
            "null on other events",
            "examples": ["down"],
        },
        "code": {
            "type": ["string", "null"],
            "description": "for a provider call, the provider's or protocol's code; null on "
            "other events",
            "examples": ["http_503", "smtp_550"],
        },
    },
}

_BOUNCE = {
    "type": ["string", "null"],
    "enum": ["hard", "soft", None],
    "description": "`hard` or `soft` where the provider classified the bounce, else null",
}
_RECIPIENT_EVENT = {
    "type": "object",
    "required": ["at", "type"],
    "description": "One event about one recipient, from a provider or from Postroom.",
    "properties": {
        "at": {**_TIME, "description": "when it happened at the provider (RFC 3339, UTC)"},
        "type": {
            "type": "string",
            "enum": RECIPIENT_STATES,
            "description": "what happened, in one vocabulary for every provider",
            "examples": ["bounced"],
        },
        "provider": {
            "type": ["string", "null"],
            "description": "the provider that reported it; null for Postroom's own",
            "examples": ["mailgun"],
        },
        "bounce": _BOUNCE,
        "rejectReason": {
            "type": ["string", "null"],
            "description": "invalid, bounced, timed_out, blocked, spam, unsubscribed or other",
            "examples": ["bounced"],
        },
        "description": {
            "type": ["string", "null"],
            "description": "the provider's diagnostic, addresses shown as <address>",
            "examples": ["550 5.1.1 <address> no such user"],
        },
    },
}
_RECIPIENT = {
    "type": "object",
    "required": ["address", "state", "events"],
    "description": "One recipient's state, folded from its events by rank (docs/events.md).",
    "properties": {
        "address": {
            "type": ["string", "null"],
            "description": "the address; null once retention purged the content",
            "examples": ["ann@example.org"],
        },
        "state": {
            "type": "string",
            "enum": RECIPIENT_STATES,
            "description": "where this recipient got: complained and unsubscribed are sticky",
            "examples": ["delivered"],
        },
        "complained": {"type": "boolean", "description": "a complaint was reported"},
        "unsubscribed": {"type": "boolean", "description": "an unsubscribe was reported"},
        "opens": {"type": "integer", "minimum": 0, "description": "opens reported"},
        "clicks": {"type": "integer", "minimum": 0, "description": "clicks reported"},
        "bounce": _BOUNCE,
        "events": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/RecipientEvent"},
            "description": "this recipient's events, oldest first",
        },
    },
}

_STATUS = {
    "type": "object",
    "required": ["id", "status", "createdAt", "sendAt", "attempts", "events"],
    "description": "An email's state and history, never its content. Every time is an RFC 3339 "
    "UTC string.",
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "the email's id"},
        "status": {
            "type": "string",
            "enum": _STATES + DERIVED_STATES,
            "description": "the current state; once sent, derived from the recipients' states "
            "when provider events have come in (docs/events.md)",
            "examples": ["sent"],
        },
        "createdAt": {**_TIME, "description": "when the API accepted it"},
        "sendAt": {**_TIME, "description": "when it is (or was) due to be sent"},
        "attempts": {
            "type": "integer",
            "minimum": 0,
            "description": "delivery attempts so far",
            "examples": [1],
        },
        "events": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Event"},
            "description": "the history, oldest first",
        },
        "recipients": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Recipient"},
            "description": "each recipient in to, cc, bcc order, with its provider events",
        },
        "template": {
            "type": ["object", "null"],
            "required": ["id", "version"],
            "description": "the stored template and version it was rendered from (POST with "
            "`template`); null for any other email, or once retention purged its content",
            "properties": {
                "id": {"type": "string", "format": "uuid", "description": "the template's id"},
                "version": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "the published version rendered",
                },
            },
        },
    },
}

_ERROR = {
    "type": "object",
    "required": ["status", "message", "errors"],
    "description": "The one envelope of every error answer.",
    "properties": {
        "status": {
            "type": "string",
            "description": "the status as a name",
            "examples": ["BAD_REQUEST"],
        },
        "message": {
            "type": "object",
            "required": ["short", "long"],
            "description": "what went wrong, in a few words and in a sentence",
            "properties": {
                "short": {
                    "type": "string",
                    "description": "a title",
                    "examples": ["Invalid email"],
                },
                "long": {
                    "type": "string",
                    "description": "what to do about it",
                    "examples": ["Some fields are invalid; see errors."],
                },
            },
        },
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "field path (`to[2]`, `attachments[0].content`) to reason; may be empty",
            "examples": [{"to[2]": "not a valid email address: no @"}],
        },
    },
}


def _nullable(description: str, example: str) -> dict[str, Any]:
    return {"type": ["string", "null"], "description": description, "examples": [example]}


_SUPPRESSION = {
    "type": "object",
    "required": ["address", "reason", "scope", "createdAt", "expiresAt", "source"],
    "description": "One entry of the suppression list. Every time is an RFC 3339 UTC string.",
    "properties": {
        "address": {
            "type": "string",
            "description": "the address, in the form it is matched by (letter case folded)",
            "examples": ["ann@example.org"],
        },
        "reason": {
            "type": "string",
            "enum": SUPPRESSION_REASONS,
            "description": "why: a provider's report (hard bounce, complaint, unsubscribe, "
            "invalid address, repeated soft bounces) or `manual`",
            "examples": ["hard_bounce"],
        },
        "scope": {
            "type": "string",
            "description": "`*` for every email of the tenant, else the tag it applies to",
            "examples": ["*"],
        },
        "createdAt": {**_TIME, "description": "when it was added"},
        "expiresAt": {
            "oneOf": [
                {**_TIME, "description": "the time"},
                {"type": "null", "description": "never"},
            ],
            "description": "when it lapses by itself (past for a lapsed entry); null: never",
        },
        "source": {
            "type": "object",
            "required": ["provider", "event", "emailId"],
            "description": "what added it; every field null for an entry added by hand",
            "properties": {
                "provider": _nullable("the provider that reported the address", "mailgun"),
                "event": _nullable("the provider event", "bounced"),
                "emailId": _nullable(
                    "the email the event was about", "019a2237-5c1e-7b3a-9d2f-6a1b2c3d4e5f"
                ),
            },
        },
    },
}

_SUPPRESSION_PAGE = {
    "type": "object",
    "required": ["data", "nextCursor"],
    "description": "A page of the tenant's suppression list, in a stable order.",
    "properties": {
        "data": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Suppression"},
            "description": "the entries of this page",
        },
        "nextCursor": _nullable(
            "pass as `cursor` for the next page; null on the last page", "WyJhYiIsIioiXQ"
        ),
    },
}

_ADDRESS_SUPPRESSIONS = {
    "type": "object",
    "required": ["data"],
    "description": "Every entry for one address, one per scope.",
    "properties": {
        "data": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Suppression"},
            "minItems": 1,
            "description": "the address's entries, lapsed ones included",
        },
    },
}

_SCHEMAS = {
    "EmailRequest": EMAIL_REQUEST,
    "Address": ADDRESS,
    "Accepted": ACCEPTED,
    "EmailStatus": _STATUS,
    "Event": _EVENT,
    "Recipient": _RECIPIENT,
    "RecipientEvent": _RECIPIENT_EVENT,
    "Cancelled": CANCELLED,
    "SuppressionRequest": SUPPRESSION_REQUEST,
    "NewSuppression": NEW_SUPPRESSION,
    "SuppressionsAdded": SUPPRESSIONS_ADDED,
    "Suppression": _SUPPRESSION,
    "SuppressionPage": _SUPPRESSION_PAGE,
    "AddressSuppressions": _ADDRESS_SUPPRESSIONS,
    "SuppressionsRemoved": SUPPRESSIONS_REMOVED,
    "BatchRequest": BATCH_REQUEST,
    "BatchResult": BATCH_RESULT,
    "BatchAnswer": BATCH_ANSWER,
    "TemplatedEmailRequest": TEMPLATED_EMAIL_REQUEST,
    "TemplateRequest": TEMPLATE_REQUEST,
    "TemplateVariable": VARIABLE,
    "TemplateVersion": TEMPLATE_VERSION,
    "Template": TEMPLATE,
    "TemplateSummary": TEMPLATE_SUMMARY,
    "TemplatePage": TEMPLATE_PAGE,
    "RenderRequest": RENDER_REQUEST,
    "Rendered": RENDERED,
    "TemplateDeleted": TEMPLATE_DELETED,
    "EmailPage": EMAIL_PAGE,
    "EmailItem": EMAIL_ITEM,
    "Error": _ERROR,
}

_ID_PARAMETER = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "the id from the 202 answer",
    "schema": {"type": "string", "examples": ["019a2237-5c1e-7b3a-9d2f-6a1b2c3d4e5f"]},
}


def _submit() -> dict[str, Any]:
    return _operation(
        "sendEmail",
        "Submit an email",
        {
            "202": _answer(
                "stored; it will be sent",
                "Accepted",
                {"Location": {"schema": {"type": "string"}, "description": "the statusUrl"}},
            ),
            "200": _answer("an Idempotency-Key repeat: the original email", "Accepted"),
            "400": _error("invalid field(s) or malformed JSON; `errors` lists every bad field"),
            "401": _UNAUTHORIZED,
            "408": _error("the body arrived too slowly"),
            "409": _error("Idempotency-Key reused for a different email"),
            "413": _error("body larger than the configured limit (10 MiB by default)"),
            "415": _error("content type is not application/json"),
            "429": _error(
                "the API key is over its rate limit or daily quota",
                {**_RETRY_AFTER, "RateLimit-Limit": {"schema": {"type": "integer"}}},
            ),
            "503": _UNAVAILABLE,
        },
        scope=SEND,
        description="Answers 202 only once the email is durably stored. Send it as "
        "`application/json`: an EmailRequest, or a TemplatedEmailRequest (a published template "
        "and its variables, rendered before anything is stored).",
        parameters=[
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": "^[!-~]{1,255}$", "examples": ["order-42"]},
                "description": "1 to 255 visible ASCII characters. The same key and the same "
                "email within 24 h: the original id (200). The same key, another email: 409.",
            }
        ],
        requestBody={"required": True, "content": _json("EmailRequest")},
    )


def _status() -> dict[str, Any]:
    return _operation(
        "getEmail",
        "An email's state and history (never its content)",
        {
            "200": _answer("found", "EmailStatus"),
            "401": _UNAUTHORIZED,
            "404": _error("no such email (or another key's)"),
            "503": _UNAVAILABLE,
        },
        scope=READ,
        parameters=[_ID_PARAMETER],
    )


def _cancel() -> dict[str, Any]:
    return _operation(
        "cancelEmail",
        "Cancel an email no worker has taken yet",
        {
            "200": _answer("cancelled (also when it already was)", "Cancelled"),
            "401": _UNAUTHORIZED,
            "404": _error("no such email (or another key's)"),
            "409": _error("too late: being sent, sent or failed"),
            "503": _UNAVAILABLE,
        },
        scope=SEND,
        parameters=[_ID_PARAMETER],
    )


_NO_LIST = "no such address on the list, or no suppression list with this storage"
_ADDRESS_PARAMETER = {
    "name": "address",
    "in": "path",
    "required": True,
    "description": "the address, URL-encoded (`ann%2Bx%40example.org`); any letter case",
    "schema": {"type": "string", "examples": ["ann%2Bx%40example.org"]},
}
_PAGE_PARAMETERS = [
    {
        "name": "reason",
        "in": "query",
        "required": False,
        "description": "only entries with this reason",
        "schema": {"type": "string", "enum": SUPPRESSION_REASONS},
    },
    *page_parameters("entries", MAX_PAGE, DEFAULT_PAGE, MAX_CURSOR_CHARS),
]


def _list_suppressions() -> dict[str, Any]:
    return _operation(
        "listSuppressions",
        "A page of the suppression list",
        {
            "200": _answer("a page; more when nextCursor is not null", "SuppressionPage"),
            "400": _error("a bad reason, cursor or limit; `errors` names it"),
            "401": _UNAUTHORIZED,
            "404": _error("no suppression list with this storage"),
            "503": _UNAVAILABLE,
        },
        scope=SUPPRESSIONS,
        description="The entries of the key's tenant only.",
        parameters=_PAGE_PARAMETERS,
    )


def _add_suppressions() -> dict[str, Any]:
    return _operation(
        "addSuppressions",
        "Add addresses to the suppression list",
        {
            "201": _answer("stored", "SuppressionsAdded"),
            "400": _error(
                "an invalid entry or malformed JSON; `errors` names every bad field "
                "(`[2].address`; `address` for a lone object) and nothing was stored"
            ),
            "401": _UNAUTHORIZED,
            "404": _error("no suppression list with this storage"),
            "408": _error("the body arrived too slowly"),
            "413": _error("body larger than the configured limit (10 MiB by default)"),
            "415": _error("content type is not application/json"),
            "503": _UNAVAILABLE,
        },
        scope=SUPPRESSIONS,
        description="All or nothing: the entries are stored in one write, or none is. "
        "Send them as `application/json`.",
        requestBody={"required": True, "content": _json("SuppressionRequest")},
    )


def _show_suppression() -> dict[str, Any]:
    return _operation(
        "getSuppression",
        "An address's entries",
        {
            "200": _answer("found", "AddressSuppressions"),
            "401": _UNAUTHORIZED,
            "404": _error(_NO_LIST),
            "503": _UNAVAILABLE,
        },
        scope=SUPPRESSIONS,
        parameters=[_ADDRESS_PARAMETER],
    )


def _remove_suppression() -> dict[str, Any]:
    return _operation(
        "removeSuppression",
        "Take an address off the suppression list",
        {
            "200": _answer("removed", "SuppressionsRemoved"),
            "401": _UNAUTHORIZED,
            "404": _error(_NO_LIST),
            "503": _UNAVAILABLE,
        },
        scope=SUPPRESSIONS,
        parameters=[
            _ADDRESS_PARAMETER,
            {
                "name": "scope",
                "in": "query",
                "required": False,
                "description": "only the entry of this scope (`*` or a tag); omitted: every entry",
                "schema": {"type": "string"},
            },
        ],
    )


def _open_page(operation_id: str, summary: str, description: str, media: str) -> dict[str, Any]:
    answer = {**_answer(description), "content": {media: {}}}
    return _operation(operation_id, summary, {"200": answer}, security=_OPEN)


def _paths() -> dict[str, Any]:
    return {
        "/api/v1/email": {"get": list_emails(), "post": _submit()},
        "/api/v1/email/batch": {"post": submit_batch()},
        "/api/v1/email/{id}": {"get": _status(), "delete": _cancel()},
        "/api/v1/suppressions": {"get": _list_suppressions(), "post": _add_suppressions()},
        "/api/v1/suppressions/{address}": {
            "get": _show_suppression(),
            "delete": _remove_suppression(),
        },
        **template_paths(),
        **webhook_paths(),
        **provider_paths(),
        "/healthz": {
            "get": _operation(
                "getHealth",
                "The process is alive",
                {"200": _answer("alive")},
                security=_OPEN,
            )
        },
        "/readyz": {
            "get": _operation(
                "getReadiness",
                "Storage is reachable",
                {"200": _answer("ready"), "503": _UNAVAILABLE},
                security=_OPEN,
            )
        },
        "/metrics": {
            "get": _operation(
                "getMetrics",
                "Prometheus metrics of this process and the queue",
                {
                    "200": {**_answer("the text exposition format"), "content": {"text/plain": {}}},
                    "401": _UNAUTHORIZED,
                    "404": _error("metrics are not enabled"),
                },
                scope=READ,
            )
        },
        "/openapi.json": {
            "get": _open_page(
                "getOpenApi", "This document", "OpenAPI 3.1 as JSON", "application/json"
            )
        },
        "/docs": {"get": _open_page("getDocs", "The readable API page", "HTML", "text/html")},
        "/": {
            "get": _operation(
                "getHome",
                "Redirects to /docs",
                {"307": _answer("to /docs", headers={"Location": {"schema": {"type": "string"}}})},
                security=_OPEN,
            )
        },
    }


@cache
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Postroom",
            "version": __version__,
            "description": "Transactional email: durable intake, delivery with failover. Every "
            "route needs an API key (`Authorization: Bearer KEY`) except the ones marked open, "
            "and a key with the scope the route names in `security`.",
        },
        "paths": _paths(),
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API key from `postroom keys create --name NAME` (or the "
                    "one `postroom serve` prints on a fresh data directory). A key has scopes, "
                    "and each route names the one it needs in its `security`: `send` (submit, "
                    "batch, cancel), `read` (an email's status, the list of emails, the events "
                    "feed, metrics), "
                    "`webhooks`, `suppressions`, `templates`; `admin` implies every scope (and "
                    "alone lists, pauses and resumes providers). A key "
                    "made without `--scope` has `send` and `read`. A key without the scope is "
                    "answered 403; an expired key, like a revoked one, 401",
                }
            },
            "parameters": {
                "RequestId": {
                    "name": "X-Request-Id",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
                    "description": "your id for the request; echoed in the answer and in every "
                    "log line about it. Without one (or a malformed one) a new id is made.",
                }
            },
            "headers": {
                "RequestId": {
                    "schema": {"type": "string"},
                    "description": "the request's id (yours when it was well-formed)",
                }
            },
            "schemas": {**_SCHEMAS, **WEBHOOK_SCHEMAS, **PROVIDER_SCHEMAS},
        },
    }


@cache
def html_page() -> str:
    """A readable page of the routes, their answers and every field; no external assets."""
    return render(document())
