"""/api/v1/templates: the caller's tenant's templates (docs/templates.md).

Templates belong to the tenant of the calling key: another tenant's template of the same name
is a different template, and looks exactly like a missing one. Sending with a template is
POST /api/v1/email with `template` and `variables` (intake.py, services/submit.py).
"""

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from postroom.api.container import Container
from postroom.api.emails import calling_tenant
from postroom.api.responses import error_response, json_response, storage_unavailable
from postroom.api.suppressions import DEFAULT_PAGE, MAX_CURSOR_CHARS, json_body
from postroom.domain.errors import InvalidEmailError, StorageUnavailableError
from postroom.domain.keys import TEMPLATES
from postroom.domain.rules import rfc3339 as iso
from postroom.domain.templates import TemplateDefinition
from postroom.logs import get_logger, log_event
from postroom.ports.templates import TemplateSummary
from postroom.services.templates import (
    MAX_PAGE,
    Rendered,
    TemplateExistsError,
    TemplateNotFoundError,
    Templates,
    TemplateView,
)

log = get_logger("api")


async def _tenants_templates(request: Request) -> tuple[str, Templates] | Response:
    """The caller's tenant and the templates service, or the 401, 403, 503 or 404 to answer
    (the `templates` scope; sending with a template needs only `send`)."""
    container: Container = request.app.state.container
    found = await calling_tenant(request, TEMPLATES)
    if isinstance(found, Response):
        return found
    if container.templates is None:
        return error_response(404, "Not found", "Templates are not available with this storage.")
    return found[1], container.templates


async def list_or_create(request: Request) -> Response:
    """/api/v1/templates takes GET and POST on one route, so its 405 lists both."""
    return await (create(request) if request.method == "POST" else listing(request))


async def listing(request: Request) -> Response:
    """GET /api/v1/templates?cursor=&limit=: a page of the tenant's templates by name, no
    definitions, with the cursor of the next page (null on the last)."""
    ready = await _tenants_templates(request)
    if isinstance(ready, Response):
        return ready
    tenant, templates = ready
    query = page_query(request.query_params)
    if isinstance(query, dict):
        return _invalid_query(query)
    try:
        found, after = await templates.page(tenant, *query)
    except StorageUnavailableError:
        return storage_unavailable()
    except ValueError:  # the stores refuse a cursor they did not give this way
        return _invalid_query({"cursor": "not a cursor this list gave"})
    return json_response({"data": [summary_body(t) for t in found], "nextCursor": after})


def page_query(query: Mapping[str, str]) -> tuple[str, int] | dict[str, str]:
    """(cursor, limit) from `?cursor=&limit=`, an empty value counting as none; or every bad
    parameter with the reason."""
    errors: dict[str, str] = {}
    cursor = query.get("cursor") or ""
    if len(cursor) > MAX_CURSOR_CHARS:
        errors["cursor"] = "not a cursor this list gave"
    limit_text = query.get("limit") or str(DEFAULT_PAGE)
    limit = int(limit_text) if limit_text.isascii() and limit_text.isdigit() else 0
    if not 1 <= limit <= MAX_PAGE:
        errors["limit"] = f"must be a whole number from 1 to {MAX_PAGE}"
    return errors or (cursor, limit)


def _invalid_query(errors: dict[str, str]) -> Response:
    return error_response(400, "Invalid query", "Some parameters are invalid; see errors.", errors)


async def create(request: Request) -> Response:
    """POST /api/v1/templates: version 1 of a new template, as a draft: 201 {id, version}."""
    ready = await _tenants_templates(request)
    if isinstance(ready, Response):
        return ready
    tenant, templates = ready
    data = await json_body(request, request.app.state.container)
    if isinstance(data, Response):
        return data
    try:
        template_id, version = await templates.create(tenant, data)
    except InvalidEmailError as error:
        return _invalid(error)
    except TemplateExistsError:
        return error_response(
            409, "Template exists", "This tenant has a template of that name; PUT to edit it."
        )
    except StorageUnavailableError:
        return storage_unavailable()
    log_event(log, "template.created", id=template_id)
    return json_response({"id": template_id, "version": version}, 201)


async def one(request: Request) -> Response:
    """/api/v1/templates/{name} takes GET, PUT and DELETE on one route."""
    handler = {"PUT": update, "DELETE": delete}.get(request.method, show)
    return await handler(request)


async def show(request: Request) -> Response:
    """GET /api/v1/templates/{name}: the newest version's definition and the published one."""
    return await _call(request, lambda t, tenant, name: t.get(tenant, name), view_body)


async def update(request: Request) -> Response:
    """PUT /api/v1/templates/{name}: the edit as the next draft version: {id, version}."""
    data = await json_body(request, request.app.state.container)
    if isinstance(data, Response):
        return data
    return await _call(
        request, lambda t, tenant, name: t.update(tenant, name, data), _versioned, "updated"
    )


async def delete(request: Request) -> Response:
    """DELETE /api/v1/templates/{name}: the template and all its versions."""
    return await _call(
        request,
        lambda t, tenant, name: t.delete(tenant, name),
        lambda _: {"deleted": True},
        "deleted",
    )


async def publish(request: Request) -> Response:
    """POST /api/v1/templates/{name}/publish: the newest version becomes the one sends use."""
    return await _call(
        request, lambda t, tenant, name: t.publish(tenant, name), _versioned, "published"
    )


async def render(request: Request) -> Response:
    """POST /api/v1/templates/{name}/render: a preview with `variables`, nothing stored or
    sent; the newest version unless `"published": true`."""
    data = await json_body(request, request.app.state.container)
    if isinstance(data, Response):
        return data
    if not isinstance(data, dict):
        return _invalid(InvalidEmailError({"body": "must be a JSON object"}))
    published = data.get("published") is True
    return await _call(
        request,
        lambda t, tenant, name: t.preview(tenant, name, data.get("variables"), published),
        _rendered_body,
    )


async def _call(request: Request, use: Any, body: Any, event: str = "") -> Response:
    """Run `use(templates, tenant, name)` and answer `body(result)`; the 400, 404 or 503 when
    it fails. Another tenant's template is a 404 like a missing one."""
    ready = await _tenants_templates(request)
    if isinstance(ready, Response):
        return ready
    tenant, templates = ready
    name = request.path_params["name"]
    try:
        result = await use(templates, tenant, name)
    except InvalidEmailError as error:
        return _invalid(error)
    except TemplateNotFoundError:
        return error_response(404, "Not found", "This tenant has no template of that name.")
    except StorageUnavailableError:
        return storage_unavailable()
    if event:
        log_event(log, f"template.{event}")
    return json_response(body(result))


def _invalid(error: InvalidEmailError) -> Response:
    log_event(log, "template.rejected", status=400, errors=len(error.errors))
    return error_response(
        400, "Invalid template", "Some fields are invalid; see errors.", error.errors
    )


def _versioned(result: tuple[str, int]) -> dict[str, Any]:
    return {"id": result[0], "version": result[1]}


def view_body(view: TemplateView) -> dict[str, Any]:
    stored, latest = view.stored, view.latest
    current = stored.current
    return {
        "id": stored.id,
        "name": stored.name,
        "version": stored.latest.version,
        "publishedVersion": None if current is None else current.version,
        "updatedAt": iso(stored.latest.created_at),
        **definition_body(latest),
    }


def summary_body(summary: TemplateSummary) -> dict[str, Any]:
    """A template as the list (and `postroom templates list`) shows it."""
    return {
        "name": summary.name,
        "id": summary.id,
        "version": summary.latest,
        "publishedVersion": summary.current,
        "createdAt": iso(summary.created_at),
        "updatedAt": iso(summary.updated_at),
    }


def definition_body(definition: TemplateDefinition) -> dict[str, Any]:
    """A definition as the API takes it (POST and PUT bodies)."""
    return {
        "subject": definition.subject,
        "html": definition.html,
        "text": definition.text,
        "layout": definition.layout,
        "variables": [
            {"name": v.name, "required": v.required, "default": v.default}
            for v in definition.variables
        ],
    }


def _rendered_body(rendered: Rendered) -> dict[str, Any]:
    return {"subject": rendered.subject, "html": rendered.html, "text": rendered.text}
