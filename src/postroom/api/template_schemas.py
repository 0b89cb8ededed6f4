"""JSON Schemas of the templates routes and of a templated send, for the OpenAPI document.

The limits come from domain/templates.py and services/templates.py, so the document states what
the code enforces.
"""

from typing import Any

from postroom.api.schemas import EMAIL_REQUEST
from postroom.domain.templates import (
    MAX_DEFAULT_CHARS,
    MAX_PART_CHARS,
    MAX_SUBJECT_CHARS,
    MAX_VARIABLES,
    NAME,
    REPLACED,
    VARIABLE_NAME,
)

_NAME = {
    "type": "string",
    "pattern": f"^{NAME.pattern}$",
    "description": "the template's name, unique in the tenant: 1 to 64 of a-z, 0-9, _ . -",
    "examples": ["welcome"],
}
_TEMPLATE_ID = {
    "type": "string",
    "format": "uuid",
    "description": "the template's id, kept by every version (a UUIDv7)",
    "examples": ["019a2237-5c1e-7b3a-9d2f-6a1b2c3d4e5f"],
}
_VERSION = {
    "type": "integer",
    "minimum": 1,
    "description": "the version number; each edit adds one",
    "examples": [2],
}


def _liquid(description: str, most: int, example: str) -> dict[str, Any]:
    return {
        "type": "string",
        "maxLength": most,
        "description": f"{description} (Liquid, at most {most} characters)",
        "examples": [example],
    }


VARIABLE = {
    "type": "object",
    "required": ["name"],
    "description": "A variable the template uses.",
    "properties": {
        "name": {
            "type": "string",
            "pattern": f"^{VARIABLE_NAME.pattern}$",
            "description": "its Liquid name (letters, digits, _); not `content`",
            "examples": ["first_name"],
        },
        "required": {
            "type": "boolean",
            "default": False,
            "description": "a send without it is refused (400 naming it)",
        },
        "default": {
            "type": ["string", "number", "boolean", "null"],
            "description": f"used when a send does not give it (a string of at most "
            f"{MAX_DEFAULT_CHARS} characters, a number or a boolean); null: none",
            "examples": ["there"],
        },
    },
}

TEMPLATE_REQUEST = {
    "type": "object",
    "required": ["name"],
    "description": "A template definition: Liquid for the subject and each part. Give html or "
    "text (or both); without text, one is made from the HTML.",
    "properties": {
        "name": _NAME,
        "subject": _liquid("the subject", MAX_SUBJECT_CHARS, "Welcome, {{ first_name }}"),
        "html": _liquid("the HTML body; values are HTML-escaped", MAX_PART_CHARS, "<p>Hi</p>"),
        "text": _liquid("the text body; values are not escaped", MAX_PART_CHARS, "Hi"),
        "layout": _liquid(
            "an HTML document wrapping the HTML body, placed with {{ content }}",
            MAX_PART_CHARS,
            "<html><body>{{ content }}</body></html>",
        ),
        "variables": {
            "type": "array",
            "maxItems": MAX_VARIABLES,
            "items": {"$ref": "#/components/schemas/TemplateVariable"},
            "description": f"the variables it declares, at most {MAX_VARIABLES}",
        },
    },
}

TEMPLATE_VERSION = {
    "type": "object",
    "required": ["id", "version"],
    "description": "The version just stored or published.",
    "properties": {"id": _TEMPLATE_ID, "version": _VERSION},
}

_NEWEST = {**_VERSION, "description": "the newest version: what PUT stored last"}
_PUBLISHED = {
    "type": ["integer", "null"],
    "description": "the version sends use; null before the first publish",
    "examples": [1],
}
_WHEN = {"type": "string", "format": "date-time"}
_UPDATED_AT = {**_WHEN, "description": "when the newest version was stored (RFC 3339, UTC)"}

TEMPLATE = {
    **TEMPLATE_REQUEST,
    "required": ["id", "name", "version", "publishedVersion", "updatedAt"],
    "description": "A template's newest version (the draft while it is not published).",
    "properties": {
        "id": _TEMPLATE_ID,
        "version": _NEWEST,
        "publishedVersion": _PUBLISHED,
        "updatedAt": _UPDATED_AT,
        **TEMPLATE_REQUEST["properties"],  # type: ignore[dict-item]
    },
}

TEMPLATE_SUMMARY = {
    "type": "object",
    "required": ["name", "id", "version", "publishedVersion", "createdAt", "updatedAt"],
    "description": "A template as the list shows it, without its definition.",
    "properties": {
        "name": _NAME,
        "id": _TEMPLATE_ID,
        "version": _NEWEST,
        "publishedVersion": _PUBLISHED,
        "createdAt": {**_WHEN, "description": "when version 1 was stored (RFC 3339, UTC)"},
        "updatedAt": _UPDATED_AT,
    },
}

TEMPLATE_PAGE = {
    "type": "object",
    "required": ["data", "nextCursor"],
    "description": "A page of the tenant's templates, by name.",
    "properties": {
        "data": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/TemplateSummary"},
            "description": "the templates of this page",
        },
        "nextCursor": {
            "type": ["string", "null"],
            "description": "pass as `cursor` for the next page; null on the last page",
            "examples": ["WyJ3ZWxjb21lIl0"],
        },
    },
}

_VARIABLES = {
    "type": "object",
    "description": "the values, by variable name; any JSON values",
    "examples": [{"first_name": "Ann"}],
}

RENDER_REQUEST = {
    "type": "object",
    "description": "What to preview with.",
    "properties": {
        "variables": _VARIABLES,
        "published": {
            "type": "boolean",
            "default": False,
            "description": "render the published version rather than the newest",
        },
    },
}

RENDERED = {
    "type": "object",
    "required": ["subject", "html", "text"],
    "description": "The email parts a send would store, CSS inlined.",
    "properties": {
        "subject": {"type": "string", "description": "the rendered subject"},
        "html": {"type": "string", "description": "the rendered HTML, in its layout"},
        "text": {"type": "string", "description": "the rendered text, or one made from the HTML"},
    },
}

TEMPLATE_DELETED = {
    "type": "object",
    "required": ["deleted"],
    "description": "The template and all its versions are gone.",
    "properties": {"deleted": {"type": "boolean", "description": "always true"}},
}

TEMPLATED_EMAIL_REQUEST = {
    "type": "object",
    "required": ["from", "to", "template"],
    "description": "An email made from a published template: POST it to /api/v1/email like an "
    "EmailRequest, with template and variables instead of subject, body, text and html.",
    "properties": {
        **{k: v for k, v in EMAIL_REQUEST["properties"].items() if k not in REPLACED},
        "template": {**_NAME, "description": "the name of one of the tenant's templates"},
        "variables": {
            **_VARIABLES,
            "description": "the values, by variable name; a required one missing is a 400 "
            "naming `variables.NAME`",
        },
    },
}
