"""The building blocks of the OpenAPI document's operations, shared by openapi.py and
openapi_templates.py."""

from typing import Any

REQUEST_ID_HEADER = {"$ref": "#/components/headers/RequestId"}
OPEN: list[dict[str, list[str]]] = []  # `security: []`: no API key needed


def json_content(schema_name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}


def answer(
    description: str, schema: str | None = None, headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "description": description,
        "headers": {"X-Request-Id": REQUEST_ID_HEADER, **(headers or {})},
    }
    if schema is not None:
        found["content"] = json_content(schema)
    return found


def error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return answer(description, "Error", headers)


RETRY_AFTER = {
    "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait before a retry"}
}
UNAVAILABLE = error(
    "storage (or a separate queue, such as SQS) unreachable or full; nothing was stored",
    RETRY_AFTER,
)
UNAUTHORIZED = error(
    "missing, wrong, revoked or expired API key",
    {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer`"}},
)
PARAMETERS = [{"$ref": "#/components/parameters/RequestId"}]


def forbidden(scope: str) -> dict[str, Any]:
    return error(f"the API key lacks the `{scope}` scope (or `admin`); `errors.scope` names it")


def operation(
    operation_id: str,
    summary: str,
    responses: dict[str, Any],
    scope: str | None = None,
    **more: Any,
) -> dict[str, Any]:
    """An operation with its answers in status order and the X-Request-Id parameter. With a
    `scope`, the key needs it (domain/keys.py): named in `security` (OpenAPI 3.1 lets a bearer
    scheme list roles) and answered 403 without it."""
    if scope is not None:
        responses = {**responses, "403": forbidden(scope)}
        more["security"] = [{"bearer": [scope]}]
    parameters = [*more.pop("parameters", []), *PARAMETERS]
    ordered = {code: responses[code] for code in sorted(responses)}
    return {
        "operationId": operation_id,
        "summary": summary,
        "parameters": parameters,
        **more,
        "responses": ordered,
    }


def page_parameters(items: str, most: int, default: int, cursor_chars: int) -> list[dict[str, Any]]:
    """`cursor` and `limit`, as every paged list takes them."""
    return [
        {
            "name": "cursor",
            "in": "query",
            "required": False,
            "description": "the `nextCursor` of the previous page; omitted: the first page",
            "schema": {"type": "string", "maxLength": cursor_chars},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"at most this many {items}",
            "schema": {"type": "integer", "minimum": 1, "maximum": most, "default": default},
        },
    ]
