"""SendGrid's v3 Mail Send as the simulator serves it: `POST /v3/mail/send`.

It answers as SendGrid does: 401 for a missing or refused Bearer key, 415 for a body not sent
as application/json, 400 `{"errors": [{"message", "field", "help"}]}` listing every problem found
(SendGrid "will attempt to identify and return as many issues as possible for each request"),
else 202 with an empty body and an `X-Message-Id` header. Messages follow SendGrid's errors page:
https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors
"""

import binascii
import json
import re
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from postroom.simulator.app import simulator_of
from postroom.simulator.behaviour import Accepted

Error = dict[str, Any]
Check = Callable[[dict[str, Any]], list[Error]]

_HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"
# Headers SendGrid sets itself and refuses in `headers` (spec, `headers` description).
_RESERVED = frozenset(
    {"x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type"}
    | {"content-transfer-encoding", "to", "from", "subject", "reply-to", "cc", "bcc"}
)
# `format: email`: ASCII only, so a Unicode (non-IDNA) domain is refused as SendGrid does.
_EMAIL = re.compile(r"[!-?A-~]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_MAX_BYTES = 30 * 1024 * 1024
_MAX_RECIPIENTS = 1000
_MAX_SCHEDULE_SECONDS = 72 * 3600
_BAD_GRANT = "The provided authorization grant is invalid, expired, or revoked"


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v3/mail/send", _mail_send)
    app.router.add_get("/v3/scopes", _scopes)


async def _scopes(request: web.Request) -> web.Response:
    """`GET /v3/scopes`, read-only: the scopes of the key that asks (here, a send-only key)."""
    refused = await _refused(request)
    if refused is not None:
        return refused
    return web.json_response({"scopes": ["mail.send"]})


async def _refused(request: web.Request) -> web.Response | None:
    """The simulator's switches first, then the key: the answer that stops a request, if any."""
    simulator = simulator_of(request)
    disturbed = await simulator.disturb("sendgrid")
    if disturbed is not None:
        return disturbed
    key = _bearer(request.headers.get("Authorization", ""))
    if not simulator.accepts_key(key):
        # No header: "authorization required"; a wrong key: the grant message.
        text = "authorization required" if key is None else _BAD_GRANT
        return _errors(401, [_error(text)])
    return None


async def _mail_send(request: web.Request) -> web.StreamResponse:
    refused = await _refused(request)
    if refused is not None:
        return refused
    simulator = simulator_of(request)
    if request.content_type != "application/json":
        return _errors(415, [_error("Content-Type should be application/json.")])
    raw = await request.read()
    body, refusal = _decode(raw)
    if refusal is not None:
        return refusal
    errors = validate(body)
    if errors:
        return _errors(400, errors)
    message_id = simulator.next_id()
    simulator.record(Accepted(provider="sendgrid", message_id=message_id, raw=raw))
    return await simulator.answer(
        "sendgrid", request, web.Response(status=202, headers={"X-Message-Id": message_id})
    )


def _bearer(header: str) -> str | None:
    scheme, _, key = header.partition(" ")
    return key.strip() if scheme.lower() == "bearer" else None


def _decode(raw: bytes) -> tuple[dict[str, Any], web.Response | None]:
    if len(raw) >= _MAX_BYTES:
        return {}, _errors(413, [_error("content too large")])
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return {}, _errors(400, [_error("Invalid UTF8 in request.")])
    except ValueError:
        return {}, _errors(400, [_error("Bad Request")])
    if not isinstance(body, dict):
        return {}, _errors(400, [_error("Bad Request")])
    return body, None


def _error(message: str, field: str | None = None, anchor: str | None = None) -> Error:
    return {"message": message, "field": field, "help": f"{_HELP}#{anchor}" if anchor else None}


def _errors(status: int, errors: list[Error]) -> web.Response:
    return web.json_response({"errors": errors}, status=status)


def validate(body: dict[str, Any]) -> list[Error]:
    """Every problem SendGrid would report for this request body; empty when it is accepted."""
    return [error for check in _CHECKS for error in check(body)]


def _is_email(value: Any) -> bool:
    return isinstance(value, str) and _EMAIL.fullmatch(value) is not None


def _personalizations(body: dict[str, Any]) -> list[Error]:
    items = body.get("personalizations")
    if not isinstance(items, list) or not items:
        text = "The personalizations field is required and must have at least one personalization."
        return [_error(text, "personalizations", "-Personalizations-Errors")]
    if len(items) > 1000:
        text = (
            "The personalization block is limited to 1000 personalizations per API request."
            f" You have provided {len(items)} personalizations. Please consider splitting this"
            " into multiple requests and resending your request."
        )
        return [_error(text, "personalizations", "message.personalizations")]
    errors = [e for i, item in enumerate(items) for e in _personalization(i, item)]
    if sum(len(_recipients(item)) for item in items) > _MAX_RECIPIENTS:
        text = "There is a limit of 1000 total recipients (to + cc + bcc) per request."
        errors.append(_error(text, "personalizations", "message.personalizations"))
    return errors


def _recipients(item: Any) -> list[Any]:
    if not isinstance(item, dict):
        return []
    return [
        r for kind in ("to", "cc", "bcc") if isinstance(item.get(kind), list) for r in item[kind]
    ]


def _personalization(index: int, item: Any) -> list[Error]:
    path = f"personalizations.{index}"
    if not isinstance(item, dict) or not isinstance(item.get("to"), list) or not item["to"]:
        text = (
            "The to array is required for all personalization objects, and must have at least"
            " one email object with a valid email address."
        )
        return [_error(text, f"{path}.to", "message.personalizations.to")]
    errors = [
        _error("Does not contain a valid address.", f"{path}.{kind}.{j}.email", "-Email-Address")
        for kind in ("to", "cc", "bcc")
        for j, address in enumerate(item.get(kind) or [])
        if not isinstance(address, dict) or not _is_email(address.get("email"))
    ]
    emails = [str(r.get("email", "")).lower() for r in _recipients(item) if isinstance(r, dict)]
    if len(set(emails)) < len(emails):
        text = (
            "Each unique email address in the personalizations array should only be included once."
        )
        errors.append(_error(text, path, "message.personalizations"))
    return errors + _headers(item.get("headers"), f"{path}.headers")


def _sender(body: dict[str, Any]) -> list[Error]:
    sender = body.get("from")
    if not isinstance(sender, dict) or not sender.get("email"):
        text = (
            "The from object must be provided for every email send. It is an object that"
            " requires the email parameter, but may also contain a name parameter. "
            ' e.g. {"email" : "example@example.com"}  or'
            ' {"email" : "example@example.com", "name" : "Example Recipient"}.'
        )
        return [_error(text, "from.email", "message.from")]
    if not _is_email(sender["email"]):
        return [_error("The from email does not contain a valid address.", "from.email")]
    return []


def _subject(body: dict[str, Any]) -> list[Error]:
    subject = body.get("subject")
    if subject is not None and (not isinstance(subject, str) or not subject):
        text = "The subject of your email must be a string at least one character in length."
        return [_error(text, "subject", "message.subject")]
    items = body.get("personalizations") or []
    everyone = (
        isinstance(items, list)
        and bool(items)
        and all(isinstance(p, dict) and p.get("subject") for p in items)
    )
    if subject or everyone or body.get("template_id"):
        return []
    text = (
        "The subject is required. You can get around this requirement if you use a template"
        " with a subject defined or if every personalization has a subject defined."
    )
    return [_error(text, "subject", "message.subject")]


def _content(body: dict[str, Any]) -> list[Error]:
    content = body.get("content")
    if content is None and body.get("template_id"):
        return []
    if not isinstance(content, list) or not content:
        text = (
            "Unless a valid template_id is provided, the content parameter is required. There"
            " must be at least one defined content block. We typically suggest both text/plain"
            " and text/html blocks are included, but only one block is required."
        )
        return [_error(text, "content", "message.content")]
    errors = [
        _error(
            "The content value must be a string at least one character in length.",
            f"content.{i}.value",
            "message.content.value",
        )
        for i, part in enumerate(content)
        if not isinstance(part, dict) or not isinstance(part.get("value"), str) or not part["value"]
    ]
    return errors + _content_order(content)


def _content_order(content: list[Any]) -> list[Error]:
    kinds = [part.get("type") if isinstance(part, dict) else None for part in content]
    expected = [k for k in ("text/plain", "text/html") if k in kinds]
    if kinds[: len(expected)] == expected:
        return []
    text = (
        "Following RFC 1341, section 7.2, if either text/html or text/plain are to be sent in"
        " your email: text/plain needs to be first, followed by text/html, followed by any"
        " other content."
    )
    return [_error(text, "content", "message.content")]


def _top_headers(body: dict[str, Any]) -> list[Error]:
    return _headers(body.get("headers"), "headers")


def _headers(headers: Any, field: str) -> list[Error]:
    if headers is None:
        return []
    if not isinstance(headers, dict):
        return [_error("Invalid type. Expected: object, given: string.", field)]
    errors = []
    if any(not isinstance(value, str) for value in headers.values()):
        errors.append(_error("The header values must be strings.", field, "message.headers"))
    if any(name.lower() in _RESERVED for name in headers):
        text = "Header can not be one of the reserved keys."
        errors.append(_error(text, field, "message.headers"))
    if any(not name.isascii() or " " in name for name in headers):
        text = "Header keys can't contain non-ASCII characters and empty spaces."
        errors.append(_error(text, field, "message.headers"))
    return errors


def _reply_to(body: dict[str, Any]) -> list[Error]:
    single, many = body.get("reply_to"), body.get("reply_to_list")
    if single is not None and many is not None:
        return [_error("reply_to is mutually exclusive with reply_to_list.", "reply_to_list")]
    if single is not None and not (isinstance(single, dict) and _is_email(single.get("email"))):
        text = "The reply_to email does not contain a valid address."
        return [_error(text, "reply_to.email", "message.reply_to")]
    return _reply_to_list(many)


def _reply_to_list(many: Any) -> list[Error]:
    if many is None:
        return []
    if not isinstance(many, list) or not all(
        isinstance(r, dict) and _is_email(r.get("email")) for r in many
    ):
        return [
            _error("The reply_to_list email does not contain a valid address.", "reply_to_list")
        ]
    emails = [r["email"].lower() for r in many]
    if len(set(emails)) < len(emails):
        return [
            _error("Each email address in the reply_to_list should be unique.", "reply_to_list")
        ]
    if len(emails) > 1000:
        text = "There is a limit of 1000 reply_to emails per mail/send request."
        return [_error(text, "reply_to_list")]
    return []


def _categories(body: dict[str, Any]) -> list[Error]:
    categories = body.get("categories")
    if categories is None:
        return []
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        return [_error("Categories must be an array of strings.", "categories")]
    found = []
    if len(categories) > 10:
        found.append(
            "There is a limit of 10 categories for each email that is sent."
            f" You provided {len(categories)} categories."
        )
    if any(len(c) > 255 for c in categories):
        found.append("Each category must not be longer than 255 characters.")
    if len(set(categories)) < len(categories):
        found.append("The categories must be a unique list.")
    if not all(c.isascii() for c in categories):
        found.append("Categories can not contain non-ASCII characters.")
    return [_error(text, "categories", "message.categories") for text in found]


def _custom_args(body: dict[str, Any]) -> list[Error]:
    args = body.get("custom_args")
    if args is None:
        return []
    if not isinstance(args, dict):
        return [_error("Invalid type. Expected: object, given: string.", "custom_args")]
    if not args:
        return [_error("custom_args can't be empty.", "custom_args", "message.custom_args")]
    if not all(isinstance(value, str) for value in args.values()):
        text = "All values of custom arguments object must be strings"
        return [_error(text, "custom_args", "message.custom_args")]
    if len(json.dumps(args, ensure_ascii=False).encode()) > 10_000:
        text = "The total length of custom arguments must be less than 10000 bytes."
        return [_error(text, "custom_args", "message.custom_args")]
    return []


def _attachments(body: dict[str, Any]) -> list[Error]:
    attachments = body.get("attachments")
    if attachments is None:
        return []
    if not isinstance(attachments, list):
        return [_error("Invalid type. Expected: array, given: object.", "attachments")]
    return [e for i, item in enumerate(attachments) for e in _attachment(i, item)]


def _attachment(index: int, item: Any) -> list[Error]:
    path, anchor = f"attachments.{index}", "message.attachments"
    item = item if isinstance(item, dict) else {}
    content = item.get("content")
    errors = []
    if not isinstance(content, str) or not content:
        text = "The attachment content must be a string at least one character in length."
        errors.append(_error(text, f"{path}.content", f"{anchor}.content"))
    elif not _is_base64(content):
        text = "The attachment content must be base64 encoded."
        errors.append(_error(text, f"{path}.content", f"{anchor}.content"))
    if not isinstance(item.get("filename"), str):
        errors.append(_error("filename is required.", f"{path}.filename", f"{anchor}.filename"))
    disposition = item.get("disposition", "attachment")
    if disposition not in ("inline", "attachment"):
        text = (
            'The disposition of your attachment can be either "inline" or "attachment".'
            f" You provided {disposition}."
        )
        errors.append(_error(text, f"{path}.disposition", f"{anchor}.disposition"))
    return errors


def _is_base64(text: str) -> bool:
    try:
        binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _send_at(body: dict[str, Any]) -> list[Error]:
    items = body.get("personalizations")
    times = [body.get("send_at")]
    times += (
        [p.get("send_at") for p in items if isinstance(p, dict)] if isinstance(items, list) else []
    )
    horizon = time.time() + _MAX_SCHEDULE_SECONDS
    if any(isinstance(t, int) and t > horizon for t in times):
        text = "Scheduling more than 72 hours in advance is forbidden."
        return [_error(text, "send_at", "message.send_at")]
    return []


_CHECKS: tuple[Check, ...] = (
    _personalizations,
    _sender,
    _subject,
    _content,
    _top_headers,
    _reply_to,
    _categories,
    _custom_args,
    _attachments,
    _send_at,
)
