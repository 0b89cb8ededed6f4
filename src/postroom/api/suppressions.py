"""/api/v1/suppressions: the caller's tenant's suppression list (docs/suppressions.md).

An address is personal data: log lines about these routes carry counts only, never an address,
a scope or a cursor. Adding is all or nothing: one invalid entry refuses the whole request, and
a request without one is stored in one write.
"""

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from postroom.api.container import Container
from postroom.api.emails import calling_tenant
from postroom.api.responses import error_response, json_response, storage_unavailable
from postroom.domain.address import AddressError, fast_mailbox
from postroom.domain.errors import StorageUnavailableError
from postroom.domain.keys import SUPPRESSIONS
from postroom.domain.rules import CONTROL, rfc3339_seconds
from postroom.domain.rules import rfc3339 as iso
from postroom.domain.suppression import ALL_SCOPES, MAX_SCOPE_CHARS, Reason, Suppression
from postroom.logs import get_logger, log_event
from postroom.services.suppressions import MAX_PAGE, NewSuppression, SuppressionList

log = get_logger("api")

MAX_ENTRIES = 1000  # per request
DEFAULT_PAGE = 100
# Cursors the stores give are a few dozen characters; anything much longer is not one.
MAX_CURSOR_CHARS = 512
FIELDS = ("address", "reason", "scope", "expiresAt")
REASONS = tuple(str(reason) for reason in Reason)
_decoder = msgspec.json.Decoder()


class _BodyTooLargeError(Exception):
    pass


async def list_or_add(request: Request) -> Response:
    """/api/v1/suppressions takes GET and POST on one route, so its 405 lists both."""
    return await (add(request) if request.method == "POST" else listing(request))


async def show_or_remove(request: Request) -> Response:
    """/api/v1/suppressions/{address} takes GET and DELETE on one route."""
    return await (remove(request) if request.method == "DELETE" else show(request))


async def _tenants_list(request: Request) -> tuple[str, SuppressionList] | Response:
    """The caller's tenant and the list, or the 401, 403, 503 or 404 to answer instead. The key
    (and its `suppressions` scope) is checked first: without one nothing, not even whether there
    is a list, is told."""
    container: Container = request.app.state.container
    found = await calling_tenant(request, SUPPRESSIONS)
    if isinstance(found, Response):
        return found
    if container.suppressions is None:
        return error_response(404, "Not found", "Suppressions are not available with this storage.")
    return found[1], container.suppressions


async def listing(request: Request) -> Response:
    """GET /api/v1/suppressions: a page of the tenant's entries, in the store's stable order,
    with the cursor of the next page (null on the last)."""
    ready = await _tenants_list(request)
    if isinstance(ready, Response):
        return ready
    tenant, suppressions = ready
    query = page_query(request.query_params)
    if isinstance(query, dict):
        return _invalid_query(query)
    reason, cursor, limit = query
    try:
        entries, after = await suppressions.page(tenant, reason, cursor, limit)
    except StorageUnavailableError:
        return storage_unavailable()
    except ValueError:  # the stores refuse a cursor they did not give this way
        return _invalid_query({"cursor": "not a cursor this list gave"})
    return json_response({"data": [entry_body(e) for e in entries], "nextCursor": after})


def page_query(
    query: Mapping[str, str],
) -> tuple[Reason | None, str, int] | dict[str, str]:
    """(reason, cursor, limit) from `?reason=&cursor=&limit=`, an empty value counting as
    none; or every bad parameter with the reason."""
    errors: dict[str, str] = {}
    reason_text = query.get("reason") or ""
    if reason_text and reason_text not in REASONS:
        errors["reason"] = f"must be one of {', '.join(REASONS)}"
    cursor = query.get("cursor") or ""
    if len(cursor) > MAX_CURSOR_CHARS:
        errors["cursor"] = "not a cursor this list gave"
    limit_text = query.get("limit") or str(DEFAULT_PAGE)
    limit = int(limit_text) if limit_text.isascii() and limit_text.isdigit() else 0
    if not 1 <= limit <= MAX_PAGE:
        errors["limit"] = f"must be a whole number from 1 to {MAX_PAGE}"
    if errors:
        return errors
    return (Reason(reason_text) if reason_text else None), cursor, limit


def _invalid_query(errors: dict[str, str]) -> Response:
    return error_response(400, "Invalid query", "Some parameters are invalid; see errors.", errors)


async def show(request: Request) -> Response:
    """GET /api/v1/suppressions/{address}: every entry for the address, expired ones included
    (each says when it lapses); 404 when there is none."""
    ready = await _tenants_list(request)
    if isinstance(ready, Response):
        return ready
    tenant, suppressions = ready
    address = _path_address(request)
    if address is None:
        return _not_found()
    try:
        entries = await suppressions.show(tenant, address)
    except StorageUnavailableError:
        return storage_unavailable()
    if not entries:
        return _not_found()
    return json_response({"data": [entry_body(e) for e in entries]})


async def remove(request: Request) -> Response:
    """DELETE /api/v1/suppressions/{address}[?scope=]: the address's entries (of that scope
    only, with one) are removed; 404 when there were none."""
    ready = await _tenants_list(request)
    if isinstance(ready, Response):
        return ready
    tenant, suppressions = ready
    address = _path_address(request)
    if address is None:
        return _not_found()
    scope = request.query_params.get("scope") or None  # `?scope=` is no scope: all of them
    try:
        removed = await suppressions.remove(tenant, address, scope)
    except StorageUnavailableError:
        return storage_unavailable()
    if not removed:
        return _not_found()
    log_event(log, "suppressions.removed", removed=removed)
    return json_response({"removed": removed})


def _path_address(request: Request) -> str | None:
    """The address the path names, as the intake would read it; None when it is not one (no
    entry can exist for it: every stored address was read this way). The server has already
    decoded the path (`%40` is `@`, `%2B` is `+`); decoding it again would break an address
    with a `%` in it."""
    container: Container = request.app.state.container
    try:
        return address_parser(container)(request.path_params["address"])
    except AddressError:
        return None


def _not_found() -> Response:
    return error_response(404, "Not found", "No suppression for this address.")


async def add(request: Request) -> Response:
    """POST /api/v1/suppressions: one entry or a list of up to MAX_ENTRIES; 201 with how many
    rows were stored (an entry the list already holds, not expiring first, adds none)."""
    container: Container = request.app.state.container
    ready = await _tenants_list(request)
    if isinstance(ready, Response):
        return ready
    tenant, suppressions = ready
    data = await json_body(request, container)
    if isinstance(data, Response):
        return data
    entries = read_entries(data, address_parser(container), container.now())
    if isinstance(entries, dict):
        log_event(log, "suppressions.rejected", status=400, errors=len(entries))
        return error_response(
            400,
            "Invalid suppressions",
            "Some entries are invalid; see errors. Nothing was stored.",
            entries,
        )
    try:
        added = await suppressions.add(tenant, entries)
    except StorageUnavailableError:
        return storage_unavailable()
    log_event(log, "suppressions.added", entries=len(entries), added=added)
    return json_response({"added": added}, 201)


def address_parser(container: Container) -> Callable[[str], str]:
    """The container's full parser, else the intake's fast path alone: plain ASCII addresses,
    anything else refused (never guessed at)."""
    return container.parse_address or _plain_address


def _plain_address(text: str) -> str:
    found = fast_mailbox(text)
    if found is None:
        raise AddressError("not a plain ASCII address")
    return found


async def json_body(request: Request, container: Container) -> Any:
    """The decoded JSON body, or the 400, 408, 413 or 415 to answer instead (the templates
    routes read theirs this way too)."""
    if not _is_json(request.headers.get("content-type", "")):
        return error_response(415, "Unsupported media type", "Send the body as application/json.")
    limit = container.max_body_bytes
    try:
        async with asyncio.timeout(container.body_timeout):
            body = await _read_body(request, limit)
        return _decoder.decode(body)
    except TimeoutError:
        return error_response(408, "Request timeout", "The body arrived too slowly.")
    except _BodyTooLargeError:
        return error_response(413, "Request too large", f"The body may be at most {limit} bytes.")
    except ClientDisconnect:
        return error_response(400, "Request incomplete", "The client went away.")
    except RecursionError:  # msgspec gives up on very deep nesting this way
        return _malformed("nested too deeply")
    except msgspec.DecodeError:
        return _malformed("not valid JSON")


def _is_json(content_type: str) -> bool:
    """application/json, with or without parameters (charset=utf-8)."""
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


async def _read_body(request: Request, limit: int) -> bytes:
    """The whole body, or _BodyTooLargeError as soon as it passes `limit` bytes; a declared
    Content-Length over the limit is refused before a byte is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _BodyTooLargeError
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def _malformed(why: str) -> Response:
    return error_response(400, "Malformed JSON", f"The body is {why}.", {"body": why})


def read_entries(
    data: Any, parse: Callable[[str], str], now: float
) -> list[NewSuppression] | dict[str, str]:
    """The entries of a request body (one object, or a list of 1 to MAX_ENTRIES), or every
    problem by path: `address` for a lone object, `[2].address` in a list."""
    if isinstance(data, dict):
        return _checked([(data, "")], parse, now)
    if not isinstance(data, list):
        return {"body": "must be an entry object or a list of them"}
    if not 1 <= len(data) <= MAX_ENTRIES:
        return {"body": f"must be a list of 1 to {MAX_ENTRIES} entries"}
    return _checked([(item, f"[{i}]") for i, item in enumerate(data)], parse, now)


def _checked(
    items: list[tuple[Any, str]], parse: Callable[[str], str], now: float
) -> list[NewSuppression] | dict[str, str]:
    errors: dict[str, str] = {}
    entries = [_entry(item, path, parse, now, errors) for item, path in items]
    if errors:
        return errors
    return [entry for entry in entries if entry is not None]


def _entry(
    item: Any, path: str, parse: Callable[[str], str], now: float, errors: dict[str, str]
) -> NewSuppression | None:
    """One entry, or None with its problems added to `errors` under `path`."""
    if not isinstance(item, dict):
        errors[path] = "must be an object"
        return None
    where = f"{path}." if path else ""
    found = len(errors)
    for name in item:
        if name not in FIELDS:
            errors[f"{where}{name}"] = f"unknown field; the fields are {', '.join(FIELDS)}"
    address = _address(item.get("address"), parse)
    if address is None:
        errors[f"{where}address"] = "not a valid address"
    reason = item.get("reason", str(Reason.MANUAL))
    if reason not in REASONS:
        errors[f"{where}reason"] = f"must be one of {', '.join(REASONS)}"
    scope = item.get("scope", ALL_SCOPES)
    if (problem := scope_problem(scope)) is not None:
        errors[f"{where}scope"] = problem
    expires_at, problem = _expiry(item.get("expiresAt"), now)
    if problem:
        errors[f"{where}expiresAt"] = problem
    if len(errors) > found or address is None:
        return None
    return NewSuppression(address, Reason(reason), scope, expires_at)


def _address(value: Any, parse: Callable[[str], str]) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return parse(value)
    except AddressError:
        return None


def scope_problem(scope: Any) -> str | None:
    """Why `scope` is not one: `*` (every email) or a tag, one line of 1 to 128 characters as
    an email's tags are; None when it is fine."""
    if not isinstance(scope, str) or not scope or len(scope) > MAX_SCOPE_CHARS:
        return f"must be * or a tag of 1 to {MAX_SCOPE_CHARS} characters"
    if CONTROL.search(scope):
        return "must be one line"
    return None


def _expiry(value: Any, now: float) -> tuple[float | None, str]:
    """(when the entry lapses, "") with None for never; (None, reason) when invalid."""
    if value is None:
        return None, ""
    seconds = rfc3339_seconds(value) if isinstance(value, str) else None
    if seconds is None:
        return None, "must be an RFC 3339 date-time like 2026-12-01T10:00:00Z"
    if seconds <= now:
        return None, "must be in the future"
    return seconds, ""


def entry_body(entry: Suppression) -> dict[str, object]:
    """Every time in it is an RFC 3339 UTC string; `source` is null-filled for entries added by
    hand."""
    return {
        "address": entry.address,
        "reason": str(entry.reason),
        "scope": entry.scope,
        "createdAt": iso(entry.created_at),
        "expiresAt": iso(entry.expires_at) if entry.expires_at is not None else None,
        "source": {
            "provider": entry.provider or None,
            "event": entry.event or None,
            "emailId": entry.email_id or None,
        },
    }
