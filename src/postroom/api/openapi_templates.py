"""The OpenAPI operations of templates and batches (docs/templates.md), beside openapi.py."""

from typing import Any

from postroom.api.openapi_parts import (
    UNAUTHORIZED,
    UNAVAILABLE,
    answer,
    error,
    json_content,
    operation,
    page_parameters,
)
from postroom.api.suppressions import DEFAULT_PAGE, MAX_CURSOR_CHARS
from postroom.domain.keys import SEND, TEMPLATES
from postroom.services.templates import MAX_PAGE


def submit_batch() -> dict[str, Any]:
    return operation(
        "sendEmailBatch",
        "Submit up to 500 emails in one write",
        {
            "200": answer("each item's result, in order; valid items are stored", "BatchAnswer"),
            "400": error('not {"emails": [...]} of at least one email, or a bad key'),
            "401": UNAUTHORIZED,
            "408": error("the body arrived too slowly"),
            "413": error("more than 500 emails, or a body over the limit; nothing stored"),
            "415": error("content type is not application/json"),
            "503": UNAVAILABLE,
        },
        scope=SEND,
        description="Each item is what POST /api/v1/email takes (an EmailRequest or a "
        "TemplatedEmailRequest) and gets its own result; invalid items never stop valid ones. "
        "The valid items are stored in one durable write before the answer.",
        parameters=[
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": "^[!-~]{1,255}$", "examples": ["run-7"]},
                "description": "makes each item idempotent under KEY and its index: a retried "
                "batch answers every item's original email (code 200)",
            }
        ],
        requestBody={"required": True, "content": json_content("BatchRequest")},
    )


_NAME_PARAMETER = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "the template's name",
    "schema": {"type": "string", "examples": ["welcome"]},
}
_NO_TEMPLATE = "no template of that name in the key's tenant, or none with this storage"
_BODY_ERRORS = {
    "401": UNAUTHORIZED,
    "408": error("the body arrived too slowly"),
    "413": error("body larger than the configured limit (10 MiB by default)"),
    "415": error("content type is not application/json"),
    "503": UNAVAILABLE,
}


def _template_operation(
    operation_id: str, summary: str, responses: dict[str, Any], body: str | None = None
) -> dict[str, Any]:
    """A templates route: the name in the path, the body (when there is one) as JSON."""
    more: dict[str, Any] = {"parameters": [_NAME_PARAMETER]}
    errors = {"401": UNAUTHORIZED, "404": error(_NO_TEMPLATE), "503": UNAVAILABLE}
    if body is not None:
        more["requestBody"] = {"required": True, "content": json_content(body)}
        errors = {**_BODY_ERRORS, **errors}
    return operation(operation_id, summary, {**errors, **responses}, TEMPLATES, **more)


_PAGE_PARAMETERS = page_parameters("templates", MAX_PAGE, DEFAULT_PAGE, MAX_CURSOR_CHARS)


def _list_templates() -> dict[str, Any]:
    return operation(
        "listTemplates",
        "A page of the tenant's templates, by name",
        {
            "200": answer("a page; more when nextCursor is not null", "TemplatePage"),
            "400": error("a bad cursor or limit; `errors` names it"),
            "401": UNAUTHORIZED,
            "404": error("no templates with this storage"),
            "503": UNAVAILABLE,
        },
        scope=TEMPLATES,
        description="The key's tenant's templates only, each with its newest and published "
        "version numbers; no definitions (GET /api/v1/templates/{name} has one).",
        parameters=_PAGE_PARAMETERS,
    )


def template_paths() -> dict[str, Any]:
    invalid = error("an invalid definition or Liquid that does not parse; `errors` names it")
    return {
        "/api/v1/templates": {
            "get": _list_templates(),
            "post": operation(
                "createTemplate",
                "Store a new template (version 1, a draft)",
                {
                    "201": answer("stored, not yet published", "TemplateVersion"),
                    "400": invalid,
                    "404": error("no templates with this storage"),
                    "409": error("the tenant has a template of that name; PUT to edit it"),
                    **_BODY_ERRORS,
                },
                scope=TEMPLATES,
                requestBody={"required": True, "content": json_content("TemplateRequest")},
            ),
        },
        "/api/v1/templates/{name}": {
            "get": _template_operation(
                "getTemplate", "A template's newest version", {"200": answer("found", "Template")}
            ),
            "put": _template_operation(
                "updateTemplate",
                "Store an edit as the next draft (sends keep the published version)",
                {"200": answer("stored", "TemplateVersion"), "400": invalid},
                "TemplateRequest",
            ),
            "delete": _template_operation(
                "deleteTemplate",
                "Remove a template and all its versions",
                {"200": answer("removed", "TemplateDeleted")},
            ),
        },
        "/api/v1/templates/{name}/publish": {
            "post": _template_operation(
                "publishTemplate",
                "Make the newest version the one sends use",
                {"200": answer("published", "TemplateVersion")},
            )
        },
        "/api/v1/templates/{name}/render": {
            "post": _template_operation(
                "renderTemplate",
                "Preview a rendering; nothing is stored or sent",
                {
                    "200": answer("rendered", "Rendered"),
                    "400": error(
                        "a required variable missing or a render error; `errors` "
                        "names each variable or the part"
                    ),
                },
                "RenderRequest",
            )
        },
    }
