"""JSON Schemas of POST /api/v1/email/batch, for the OpenAPI document."""

from typing import Any

from postroom.api.batch import MAX_BATCH
from postroom.api.schemas import ACCEPTED

BATCH_REQUEST = {
    "type": "object",
    "required": ["emails"],
    "description": f"Up to {MAX_BATCH} emails, stored in one write.",
    "properties": {
        "emails": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_BATCH,
            "items": {"$ref": "#/components/schemas/EmailRequest"},
            "description": f"1 to {MAX_BATCH} emails, each an EmailRequest or a "
            "TemplatedEmailRequest; attachments allowed, the whole body within the body limit",
        }
    },
}

_ACCEPTED_PROPERTIES: dict[str, Any] = ACCEPTED["properties"]  # type: ignore[assignment]

BATCH_RESULT = {
    "type": "object",
    "required": ["code"],
    "description": "One item's answer, at the item's place.",
    "properties": {
        "code": {
            "type": "integer",
            "enum": [200, 202, 400, 409, 429],
            "description": "what POST /api/v1/email would have answered: 202 stored, 200 an "
            "Idempotency-Key repeat, 400 invalid, 409 key and index used for another email, "
            "429 over the key's sending limit",
            "examples": [202],
        },
        **{
            name: {**schema, "description": f"stored items only: {schema['description']}"}
            for name, schema in _ACCEPTED_PROPERTIES.items()
        },
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "refused items only: each bad field with the reason",
            "examples": [{"to[0]": "not a valid email address"}],
        },
    },
}

BATCH_ANSWER = {
    "type": "object",
    "required": ["data"],
    "description": "One result per item, in the request's order.",
    "properties": {
        "data": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/BatchResult"},
            "description": "the items' results",
        }
    },
}
