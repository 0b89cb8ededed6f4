"""The OpenAPI 3.1 description of the API, and a self-contained HTML page rendered from it.

Written by hand next to the handlers; tests validate real responses against these schemas, so
the document cannot drift from what the API does.
"""

import html
from functools import cache
from typing import Any

from postroom import __version__
from postroom.domain.states import State

_ADDRESS = {
    "oneOf": [
        {
            "type": "string",
            "description": "addr-spec or `Name <addr-spec>`",
            "examples": ["Ann Lee <ann@example.com>"],
        },
        {
            "type": "object",
            "required": ["email"],
            "properties": {"email": {"type": "string"}, "name": {"type": "string"}},
        },
    ]
}
_ADDRESSES = {"oneOf": [{"type": "array", "items": _ADDRESS}, _ADDRESS]}

_EMAIL_REQUEST = {
    "type": "object",
    "required": ["from", "to"],
    "description": "Unknown fields are ignored.",
    "properties": {
        "from": _ADDRESS,
        "to": {
            **_ADDRESSES,
            "description": "at least one; at most 1,000 recipients across to, cc, bcc",
        },
        "cc": _ADDRESSES,
        "bcc": _ADDRESSES,
        "replyTo": _ADDRESSES,
        "subject": {"type": "string", "maxLength": 998, "description": "one line"},
        "body": {"type": "string", "description": "the text part (origin field; same as `text`)"},
        "text": {"type": "string"},
        "html": {"type": "string"},
        "sendAt": {
            "type": ["number", "null"],
            "description": "Unix seconds. Omitted or past: send now. At most 30 days ahead.",
        },
        "headers": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "custom headers, at most 50; From, To, Subject, Content-Type and other "
            "headers the service sets are refused",
        },
        "attachments": {
            "type": "array",
            "maxItems": 100,
            "items": {
                "type": "object",
                "required": ["filename", "content"],
                "properties": {
                    "filename": {"type": "string"},
                    "contentType": {"type": "string", "default": "application/octet-stream"},
                    "content": {"type": "string", "contentEncoding": "base64"},
                    "contentId": {"type": "string", "description": "makes the part inline (cid:)"},
                },
            },
        },
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
        "metadata": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "maxProperties": 50,
        },
    },
}

_STATES = [state.value for state in State]

_ACCEPTED = {
    "type": "object",
    "required": ["id", "status", "statusUrl"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "status": {"type": "string", "enum": _STATES},
        "statusUrl": {"type": "string"},
    },
}

_CANCELLED = {
    "type": "object",
    "required": ["id", "status"],
    "properties": {"id": {"type": "string"}, "status": {"type": "string", "enum": ["cancelled"]}},
}

_EVENT = {
    "type": "object",
    "required": ["at", "status"],
    "properties": {
        "at": {"type": "string", "format": "date-time"},
        "status": {"type": "string", "enum": _STATES},
        "provider": {"type": ["string", "null"]},
        "reason": {"type": ["string", "null"]},
    },
}

_STATUS = {
    "type": "object",
    "required": ["id", "status", "createdAt", "sendAt", "attempts", "events"],
    "properties": {
        "id": {"type": "string"},
        "status": {"type": "string", "enum": _STATES},
        "createdAt": {"type": "string", "format": "date-time"},
        "sendAt": {"type": "number"},
        "attempts": {"type": "integer"},
        "events": {"type": "array", "items": _EVENT},
    },
}

_ERROR = {
    "type": "object",
    "required": ["status", "message", "errors"],
    "properties": {
        "status": {"type": "string", "examples": ["BAD_REQUEST"]},
        "message": {
            "type": "object",
            "required": ["short", "long"],
            "properties": {"short": {"type": "string"}, "long": {"type": "string"}},
        },
        "errors": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def _json(schema_name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json("Error")}


_UNAVAILABLE = {
    **_error("storage (or a separate queue, such as SQS) unreachable or full; nothing was stored"),
    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
}
_ID_PARAMETER = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


@cache
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Postroom",
            "version": __version__,
            "description": "Transactional email: durable intake, delivery with failover.",
        },
        "paths": {
            "/api/v1/email": {"post": _submit()},
            "/api/v1/email/{id}": {"get": _status(), "delete": _cancel()},
            "/healthz": {
                "get": {
                    "summary": "The process is alive",
                    "security": [],
                    "responses": {"200": {"description": "alive"}},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Storage is reachable",
                    "security": [],
                    "responses": {"200": {"description": "ready"}, "503": _UNAVAILABLE},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics of this process and the queue",
                    "responses": {
                        "200": {
                            "description": "the exposition format",
                            "content": {"text/plain": {}},
                        },
                        "401": _error("missing, wrong or revoked API key"),
                    },
                }
            },
        },
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API key from `postroom keys create`",
                }
            },
            "schemas": {
                "EmailRequest": _EMAIL_REQUEST,
                "Accepted": _ACCEPTED,
                "EmailStatus": _STATUS,
                "Cancelled": _CANCELLED,
                "Event": _EVENT,
                "Error": _ERROR,
            },
        },
    }


def _submit() -> dict[str, Any]:
    return {
        "summary": "Submit an email",
        "description": "Answers 202 only once the email is durably stored.",
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 255},
                "description": "Same key and same email within 24 h: the original id (200). "
                "Same key, other email: 409.",
            }
        ],
        "requestBody": {"required": True, "content": _json("EmailRequest")},
        "responses": {
            "202": {"description": "stored; will be sent", "content": _json("Accepted")},
            "200": {
                "description": "an Idempotency-Key repeat: the original email",
                "content": _json("Accepted"),
            },
            "400": _error("invalid field(s) or malformed JSON; `errors` lists every bad field"),
            "401": _error("missing, wrong or revoked API key"),
            "408": _error("the body arrived too slowly"),
            "409": _error("Idempotency-Key reused for a different email"),
            "429": _error("the API key is over its rate limit or daily quota (see Retry-After)"),
            "413": _error("body larger than the configured limit"),
            "415": _error("content type is not application/json"),
            "503": _UNAVAILABLE,
        },
    }


def _status() -> dict[str, Any]:
    return {
        "summary": "An email's state and history (never its content)",
        "parameters": [_ID_PARAMETER],
        "responses": {
            "200": {"description": "found", "content": _json("EmailStatus")},
            "401": _error("missing, wrong or revoked API key"),
            "404": _error("no such email (or another key's)"),
            "503": _UNAVAILABLE,
        },
    }


def _cancel() -> dict[str, Any]:
    return {
        "summary": "Cancel an email no worker has taken yet",
        "parameters": [_ID_PARAMETER],
        "responses": {
            "200": {
                "description": "cancelled (also when it already was)",
                "content": _json("Cancelled"),
            },
            "401": _error("missing, wrong or revoked API key"),
            "404": _error("no such email (or another key's)"),
            "409": _error("too late: being sent, sent or failed"),
            "503": _UNAVAILABLE,
        },
    }


@cache
def html_page() -> str:
    """A readable page of the routes, their answers and the request fields; no external assets."""
    doc = document()
    sections = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            answers = "".join(
                f"<li><code>{code}</code> {html.escape(r['description'])}</li>"
                for code, r in op["responses"].items()
            )
            sections.append(
                f"<h2><code>{method.upper()} {html.escape(path)}</code></h2>"
                f"<p>{html.escape(op.get('summary', ''))}. "
                f"{html.escape(op.get('description', ''))}</p>"
                f"<ul>{answers}</ul>"
            )
    fields = "".join(
        f"<tr><td><code>{name}</code></td>"
        f"<td>{html.escape(str(spec.get('description', '')))}</td></tr>"
        for name, spec in _EMAIL_REQUEST["properties"].items()  # type: ignore[attr-defined]
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Postroom API</title>"
        "<style>body{font-family:sans-serif;max-width:50rem;margin:2rem auto}"
        "td{padding:.2rem .6rem;border-bottom:1px solid #ddd}</style></head><body>"
        f"<h1>Postroom API {__version__}</h1><p>Machine-readable: <a href='/openapi.json'>"
        "/openapi.json</a>.</p>" + "".join(sections) + "<h2>Email request fields</h2>"
        f"<table>{fields}</table></body></html>"
    )
