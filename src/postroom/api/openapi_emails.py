"""The OpenAPI description of GET /api/v1/email (api/email_list.py): its parameters, its page
and its items."""

from typing import Any

from postroom.api.email_list import DEFAULT_PAGE, MAX_TAG_CHARS, STATES
from postroom.api.openapi_parts import UNAUTHORIZED, UNAVAILABLE, answer, error, operation
from postroom.api.suppressions import MAX_CURSOR_CHARS
from postroom.domain.keys import READ
from postroom.services.email_list import MAX_PAGE

_TIME = {
    "type": "string",
    "format": "date-time",
    "description": "RFC 3339 in UTC with milliseconds",
    "examples": ["2026-11-28T18:46:45.813Z"],
}

EMAIL_ITEM = {
    "type": "object",
    "required": ["id", "status", "createdAt", "sendAt", "provider"],
    "description": "An email as the list shows it: never its subject or an address (its "
    "detail is GET /api/v1/email/{id}).",
    "properties": {
        "id": {
            "type": "string",
            "description": "the email's id (its detail: GET /api/v1/email/{id})",
            "examples": ["019a2237-5c1e-7b3a-9d2f-6a1b2c3d4e5f"],
        },
        "status": {
            "type": "string",
            "enum": STATES,
            "description": "the stored delivery state (the status route may say more, from "
            "the recipients' events)",
            "examples": ["sent"],
        },
        "createdAt": {**_TIME, "description": "when it was accepted"},
        "sendAt": {**_TIME, "description": "when it is (or was) due"},
        "provider": {
            "type": ["string", "null"],
            "description": "the provider of its last settled attempt; null before one",
            "examples": ["mailgun"],
        },
    },
}

EMAIL_PAGE = {
    "type": "object",
    "required": ["data", "nextCursor"],
    "description": "A page of the tenant's emails, newest first.",
    "properties": {
        "data": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/EmailItem"},
            "description": "the emails of this page",
        },
        "nextCursor": {
            "type": ["string", "null"],
            "description": "pass as `cursor` for the next page; null on the last page",
            "examples": ["WzE3NjQ1NzcyMDUuODEzLCIwMTlhMjIzNyJd"],
        },
    },
}


def _parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


_TIME_PARAMETER = {"type": "string", "format": "date-time", "examples": ["2026-12-01T10:00:00Z"]}
_PARAMETERS = [
    _parameter("state", "only emails in this state", {"type": "string", "enum": STATES}),
    _parameter(
        "tag",
        "only emails with this tag (emails accepted after the upgrade that added this list)",
        {"type": "string", "minLength": 1, "maxLength": MAX_TAG_CHARS},
    ),
    _parameter("after", "only emails created at or after this time (RFC 3339)", _TIME_PARAMETER),
    _parameter("before", "only emails created before this time (RFC 3339)", _TIME_PARAMETER),
    _parameter(
        "to",
        "only emails with this recipient (to, cc or bcc), in any letter case; looked up by "
        "the keyed address hash. Finds emails accepted after the upgrade that added this list",
        {"type": "string", "format": "email", "examples": ["ann@example.org"]},
    ),
    _parameter(
        "cursor",
        "the `nextCursor` of the previous page; omitted: the first page",
        {"type": "string", "maxLength": MAX_CURSOR_CHARS},
    ),
    _parameter(
        "limit",
        "at most this many emails",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE},
    ),
]


def list_emails() -> dict[str, Any]:
    return operation(
        "listEmails",
        "A page of the tenant's emails, newest first",
        {
            "200": answer("a page; more when nextCursor is not null", "EmailPage"),
            "400": error(
                "an unknown parameter, or a bad state, tag, time, address, cursor or limit; "
                "`errors` names each"
            ),
            "401": UNAUTHORIZED,
            "404": error("listing emails is not available with this storage"),
            "503": UNAVAILABLE,
        },
        scope=READ,
        description="The emails of the key's tenant (every key of the tenant), newest first. "
        "Each item is the email's state, times and provider; never its content.",
        parameters=_PARAMETERS,
    )
